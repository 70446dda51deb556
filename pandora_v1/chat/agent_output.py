"""An ``AgentAnswer`` in the chat completions wire format (agents-spec A.1.2, A.1.3).

Stream: text as it comes; each call as its own chunks (first fragment with
id/type/name and ``arguments: ""``, then string fragments, ``index`` on all);
the role goes with the first content or call; ``finish_reason`` tool_calls
(function_call for legacy ``functions``). Errors are SSE error events, never
text: tool requests come from programs, so bot mode does not apply.
"""
from __future__ import annotations

from collections.abc import Iterator

from ..answer.agent import AgentAnswer
from ..translate.render import CONTENT
from . import chunks as openai_format
from .chunks import SSE_DONE, SSE_KEEPALIVE, ChunkEncoder
from .output import in_openai_shape


def completion(agent: AgentAnswer) -> dict:
    turn = agent.turn
    try:
        for _ in turn.events():
            pass
    finally:
        agent.finish()
    return openai_format.completion(agent.chat.model, turn.content, turn.reasoning, turn.finish_reason,
                                    agent.usage(), turn.calls, turn.legacy,
                                    annotations=agent.annotations(turn.content))


def stream(agent: AgentAnswer, keepalive: float) -> Iterator[bytes]:
    try:
        yield from in_openai_shape(_chunks(agent, keepalive))
        yield SSE_DONE
    finally:
        agent.finish(drain=0.05)


def _chunks(agent: AgentAnswer, keepalive: float) -> Iterator[bytes]:
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
    yield encoder.finish(turn.finish_reason)
    if chat.include_usage:
        yield encoder.usage(agent.usage())
