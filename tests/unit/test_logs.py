"""The access log file: rotated at midnight once, however many processes write it."""
from __future__ import annotations


def test_log_file_rotates_at_midnight_once_across_processes(tmp_path):
    import datetime
    import logging

    from pandora_v1.runtime.logs import MidnightRotatingFile

    path = tmp_path / "access.log"
    first, second = MidnightRotatingFile(path, keep=2), MidnightRotatingFile(path, keep=2)
    for handler in (first, second):
        handler.setFormatter(logging.Formatter("%(message)s"))

    def say(handler, text):
        handler.emit(logging.LogRecord("x", logging.INFO, "", 0, text, (), None))

    say(first, "day one a")
    say(second, "day one b")
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    first.day = second.day = yesterday
    say(first, "day two a")
    say(second, "day two b")
    rotated = path.with_name(f"access.log.{yesterday.isoformat()}")
    assert rotated.read_text() == "day one a\nday one b\n"
    assert path.read_text() == "day two a\nday two b\n"
    for day in ("2020-01-01", "2020-01-02", "2020-01-03"):
        path.with_name(f"access.log.{day}").write_text("old")
    first.day = yesterday - datetime.timedelta(days=1)
    first.inode = path.stat().st_ino
    say(first, "day three")
    kept = sorted(p.name for p in tmp_path.glob("access.log.*"))
    assert len(kept) == 2 and "access.log.2020-01-01" not in kept
    first.close(), second.close()
