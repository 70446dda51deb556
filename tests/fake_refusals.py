"""The fake upstream's refusals and limits, written from upstream-protocol.md ("Temporary chat",
"Continuation, branching and long inputs", "Reasoning effort and model slugs", "Image generation
and editing"). Pure functions and constants: fake_upstream.py calls them from its routes.

- A temporary chat (``history_and_training_disabled: true``, or a proxy forcing it) is not kept:
  its document is a 404 and it draws no images (the model says so in text) and does no research.
- A message over the per-message size limit is a 413 ``message_length_exceeds_limit``.
- A body the upstream cannot take (an OpenAI effort string as ``thinking_effort``, an effort on an
  instant slug, no messages) is a 422 "Invalid conversation body".
- ``GET`` (or ``POST``) ``/backend-api/conversation/init`` lists ``limits_progress``.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

TEMPORARY_IMAGE_REFUSAL = "I can't create images in temporary chats. Turn off temporary chat to generate images."
TEMPORARY_RESEARCH_REFUSAL = "Research is not currently supported in temporary chats."
TOO_LONG = {"detail": {"message": "The message you submitted was too long, please reload the conversation "
                                  "and submit something shorter.", "code": "message_length_exceeds_limit"}}
INVALID_BODY = {"detail": "Invalid conversation body"}
EFFORTS = ("standard", "extended", "max")
IMAGE_RESET_SECONDS = 23 * 3600 + 5 * 60      # what IMAGE_LIMIT's text says: "resets in 23 hours and 5 minutes"
RESEARCH_HINTS = ("research", "connector:connector_openai_deep_research", "plugin:connector_openai_deep_research")


def is_temporary(payload: dict, forced: bool) -> bool:
    return forced or payload.get("history_and_training_disabled") is True


def hints_of(payload: dict, message: dict) -> list[str]:
    """The system hints of a turn: top level and in the user message's metadata."""
    found = []
    for hints in (payload.get("system_hints"), (message.get("metadata") or {}).get("system_hints")):
        found += [h for h in hints or () if isinstance(h, str)]
    return found


def temporary_refusal(plan: Any, hints: list[str]) -> None:
    """A temporary chat does not draw or research: such a turn becomes the model's refusal, in text."""
    draws = plan.gpt_image or plan.image_async or plan.dalle or plan.image_limit or "picture_v2" in hints
    researches = any(h in RESEARCH_HINTS for h in hints)
    if draws or researches:
        plan.gpt_image = plan.image_async = plan.image_limit = plan.dalle_refuse = False
        plan.dalle = 0
        plan.today = True
        plan.text = TEMPORARY_RESEARCH_REFUSAL if researches and not draws else TEMPORARY_IMAGE_REFUSAL


def too_long(payload: dict, limit: int) -> bool:
    """Some message's text is longer than ``limit`` characters (0: no limit)."""
    if not limit:
        return False
    for message in payload.get("messages") or ():
        parts = ((message or {}).get("content") or {}).get("parts") or ()
        if sum(len(p) for p in parts if isinstance(p, str)) > limit:
            return True
    return False


def body_problem(payload: dict) -> bool:
    """What makes the upstream reject a conversation body as a whole (422)."""
    if not isinstance(payload.get("messages"), list) or not isinstance(payload.get("model"), str):
        return True
    if payload.get("action") not in ("next", "variant", "continue"):
        return True
    effort = payload.get("thinking_effort")
    if effort is not None and (effort not in EFFORTS or payload["model"].endswith("-instant")):
        return True
    return False


def reset_at(seconds: float) -> str:
    """A reset time as limits_progress gives it (an ISO 8601 instant)."""
    return datetime.fromtimestamp(time.time() + seconds, timezone.utc).isoformat(timespec="seconds")


def conversation_init(limits: dict[str, tuple[int, float]]) -> dict:
    """``/backend-api/conversation/init``: feature -> (remaining, seconds to the reset)."""
    return {"type": "conversation_detail_metadata", "banner_info": None, "blocked_features": [],
            "model_limits": [], "default_model_slug": "auto",
            "limits_progress": [{"feature_name": name, "remaining": remaining, "reset_after": reset_at(seconds)}
                                for name, (remaining, seconds) in limits.items()]}
