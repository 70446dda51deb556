"""Message snapshots -> the text pieces a client sees.

A small state machine: each snapshot is routed by (author role, content
type, recipient) to a handler that knows how much of that message it has
already rendered and returns only what is new. Messages without a handler
(user/system echoes, tool traffic, ``reasoning_recap``) render nothing.

Pieces are ``(kind, text)`` with kind ``"content"`` or ``"reasoning"``.
"""
from __future__ import annotations

from collections.abc import Callable

CONTENT = "content"
REASONING = "reasoning"

Piece = tuple[str, str]


def _joined_parts(content: dict) -> str:
    parts = content.get("parts") or ()
    if len(parts) == 1 and isinstance(parts[0], str):
        return parts[0]
    return "".join(p for p in parts if isinstance(p, str))


class Renderer:
    def __init__(self):
        self.finish_reason = "stop"
        self.conversation_id: str | None = None
        self._seen: dict[str, object] = {}   # message id -> handler state
        self._last_text_id: str | None = None
        self._content_tail = ""               # last character of content sent
        self._reasoning_started = False
        self._handlers: dict[tuple[str, str, str], Callable[[str, dict], list[Piece]]] = {
            ("assistant", "text", "all"): self._text,
            ("assistant", "multimodal_text", "all"): self._text,
            ("assistant", "thoughts", "all"): self._thoughts,
        }

    def feed(self, root: dict) -> list[Piece]:
        message = root["message"]
        if root.get("conversation_id"):
            self.conversation_id = root["conversation_id"]
        author = message.get("author") or {}
        content = message.get("content") or {}
        key = (author.get("role"), content.get("content_type"), message.get("recipient") or "all")
        handler = self._handlers.get(key)
        if handler is None:
            return []
        if message.get("status") != "in_progress" and author.get("role") == "assistant":
            details = (message.get("metadata") or {}).get("finish_details") or {}
            if details.get("type") == "max_tokens":
                self.finish_reason = "length"
        return handler(str(message.get("id")), content)

    def block(self) -> None:
        """A moderation verdict blocked the answer."""
        self.finish_reason = "content_filter"

    # -- handlers ---------------------------------------------------------

    def _text(self, message_id: str, content: dict) -> list[Piece]:
        text = _joined_parts(content)
        sent = self._seen.get(message_id)
        if sent is None:
            sent = 0
            if not text:
                return []  # wait for the first character before separating
        if len(text) <= sent:
            return []
        new = text[sent:]
        self._seen[message_id] = len(text)
        if sent == 0 and self._last_text_id not in (None, message_id) and self._content_tail != "\n":
            new = "\n\n" + new  # a later answer message (after a tool turn) starts a paragraph
        self._last_text_id = message_id
        self._content_tail = new[-1]
        return [(CONTENT, new)]

    def _thoughts(self, message_id: str, content: dict) -> list[Piece]:
        """Thoughts grow one at a time: per thought, its summary once, then its content."""
        thoughts = content.get("thoughts") or []
        state = self._seen.setdefault(message_id, [])   # per thought: chars of content sent
        pieces = []
        for index, thought in enumerate(thoughts):
            if not isinstance(thought, dict):
                continue
            body = thought.get("content") or ""
            if index >= len(state):
                state.append(0)
                summary = thought.get("summary") or ""
                lead = "\n\n" if self._reasoning_started else ""
                if summary:
                    pieces.append((REASONING, f"{lead}**{summary}**\n\n"))
                elif lead and body:
                    pieces.append((REASONING, lead))
                self._reasoning_started = True
            if len(body) > state[index]:
                pieces.append((REASONING, body[state[index]:]))
                state[index] = len(body)
        return pieces
