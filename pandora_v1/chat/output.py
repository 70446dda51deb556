"""Answers in the Chat Completions wire format: one ``chat.completion`` body, or a stream of
``chat.completion.chunk`` events ending in ``[DONE]``.

A plain answer (``Answer``: text and reasoning pieces) and an agent turn
(``AgentAnswer``: text, reasoning and whole tool calls, agents-spec A.1.2,
A.1.3) share the encoder (chunks.py) and the error ending. Streams: text as
it comes; each call as its own chunks (first fragment with id/type/name and
``arguments: ""``, then string fragments, ``index`` on all); the role goes
with the first content or call; ``finish_reason`` tool_calls (function_call
for legacy ``functions``).

Bot mode (``errors_as_text``, plain answers only) shows an upstream failure
as text in the answer, since a chat bot prints text and drops error events;
tool requests come from programs and get SSE error events.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter

from ..answer.agent import AgentAnswer
from ..answer.pipeline import Answer, account
from ..answer.sse import SSE_KEEPALIVE
from ..errors import APIError
from ..metering import ledger
from ..translate.render import CONTENT, Piece
from . import chunks
from .chunks import SSE_DONE, ChunkEncoder, sse

log = logging.getLogger(__name__)


def completion(answer: Answer, errors_as_text: bool = False) -> dict:
    try:
        answer.collect()
    except APIError as exc:
        if not errors_as_text:
            raise
        answer.content.append(error_text(exc, bool(answer.content)))
    usage = _accounted([answer], answer.usage())
    return chunks.completion(answer.chat.model, "".join(answer.content), "".join(answer.reasoning),
                                    answer.finish_reason, usage, annotations=answer.renderer.annotations)


def _accounted(answers, usage: dict) -> dict:
    """``usage`` as sent (or counted, for a stream without it), reported for the key's usage."""
    account(answers, usage["prompt_tokens"], usage["completion_tokens"])
    return usage


def _account_what_was_sent(answers, usage) -> None:
    """A stream that broke off (an error, the client gone): what was handed out until then counts."""
    if not ledger.current().noted:
        try:
            _accounted(answers, usage())
        except Exception:  # noqa: BLE001 - accounting must not hide the stream's own ending
            log.exception("counting the usage of a broken stream failed")


def stream(answer: Answer, keepalive: float, pause: float = 0.0,
           errors_as_text: bool = False) -> Iterator[bytes]:
    """The stream, a write per upstream read; ``pause`` (bots) paces it a piece per write."""
    try:
        yield from in_openai_shape(_chunks(answer, keepalive, pause, errors_as_text))
        yield SSE_DONE
    finally:
        # After [DONE] went out, so waiting for the upstream's last bytes costs the client nothing.
        answer.finish(drain=0.05)
        _account_what_was_sent([answer], answer.usage)


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
    annotations = chunks.within(answer.renderer.annotations, sum(map(len, answer.content)))
    if annotations:     # after the last content, before the finish chunk
        yield encoder.annotations(annotations)
    yield encoder.finish(answer.finish_reason)
    usage = _accounted([answer], answer.usage())     # counted with include_usage or without
    if chat.include_usage:
        yield encoder.usage(usage)


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


# ------------------------------------------------------------ agent turns

def agent_completion(agent: AgentAnswer) -> dict:
    turn = agent.turn
    try:
        for _ in turn.events():
            pass
    finally:
        agent.finish()
    return chunks.completion(agent.chat.model, turn.content, turn.reasoning, turn.finish_reason,
                                    _accounted(agent.answers, agent.usage()), turn.calls, turn.legacy,
                                    annotations=agent.annotations(turn.content))


def agent_stream(agent: AgentAnswer, keepalive: float) -> Iterator[bytes]:
    try:
        yield from in_openai_shape(_agent_chunks(agent, keepalive))
        yield SSE_DONE
    finally:
        agent.finish(drain=0.05)
        _account_what_was_sent(agent.answers, agent.usage)


def _agent_chunks(agent: AgentAnswer, keepalive: float) -> Iterator[bytes]:
    chat, turn = agent.chat, agent.turn
    encoder = ChunkEncoder(chat.model, chat.include_usage)
    legacy = turn.legacy
    for events in turn.events(keepalive):
        if not events:
            yield SSE_KEEPALIVE
        elif len(events) == 1 and events[0][0] == CONTENT and encoder.role_sent:
            yield encoder.content(events[0][1])    # the hot path: one read, one piece of text
        else:
            yield encoder.events(events, legacy)
    if not encoder.role_sent:
        yield encoder.role()
    annotations = chunks.within(agent.annotations(turn.content), len(turn.content))
    if annotations and not turn.calls:
        yield encoder.annotations(annotations)
    yield encoder.finish(turn.finish_reason)
    usage = _accounted(agent.answers, agent.usage())
    if chat.include_usage:
        yield encoder.usage(usage)
