"""Chat Completions wire shapes: chat.completion.chunk events and chat.completion bodies.

Chunks sit on the hot path, so a stream's constant JSON around the delta is
built once (``ChunkEncoder``) and each chunk is two string joins plus one
orjson call for the delta itself.
"""
from __future__ import annotations

import secrets
import time
from itertools import groupby
from operator import itemgetter
from typing import Any

import orjson

from ..tools.detector import TOOL_CALL
from ..translate.render import CONTENT, REASONING

SSE_DONE = b"data: [DONE]\n\n"


def completion_id() -> str:
    return "chatcmpl-" + secrets.token_urlsafe(21).replace("-", "a").replace("_", "b")


def sse(payload: dict) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class ChunkEncoder:
    """Encodes one stream's ``chat.completion.chunk`` events."""

    def __init__(self, model: str, include_usage: bool = False,
                 id: str | None = None, created: int | None = None):
        self.id = id or completion_id()
        self.created = created or int(time.time())
        self.model = model
        self.include_usage = include_usage
        head = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": model, "system_fingerprint": None}
        # '{"id":..,"system_fingerprint":null' + ',"choices":[{"index":0,"delta":'
        self._head = b"data: " + orjson.dumps(head)[:-1] + b',"choices":[{"index":0,"delta":'
        tail = b',"logprobs":null,"finish_reason":null}]'
        self._tail = tail + (b',"usage":null}\n\n' if include_usage else b"}\n\n")
        self.role_sent = False

    def role(self) -> bytes:
        self.role_sent = True
        return self._delta({"role": "assistant", "content": "", "refusal": None})

    def content(self, text: str) -> bytes:
        return self._head + b'{"content":' + orjson.dumps(text) + b"}" + self._tail

    def reasoning(self, text: str) -> bytes:
        return self._head + b'{"reasoning_content":' + orjson.dumps(text) + b"}" + self._tail

    # -- tool calls (agents-spec A.1.3): one call per chunk, index on every fragment,
    #    id/type/name only on the first with arguments "", string arguments after.

    def tool_call_start(self, index: int, call_id: str, name: str, with_role: bool = False) -> bytes:
        call = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        delta = {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None} if with_role \
            else {"tool_calls": [call]}
        return self._delta(delta)

    def tool_call_args(self, index: int, fragment: str) -> bytes:
        return self._head + b'{"tool_calls":[{"index":%d,"function":{"arguments":' % index \
            + orjson.dumps(fragment) + b"}}]}" + self._tail

    def function_call_start(self, name: str, with_role: bool = False) -> bytes:
        """Legacy ``functions``: ``delta.function_call`` has no index and no id."""
        call = {"name": name, "arguments": ""}
        return self._delta({"role": "assistant", "content": None, "function_call": call, "refusal": None}
                           if with_role else {"function_call": call})

    def function_call_args(self, fragment: str) -> bytes:
        return self._head + b'{"function_call":{"arguments":' + orjson.dumps(fragment) + b"}}" + self._tail

    def call(self, call, with_role: bool = False, legacy: bool = False) -> bytes:
        """All chunks of one finished call (``call`` has index, id, name and ``fragments()``)."""
        if legacy:
            out = [self.function_call_start(call.name, with_role)]
            out += [self.function_call_args(f) for f in call.fragments()]
        else:
            out = [self.tool_call_start(call.index, call.id, call.name, with_role)]
            out += [self.tool_call_args(call.index, f) for f in call.fragments()]
        return b"".join(out)

    def events(self, events: list, legacy: bool = False) -> bytes:
        """A batch of agent events (translate/agent.py) as chunks; the role goes with the first of them.

        Runs of text become one chunk each, as for plain answers. When the
        answer starts with a call, the role rides on the call's first
        fragment, as OpenAI sends it.
        """
        if len(events) == 1 and self.role_sent:
            kind, value = events[0]
            if kind == CONTENT:
                return self.content(value)
            if kind == REASONING:
                return self.reasoning(value)
        out = []
        for kind, run in groupby(events, itemgetter(0)):
            if kind == TOOL_CALL:
                for _, call in run:
                    out.append(self.call(call, not self.role_sent, legacy))
                    self.role_sent = True
                continue
            if not self.role_sent:
                out.append(self.role())
            text = "".join(value for _, value in run)
            out.append(self.content(text) if kind == CONTENT else self.reasoning(text))
        return b"".join(out)

    def annotations(self, annotations: list[dict]) -> bytes:
        """All of a stream's ``url_citation`` annotations, in one chunk (openai-python's stream
        helper raises on a second one, openai-node keeps only the last; platform-spec §2.2)."""
        return self._delta({"annotations": annotations})

    def finish(self, reason: str) -> bytes:
        return self._chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": reason}])

    def usage(self, usage: dict) -> bytes:
        return self._chunk([], usage=usage)

    def _delta(self, delta: dict) -> bytes:
        return self._head + orjson.dumps(delta) + self._tail

    def _chunk(self, choices: list, usage: dict | None = None) -> bytes:
        payload = {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                   "model": self.model, "system_fingerprint": None, "choices": choices}
        if self.include_usage:
            payload["usage"] = usage
        return sse(payload)


def within(annotations: list[dict], length: int) -> list[dict]:
    """Chat's annotations (``url_citation`` only: chat has no other kind) of text ``length`` long."""
    return [a for a in annotations if a["type"] == "url_citation" and a["url_citation"]["end_index"] <= length]


def completion(model: str, content: str | None, reasoning: str, finish_reason: str, usage: dict,
               calls: list | None = None, legacy: bool = False,
               annotations: list[dict] | None = None) -> dict:
    """``calls``: finished calls (index, id, name, arguments); content is null beside them when empty.
    ``annotations``: ``url_citation`` entries whose indexes point into ``content``."""
    if calls:
        content = content.strip() or None if content else None
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if annotations and isinstance(content, str) and not calls:   # stripped content moves the indexes
        message["annotations"] = within(annotations, len(content))
    if calls and legacy:
        message["function_call"] = {"name": calls[0].name, "arguments": calls[0].arguments}
    elif calls:
        message["tool_calls"] = [{"id": c.id, "type": "function",
                                  "function": {"name": c.name, "arguments": c.arguments}} for c in calls]
    if reasoning:
        message["reasoning_content"] = reasoning
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "logprobs": None,
                     "finish_reason": finish_reason}],
        "usage": usage,
    }
