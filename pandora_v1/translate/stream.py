"""The response stages chained: upstream body -> pieces, plus what the response needs after."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..errors import APIError
from .fold import DONE, Folder, Signal
from .render import Piece, Renderer
from .sse import Event, SSEDecoder

if TYPE_CHECKING:
    from ..upstream_body import UpstreamBody

log = logging.getLogger(__name__)


class Translation:
    """``batches()`` or iterate it for pieces; afterwards ``finish_reason`` and
    ``conversation_id`` are set.

    Raises ``APIError`` when the upstream reports an error mid-answer or the
    stream breaks, after handing over the pieces that close what was open.
    """

    def __init__(self, body: UpstreamBody, max_event_bytes: int, renderer: Renderer | None = None,
                 max_answer_chars: int = 0, max_seconds: float = 0):
        self.body = body
        self.renderer = renderer or Renderer()
        self._decoder = SSEDecoder(max_event_bytes)
        self._folder = Folder()
        self._done = False
        self.complete = False            # the upstream said the answer is complete ([DONE])
        self._debug = log.isEnabledFor(logging.DEBUG)
        # An upstream that never stops is cut off: by answer size, and by time.
        self._budget = max_answer_chars or float("inf")
        self._deadline = time.monotonic() + max_seconds if max_seconds else float("inf")

    @property
    def finish_reason(self) -> str:
        return self.renderer.finish_reason

    @property
    def conversation_id(self) -> str | None:
        return self.renderer.conversation_id

    def __iter__(self) -> Iterator[Piece]:
        for batch in self.batches():
            yield from batch

    def batches(self, keepalive: float | None = None) -> Iterator[list[Piece]]:
        """The pieces, a list per network read (all the events it brought).

        With ``keepalive``, an empty list comes whenever nothing was handed
        over for that many seconds, so the caller can keep its client's
        connection alive.
        """
        out: list[Piece] = []
        last = time.monotonic()
        try:
            while not self._done:
                wait = None if keepalive is None else max(0.0, keepalive - (time.monotonic() - last))
                data = self.body.read(wait)
                if data is None:
                    yield []
                    last = time.monotonic()
                    continue
                if not data:
                    self._events(self._decoder.close(), out)
                    break
                self._events(self._decoder.feed(data), out)
                if out:
                    yield out
                    out = []
                    last = time.monotonic()
        except APIError:
            out.extend(self.renderer.close())   # no block is left open, even on an error
            if out:
                yield out
            raise
        out.extend(self.renderer.close())
        if out:
            yield out

    def _events(self, events: list[Event], out: list[Piece]) -> None:
        renderer, folder = self.renderer, self._folder
        for name, data in events:
            if self._debug:
                log.debug("upstream event %s: %s", name, bytes(data[:300]).decode("utf-8", "replace"))
            item = folder.feed(name, data)
            if item is None:
                continue
            if type(item) is Signal:
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
                self._done = True
                return

    def _signal(self, signal: Signal) -> None:
        if signal is DONE:
            self._done = self.complete = True
        elif signal.kind == "error":
            log.warning("upstream error mid-answer: %s", signal.value[:200])
            raise APIError(502, f"The upstream failed mid-answer: {signal.value}", code="upstream_error")
        elif signal.kind == "moderation" and signal.value.get("blocked"):
            self.renderer.block()
            self._done = True
