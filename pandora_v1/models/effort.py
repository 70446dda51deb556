"""Reasoning effort: OpenAI's names -> the upstream's ``thinking_effort`` (platform-spec §3.5).

One table every API maps through: chat ``reasoning_effort``, Responses
``reasoning.effort``, and the Messages API's ``output_config.effort`` or
``thinking.budget_tokens`` (``effort_for_budget`` first). The upstream takes
only its own words: OpenAI's (``low``, ``high``) get the whole body refused
with a 422, and so does any effort on a slug without a reasoning mode, so
``None`` (omit the key) is the answer whenever in doubt.
"""
from __future__ import annotations

# OpenAI's enum (openai-python ``shared/reasoning_effort.py``), in order.
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
# The upstream's words, in order (upstream-protocol "Reasoning effort and model slugs").
UPSTREAM_EFFORTS = ("standard", "extended", "max")

_TO_UPSTREAM = {"none": None, "minimal": None, "low": "standard", "medium": "standard",
                "high": "extended", "xhigh": "max", "max": "max"}


def thinking_effort(effort: str | None, accepted: tuple[str, ...] = UPSTREAM_EFFORTS) -> str | None:
    """``effort`` (one of ``EFFORTS``) as the upstream's ``thinking_effort``; None: send no key.

    ``accepted`` are the efforts the slug takes (its ``thinking_efforts`` in
    the upstream's model list; empty: it does not reason). An effort it
    lacks becomes the nearest one it has (the lower on a tie), as OpenAI
    coerces a valid effort a model does not support.
    """
    wanted = _TO_UPSTREAM.get(effort) if effort else None
    if wanted is None:
        return None
    if wanted in accepted:
        return wanted
    known = [e for e in UPSTREAM_EFFORTS if e in accepted]
    if not known:
        return None
    rank = UPSTREAM_EFFORTS.index(wanted)
    return min(known, key=lambda e: (abs(UPSTREAM_EFFORTS.index(e) - rank), UPSTREAM_EFFORTS.index(e)))


def effort_for_budget(budget_tokens: int) -> str:
    """An Anthropic thinking budget as an OpenAI effort (platform-spec §6.6's thresholds)."""
    if budget_tokens >= 32000:
        return "max"
    return "high" if budget_tokens >= 8000 else "medium"
