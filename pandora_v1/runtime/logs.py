"""Logging set-up: level, console, and ``log/access.log`` rotated at midnight.

Several Gunicorn workers write the same file, so rotation is coordinated
with a lock file: the first worker past midnight renames the file, the others
notice the new inode and reopen. 30 rotated files are kept.
"""
from __future__ import annotations

import datetime
import fcntl
import logging
import os
from pathlib import Path

from .masking import redact

FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
KEEP = 30

class RedactingFormatter(logging.Formatter):
    """The last line of defence: whatever a log call was given, no token leaves whole."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class MidnightRotatingFile(logging.Handler):
    def __init__(self, path: Path, keep: int = KEEP):
        super().__init__()
        self.path = Path(path)
        self.keep = keep
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._open()

    def _open(self) -> None:
        self.stream = open(self.path, "a", encoding="utf-8")
        self.inode = os.fstat(self.stream.fileno()).st_ino
        self.day = datetime.date.today()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            self.acquire()
            try:
                if datetime.date.today() != self.day:
                    self._rotate()
                self.stream.write(line + "\n")
                self.stream.flush()
            finally:
                self.release()
        except Exception:  # noqa: BLE001 - logging must never break a request
            self.handleError(record)

    def _rotate(self) -> None:
        with open(self.path.with_name(".rotate.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                current = os.stat(self.path).st_ino if self.path.exists() else None
                if current == self.inode:       # nobody rotated it yet: we do
                    target = self.path.with_name(f"{self.path.name}.{self.day.isoformat()}")
                    if not target.exists():
                        os.replace(self.path, target)
                    self._prune()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        self.stream.close()
        self._open()

    def _prune(self) -> None:
        old = sorted(self.path.parent.glob(f"{self.path.name}.*"))
        for path in old[:-self.keep] if len(old) > self.keep else ():
            path.unlink(missing_ok=True)

    def close(self) -> None:
        self.acquire()
        try:
            self.stream.close()
        finally:
            self.release()
        super().close()


def configure_for(settings) -> None:
    """The service's logging as its config says (called by the entry points, not by create_app)."""
    configure(settings.log_level,
              Path(settings.log_dir) / "access.log" if settings.need_log_to_file else None)


def configure(level: str, log_file: Path | None) -> None:
    """Set pandora_v1's level and handlers once per process (idempotent)."""
    root = logging.getLogger()
    formatter = RedactingFormatter(FORMAT)
    if not any(h.get_name() == "pandora_v1" for h in root.handlers):
        console = logging.StreamHandler()
        console.set_name("pandora_v1")        # ours: configure() adds it once per process
        root.addHandler(console)
        root.setLevel(logging.WARNING)
    for handler in root.handlers:
        handler.setFormatter(formatter)
    if log_file and not any(isinstance(h, MidnightRotatingFile) for h in root.handlers):
        handler = MidnightRotatingFile(log_file)
        handler.setFormatter(formatter)
        root.addHandler(handler)
    logging.getLogger("pandora_v1").setLevel(level)
    # Libraries stay quiet unless asked: their DEBUG lines can carry request headers.
    for noisy in ("urllib3", "requests", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
