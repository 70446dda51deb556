"""Long sessions: a history that extends one pandora_v1 answered continues that upstream conversation.

An agent loop re-sends its whole transcript on every step. When a request's
messages begin with a history we answered before — same account, model,
tools and format, the same messages up to and including our answer as the
client received it — only the messages after it go upstream, as the next
turn of the conversation we already have (``conversation_id`` and
``parent_message_id``, upstream-protocol.md "Continuation").

    scope   who and how: the account, the upstream model (and GPT), the tool
            catalog and choice, the response format. Any change starts fresh.
    chain   a SHA-256 per prefix of the messages: each link hashes the one
            before and the next message's canonical form (role, text, files,
            calls); system messages are part of it, so a new system prompt
            starts fresh too.

After a finished answer the session is kept under the link of the history
plus that answer: the conversation id, the answer's message id (the next
parent) and the tool nonce (the upstream knows that instruction already).
A request looks up the link at its last assistant message. Only hashes and
ids are kept, in the shared store with a TTL: no message text.
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from ..files.parts import InputFile
from ..tools.definitions import ToolFields
from ..translate.request import ChatMessage

KEY = "session:"


@dataclass(frozen=True)
class Session:
    conversation_id: str
    parent_id: str                 # the assistant message the next turn follows
    nonce: str | None = None       # the tool protocol's nonce, kept for the conversation's life


def scope_of(account: str, slug: str, gizmo_id: str | None, fields: ToolFields) -> bytes:
    """What must stay the same for a conversation to go on."""
    tools = [(t.name, t.description, t.parameters, t.strict) for t in fields.tools]
    choice = fields.choice
    fmt = fields.response_format
    return orjson.dumps([account, slug, gizmo_id, tools, [choice.mode, choice.allowed, choice.named],
                         fields.parallel, fields.legacy,
                         None if fmt is None else [fmt.type, fmt.name, fmt.schema, fmt.strict]],
                        option=orjson.OPT_SORT_KEYS)


def _arguments(text: str):
    """Call arguments as a value, so a client that re-serialises them still matches."""
    try:
        return orjson.loads(text) if text.strip() else {}
    except orjson.JSONDecodeError:
        return text


def _file(segment: InputFile) -> str:
    if segment.data is not None:
        return hashlib.sha256(segment.data).hexdigest()
    return f"url:{segment.url}"


def canonical(message: ChatMessage) -> bytes:
    """What of a message decides whether a history is the same one."""
    return orjson.dumps([
        message.role, message.text,
        [_file(s) for s in message.segments if isinstance(s, InputFile)],
        [[c.id, c.name, _arguments(c.arguments)] for c in message.tool_calls],
        message.tool_call_id, message.name,
    ], option=orjson.OPT_SORT_KEYS)


def chain(scope: bytes, messages: Sequence[ChatMessage]) -> list[str]:
    """The link of every prefix: ``chain(...)[i]`` stands for ``messages[:i + 1]``."""
    link = hashlib.sha256(scope).digest()
    links = []
    for message in messages:
        link = hashlib.sha256(link + canonical(message)).digest()
        links.append(link.hex())
    return links


def last_answer(messages: Sequence[ChatMessage]) -> int | None:
    """Where the last assistant message is: the answer a continuation would follow."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].role == "assistant":
            return index
    return None


class Sessions:
    """The sessions in the shared store (``store``: runtime/store.py), each kept ``ttl`` seconds
    after its last turn."""

    def __init__(self, store, ttl: float):
        self.store = store
        self.ttl = ttl

    def find(self, scope: bytes, messages: Sequence[ChatMessage]) -> tuple[Session, int] | None:
        """The session ``messages`` continue, and how many of them the upstream already has."""
        at = last_answer(messages)
        if at is None or at == len(messages) - 1:
            return None            # nothing answered yet, or nothing new after the answer
        record = self.store.get_json(KEY + chain(scope, messages[:at + 1])[-1])
        if not isinstance(record, dict) or not isinstance(record.get("conversation_id"), str) \
                or not isinstance(record.get("parent_id"), str):
            return None
        return Session(record["conversation_id"], record["parent_id"], record.get("nonce")), at + 1

    def remember(self, scope: bytes, messages: Sequence[ChatMessage], session: Session) -> None:
        """``messages`` end with the answer as the client received it."""
        self.store.set_json(KEY + chain(scope, messages)[-1],
                            {"conversation_id": session.conversation_id, "parent_id": session.parent_id,
                             "nonce": session.nonce}, self.ttl)
