"""Limits the upstream reported, per account, for the status page (usage-spec.md, 5).

When the upstream says an account has reached a model's or a feature's limit
(a 429 on the conversation, an image tool's rate-limit error,
``limits_progress`` of ``/backend-api/conversation/init``) and when it resets,
``note`` writes it down in the shared store until then; the admin view lists
``current``. Only what the upstream said: the limit, its message, its reset.

    upstream-limit:<account>|<feature>   {"account", "feature", "message", "reset_at", "seen_at"}

Callers: the pipeline (an upstream 429, an image limit) and whoever maps other
upstream limit messages; ``note`` takes the account of the request it runs in.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

from ..runtime.store import Store, StoreUnavailable
from . import ledger

log = logging.getLogger(__name__)

PREFIX = "upstream-limit:"
UNKNOWN_RESET_TTL = 3600.0      # shown this long when the upstream did not say when it resets


def note(store: Store, feature: str, message: str = "", reset_at: float | None = None,
         account: str | None = None, now: float | None = None) -> None:
    """The current request's account (or ``account``) reached ``feature``'s limit until ``reset_at``."""
    now = time.time() if now is None else now
    if account is None:
        caller = ledger.current().caller
        account = caller.account if caller is not None else "unknown"
    ttl = max(60.0, reset_at - now) if reset_at is not None else UNKNOWN_RESET_TTL
    try:
        store.set_json(f"{PREFIX}{account}|{feature}", {"account": account, "feature": feature,
                                                         "message": message[:300], "reset_at": reset_at,
                                                         "seen_at": now}, ttl)
    except StoreUnavailable as exc:       # a limit not shown is no reason to fail the answer
        log.warning("could not note the upstream limit of %s: %s", feature, exc)


def current(store: Store) -> list[dict]:
    """Every limit in force, by account and feature, with times as RFC 3339."""
    found = []
    for key in store.keys(PREFIX):
        entry = store.get_json(key)
        if isinstance(entry, dict):
            found.append({**entry, "reset_at": _iso(entry.get("reset_at")), "seen_at": _iso(entry.get("seen_at"))})
    return sorted(found, key=lambda e: (str(e.get("account")), str(e.get("feature"))))


def _iso(moment) -> str | None:
    if not isinstance(moment, (int, float)):
        return None
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
