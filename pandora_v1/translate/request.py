"""OpenAI chat request -> validated ``ChatRequest`` -> upstream conversation payload."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from ..errors import bad_request
from ..uploads import InputFile, UploadedFile, input_file
from .params import check_parameters

# OpenAI's "developer" role is the newer name of "system".
ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


@dataclass(frozen=True)
class ChatMessage:
    role: str      # upstream role: system | user | assistant
    text: str      # the text parts, joined (what token counts see)
    segments: tuple[str | InputFile, ...] = ()   # text and files in order, when there are files

    @property
    def files(self) -> list[InputFile]:
        return [s for s in self.segments if isinstance(s, InputFile)]


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    stream: bool = False
    include_usage: bool = False


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
            raise bad_request(f"Unsupported role {role!r}; use system, developer, user or assistant.",
                              f"{param}.role")
        parsed.append(_message(ROLES[role], message.get("content"), f"{param}.content"))
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
    return ChatRequest(model.strip(), tuple(parsed), stream, include_usage)


def upstream_message(message: ChatMessage, uploaded: dict[str, UploadedFile] | None = None) -> dict:
    """One upstream message; images become pointers in ``parts``, every file an attachment."""
    upstream = {"id": str(uuid.uuid4()), "author": {"role": message.role},
                "content": {"content_type": "text", "parts": [message.text]}, "metadata": {}}
    if message.segments:
        files = [uploaded[s.param] for s in message.segments if isinstance(s, InputFile)]
        if any(f.is_image for f in files):
            parts = [uploaded[s.param].pointer() if isinstance(s, InputFile) else s
                     for s in message.segments
                     if not isinstance(s, InputFile) or uploaded[s.param].is_image]
            upstream["content"] = {"content_type": "multimodal_text", "parts": parts}
        upstream["metadata"] = {"attachments": [f.attachment() for f in files]}
    return upstream


def conversation_payload(request: ChatRequest, slug: str, mode: dict, *,
                         history_disabled: bool, delta_encoding: bool,
                         uploaded: dict[str, UploadedFile] | None = None) -> dict:
    payload = {
        "action": "next",
        "messages": [upstream_message(m, uploaded) for m in request.messages],
        "parent_message_id": str(uuid.uuid4()),
        "model": slug,
        "conversation_mode": mode,
        "history_and_training_disabled": history_disabled,
        "timezone_offset_min": -480,
        "suggestions": [],
        "force_paragen": False,
        "force_rate_limit": False,
    }
    if delta_encoding:
        payload["supported_encodings"] = ["v1"]
    return payload

