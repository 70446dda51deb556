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
from datetime import datetime, timezone

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


def reset_at(value, now: float) -> float | None:
    """A ``reset_after`` as a Unix time: an ISO 8601 instant (UTC when it names no zone), a Unix
    time, or seconds from ``now``; None when it is none of those."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value > 1e9 else now + value if value > 0 else None
    if isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            return reset_at(float(text), now)
        except ValueError:
            pass
        try:
            instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (instant if instant.tzinfo else instant.replace(tzinfo=timezone.utc)).timestamp()
    return None


def limits_of(init: dict, now: float | None = None) -> list[tuple[str, int | None, float | None]]:
    """``limits_progress`` of a conversation/init answer: (feature, remaining, reset as a Unix time) each."""
    now = time.time() if now is None else now
    found = []
    for entry in init.get("limits_progress") or () if isinstance(init, dict) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("feature_name"), str):
            continue
        remaining = entry.get("remaining")
        remaining = remaining if isinstance(remaining, int) and not isinstance(remaining, bool) else None
        found.append((entry["feature_name"], remaining, reset_at(entry.get("reset_after"), now)))
    return found


def reset_of(init: dict, feature: str) -> int | None:
    """Seconds until ``feature``'s limit resets, from a conversation/init answer (None: not said)."""
    now = time.time()
    for name, _, at in limits_of(init, now):
        if name == feature:
            return max(1, math.ceil(at - now)) if at is not None else None
    return None
