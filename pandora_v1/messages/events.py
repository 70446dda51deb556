"""Answer parts -> the Anthropic ``message`` and, when streaming, its event stream (platform-spec.md §6.3).

``MessageEncoder`` is fed the answer's parts in order (thinking, text, whole tool calls); it keeps the
content blocks (the non-stream message is built from them) and, with ``stream=True``, returns each
part's events as bytes, every one with its ``event:`` line and the same ``type`` in its data:

    message_start
    content_block_start / content_block_delta ... / content_block_stop    per block, index 0, 1, 2, ...
    message_delta (stop_reason, usage) / message_stop

Blocks never overlap: the open one (text or thinking) is closed before the next starts. A thinking
block ends with its ``signature_delta``; a tool_use block streams its input as ``input_json_delta``
fragments starting with ``""``. Text deltas are the hot path: their framing is built once per block.

A request that lists the web search tool also gets, as Anthropic records them (platform-spec.md §6.8):
per search a ``server_tool_use`` block (its query as ``input_json_delta``) and a ``web_search_tool_result``
block (whole in its ``content_block_start``); text blocks that are claims (claims.py ``steps``) start with
``citations: []`` and send their ``citations_delta`` events before their text.
"""
from __future__ import annotations

import base64
import secrets
import string

import orjson

from .claims import CLAIM, CLOSE, MORE, TEXT

_ALPHABET = string.ascii_letters + string.digits
SIGNATURE_PREFIX = b"pandora_v1:"     # synthetic thinking signatures; replayed ones are dropped anyway
PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def new_id(prefix: str) -> str:
    """``msg_`` / ``toolu_`` + 24 random letters and digits, like Anthropic's."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def event(kind: str, body: dict) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **body}) + b"\n\n"


def usage(input_tokens: int, output_tokens: int) -> dict:
    return {"input_tokens": input_tokens, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            "output_tokens": output_tokens}


class MessageEncoder:
    def __init__(self, model: str, stream: bool = True, thinking: str = "shown"):
        self.id = new_id("msg_")
        self.model = model
        self.stream = stream
        self.thinking = thinking           # shown | omitted (a block without its text) | off (no block)
        self.signature = base64.b64encode(SIGNATURE_PREFIX + secrets.token_bytes(24)).decode()
        self.blocks: list[dict] = []       # blocks done, in index order
        self.searches = 0                  # server_tool_use blocks (usage.server_tool_use.web_search_requests)
        self._open: str | None = None      # "text" | "thinking" | None
        self._citations: list[dict] | None = None   # the open text block's, when it is a claim
        self._parts: list[str] = []        # the open block's text so far
        self._head = b""                   # the open block's delta framing, around the JSON of its text
        self._tail = b""

    def _event(self, kind: str, body: dict) -> bytes:
        return event(kind, body) if self.stream else b""

    def start(self, input_tokens: int) -> bytes:
        """``message_start``: the first event."""
        return self._event("message_start", {"message": {
            "id": self.id, "type": "message", "role": "assistant", "model": self.model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": usage(input_tokens, 1)}})

    # ----------------------------------------------------------- blocks

    def _begin(self, kind: str, block: dict, citations: list[dict] | None = None) -> bytes:
        out = self.close()
        self._open, self._parts, self._citations = kind, [], citations
        index = str(len(self.blocks)).encode()
        if kind == "text":
            self._head = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":' + index \
                + b',"delta":{"type":"text_delta","text":'
        else:
            self._head = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":' + index \
                + b',"delta":{"type":"thinking_delta","thinking":'
        self._tail = b"}}\n\n"
        return out + self._event("content_block_start", {"index": len(self.blocks), "content_block": block})

    def text(self, text: str) -> bytes:
        if not text:
            return b""
        out = b"" if self._open == "text" else self._begin("text", {"type": "text", "text": ""})
        self._parts.append(text)
        if not self.stream:
            return b""
        return out + self._head + orjson.dumps(text) + self._tail

    def claim(self, citations: list[dict], text: str) -> bytes:
        """A text block that is a claim: its citations first, then its text (more may follow)."""
        out = self._begin("text", {"citations": [], "type": "text", "text": ""}, [])
        return out + self.more(citations) + self.text(text)

    def more(self, citations: list[dict]) -> bytes:
        """More citations for the open claim."""
        if self._open != "text" or self._citations is None:
            return self.claim(citations, "")
        self._citations.extend(citations)
        index = len(self.blocks)
        return b"".join(self._event("content_block_delta", {"index": index, "delta": {
            "type": "citations_delta", "citation": citation}}) for citation in citations)

    def steps(self, steps: list[tuple]) -> bytes:
        """claims.py's steps: plain text, claims, their ends."""
        out = []
        for step in steps:
            kind = step[0]
            if kind == TEXT:
                out.append(self.text(step[1]))
            elif kind == CLAIM:
                out.append(self.claim(step[1], step[2]))
            elif kind == MORE:
                out.append(self.more(step[1]))
            elif kind == CLOSE:
                out.append(self.close())
        return b"".join(out)

    def search(self, query: str, results: list[dict]) -> bytes:
        """One search the upstream ran: its ``server_tool_use`` block, then its ``web_search_tool_result``."""
        out = self.close()
        call_id, index = new_id("srvtoolu_"), len(self.blocks)
        self.searches += 1
        self.blocks.append({"type": "server_tool_use", "id": call_id, "name": "web_search", "input": {"query": query}})
        self.blocks.append({"type": "web_search_tool_result", "tool_use_id": call_id, "content": results})
        if not self.stream:
            return b""
        out += event("content_block_start", {"index": index, "content_block": {
            "type": "server_tool_use", "id": call_id, "name": "web_search", "input": {}}})
        for fragment in ("", orjson.dumps({"query": query}).decode()):
            out += event("content_block_delta", {"index": index, "delta": {
                "type": "input_json_delta", "partial_json": fragment}})
        out += event("content_block_stop", {"index": index})
        return out + event("content_block_start", {"index": index + 1, "content_block": self.blocks[-1]}) \
            + event("content_block_stop", {"index": index + 1})

    def thought(self, text: str) -> bytes:
        """Reasoning: a thinking block (its text only when shown); nothing when thinking is off."""
        if not text or self.thinking == "off":
            return b""
        out = b"" if self._open == "thinking" else \
            self._begin("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        if self.thinking == "omitted":
            return out
        self._parts.append(text)
        if not self.stream:
            return out
        return out + self._head + orjson.dumps(text) + self._tail

    def tool_use(self, call_id: str, name: str, arguments: str, fragments: list[str]) -> bytes:
        """A whole tool call: its block started, its input in ``input_json_delta`` fragments, stopped."""
        out = self.close()
        index = len(self.blocks)
        self.blocks.append({"type": "tool_use", "id": call_id, "name": name, "input": orjson.loads(arguments)})
        if not self.stream:
            return b""
        out += event("content_block_start", {"index": index, "content_block": {
            "type": "tool_use", "id": call_id, "name": name, "input": {}}})
        for fragment in ("", *fragments):
            out += event("content_block_delta", {"index": index, "delta": {
                "type": "input_json_delta", "partial_json": fragment}})
        return out + event("content_block_stop", {"index": index})

    def close(self) -> bytes:
        """Close the open block (a thinking block gets its signature first); nothing when none is open."""
        kind = self._open
        if kind is None:
            return b""
        index = len(self.blocks)
        text = "".join(self._parts)
        self._open, self._parts = None, []
        out = b""
        if kind == "thinking":
            self.blocks.append({"type": "thinking", "thinking": text, "signature": self.signature})
            out = self._event("content_block_delta", {"index": index, "delta": {
                "type": "signature_delta", "signature": self.signature}})
        elif self._citations is not None:
            self.blocks.append({"citations": self._citations, "type": "text", "text": text})
            self._citations = None
        else:
            self.blocks.append({"type": "text", "text": text})
        return out + self._event("content_block_stop", {"index": index})

    # ----------------------------------------------------------- endings

    def finish(self, stop_reason: str, stop_sequence: str | None, used: dict) -> bytes:
        """The open block closed, ``message_delta`` with the stop reason and the usage, ``message_stop``."""
        return self.close() + self._event("message_delta", {
            "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence}, "usage": used}) \
            + self._event("message_stop", {})

    def message(self, stop_reason: str, stop_sequence: str | None, used: dict) -> dict:
        """The whole message (non-stream)."""
        self.close()
        return {"id": self.id, "type": "message", "role": "assistant", "model": self.model,
                "content": self.blocks, "stop_reason": stop_reason, "stop_sequence": stop_sequence,
                "usage": used}
