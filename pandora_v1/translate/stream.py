"""The response stages chained: upstream body -> pieces, plus what the response needs after."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator

from ..errors import APIError
from . import fold as folding
from . import sse
from .render import Piece, Renderer

log = logging.getLogger(__name__)


class Translation:
    """Iterate it for pieces; afterwards ``finish_reason`` and ``conversation_id`` are set.

    Raises ``APIError`` when the upstream reports an error mid-answer or the
    stream breaks.
    """

    def __init__(self, chunks: Iterable[bytes], max_event_bytes: int, renderer: Renderer | None = None,
                 max_answer_chars: int = 0, max_seconds: float = 0):
        self._chunks = chunks
        self._max_event_bytes = max_event_bytes
        self.renderer = renderer or Renderer()
        # An upstream that never stops is cut off: by answer size, and by time.
        self._max_answer_chars = max_answer_chars
        self._max_seconds = max_seconds

    @property
    def finish_reason(self) -> str:
        return self.renderer.finish_reason

    @property
    def conversation_id(self) -> str | None:
        return self.renderer.conversation_id

    def __iter__(self) -> Iterator[Piece]:
        renderer = self.renderer
        events = sse.events(self._chunks, self._max_event_bytes)
        if log.isEnabledFor(logging.DEBUG):
            events = _logged(events)
        budget = self._max_answer_chars or float("inf")
        deadline = time.monotonic() + self._max_seconds if self._max_seconds else float("inf")
        try:
            for item in folding.fold(events):
                if isinstance(item, folding.Signal):
                    if item.kind == "error":
                        log.warning("upstream error mid-answer: %s", item.value[:200])
                        raise APIError(502, f"The upstream failed mid-answer: {item.value}",
                                       code="upstream_error")
                    if item.kind == "moderation" and item.value.get("blocked"):
                        renderer.block()
                        break
                    continue
                for piece in renderer.feed(item):
                    budget -= len(piece[1])
                    yield piece
                if budget < 0 or time.monotonic() > deadline:
                    log.warning("cutting off an upstream answer past the configured size or time limit")
                    renderer.finish_reason = "length"
                    break
        except APIError:
            yield from renderer.close()   # no block is left open, even on an error
            raise
        yield from renderer.close()


def _logged(events):
    """DEBUG: every upstream event, shortened (the logging formatter masks tokens)."""
    for name, data in events:
        log.debug("upstream event %s: %s", name, bytes(data[:300]).decode("utf-8", "replace"))
        yield name, data
