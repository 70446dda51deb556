"""The upstream prompt of a Messages request, and its size in tokens (platform-spec.md §6.5, §6.8).

``plan_prompt``   the tool engine's turn (the tool protocol injected, tool history rendered), with
                  consecutive turns of one role merged, as Anthropic merges them
``input_tokens``  what ``usage.input_tokens`` and count_tokens both say: the rendered prompt counted as
                  chat counts ``prompt_tokens``, the request's nonce replaced by a fixed one so the two agree
``check_window``  ``prompt is too long: N tokens > M maximum`` (the wording Claude Code compacts on) before
                  anything goes upstream; counted only when the prompt's bytes could be over the window
"""
from __future__ import annotations

from dataclasses import replace

from ..answer.agent import plan
from ..answer.request import ChatRequest
from ..errors import APIError, bad_request
from ..tools.prompt import Turn
from ..translate.request import ChatMessage
from ..usage import tokens

COUNTED_NONCE = "AAAAAAAA"   # stands for the request's own in the counts (8 characters, as new_nonce's)


def plan_prompt(services, chat: ChatRequest, thread=None) -> Turn:
    turn = plan(services, chat.messages, chat.tools, thread)
    merged = merge_turns(turn.messages)
    return turn if merged is turn.messages else replace(turn, messages=merged)


def merge_turns(messages: tuple[ChatMessage, ...]) -> tuple[ChatMessage, ...]:
    """Consecutive user (or assistant) messages as one: a turn of tool results and the text beside them
    reaches the upstream as the one turn the client sent. The same tuple when nothing merges."""
    if all(a.role != b.role or a.role == "system" for a, b in zip(messages, messages[1:], strict=False)):
        return messages
    out: list[ChatMessage] = []
    for message in messages:
        last = out[-1] if out else None
        if last is None or last.role != message.role or message.role == "system":
            out.append(message)
            continue
        segments = (last.segments or (last.text,)) + (message.segments or (message.text,)) \
            if last.segments or message.segments else ()
        text = "\n\n".join(t for t in (last.text, message.text) if t)
        out[-1] = replace(last, text=text, segments=segments, tool_calls=last.tool_calls + message.tool_calls)
    return tuple(out)


def input_tokens(turn: Turn, slug: str) -> int:
    messages = turn.messages
    if turn.protocol is not None:
        nonce = turn.protocol.nonce
        messages = tuple(replace(m, text=m.text.replace(nonce, COUNTED_NONCE)) if nonce in m.text else m
                         for m in messages)
    return tokens.prompt_tokens(messages, slug)


def prompt_too_long(counted: int, window: int) -> APIError:
    return bad_request(f"prompt is too long: {counted} tokens > {window} maximum")


def check_window(turn: Turn, slug: str, window: int) -> int | None:
    """The input tokens when they had to be counted (the prompt may be over the window), else None;
    over the window, the 400 Claude Code compacts on."""
    # A token is at least a byte, so a prompt of at most ``window`` bytes (with chat's 3 per message and
    # 3 more) cannot be over it: no count needed before the answer starts.
    bound = 3 + sum(3 + len(m.role) + len(m.text.encode("utf-8", "surrogatepass")) for m in turn.messages)
    if bound <= window:
        return None
    counted = input_tokens(turn, slug)
    if counted > window:
        raise prompt_too_long(counted, window)
    return counted
