"""The pipeline's messages, and the upstream conversation payload they become.

``ChatMessage`` is what every API's parser produces (chat/, responses/,
messages/) and what the tool engine renders (tools/prompt.py); the payload
is the body of ``POST /backend-api/conversation``.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from ..files.parts import InputFile, UploadedFile


@dataclass(frozen=True)
class HistoryCall:
    """A function call an earlier assistant turn made (``arguments`` is the JSON string sent)."""
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ChatMessage:
    role: str      # system | user | assistant, or tool (a function result, rendered by translate/tools.py)
    text: str      # the text parts, joined (what token counts see)
    segments: tuple[str | InputFile, ...] = ()   # text and files in order, when there are files
    tool_calls: tuple[HistoryCall, ...] = ()     # assistant: the calls it made
    tool_call_id: str | None = None              # tool: the call this answers
    name: str | None = None                      # tool: the function's name (legacy role "function")

    @property
    def files(self) -> list[InputFile]:
        return [s for s in self.segments if isinstance(s, InputFile)]


def upstream_message(message: ChatMessage, uploaded: dict[str, UploadedFile] | None = None) -> dict:
    """One upstream message; images become pointers in ``parts``, every file an attachment."""
    upstream = {"id": str(uuid.uuid4()), "author": {"role": message.role},
                "content": {"content_type": "text", "parts": [message.text]}, "metadata": {}}
    if message.segments:
        uploaded = uploaded or {}
        files = [uploaded[s.param] for s in message.segments if isinstance(s, InputFile)]
        if any(f.is_image for f in files):
            parts = [uploaded[s.param].pointer() if isinstance(s, InputFile) else s
                     for s in message.segments
                     if not isinstance(s, InputFile) or uploaded[s.param].is_image]
            upstream["content"] = {"content_type": "multimodal_text", "parts": parts}
        upstream["metadata"] = {"attachments": [f.attachment() for f in files]}
    return upstream


def conversation_payload(messages, slug: str, mode: dict, *,
                         history_disabled: bool, delta_encoding: bool,
                         uploaded: dict[str, UploadedFile] | None = None,
                         system_hints: tuple[str, ...] = (), force_search: bool = False,
                         thinking_effort: str | None = None, instructions: str = "") -> dict:
    """The upstream request. ``slug`` is opaque (``gpt-4o``, ``gpt-5-thinking``, ``auto``, …);
    ``system_hints`` asks for a tool (``picture_v2``: image generation, ``search``), at the top
    level and on the last user message (upstream-protocol "Capabilities on request");
    ``force_search`` makes it search; ``thinking_effort`` is the upstream's word (models/effort.py);
    ``instructions`` go in as a system message after the client's own."""
    if instructions:
        messages = list(messages)
        at = next((i for i, m in enumerate(messages) if m.role != "system"), len(messages))
        messages.insert(at, ChatMessage("system", instructions))
    upstream = [upstream_message(m, uploaded) for m in messages]
    payload = {
        "action": "next",
        "messages": upstream,
        "parent_message_id": str(uuid.uuid4()),
        "model": slug,
        "conversation_mode": mode,
        "history_and_training_disabled": history_disabled,
        "timezone_offset_min": -480,
        "suggestions": [],
        "force_paragen": False,
        "force_rate_limit": False,
        # Today's upstream streams thought summaries only when asked; older ones ignore it.
        "paragen_cot_summary_display_override": "allow",
    }
    if delta_encoding:
        payload["supported_encodings"] = ["v1"]
    if system_hints:
        payload["system_hints"] = list(system_hints)
        user = next((m for m in reversed(upstream) if m["author"]["role"] == "user"), None)
        if user is not None:
            user["metadata"]["system_hints"] = list(system_hints)
    if force_search:
        payload["force_use_search"] = True
        payload["client_reported_search_source"] = "conversation_composer_web_icon"
    if thinking_effort:
        payload["thinking_effort"] = thinking_effort
    return payload


def prepare_body(payload: dict) -> dict:
    """The ``/f/conversation/prepare`` body for ``payload``: the conversation body without its
    messages, the user's message as ``partial_query``, the attachments' types."""
    messages = payload.get("messages") or []
    users = [m for m in messages if m["author"]["role"] == "user"]
    query = users[-1] if users else (messages[-1] if messages else {})
    types = sorted({a["mime_type"] for m in messages for a in (m.get("metadata") or {}).get("attachments") or ()
                    if a.get("mime_type")})
    body = {key: value for key, value in payload.items() if key != "messages"}
    body.update(client_prepare_state="none", partial_query=query, attachment_mime_types=types)
    return body


# Who may be offloaded: what the client wrote or its tools returned, never an answer.
BIG_PASTE_ROLES = ("user", "system", "tool")


def big_pastes(messages: list[dict], limit: int, paste: Callable[[str], dict]) -> int:
    """Each user, system or tool message of ``limit`` bytes or more goes up as the web app's big paste
    (upstream-protocol.md, "Continuation, branching and long inputs"): ``paste`` uploads its text and
    gives the attachment, the text parts become empty (images stay). How many were offloaded."""
    count = 0
    for message in messages:
        if message["author"]["role"] not in BIG_PASTE_ROLES:
            continue
        parts = message["content"]["parts"]
        texts = [p for p in parts if isinstance(p, str)]
        text = texts[0] if len(texts) == 1 else "\n".join(texts)
        if len(text.encode("utf-8", "surrogatepass")) < limit:
            continue
        message["metadata"] = {**message["metadata"],
                               "attachments": [*message["metadata"].get("attachments", ()), paste(text)]}
        message["content"]["parts"] = [p for p in parts if not isinstance(p, str)] + [""]
        count += 1
    return count
