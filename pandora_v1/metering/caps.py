"""The answers over a cap and the rate-limit headers, shaped per API family (usage-spec.md, 4).

A refusal is an ``APIError`` whose body is OpenAI's ``{"error": {...}}`` or, on
``/v1/messages``, Anthropic's ``{"type": "error", "error": {...}}``; its headers
say when to retry. Every answer to a key with an ``rpm`` cap carries the
``-requests`` headers, with a ``tokens_per_day`` cap the ``-tokens`` ones
(OpenAI's names; Anthropic's ``anthropic-ratelimit-*`` on /v1/messages).
Grow the tables, not the branches.
"""
from __future__ import annotations

import math
import secrets
from datetime import datetime, timedelta, timezone

from ..errors import APIError
from .ledger import RateState

# The route families and the paths that name them (the rest is "openai").
FAMILIES = (("/v1/messages", "anthropic"),)

# cap -> (status, OpenAI error.type, OpenAI error.code, Anthropic error.type)
REFUSALS = {
    "rpm": (429, "requests", "rate_limit_exceeded", "rate_limit_error"),
    "concurrent": (429, "requests", "rate_limit_exceeded", "rate_limit_error"),
    "tokens_per_day": (429, "insufficient_quota", "insufficient_quota", "rate_limit_error"),
    "images_per_day": (429, "insufficient_quota", "insufficient_quota", "rate_limit_error"),
    "models": (404, "invalid_request_error", "model_not_found", "not_found_error"),
    "expires": (401, "invalid_request_error", "invalid_api_key", "authentication_error"),
}


def family_of(path: str) -> str:
    for marker, family in FAMILIES:
        if path.endswith(marker) or f"{marker}/" in path:
            return family
    return "openai"


class Refusal(APIError):
    """A request a cap refused; nothing of it reached the upstream."""

    def __init__(self, family: str, cap: str, message: str, headers: dict[str, str]):
        status, kind, code, self.anthropic_type = REFUSALS[cap]
        super().__init__(status, message, type=kind, code=code, headers=headers,
                         param="model" if cap == "models" else None)
        self.family, self.cap = family, cap

    def body(self) -> dict:
        if self.family == "anthropic":
            return {"type": "error", "error": {"type": self.anthropic_type, "message": self.message},
                    "request_id": f"req_{secrets.token_hex(12)}"}
        return super().body()


def refusal(family: str, cap: str, message: str, retry_after: float | None = None,
            state: RateState | None = None, now: float = 0.0) -> Refusal:
    """The refusal by ``cap``: ``retry_after`` seconds, and the rate-limit headers of ``state``
    (what is left of the cap that refused is 0)."""
    headers = rate_headers(family, state, now) if state is not None else {}
    if retry_after is not None:
        headers["retry-after"] = str(max(1, math.ceil(retry_after)))
    return Refusal(family, cap, message, headers)


def rate_headers(family: str, state: RateState, now: float) -> dict[str, str]:
    return _HEADERS[family](state, now)


def _openai_headers(state: RateState, now: float) -> dict[str, str]:
    headers = {}
    if state.rpm is not None:
        headers.update({"x-ratelimit-limit-requests": str(state.rpm),
                        "x-ratelimit-remaining-requests": str(state.requests_left),
                        "x-ratelimit-reset-requests": duration(state.requests_reset)})
    if state.tokens_per_day is not None:
        headers.update({"x-ratelimit-limit-tokens": str(state.tokens_per_day),
                        "x-ratelimit-remaining-tokens": str(state.tokens_left),
                        "x-ratelimit-reset-tokens": duration(state.tokens_reset)})
    return headers


def _anthropic_headers(state: RateState, now: float) -> dict[str, str]:
    headers = {}
    if state.rpm is not None:
        headers.update({"anthropic-ratelimit-requests-limit": str(state.rpm),
                        "anthropic-ratelimit-requests-remaining": str(state.requests_left),
                        "anthropic-ratelimit-requests-reset": rfc3339(now + state.requests_reset)})
    if state.tokens_per_day is not None:
        headers.update({"anthropic-ratelimit-tokens-limit": str(state.tokens_per_day),
                        "anthropic-ratelimit-tokens-remaining": str(state.tokens_left),
                        "anthropic-ratelimit-tokens-reset": rfc3339(now + state.tokens_reset)})
    return headers


_HEADERS = {"openai": _openai_headers, "anthropic": _anthropic_headers}


def duration(seconds: float) -> str:
    """OpenAI's reset format: ``250ms``, ``12s``, ``6m0s``, ``1h2m3s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, math.ceil(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def rfc3339(moment: float) -> str:
    return datetime.fromtimestamp(math.ceil(moment), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_midnight(now: float) -> float:
    """Seconds from ``now`` to the next UTC midnight, when the daily caps start again."""
    today = datetime.fromtimestamp(now, timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return (today + timedelta(days=1)).timestamp() - now


def in_words(seconds: float) -> str:
    """``12 s``, ``5 min``, ``3 h 20 min``: when to retry, in a message."""
    whole = max(1, math.ceil(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{math.ceil(whole / 60)} min"
    hours, rest = divmod(whole, 3600)
    return f"{hours} h {rest // 60} min"
