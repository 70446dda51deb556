"""A Responses request -> the chat pipeline's ``ChatRequest``, plus what the Response echoes.

The input items are rewritten into a chat-completions body (messages, tools,
tool_choice, response_format) and handed to ``parse_chat_request``, so both
endpoints share one parser, one upload path and one tool engine. Errors the
chat parser raises name chat parameters (``messages[3].content[0]``); they are
renamed to what this client sent (``input[2].content[0]``).

History comes from the state store: ``previous_response_id`` prepends the
stored conversation of that response, ``item_reference`` items are replaced
by the stored item. The resolved conversation (``items``) is what gets stored
with the new response.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ..answer.request import ChatRequest
from ..chat.request import parse_chat_request
from ..errors import APIError, bad_request

log = logging.getLogger(__name__)

ROLES = {"user", "system", "developer", "assistant"}
# Features of OpenAI's platform that have no counterpart here: a 400 naming them.
UNSUPPORTED = {
    "background": "Background responses are not supported; send the request and wait for it.",
    "conversation": "Conversations are not supported; use previous_response_id or send the input.",
    "prompt": "Prompt templates are not supported; send instructions and input instead.",
}
# Fields echoed into the Response as sent (checked, so clients can parse the echo), with OpenAI's defaults.
ECHOED = {"temperature": 1.0, "top_p": 1.0, "user": None, "safety_identifier": None,
          "prompt_cache_key": None, "service_tier": "default", "truncation": "disabled",
          "max_tool_calls": None, "prompt_cache_retention": None, "top_logprobs": None}
_ECHO_TYPES = {"temperature": ((int, float), "a number"), "top_p": ((int, float), "a number"),
               "max_tool_calls": (int, "an integer"), "top_logprobs": (int, "an integer")}


class History(Protocol):
    """Where stored responses and items are looked up (``state.ResponseStore``)."""

    def record(self, response_id: str) -> dict | None: ...
    def item(self, item_id: str) -> dict | None: ...


@dataclass(frozen=True)
class ResponsesRequest:
    chat: ChatRequest
    items: tuple[dict, ...]            # the whole conversation, references resolved (stored)
    echo: dict = field(default_factory=dict)   # request fields the Response object repeats
    stream: bool = False
    store: bool = True
    summary: bool = False              # reasoning.summary asked: thoughts become a reasoning item
    max_output_tokens: int | None = None


def parse_responses_request(body: Any, history: History) -> ResponsesRequest:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    for key, message in UNSUPPORTED.items():
        if body.get(key) not in (None, False):
            raise bad_request(message, key, code="unsupported_parameter")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("you must provide a model parameter" if model is None
                          else "'model' must be a non-empty string.", "model")
    stream, store = _flag(body, "stream", False), _flag(body, "store", True)
    parallel = _flag(body, "parallel_tool_calls", True)
    instructions = _optional(body, "instructions", str, "a string")
    previous = _optional(body, "previous_response_id", str, "a string")
    max_output = body.get("max_output_tokens")
    if max_output is not None and (not isinstance(max_output, int) or isinstance(max_output, bool)
                                   or max_output < 1):
        raise bad_request("'max_output_tokens' must be a positive integer.", "max_output_tokens")
    metadata = _optional(body, "metadata", dict, "an object")
    reasoning = _optional(body, "reasoning", dict, "an object") or {}
    text = _optional(body, "text", dict, "an object") or {}
    _optional(body, "include", list, "a list")

    items: list[dict] = []
    origins: list[str] = []            # per item: the parameter that brought it
    if previous:
        record = history.record(previous)
        if record is None:
            raise bad_request(f"Previous response with id '{previous}' not found.",
                              "previous_response_id", code="previous_response_not_found")
        past = [*record["request_items"], *record["output_items"]]
        items += past
        origins += ["previous_response_id"] * len(past)
    new = _input_items(body.get("input"), history, allow_empty=bool(previous))
    items += new
    origins += [f"input[{i}]" for i in range(len(new))] if isinstance(body.get("input"), list) \
        else ["input"] * len(new)

    messages, message_origins = _messages(items, origins, instructions)
    tools, tool_params = _tools(body.get("tools"))
    chat_body: dict = {"model": model, "messages": messages}
    if tools:
        chat_body["tools"] = tools
    if body.get("tool_choice") is not None:
        chat_body["tool_choice"] = _tool_choice(body["tool_choice"])
    if "parallel_tool_calls" in body and body["parallel_tool_calls"] is not None:
        chat_body["parallel_tool_calls"] = parallel
    response_format = _response_format(text.get("format"))
    if response_format is not None:
        chat_body["response_format"] = response_format
    try:
        chat = parse_chat_request(chat_body)
    except APIError as exc:
        exc.param = _renamed(exc.param, message_origins, tool_params)
        raise

    echo: dict = {}
    for key, default in ECHOED.items():
        kind, name = _ECHO_TYPES.get(key, (str, "a string"))
        assert isinstance(kind, (type, tuple))
        value = body.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise bad_request(f"'{key}' must be {name}.", key)
        echo[key] = default if value is None else value
    echo.update(
        instructions=instructions, max_output_tokens=max_output, metadata=metadata or {},
        parallel_tool_calls=parallel, previous_response_id=previous,
        reasoning={"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        store=store, text={**text, "format": text.get("format") or {"type": "text"}},
        tool_choice=body.get("tool_choice") if body.get("tool_choice") is not None else "auto",
        tools=[t for t in body.get("tools") or () if isinstance(t, dict) and t.get("type") == "function"],
    )
    # store: false asks that nothing be kept: upstream, a temporary chat where the turn allows one
    chat = replace(chat, temporary=not store)
    return ResponsesRequest(chat, tuple(items), echo, stream, store,
                            summary=bool(reasoning.get("summary")), max_output_tokens=max_output)


# ------------------------------------------------------------------ helpers

def _flag(body: dict, key: str, default: bool) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"'{key}' must be a boolean.", key)
    return value


def _optional(body: dict, key: str, kind: type, name: str):
    value = body.get(key)
    if value is not None and not isinstance(value, kind):
        raise bad_request(f"'{key}' must be {name}.", key)
    return value


def _input_items(value, history: History, allow_empty: bool) -> list[dict]:
    """The client's input as items, ``item_reference``s replaced by the stored items."""
    if value is None or value == "" or value == []:
        if allow_empty:
            return []
        raise bad_request("Missing required parameter: 'input'.", "input")
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list):
        raise bad_request("'input' must be a string or a list of input items.", "input")
    items = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise bad_request("Each input item must be an object.", f"input[{index}]")
        if item.get("type") == "item_reference":
            item_id = item.get("id")
            stored = history.item(item_id) if isinstance(item_id, str) else None
            if stored is None:
                raise bad_request(f"Item with id '{item_id}' not found.", f"input[{index}]",
                                  code="item_not_found")
            item = stored
        items.append(item)
    return items


def _messages(items: list[dict], origins: list[str], instructions: str | None) -> tuple[list, list]:
    """Items -> chat messages, and for each message the parameter it came from.

    Function calls join the assistant message before them (a chat assistant
    message holds its text and its tool_calls); reasoning items are dropped:
    the upstream cannot take them back.
    """
    messages: list[dict] = []
    message_origins: list[str] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
        message_origins.append("instructions")
    for item, origin in zip(items, origins, strict=True):
        kind = item.get("type", "message")
        if kind == "message":
            role = item.get("role")
            if role not in ROLES:
                raise bad_request(f"Unsupported role {role!r}; use user, system, developer or assistant.",
                                  f"{origin}.role")
            messages.append({"role": role, "content": _content(item.get("content"), f"{origin}.content")})
            message_origins.append(origin)
        elif kind == "function_call":
            call = {"id": _string(item, "call_id", origin), "type": "function",
                    "function": {"name": _string(item, "name", origin),
                                 "arguments": _string(item, "arguments", origin)}}
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant":
                last.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
                message_origins.append(origin)
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": _string(item, "call_id", origin),
                             "content": _tool_output(item.get("output"), f"{origin}.output")})
            message_origins.append(origin)
        elif kind == "reasoning":
            continue
        else:
            raise bad_request(f"Input items of type '{kind}' are not supported.", f"{origin}.type",
                              code="unsupported_item_type")
    return messages, message_origins


def _string(item: dict, key: str, origin: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise bad_request(f"'{key}' must be a string.", f"{origin}.{key}")
    return value


def _content(content, param: str):
    """Responses content parts -> chat content parts, one for one (so indexes stay)."""
    if not isinstance(content, list):
        return content         # a string, or something the chat parser refuses by name
    parts = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text"):
            parts.append({"type": "text", "text": part.get("text")})
        elif kind == "refusal":
            parts.append({"type": "text", "text": part.get("refusal")})
        elif kind == "input_image":
            if part.get("image_url") is None and part.get("file_id") is not None:
                raise bad_request("Images by file_id are not supported; send image_url (a data: or "
                                  "https: URL).", f"{param}[{index}].file_id", code="unsupported_parameter")
            parts.append({"type": "input_image", "image_url": part.get("image_url")})
        elif kind == "input_file":
            if not isinstance(part.get("file_data"), str):
                which = "file_id" if part.get("file_id") is not None else \
                    "file_url" if part.get("file_url") is not None else "file_data"
                raise bad_request("Files must be sent inline as file_data (a data: URL or base64).",
                                  f"{param}[{index}].{which}", code="unsupported_parameter")
            file = {"file_data": part["file_data"]}
            if isinstance(part.get("filename"), str):
                file["filename"] = part["filename"]
            parts.append({"type": "file", "file": file})
        else:
            parts.append(part)
    return parts


def _tool_output(output, param: str) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):   # text parts count; images in a tool result are ignored
        return "\n".join(p["text"] for p in output
                         if isinstance(p, dict) and isinstance(p.get("text"), str))
    raise bad_request("'output' must be a string or a list of content parts.", param)


def _tools(tools) -> tuple[list[dict], dict[int, int]]:
    """Flat function tools -> chat tools; hosted tools are dropped (clients attach them freely)."""
    if tools is None:
        return [], {}
    if not isinstance(tools, list):
        raise bad_request("'tools' must be a list of tools.", "tools")
    out: list = []
    params: dict = {}
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise bad_request("Each tool must be an object with a 'type'.", f"tools[{index}]")
        if tool["type"] != "function":
            log.info("dropping a '%s' tool: only function tools are served", tool["type"])
            continue
        function = {k: tool[k] for k in ("name", "description", "parameters", "strict") if k in tool}
        params[len(out)] = index
        out.append({"type": "function", "function": function})
    return out, params


def _tool_choice(choice):
    if isinstance(choice, str) or not isinstance(choice, dict):
        return choice              # "none" / "auto" / "required", or an error for the chat parser
    kind = choice.get("type")
    if kind == "function":
        return {"type": "function", "function": {"name": choice.get("name")}}
    if kind == "allowed_tools":
        tools = choice.get("tools")
        if isinstance(tools, list):
            tools = [{"type": "function", "function": {"name": t.get("name")}}
                     if isinstance(t, dict) and t.get("type") == "function" else t for t in tools]
        return {"type": "allowed_tools", "allowed_tools": {"mode": choice.get("mode"), "tools": tools}}
    raise bad_request(f"tool_choice names a '{kind}' tool; only function tools are served.",
                      "tool_choice", code="unsupported_parameter")


def _response_format(fmt):
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise bad_request("'text.format' must be an object.", "text.format")
    if fmt.get("type") == "json_schema":
        return {"type": "json_schema",
                "json_schema": {k: fmt[k] for k in ("name", "description", "schema", "strict") if k in fmt}}
    if fmt.get("type") in ("text", "json_object"):
        return {"type": fmt["type"]}
    raise bad_request(f"Unknown text.format type {fmt.get('type')!r}; use text, json_object or json_schema.",
                      "text.format.type")


_MESSAGE_PARAM = re.compile(r"messages\[(\d+)\](?:\.tool_calls\[\d+\](?:\.function)?)?")
_TOOL_PARAM = re.compile(r"tools\[(\d+)\](?:\.function)?")


def _renamed(param: str | None, message_origins: list[str], tool_params: dict[int, int]) -> str | None:
    """A chat parameter name -> the name of what the Responses client sent."""
    if not param:
        return param
    if param == "messages":
        return "input"
    if param.startswith("response_format"):
        return "text.format" + param[len("response_format"):].replace(".json_schema", "")
    if param.startswith("tool_choice"):
        return param.replace(".function", "").replace(".allowed_tools", "")
    match = _MESSAGE_PARAM.match(param)
    if match and int(match[1]) < len(message_origins):
        return message_origins[int(match[1])] + param[match.end():].replace(".image_url.url", ".image_url") \
            .replace(".file.file_data", ".file_data")
    match = _TOOL_PARAM.match(param)
    if match and int(match[1]) in tool_params:
        return f"tools[{tool_params[int(match[1])]}]" + param[match.end():]
    return param
