"""The fake upstream's capabilities on request, written from upstream-protocol.md ("Capabilities on
request (2025-2026)": "Web search (forcing)", "Reasoning effort and model slugs", "Code interpreter
(python)"). fake_upstream.py imports it and dispatches to it:

- ``MODELS_DOCUMENT``: ``GET /backend-api/models`` in the 2026 shape (``thinking_efforts`` per slug
  that reasons, ``reasoning_type: "none"`` on instant ones, older entries with neither);
- ``effort_refusal(payload)``: ``thinking_effort`` checked as the upstream does: a value not of
  its own words, or any effort on a slug without a reasoning mode (or one it does not list),
  gets the whole body refused (422 "Invalid conversation body");
- ``search_hinted(payload)``: the hints that switch search on (the top-level or the user
  message's ``system_hints: ["search"]``, ``force_use_search``): such a turn searches;
- ``python_turn(tl, recipient)``: today's python turn: the code to ``python`` (or
  ``code_interpreter``) stopping with token 200012, then the tool's ``execution_output`` with
  ``aggregate_result`` holding what it printed and a chart (a ``file-service://`` pointer).
"""
from __future__ import annotations

UPSTREAM_EFFORTS = ("standard", "extended", "max")


def _efforts(*names: str) -> list[dict]:
    return [{"thinking_effort": n, "short_label": n.title()} for n in names]


MODELS_DOCUMENT = {
    "default_model_slug": "gpt-5-5", "model_picker_version": 2,
    "models": [
        {"slug": "gpt-4o", "title": "GPT-4o", "reasoning_type": "none"},
        {"slug": "gpt-4o-mini", "title": "GPT-4o mini", "reasoning_type": "none"},
        {"slug": "gpt-4", "title": "GPT-4"},
        {"slug": "o1", "title": "o1"},
        {"slug": "o3-mini", "title": "o3-mini"},
        {"slug": "gpt-5-5", "title": "GPT-5.5", "reasoning_type": "none"},
        {"slug": "gpt-5-3-instant", "title": "GPT-5.3 Instant", "reasoning_type": "none"},
        {"slug": "gpt-5-thinking", "title": "GPT-5 Thinking", "thinking_efforts": _efforts("standard", "extended")},
        {"slug": "gpt-5-5-thinking", "title": "GPT-5.5 Thinking",
         "thinking_efforts": _efforts("standard", "extended")},
        {"slug": "gpt-5-6-thinking", "title": "GPT-5.6 Thinking",
         "thinking_efforts": _efforts("standard", "extended", "max")},
        {"slug": "gpt-5-5-pro", "title": "GPT-5.5 Pro", "thinking_efforts": _efforts("standard", "extended")},
    ],
    "versions": [{"id": "5.5", "slugs": ["gpt-5-5-instant", "gpt-5-5-thinking", "gpt-5-5-pro"],
                  "intelligence_presets": [
                      {"title": "Instant", "model_slug": "gpt-5-5-instant", "lane": "instant"},
                      {"title": "Medium", "model_slug": "gpt-5-5-thinking", "lane": "thinking",
                       "thinking_effort": "standard"},
                      {"title": "Pro", "model_slug": "gpt-5-5-pro", "lane": "pro"}]}],
}


def slug_efforts(slug: str) -> tuple[str, ...]:
    for model in MODELS_DOCUMENT["models"]:
        if model["slug"] == slug:
            return tuple(e["thinking_effort"] for e in model.get("thinking_efforts") or ())
    return ()


def effort_refusal(payload: dict) -> str | None:
    """Why the upstream refuses this body's ``thinking_effort`` (None: it does not)."""
    if "thinking_effort" not in payload:
        return None
    effort = payload["thinking_effort"]
    if effort not in UPSTREAM_EFFORTS or effort not in slug_efforts(str(payload.get("model"))):
        return "Invalid conversation body"
    return None


def search_hinted(payload: dict) -> bool:
    messages = [m for m in payload.get("messages") or () if isinstance(m, dict)]
    users = [m for m in messages if (m.get("author") or {}).get("role") == "user"]
    message_hints = ((users[-1].get("metadata") or {}).get("system_hints") or []) if users else []
    return payload.get("force_use_search") is True or "search" in (payload.get("system_hints") or []) \
        or "search" in message_hints


PYTHON_CODE = ("import math\nv = math.factorial(10)\nopen('/mnt/data/fact.txt', 'w').write(str(v))\n"
               "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nprint(v)\n")
PYTHON_STDOUT = "3628800\n"
PYTHON_CHART = "file-chart0002"


def python_turn(tl, recipient: str = "python") -> None:
    """Today's python turn (``tl``: fake_upstream's Timeline): code, then what it printed and drew."""
    tl.message("assistant", {"content_type": "code", "language": "python", "text": ""}, recipient=recipient,
               channel="commentary", bare=True)
    tl.grow("/message/content/text", PYTHON_CODE)
    tl.finish(metadata={"finish_details": {"type": "stop", "stop_tokens": [200012]}})
    tl.message("tool", {"content_type": "execution_output", "text": PYTHON_STDOUT + "<<ImageDisplayed>>"},
               name=recipient, status="finished_successfully", channel="commentary", bare=True,
               metadata={"is_complete": True, "aggregate_result": {
                   "status": "success", "code": PYTHON_CODE, "final_expression_output": None,
                   "jupyter_messages": [], "messages": [
                       {"message_type": "stream", "stream_name": "stdout", "text": PYTHON_STDOUT},
                       {"message_type": "image", "image_url": f"file-service://{PYTHON_CHART}",
                        "width": 640, "height": 480, "sender": "server", "time": 1.0}]}})
