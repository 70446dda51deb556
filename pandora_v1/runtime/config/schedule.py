"""The daily refresh job's schedule."""
from __future__ import annotations

import json
import re
import zoneinfo

from .reader import Reader
from .settings import RefreshSchedule, tzinfo_of

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


def refresh_schedule(reader: Reader) -> RefreshSchedule:
    section = reader.section("refresh_schedule")
    enabled = reader.boolean("enabled", True, section, "refresh_schedule.enabled")
    when = reader.string("time", "03:00", section, "refresh_schedule.time")
    match = _TIME.match(when)
    if not match:
        reader.problems.append(f"refresh_schedule.time: expected HH:MM (24-hour), got {json.dumps(when)}")
        match = _TIME.match("03:00")
    assert match is not None
    zone = reader.string("timezone", "UTC", section, "refresh_schedule.timezone")
    try:
        tzinfo_of(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        reader.problems.append(f"refresh_schedule.timezone: unknown time zone {json.dumps(zone)} "
                               "(use a name like UTC or Asia/Shanghai)")
        zone = "UTC"
    return RefreshSchedule(enabled, int(match.group(1)), int(match.group(2)), int(match.group(3) or 0), zone)
