"""A Chat Completions body -> the pipeline's ``ChatRequest`` (OpenAI's shapes, OpenAI's 400s)."""
from __future__ import annotations

from dataclasses import replace

import orjson

from ..answer.request import NO_HOSTED, ChatRequest, Hosted, location_note
from ..errors import bad_request
from ..files.parts import InputFile, input_file
from ..models.registry import is_search_model
from ..translate.request import ChatMessage, HistoryCall
from .params import check_parameters
from .tools import parse_chat_tools

# OpenAI's "developer" role is the newer name of "system"; "function" is the legacy "tool".
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
         "tool": "tool", "function": "tool"}


def _message(role: str, content, param: str) -> ChatMessage:
    if content is None:
        return ChatMessage(role, "")
    if isinstance(content, str):
        return ChatMessage(role, content)
    if not isinstance(content, list):
        raise bad_request("Message content must be a string or a list of content parts.", param)
    segments: list[str | InputFile] = []
    for index, part in enumerate(content):
        part_param = f"{param}[{index}]"
        if isinstance(part, str):
            segments.append(part)
            continue
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise bad_request("Each content part must be an object with a 'type'.", part_param)
        kind = part["type"]
        if kind in ("text", "input_text"):
            if not isinstance(part.get("text"), str):
                raise bad_request("A text part needs a string 'text'.", f"{part_param}.text")
            segments.append(part["text"])
        elif kind in ("image_url", "input_image", "file"):
            if role != "user":
                raise bad_request("Only user messages can carry images or files.", part_param)
            segments.append(input_file(part, part_param))
        elif kind in ("input_audio", "input_file"):
            raise bad_request(f"Content parts of type '{kind}' are not supported.", f"{part_param}.type",
                              code="unsupported_content_type")
        else:
            raise bad_request(f"Unknown content part type '{kind}'.", f"{part_param}.type")
    text = "\n".join(s for s in segments if isinstance(s, str))
    has_files = any(isinstance(s, InputFile) for s in segments)
    return ChatMessage(role, text, tuple(segments) if has_files else ())


def _flag(body: dict, key: str, default: bool = False) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"'{key}' must be a boolean.", key)
    return value


def parse_chat_request(body) -> ChatRequest:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("you must provide a model parameter" if model is None
                          else "'model' must be a non-empty string.", "model")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise bad_request("'messages' must be a list of messages." if messages is not None
                          else "Missing required parameter: 'messages'.", "messages")
    if not messages:
        raise bad_request("'messages' must contain at least one message.", "messages")
    parsed = []
    for index, message in enumerate(messages):
        param = f"messages[{index}]"
        if not isinstance(message, dict):
            raise bad_request("Each message must be an object with 'role' and 'content'.", param)
        role = message.get("role")
        if role not in ROLES:
            raise bad_request(f"Unsupported role {role!r}; use system, developer, user, assistant or tool.",
                              f"{param}.role")
        parsed.append(_tool_turn(role, message, param))
    check_parameters(body, parsed)   # OpenAI's type/range rules (params.py)
    n = body.get("n", 1)
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise bad_request("'n' must be a positive integer.", "n")
    if n is not None and n > 1:
        raise bad_request("Only n=1 is supported: the upstream gives one answer per request.", "n")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad_request("'stream_options' must be an object.", "stream_options")
    stream = _flag(body, "stream")
    # OpenAI refuses stream_options without stream; clients that always send it get served.
    include_usage = stream and _flag(options or {}, "include_usage")
    return ChatRequest(model.strip(), tuple(parsed), stream, include_usage, parse_chat_tools(body),
                       effort=body.get("reasoning_effort"), hosted=_hosted(body, model.strip()))


def _hosted(body: dict, model: str) -> Hosted:
    """``web_search_options`` (``{}`` included) or a search model: the upstream searches (forced, as
    OpenAI's search models always search; platform-spec §2.4)."""
    options = body.get("web_search_options")
    if options is None and not is_search_model(model):
        return NO_HOSTED
    location = ((options or {}).get("user_location") or {}).get("approximate")
    return Hosted(search=True, force_search=True, notes=location_note(location))


def _tool_turn(role: str, message: dict, param: str) -> ChatMessage:
    """A message, with its tool-call fields kept structured (rendered later, translate/tools.py)."""
    parsed = _message(ROLES[role], message.get("content"), f"{param}.content")
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str):
            raise bad_request("A tool message needs a string 'tool_call_id'.", f"{param}.tool_call_id")
        return replace(parsed, tool_call_id=call_id)
    if role == "function":
        name = message.get("name")
        if not isinstance(name, str) or not name:
            raise bad_request("A function message needs its function's 'name'.", f"{param}.name")
        return replace(parsed, name=name)
    if role != "assistant":
        return parsed
    calls = []
    tool_calls = message.get("tool_calls")
    if tool_calls is not None:
        if not isinstance(tool_calls, list):
            raise bad_request("'tool_calls' must be a list.", f"{param}.tool_calls")
        for index, call in enumerate(tool_calls):
            calls.append(_history_call(call, f"{param}.tool_calls[{index}]"))
    legacy = message.get("function_call")
    if legacy is not None:
        calls.append(_history_call({"id": "", "function": legacy}, f"{param}.function_call", legacy=True))
    return replace(parsed, tool_calls=tuple(calls)) if calls else parsed


def _history_call(call, param: str, legacy: bool = False) -> HistoryCall:
    function = call.get("function") if isinstance(call, dict) else None
    fparam = param if legacy else f"{param}.function"
    if not isinstance(function, dict):
        raise bad_request("A tool call needs a 'function' object.", fparam)
    name, arguments = function.get("name"), function.get("arguments", "")
    if not isinstance(name, str):
        raise bad_request("A tool call needs a string 'name'.", f"{fparam}.name")
    if isinstance(arguments, (dict, list)):   # some clients send the object itself
        arguments = orjson.dumps(arguments).decode()
    elif arguments is None:
        arguments = ""
    elif not isinstance(arguments, str):
        raise bad_request("A tool call's 'arguments' must be a JSON string.", f"{fparam}.arguments")
    call_id = call.get("id") if not legacy else ""
    if call_id is None:
        call_id = ""
    if not isinstance(call_id, str):
        raise bad_request("A tool call's 'id' must be a string.", f"{param}.id")
    return HistoryCall(call_id, name, arguments)
