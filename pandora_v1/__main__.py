"""``pandora-v1`` (or ``python -m pandora_v1``): the production Gunicorn start, extra flags to gunicorn.

``pandora-v1 check-config [path]`` validates a config instead: it prints the
effective settings with secrets masked, or lists every problem and exits
non-zero. The config is ``./config.json`` or ``$PANDORA_V1_CONFIG``.
"""
import dataclasses
import json
import sys

CONF = "python:pandora_v1.serve.gunicorn_conf"   # the settings module, wherever pandora_v1 is installed


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

    sys.argv = ["gunicorn", "-c", CONF, *sys.argv[1:]]
    run()


if __name__ == "__main__":
    main()
