"""The Response object and its output items, as OpenAI shapes them (agents-spec B.3)."""
from __future__ import annotations

import secrets
import time
from typing import Any


def new_id(prefix: str) -> str:
    """``resp_``, ``msg_``, ``fc_``, ``rs_`` + 48 hex digits, like OpenAI's."""
    return f"{prefix}_{secrets.token_hex(24)}"


def response(request, response_id: str | None = None, created_at: int | None = None) -> dict:
    """The Response of ``request`` (a ``ResponsesRequest``) as it starts: in progress, no output."""
    echo = request.echo
    return {
        "id": response_id or new_id("resp"),
        "object": "response",
        "created_at": created_at or int(time.time()),
        "status": "in_progress",
        "background": False,
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": echo.get("instructions"),
        "max_output_tokens": echo.get("max_output_tokens"),
        "max_tool_calls": echo.get("max_tool_calls"),
        "model": request.chat.model,
        "output": [],
        "parallel_tool_calls": echo.get("parallel_tool_calls", True),
        "previous_response_id": echo.get("previous_response_id"),
        "prompt_cache_key": echo.get("prompt_cache_key"),
        "reasoning": echo.get("reasoning") or {"effort": None, "summary": None},
        "safety_identifier": echo.get("safety_identifier"),
        "service_tier": echo.get("service_tier", "default"),
        "store": request.store,
        "temperature": echo.get("temperature", 1.0),
        "text": echo.get("text") or {"format": {"type": "text"}},
        "tool_choice": echo.get("tool_choice", "auto"),
        "tools": echo.get("tools", []),
        "top_p": echo.get("top_p", 1.0),
        "truncation": echo.get("truncation", "disabled"),
        "usage": None,
        "user": echo.get("user"),
        "metadata": echo.get("metadata") or {},
    }


def finished(start: dict, status: str, output: list[dict], usage: dict | None, *,
             error: dict | None = None, incomplete_reason: str | None = None) -> dict:
    """The final Response: ``completed``, ``incomplete`` or ``failed``."""
    final = dict(start)
    final.update(status=status, output=output, usage=usage, error=error,
                 incomplete_details={"reason": incomplete_reason} if status == "incomplete" else None,
                 completed_at=int(time.time()) if status == "completed" else None)
    return final


def text_part(text: str, annotations: list[dict] | None = None) -> dict:
    return {"type": "output_text", "text": text, "annotations": annotations or [], "logprobs": []}


def annotation(found: dict, base: int = 0, container_id: str = "") -> dict:
    """An annotation in chat's nested shape -> the Responses shape (flat), its indexes ``base``
    earlier (where its message item's text starts in the answer)."""
    cited = found[found["type"]]
    start, end = cited["start_index"] - base, cited["end_index"] - base
    if found["type"] == "container_file_citation":
        return {"type": "container_file_citation", "container_id": container_id, "end_index": end,
                "file_id": cited["file_id"], "filename": cited["filename"], "start_index": start}
    return {"type": "url_citation", "start_index": start, "end_index": end, "url": cited["url"],
            "title": cited["title"]}


def message_item(item_id: str, text: str | None, status: str, annotations: list[dict] | None = None) -> dict:
    """A message item; ``text`` None while it is being added (no content part yet)."""
    return {"id": item_id, "type": "message", "status": status, "role": "assistant",
            "content": [] if text is None else [text_part(text, annotations)]}


def reasoning_item(item_id: str, summary: str | None, status: str) -> dict:
    return {"id": item_id, "type": "reasoning", "status": status,
            "summary": [] if summary is None else [{"type": "summary_text", "text": summary}],
            "content": [], "encrypted_content": None}


def function_call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict:
    return {"id": item_id, "type": "function_call", "status": status, "arguments": arguments,
            "call_id": call_id, "name": name}


# Hosted tool calls (platform-spec §1.2), keys in the recorded order.

def web_search_item(item_id: str, status: str, action: dict | None = None) -> dict:
    item: dict[str, Any] = {"id": item_id, "type": "web_search_call", "status": status}
    if action is not None:
        item["action"] = action
    return item


def code_interpreter_item(item_id: str, status: str, code: str, container_id: str,
                          outputs: list[dict] | None) -> dict:
    return {"id": item_id, "type": "code_interpreter_call", "status": status, "code": code,
            "container_id": container_id, "outputs": outputs}


def image_generation_item(item_id: str, status: str, picture: dict | None = None, quality: str = "auto") -> dict:
    """``picture``: the image's fields (b64, output_format, background, size, revised_prompt);
    None while it is added. Never ``result: null`` (platform-spec §7): "" when it failed."""
    item: dict[str, Any] = {"id": item_id, "type": "image_generation_call", "status": status}
    if picture is not None or status != "in_progress":
        picture = picture or {}
        item.update(background=picture.get("background", "auto"), output_format=picture.get("output_format", "png"),
                    quality=quality, result=picture.get("b64", ""), revised_prompt=picture.get("revised_prompt"),
                    size=picture.get("size", "auto"))
    return item


def usage(input_tokens: int, output_tokens: int, reasoning_tokens: int = 0) -> dict:
    return {"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
            "total_tokens": input_tokens + output_tokens}


def error(code: str, message: str) -> dict:
    return {"code": code, "message": message}
