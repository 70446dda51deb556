"""What the upstream says about its usage limits, and when they reset (upstream-protocol.md: "Image
generation and editing", "Deep research"): a tool's ``system_error``
(``ChatGPTAgentToolRateLimitException``), a limit text ("… when the limit resets in 23 hours and
5 minutes"), and ``limits_progress`` from ``/backend-api/conversation/init``
(``{"feature_name": "image_gen", "remaining": 0, "reset_after": …}``; the reset is read as an
ISO 8601 instant, epoch seconds or seconds from now, whichever it is).
"""
from __future__ import annotations

import math
import re
import time
from datetime import datetime

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_SPAN = re.compile(r"\b(\d+)\s*(days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)\b", re.I)
# "in 23 hours and 5 minutes", "in 2h 30m", "in 45 seconds"
_RESET = re.compile(r"\bin\s+((?:\d+\s*[a-z]+\b[\s,]*(?:and\s+)?)+)", re.I)
_LIMIT_WORDS = re.compile(r"\blimits?\b|\bquota\b|\busage cap\b|\brate.?limit", re.I)


def is_limit(name: str, text: str) -> bool:
    """A failed tool's system_error that is a usage limit (not a refusal)."""
    return "ratelimit" in name.lower().replace("_", "") or bool(_LIMIT_WORDS.search(text))


def reset_in_text(text: str) -> int | None:
    """Seconds until the reset a limit text names ("resets in 23 hours and 5 minutes"), or None."""
    for found in _RESET.finditer(text or ""):
        seconds = sum(int(n) * _UNITS[unit[0].lower()] for n, unit in _SPAN.findall(found.group(1)))
        if seconds:
            return seconds
    return None


def _seconds_until(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value - time.time() if value > 1e9 else float(value)   # an epoch, or seconds from now
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return _seconds_until(float(text))
        except ValueError:
            pass
        try:
            instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        if instant.tzinfo is None:
            return None
        return instant.timestamp() - time.time()
    return None


def reset_of(init: dict, feature: str) -> int | None:
    """Seconds until ``feature``'s limit resets, from a conversation/init answer (None: not said)."""
    for entry in init.get("limits_progress") or () if isinstance(init, dict) else ():
        if isinstance(entry, dict) and entry.get("feature_name") == feature:
            seconds = _seconds_until(entry.get("reset_after"))
            return max(1, math.ceil(seconds)) if seconds is not None else None
    return None
