"""The usage book in the shared store (usage-spec.md, 2 and 3).

    usage:<YYYY-MM-DD>          counters: ["<key>", "<model>", "<counter>"] -> n   (400 days)
    quota:<YYYY-MM-DD>:<key>    counters: tokens, images: what the daily caps read  (2 days)
    recent                      the last 100 requests: time, key, route, model, status, tokens, duration

One counter per UTC day holds every key and model of that day, so a range of
days is a read per day. Nothing of a request's content is stored.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import orjson

from ..errors import bad_request
from ..runtime.store import Store

COUNTERS = ("requests", "input_tokens", "output_tokens", "images", "searches", "errors", "rejected")
DAY_TTL = 400 * 86400.0
QUOTA_TTL = 2 * 86400.0
RECENT = 100
RECENT_TTL = 30 * 86400.0
MAX_DAYS = 366


def day_of(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%d")


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def date_range(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """``start_date`` and ``end_date`` (YYYY-MM-DD, UTC, inclusive; default today): 400 when bad."""
    days = []
    for name, text in (("start_date", start), ("end_date", end)):
        try:
            if text is None:
                days.append(today)
                continue
            if not _DATE.fullmatch(text):
                raise ValueError
            days.append(date.fromisoformat(text))
        except ValueError:
            raise bad_request(f"'{name}' must be a date as YYYY-MM-DD, got {text!r}.", name,
                              "invalid_value") from None
    first, last = days
    if last < first:
        raise bad_request("'end_date' is before 'start_date'.", "end_date", "invalid_value")
    if (last - first).days + 1 > MAX_DAYS:
        raise bad_request(f"The range from start_date to end_date is over {MAX_DAYS} days.", "start_date",
                          "invalid_value")
    return first, last


def add(store: Store, day: str, key: str, model: str, amounts: dict[str, int]) -> None:
    """Count ``amounts`` (COUNTERS -> n) for ``key`` and ``model`` on ``day``."""
    amounts = {counter: n for counter, n in amounts.items() if n}
    if not amounts:
        return
    store.add_counts(f"usage:{day}", {_field(key, model, counter): n for counter, n in amounts.items()}, DAY_TTL)
    spent = {"tokens": amounts.get("input_tokens", 0) + amounts.get("output_tokens", 0),
             "images": amounts.get("images", 0)}
    if any(spent.values()):
        store.add_counts(f"quota:{day}:{key}", {k: n for k, n in spent.items() if n}, QUOTA_TTL)


def spent(store: Store, day: str, key: str) -> dict[str, int]:
    """What the daily caps of ``key`` read: {"tokens": n, "images": n} on ``day``."""
    counts = store.counts(f"quota:{day}:{key}")
    return {"tokens": counts.get("tokens", 0), "images": counts.get("images", 0)}


def buckets(store: Store, start: date, end: date, key: str | None = None) -> list[dict]:
    """One ``usage.bucket`` per day, key and model from ``start`` to ``end`` (inclusive) with
    something counted, sorted by date, key, model; only ``key``'s when given."""
    rows: dict[tuple[str, str, str], dict] = {}
    day = start
    while day <= end:
        text = day.isoformat()
        for field, n in store.counts(f"usage:{text}").items():
            try:
                name, model, counter = orjson.loads(field)
            except (orjson.JSONDecodeError, ValueError, TypeError):
                continue      # not ours
            if counter not in COUNTERS or (key is not None and name != key):
                continue
            row = rows.setdefault((text, name, model), {"object": "usage.bucket", "key": name, "date": text,
                                                         "model": model, **dict.fromkeys(COUNTERS, 0)})
            row[counter] += n
        day += timedelta(days=1)
    return [rows[k] for k in sorted(rows)]


def totals(rows: list[dict]) -> dict[str, int]:
    return {counter: sum(row[counter] for row in rows) for counter in COUNTERS}


def push_recent(store: Store, entry: dict) -> None:
    store.push_recent("recent", orjson.dumps(entry).decode(), RECENT, RECENT_TTL)


def recent(store: Store, count: int = RECENT) -> list[dict]:
    out = []
    for raw in store.recent("recent", count):
        try:
            out.append(orjson.loads(raw))
        except orjson.JSONDecodeError:
            continue
    return out


def _field(key: str, model: str, counter: str) -> str:
    # JSON: names and models may hold any character without a separator to escape.
    return orjson.dumps([key, model, counter]).decode()
