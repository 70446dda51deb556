"""An ``Answer`` in the chat completions wire format: one ``chat.completion`` body, or a
stream of ``chat.completion.chunk`` events ending in ``[DONE]``.

Bot mode (``errors_as_text``) shows an upstream failure as text in the answer,
since a chat bot prints text and drops error events.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter

from ..answer.pipeline import Answer
from ..errors import APIError
from ..translate.render import CONTENT, Piece
from . import chunks as openai_format
from .chunks import SSE_DONE, SSE_KEEPALIVE, ChunkEncoder, sse

log = logging.getLogger(__name__)



def completion(answer: Answer, errors_as_text: bool = False) -> dict:
    try:
        answer.collect()
    except APIError as exc:
        if not errors_as_text:
            raise
        answer.content.append(error_text(exc, bool(answer.content)))
    return openai_format.completion(answer.chat.model, "".join(answer.content), "".join(answer.reasoning),
                                    answer.finish_reason, answer.usage(),
                                    annotations=answer.renderer.annotations)


def stream(answer: Answer, keepalive: float, pause: float = 0.0,
           errors_as_text: bool = False) -> Iterator[bytes]:
    """The stream, a write per upstream read; ``pause`` (bots) paces it a piece per write."""
    try:
        yield from in_openai_shape(_chunks(answer, keepalive, pause, errors_as_text))
        yield SSE_DONE
    finally:
        # After [DONE] went out, so waiting for the upstream's last bytes costs the client nothing.
        answer.finish(drain=0.05)


def _chunks(answer: Answer, keepalive: float, pause: float, errors_as_text: bool) -> Iterator[bytes]:
    chat = answer.chat
    encoder = ChunkEncoder(chat.model, chat.include_usage)
    yield encoder.role()
    try:
        for batch in answer.batches(keepalive):
            if not batch:
                yield SSE_KEEPALIVE
            elif not pause:
                yield _encoded(batch, encoder)
            else:
                for piece in batch:
                    yield _encoded([piece], encoder)
                    time.sleep(pause)
    except APIError as exc:
        if not errors_as_text:
            raise
        yield encoder.content(error_text(exc, bool(answer.content)))
    yield encoder.finish(answer.finish_reason)
    if chat.include_usage:
        yield encoder.usage(answer.usage())


def in_openai_shape(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks``, ended by an error event in OpenAI's shape (never a cut stream) whatever breaks."""
    try:
        yield from chunks
    except APIError as exc:
        yield sse(exc.body())
    except Exception:  # noqa: BLE001 - the stream must end in OpenAI's shape, whatever broke
        log.exception("stream failed")
        yield sse(APIError(500, "The server failed while streaming the answer.").body())


def _encoded(batch: list[Piece], encoder: ChunkEncoder) -> bytes:
    """One chunk per run of content or reasoning: a read's events become one write."""
    if len(batch) == 1:
        kind, text = batch[0]
        return encoder.content(text) if kind == CONTENT else encoder.reasoning(text)
    out = []
    for kind, run in groupby(batch, itemgetter(0)):
        text = "".join(piece[1] for piece in run)
        out.append(encoder.content(text) if kind == CONTENT else encoder.reasoning(text))
    return out[0] if len(out) == 1 else b"".join(out)


def error_text(exc: APIError, after_text: bool) -> str:
    return ("\n\n" if after_text else "") + f"[error] {exc.message}"
