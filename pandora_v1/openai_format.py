"""OpenAI wire shapes: chat completion chunks, completions, model lists.

Chunks sit on the hot path, so a stream's constant JSON around the delta is
built once (``ChunkEncoder``) and each chunk is two string joins plus one
orjson call for the delta itself.
"""
from __future__ import annotations

import secrets
import time

import orjson

SSE_DONE = b"data: [DONE]\n\n"
SSE_KEEPALIVE = b": keep-alive\n\n"


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

    def role(self) -> bytes:
        return self._delta({"role": "assistant", "content": "", "refusal": None})

    def content(self, text: str) -> bytes:
        return self._head + b'{"content":' + orjson.dumps(text) + b"}" + self._tail

    def reasoning(self, text: str) -> bytes:
        return self._head + b'{"reasoning_content":' + orjson.dumps(text) + b"}" + self._tail

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


def completion(model: str, content: str, reasoning: str, finish_reason: str, usage: dict,
               annotations: list[dict] | None = None) -> dict:
    """``annotations``: ``url_citation`` entries whose indexes point into ``content``."""
    message = {"role": "assistant", "content": content, "refusal": None}
    if annotations:
        message["annotations"] = [a for a in annotations
                                  if a["url_citation"]["end_index"] <= len(content)]
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


def model_list(names: list[str], owner: str = "pandora_v1", created: int = 0) -> dict:
    return {"object": "list",
            "data": [{"id": n, "object": "model", "created": created, "owned_by": owner}
                     for n in names]}
