"""``python -m pandora_v1``: the same Gunicorn start as in production, for development."""
import sys
from pathlib import Path

from gunicorn.app.wsgiapp import run

CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"


def main() -> None:
    sys.argv = ["gunicorn", "-c", str(CONF), *sys.argv[1:]]
    run()


if __name__ == "__main__":
    main()
