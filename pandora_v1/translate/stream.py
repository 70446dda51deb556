"""The response stages chained: upstream body -> pieces, plus what the response needs after."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import APIError, ClientGone
from .continuation import ContinuationSettings, StreamEnding, UpstreamContinuation, backoff, document_messages
from .fold import DONE, Folder, Signal
from .render import Piece, Renderer
from .sse import Event, SSEDecoder

if TYPE_CHECKING:
    from ..upstream.body import Body

log = logging.getLogger(__name__)

CLIENT_CHECK = 0.25   # seconds: while polling, how often to look whether the client left


class Translation:
    """``batches()`` or iterate it for pieces; afterwards ``finish_reason`` and
    ``conversation_id`` are set.

    Raises ``APIError`` when the upstream reports an error mid-answer or the
    stream breaks, after handing over the pieces that close what was open.

    With ``continuation``, a turn the stream left unfinished (an image still
    rendering, a hand-off) goes on from the resume stream or the polled
    conversation document, through the same renderer (see continuation.py).
    """

    def __init__(self, body: Body, max_event_bytes: int, renderer: Renderer | None = None,
                 max_answer_chars: int = 0, max_seconds: float = 0,
                 continuation: UpstreamContinuation | None = None,
                 continuation_settings: ContinuationSettings | None = None):
        self.body = body
        self.renderer = renderer or Renderer()
        self._max_event_bytes = max_event_bytes
        self._decoder = SSEDecoder(max_event_bytes)
        self._folder = Folder()
        self._done = False
        self._cut = False                # cut off by the size or time limit, or blocked
        self.complete = False            # the upstream said the answer is complete ([DONE])
        self.continuation = continuation
        self.continuation_settings = continuation_settings or ContinuationSettings()
        self.ending = StreamEnding()
        self.polls = 0                   # conversation document GETs made
        self.resumed = False             # the answer came (partly) from the resume stream
        self.after: str | None = None    # a continued conversation: the document before this message is not the turn
        self._debug = log.isEnabledFor(logging.DEBUG)
        # An upstream that never stops is cut off: by answer size, and by time.
        self._budget = max_answer_chars or float("inf")
        self._deadline = time.monotonic() + max_seconds if max_seconds else float("inf")

    @property
    def finish_reason(self) -> str:
        return self.renderer.finish_reason

    @property
    def conversation_id(self) -> str | None:
        # a hand-off envelope names the conversation before any message does
        return self.renderer.conversation_id or self.ending.conversation_id

    def __iter__(self) -> Iterator[Piece]:
        for batch in self.batches():
            yield from batch

    def batches(self, keepalive: float | None = None) -> Iterator[list[Piece]]:
        """The pieces, a list per network read (all the events it brought).

        With ``keepalive``, an empty list comes whenever nothing was handed
        over for that many seconds, so the caller can keep its client's
        connection alive.
        """
        try:
            yield from self._read(keepalive)
            if self.continuation is not None and self._unfinished():
                yield from self._continue(keepalive)
        except APIError:
            out = self.renderer.close()   # no block is left open, even on an error
            if out:
                yield out
            raise
        out = self.renderer.close()
        if out:
            yield out

    def _read(self, keepalive: float | None) -> Iterator[list[Piece]]:
        """One upstream event stream, to its end."""
        out: list[Piece] = []
        last = time.monotonic()
        while not self._done:
            wait = None if keepalive is None else max(0.0, keepalive - (time.monotonic() - last))
            data = self.body.read(wait)
            if data is None:
                yield []
                last = time.monotonic()
                continue
            try:
                if not data:
                    self._events(self._decoder.close(), out)
                    break
                self._events(self._decoder.feed(data), out)
            except APIError:
                if out:
                    yield out      # what came before the error in the same read still goes out
                raise
            if out:
                yield out
                out = []
                last = time.monotonic()
        if out:
            yield out

    # -- a turn the stream left unfinished -----------------------------------

    def _handed_off(self) -> bool:
        """No answer, and the stream said it went elsewhere (or had a resume token and nothing else)."""
        ending, renderer = self.ending, self.renderer
        if renderer.answered:
            return False
        return ending.handed_off or (ending.resume_token is not None and not renderer.routed)

    def _unfinished(self) -> bool:
        if self._cut:
            return False
        return bool(self.renderer.pending_images) or self._handed_off()

    def _continue(self, keepalive: float | None) -> Iterator[list[Piece]]:
        conversation_id = self.ending.conversation_id or self.renderer.conversation_id
        if not conversation_id:
            return
        if self._handed_off() and self.ending.resume_token:
            yield from self._resume(conversation_id, keepalive)
        if self._unfinished():
            yield from self._poll(conversation_id, keepalive)
        if self._handed_off():
            raise APIError(502, "The upstream handed the answer off and it could not be fetched "
                                "(neither the resume stream nor the conversation gave it).",
                           code="upstream_error")
        if self.renderer.pending_images:
            yield self.renderer.unfinished_images()

    def _resume(self, conversation_id: str, keepalive: float | None) -> Iterator[list[Piece]]:
        try:
            assert self.continuation is not None and self.ending.resume_token is not None
            body = self.continuation.resume(conversation_id, self.ending.resume_token)
        except APIError as exc:
            log.info("resuming a handed-off answer failed: %s", exc.message)
            return
        hand_over = getattr(self.body, "hand_over_watch", None)   # client_watch.py goes on with the new body
        if hand_over is not None:
            hand_over(body)
        self.body.close()
        self.body, self.resumed = body, True
        self._decoder, self._folder, self._done = SSEDecoder(self._max_event_bytes), Folder(), False
        try:
            yield from self._read(keepalive)
        except APIError as exc:
            if not self._handed_off() and not self.renderer.pending_images:
                raise
            log.info("the resume stream broke: %s", exc.message)

    def _poll(self, conversation_id: str, keepalive: float | None) -> Iterator[list[Piece]]:
        """Poll the conversation document until the turn is finished or the wait is over."""
        settings = self.continuation_settings
        deadline = time.monotonic() + settings.max_wait
        delay = settings.interval
        last_sent = time.monotonic()
        while True:
            wait_until = time.monotonic() + delay
            if wait_until > deadline:
                return
            while (left := wait_until - time.monotonic()) > 0:   # keep the client's connection alive
                time.sleep(min(left, keepalive or left, CLIENT_CHECK))
                if getattr(self.body, "client_gone", False):   # client_watch.py saw the client leave
                    raise ClientGone()
                if keepalive and time.monotonic() - last_sent >= keepalive:
                    last_sent = time.monotonic()
                    yield []
            self.polls += 1
            assert self.continuation is not None
            try:
                document = self.continuation.document(conversation_id)
            except APIError as exc:
                status = exc.upstream_status or exc.status
                log.info("polling the conversation failed (%s)", status)
                if status == 404:
                    raise self._unreadable() from None
                later = backoff(delay, status, settings.interval)
                if later is None:
                    return
                delay = later
                continue
            delay = settings.interval
            out: list[Piece] = []
            for message in document_messages(document, self.after):
                pieces = self.renderer.feed({"message": message, "conversation_id": conversation_id})
                if pieces:
                    out.extend(pieces)
            if out:
                yield out
            if not self._unfinished():
                return

    def _unreadable(self) -> APIError:
        """The document is a 404: a temporary chat (asked for, or forced by a proxy) cannot be read
        back, so the rest of the turn is lost. Said at once, after what the stream delivered."""
        why = ("The conversation cannot be read back (the upstream answered 404), as happens with a "
               "temporary chat: history_and_training_disabled, or a proxy that forces it.")
        if self._handed_off():
            message = f"The upstream handed the answer off and it could not be fetched. {why}"
        else:
            message = f"The upstream's stream ended while an image was still being drawn. {why}"
        return APIError(502, message, code="conversation_unavailable", upstream_status=404)

    def _events(self, events: list[Event], out: list[Piece]) -> None:
        renderer, folder = self.renderer, self._folder
        for name, data in events:
            if self._debug:
                log.debug("upstream event %s: %s", name, bytes(data[:300]).decode("utf-8", "replace"))
            item = folder.feed(name, data)
            if item is None:
                continue
            if isinstance(item, Signal):
                self._signal(item)
                if self._done:
                    return
                continue
            pieces = renderer.feed(item)
            if pieces:
                out.extend(pieces)
                for _, text in pieces:
                    self._budget -= len(text)
            if self._budget < 0 or time.monotonic() > self._deadline:
                log.warning("cutting off an upstream answer past the configured size or time limit")
                renderer.finish_reason = "length"
                self._done = self._cut = True
                return

    def _signal(self, signal: Signal) -> None:
        if signal is DONE:
            self._done = self.complete = True
        elif signal.kind == "resume" or signal.kind == "handoff":
            self.ending.note(signal.kind, signal.value)
        elif signal.kind == "error":
            log.warning("upstream error mid-answer: %s", signal.value[:200])
            raise APIError(502, f"The upstream failed mid-answer: {signal.value}", code="upstream_error")
        elif signal.kind == "moderation" and signal.value.get("blocked"):
            self.renderer.block()
            self._done = self._cut = True
