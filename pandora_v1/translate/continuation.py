"""A turn the event stream left unfinished, and where the rest of it comes from.

Today's upstream ends some streams early: an image still rendering
(``image_gen_async``), or a turn handed off (``stream_handoff``, or a
``resume_conversation_token`` and no answer). The rest comes from

1. the resume stream (``POST /backend-api/f/conversation/resume`` with
   ``x-conduit-token``): the same event format, replayed from the start;
2. else the conversation document (``GET /backend-api/conversation/{id}``),
   polled every few seconds within a bounded wait, backing off on 429/5xx.

Both feed the same renderer that rendered the stream, so what the client
already got is known in one place (the renderer's per-message state) and
nothing is sent twice. The I/O is the caller's: an ``UpstreamContinuation``
gives the resume stream and the document; this module only decides.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..upstream.body import Body


class UpstreamContinuation(Protocol):
    """The two upstream calls a continuation needs (bound to one request's credentials)."""

    def resume(self, conversation_id: str, token: str) -> Body:
        """The resume stream; raises ``APIError`` when it cannot be had."""

    def document(self, conversation_id: str) -> dict:
        """The conversation document; raises ``APIError`` (with the upstream's status) on failure."""


@dataclass(frozen=True)
class ContinuationSettings:
    max_wait: float = 120.0        # seconds of polling the document, in all
    interval: float = 2.5          # between polls; doubled (up to 30 s) after a 429 or 5xx


@dataclass
class StreamEnding:
    """What the stream said about how the turn goes on."""
    conversation_id: str | None = None
    resume_token: str | None = None
    handed_off: bool = False

    def note(self, kind: str, value: dict) -> None:
        if kind == "resume":
            self.resume_token = value.get("token")
            self.conversation_id = value.get("conversation_id") or self.conversation_id
        elif kind == "handoff":
            self.handed_off = True
            self.conversation_id = value.get("conversation_id") or self.conversation_id


def document_messages(document: dict, after: str | None = None) -> list[dict]:
    """The messages of the document's current branch, oldest first (root -> current_node); with
    ``after`` (a continued conversation: the turn's parent) only those that follow that message."""
    mapping = document.get("mapping") if isinstance(document, dict) else None
    if not isinstance(mapping, dict):
        return []
    chain, node_id, seen = [], document.get("current_node"), set()
    while isinstance(node_id, str) and node_id in mapping and node_id not in seen and node_id != after:
        seen.add(node_id)
        node = mapping[node_id] if isinstance(mapping[node_id], dict) else {}
        if isinstance(node.get("message"), dict):
            chain.append(node["message"])
        node_id = node.get("parent")
    chain.reverse()
    return chain


def backoff(delay: float, status, interval: float) -> float | None:
    """The next delay after a failed poll, or None when polling is pointless (a 4xx but 429)."""
    if status == 429 or status == "timeout" or status == "unreachable" \
            or (isinstance(status, int) and status >= 500):
        return min(max(delay, interval) * 2, 30.0)
    return None
