"""Long sessions: a history that extends one pandora_v1 answered continues that upstream conversation.

An agent loop re-sends its whole transcript on every step. When a request's
messages begin with a history we answered before — same account, model,
tools and format, the same messages up to and including our answer as the
client received it — only the messages after it go upstream, as the next
turn of the conversation we already have (``conversation_id`` and
``parent_message_id``, upstream-protocol.md "Continuation, branching and
long inputs"). Whatever API asked: chat, Responses and Messages all parse
into the pipeline's ``ChatMessage``s, and those are compared, before tool
rendering.

    scope   who and how: the account, the upstream model (and GPT), the tool
            catalog and choice, the response format, whether tools are
            emulated at all. Any change starts fresh.
    chain   a SHA-256 per prefix of the messages: each link hashes the one
            before and the next message's canonical form (role, text, files,
            calls); system messages are part of it, so a new system prompt
            starts fresh too.

After a whole answer the session is kept under the link of the history plus
that answer: the conversation id, the answer's message id (the next parent)
and the tool nonce (the upstream was taught that instruction already, and the
results it is sent must carry it). A request looks up the link at its last
assistant message; an older link is a branch of the same conversation (an
edited last message continues from the same parent). Only hashes and ids are
kept, in the shared store with a TTL: no message text.

With the hide setting, a kept conversation is hidden when its session ends
(idle for the TTL: ``hide_idle``, a scheduled job every ``check_every(ttl)``
seconds), not after each turn; the hide record holds what that PATCH needs
(the conversation id and the credentials), for the TTL and three checks more.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import orjson

from ..auth.credentials import Credentials
from ..errors import APIError
from ..files.parts import InputFile
from ..runtime.config import ModelEntry
from ..runtime.store import StoreUnavailable
from ..tools.definitions import ToolFields
from ..translate.request import ChatMessage, HistoryCall

log = logging.getLogger(__name__)

KEY = "session:"
HIDE_KEY = "session-hide:"
# A continued POST the upstream refused like this cannot continue that conversation: deleted, expired,
# temporary (404), or a parent it does not know (the doc names no error for that: any 4xx of a bad request).
LOST_STATUSES = frozenset({400, 404, 409, 422})
# Call ids as each API hands them out (chat call_…, Anthropic toolu_… of the same random part).
_CALL_PREFIXES = ("call_", "toolu_")


@dataclass(frozen=True)
class Session:
    conversation_id: str
    parent_id: str                 # the assistant message the next turn follows
    nonce: str | None = None       # the tool protocol's nonce, kept for the conversation's life


def scope_of(account: str, slug: str, gizmo_id: str | None, fields: ToolFields, engine: bool = True) -> bytes:
    """What must stay the same for a conversation to go on (``engine``: tools are emulated at all)."""
    tools = [(t.name, t.description, t.parameters, t.strict) for t in fields.tools]
    choice = fields.choice
    fmt = fields.response_format
    return orjson.dumps([account, slug, gizmo_id, engine, tools, [choice.mode, choice.allowed, choice.named],
                         fields.parallel, fields.legacy,
                         None if fmt is None else [fmt.type, fmt.name, fmt.schema, fmt.strict]],
                        option=orjson.OPT_SORT_KEYS)


def _arguments(text: str):
    """Call arguments as a value, so a client that re-serialises them still matches."""
    try:
        return orjson.loads(text) if text.strip() else {}
    except orjson.JSONDecodeError:
        return text


def _call_id(value: str | None) -> str | None:
    for prefix in _CALL_PREFIXES:
        if value and value.startswith(prefix):
            return value[len(prefix):]
    return value


def _file(segment: InputFile) -> str:
    if segment.data is not None:
        return hashlib.sha256(segment.data).hexdigest()
    return f"url:{segment.url}"


def canonical(message: ChatMessage) -> bytes:
    """What of a message decides whether a history is the same one. An assistant's text without the
    whitespace around it (a stream's last newline, which a whole body strips)."""
    text = message.text.strip() if message.role == "assistant" else message.text
    return orjson.dumps([
        message.role, text,
        [_file(s) for s in message.segments if isinstance(s, InputFile)],
        [[_call_id(c.id), c.name, _arguments(c.arguments)] for c in message.tool_calls],
        _call_id(message.tool_call_id), message.name,
    ], option=orjson.OPT_SORT_KEYS)


def chain(scope: bytes, messages: Sequence[ChatMessage], after: str | None = None) -> list[str]:
    """The link of every prefix: ``chain(...)[i]`` stands for ``messages[:i + 1]``; ``after``: the
    link the messages follow (the chain goes on from there instead of from the scope)."""
    link = bytes.fromhex(after) if after else hashlib.sha256(scope).digest()
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


def tail(messages: Sequence[ChatMessage]) -> tuple[ChatMessage, ...]:
    """The messages after the last assistant one: what a continued turn sends (rendered messages)."""
    at = last_answer(messages)
    return tuple(messages if at is None else messages[at + 1:])


def answer_message(content: str, calls: Sequence = ()) -> ChatMessage:
    """An answer as a client sends it back: its text and its calls (``id``, ``name``, ``arguments``)."""
    return ChatMessage("assistant", content, tool_calls=tuple(HistoryCall(c.id, c.name, c.arguments)
                                                              for c in calls))


def lost(error: APIError) -> bool:
    """A continued POST failed because that conversation cannot be continued: start afresh."""
    return error.upstream_status in LOST_STATUSES


def check_every(ttl: float) -> float:
    """How often the job looks for sessions that ended: a quarter of the TTL, from 0.5 s to a minute."""
    return min(60.0, max(0.5, ttl / 4))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Sessions:
    """The sessions in the shared store (``store``: runtime/store.py), each kept ``ttl`` seconds
    after its last turn. A store that cannot be reached costs the continuation, never the answer."""

    def __init__(self, store, ttl: float):
        self.store = store
        self.ttl = ttl

    def find(self, scope: bytes, messages: Sequence[ChatMessage],
             links: list[str] | None = None) -> tuple[Session, int] | None:
        """The session ``messages`` continue, and how many of them the upstream already has
        (``links``: their chain, when the caller has it already)."""
        at = last_answer(messages)
        if at is None or at == len(messages) - 1:
            return None            # nothing answered yet, or nothing new after the answer
        link = links[at] if links is not None else chain(scope, messages[:at + 1])[-1]
        try:
            record = self.store.get_json(KEY + link)
        except StoreUnavailable as exc:
            log.warning("continuity: no session lookup (%s); sending the whole history", exc)
            return None
        if not isinstance(record, dict) or not isinstance(record.get("conversation_id"), str) \
                or not isinstance(record.get("parent_id"), str):
            return None
        nonce = record.get("nonce") if isinstance(record.get("nonce"), str) else None
        return Session(record["conversation_id"], record["parent_id"], nonce), at + 1

    def remember(self, scope: bytes, messages: Sequence[ChatMessage], session: Session,
                 after: str | None = None) -> None:
        """``messages`` end with the answer as the client received it; ``after``: the link of what
        comes before them (the history already hashed)."""
        try:
            self.store.set_json(KEY + chain(scope, messages, after)[-1],
                                {"conversation_id": session.conversation_id, "parent_id": session.parent_id,
                                 "nonce": session.nonce}, self.ttl)
        except StoreUnavailable as exc:
            log.warning("continuity: session not kept (%s)", exc)

    # -- hiding when the session ends ----------------------------------------

    def hide_later(self, conversation_id: str, creds: Credentials) -> None:
        """Hide ``conversation_id`` once nobody continued it for the TTL (``hide_idle``); each turn
        calls it again, moving that moment on."""
        record = {"conversation_id": conversation_id, "access_token": creds.access_token,
                  "account_id": creds.account_id, "last": time.time()}
        try:
            self.store.set_json(HIDE_KEY + _digest(creds.account_key() + conversation_id), record,
                                self.ttl + 3 * check_every(self.ttl))
        except StoreUnavailable as exc:
            log.warning("continuity: conversation %s will not be hidden when idle (%s)", conversation_id, exc)

    def hide_idle(self, hide: Callable[[str, Credentials], None], now: float | None = None) -> int:
        """Hide every conversation idle for the TTL (the scheduled job); how many were hidden. A failed
        PATCH is tried again next time while its record lives."""
        now = time.time() if now is None else now
        hidden = 0
        for key in self.store.keys(HIDE_KEY):
            record = self.store.get_json(key)
            if not isinstance(record, dict) or not isinstance(record.get("conversation_id"), str) \
                    or not isinstance(record.get("access_token"), str):
                self.store.delete(key)
                continue
            if now - float(record.get("last") or 0) < self.ttl:
                continue
            conversation_id = record["conversation_id"]
            try:
                hide(conversation_id, Credentials(record["access_token"], record.get("account_id")))
            except APIError as exc:
                if exc.upstream_status not in (401, 403, 404):
                    log.info("could not hide idle conversation %s yet: %s", conversation_id, exc.message)
                    continue
                log.info("idle conversation %s cannot be hidden: %s", conversation_id, exc.message)
            else:
                hidden += 1
                log.info("hid conversation %s: its session ended", conversation_id)
            self.store.delete(key)
        return hidden


@dataclass(frozen=True)
class Thread:
    """One request's place among the sessions: its scope and history, and what it continues."""
    sessions: Sessions
    scope: bytes
    history: tuple[ChatMessage, ...]      # the client's messages, before tool rendering
    session: Session | None = None        # the conversation this request continues (None: a new one)
    link: str | None = None               # the history's own link (chain), hashed once per request

    @property
    def nonce(self) -> str | None:
        return self.session.nonce if self.session else None

    def afresh(self) -> "Thread":
        return replace(self, session=None)

    def following(self, session: Session) -> "Thread":
        return replace(self, session=session)

    def keep(self, answer: ChatMessage, session: Session) -> None:
        """The turn is answered (``answer`` as the client received it): the next one continues it."""
        if self.link is None:
            self.sessions.remember(self.scope, self.history + (answer,), session)
        else:
            self.sessions.remember(self.scope, (answer,), session, after=self.link)


def open_thread(sessions: Sessions | None, messages: tuple[ChatMessage, ...], fields: ToolFields,
                entry: ModelEntry, creds: Credentials, engine: bool = True) -> Thread | None:
    """The request's thread (None when continuity is off): the session its history continues, if any."""
    if sessions is None:
        return None
    scope = scope_of(creds.account_key(), entry.slug, entry.gizmo_id, fields, engine)
    links = chain(scope, messages)        # once: the lookup and the answer kept later both go on from it
    found = sessions.find(scope, messages, links)
    thread = Thread(sessions, scope, messages, link=links[-1] if links else None)
    if found is None:
        return thread
    session, known = found
    log.debug("continuing conversation %s: %d of %d messages are upstream already",
              session.conversation_id, known, len(messages))
    return thread.following(session)
