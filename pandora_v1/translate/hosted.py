"""OpenAI's hosted tools as the upstream runs them: the typed pieces the renderer emits for them.

For the tools a request listed (``RenderOptions.hosted``) the renderer emits,
beside CONTENT and REASONING pieces, ``(kind, HostedStep)`` pieces:

  SEARCH  a web.run call        START (it began), DONE (action; the pages its results list)
  CODE    a python call         START, DELTA (code as it streams), RUN (the code is whole), DONE (outputs)
  IMAGE   the image tool        START, PARTIAL (a preview's bytes), DONE (the image's bytes)

The Responses encoder makes them output items (responses/events.py), the
Messages encoder makes searches ``server_tool_use`` and ``web_search_tool_result``
blocks (messages/search.py); everything else gets text, as before. What the upstream
shows (upstream-protocol "Today's stream", "Capabilities on request"):
``web.run`` code is JSON such as ``{"search_query": [{"q": "..."}]}`` and its
tool message carries ``metadata.search_result_groups``; python's tool
message is ``execution_output`` with ``metadata.aggregate_result`` (stdout in
``messages``, charts as image pointers).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

SEARCH = "web_search"
CODE = "code_interpreter"
IMAGE = "image_generation"

START, DELTA, RUN, PARTIAL, DONE = "start", "delta", "run", "partial", "done"


@dataclass(frozen=True)
class HostedStep:
    key: str                     # which call: the upstream message it belongs to
    step: str                    # START | DELTA | RUN | PARTIAL | DONE
    text: str = ""               # DELTA: the new code
    data: dict[str, Any] = field(default_factory=dict)   # RUN, PARTIAL, DONE: the call's fields

    def __len__(self) -> int:
        """What it adds to the answer's size (translate/stream.py's limit counts pieces' lengths)."""
        return len(self.text)


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def _http(value) -> str | None:
    return value if isinstance(value, str) and value.startswith(("http://", "https://")) else None


def search_action(code: str) -> dict:
    """A web.run call's JSON -> OpenAI's action: ``search`` (always with a ``query`` string), or
    ``open_page`` / ``find_in_page`` when the call only opened or searched a page."""
    call = _json(code)
    call = call if isinstance(call, dict) else {}
    queries = [q["q"] for q in call.get("search_query") or () if isinstance(q, dict) and isinstance(q.get("q"), str)]
    if not queries:
        for key in ("find", "open"):
            targets = call.get(key)
            target = targets[0] if isinstance(targets, list) and targets and isinstance(targets[0], dict) else None
            if target is None:
                continue
            url = _http(target.get("url")) or _http(target.get("ref_id"))
            if key == "find" and url and isinstance(target.get("pattern"), str):
                return {"type": "find_in_page", "url": url, "pattern": target["pattern"]}
            if key == "open":
                return {"type": "open_page", "url": url} if url else {"type": "open_page"}
    action: dict = {"type": "search", "query": queries[0] if queries else ""}
    if len(queries) > 1:
        action["queries"] = queries
    return action


def search_results(metadata: dict) -> list[dict]:
    """The pages a search found (``search_result_groups``), in order, without repeats: each page's
    ``url``, and its ``title``, ``snippet`` and ``pub_date`` as the upstream gives them (or None)."""
    found: list[dict] = []
    for group in metadata.get("search_result_groups") or ():
        entries = group.get("entries") if isinstance(group, dict) else None
        for entry in entries or ():
            url = _http(entry.get("url")) if isinstance(entry, dict) else None
            if url and all(url != f["url"] for f in found):
                found.append({"url": url, "title": _text(entry.get("title")), "snippet": _text(entry.get("snippet")),
                              "pub_date": entry.get("pub_date")})
    return found


def _text(value) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def code_logs(message: dict) -> str:
    """What the code printed: the stream messages of ``aggregate_result``, else the output text."""
    result = (message.get("metadata") or {}).get("aggregate_result") or {}
    streams = [m["text"] for m in result.get("messages") or ()
               if isinstance(m, dict) and m.get("message_type") == "stream" and isinstance(m.get("text"), str)]
    if streams:
        return "".join(streams)
    text = (message.get("content") or {}).get("text")
    return text.replace("<<ImageDisplayed>>", "") if isinstance(text, str) else ""


def chart_pointers(message: dict) -> list[str]:
    result = (message.get("metadata") or {}).get("aggregate_result") or {}
    return [m["image_url"] for m in result.get("messages") or ()
            if isinstance(m, dict) and m.get("message_type") == "image" and isinstance(m.get("image_url"), str)]


def image_call(code: str) -> dict:
    """The image tool call's JSON (``{"prompt", "size", "n"}``): what the model asked to draw."""
    call = _json(code)
    return call if isinstance(call, dict) else {}
