"""``python -m pandora_v1``: the same Gunicorn start as in production, for development.

``python -m pandora_v1 check-config [path]`` validates a config instead: it
prints the effective settings with secrets masked, or lists every problem
and exits non-zero.
"""
import dataclasses
import json
import sys
from pathlib import Path

CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
def check_config(path: str | None) -> int:
    from .runtime import config
    from .runtime.masking import masked_settings

    try:
        settings = config.load(path)
    except config.ConfigError as exc:
        print(f"pandora_v1: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(masked_settings(dataclasses.asdict(settings)), indent=2, ensure_ascii=False))
    for line in config.startup_warnings(settings):
        print(f"note: {line}", file=sys.stderr)
    return 0


def main() -> None:
    if sys.argv[1:2] == ["check-config"]:
        sys.exit(check_config(sys.argv[2] if len(sys.argv) > 2 else None))
    from gunicorn.app.wsgiapp import run

    sys.argv = ["gunicorn", "-c", str(CONF), *sys.argv[1:]]
    run()


if __name__ == "__main__":
    main()
