"""Answer parts -> output items and, when streaming, the Responses event stream (agents-spec B.4).

``ResponseEncoder`` is fed what the answer pipeline produces, in order:
reasoning text, answer text, function calls. It keeps the output items
(the non-stream Response is built from the same items) and, with
``stream=True``, returns each part's events as bytes:

    event: <type>\\ndata: {"type": <type>, "sequence_number": n, ...}\\n\\n

``sequence_number`` counts every event from 0 without gaps. Items never
overlap: the open item (reasoning or message) is closed before the next one
is added, so function calls always follow a closed message. Text deltas are
the hot path: their constant JSON is built once per item.
"""
from __future__ import annotations

from collections.abc import Callable

import orjson

from . import objects

_TEXT_DELTA = b"response.output_text.delta"
_SUMMARY_DELTA = b"response.reasoning_summary_text.delta"


class ResponseEncoder:
    def __init__(self, start: dict, summary: bool = False, stream: bool = True):
        self.response = start            # the Response as it started (in_progress, no output)
        self.summary = summary           # reasoning.summary asked: thoughts become an item
        self.stream = stream
        # A message's url_citation annotations (chat shape), given its final text; the run sets it.
        self.annotate: Callable[[str], list[dict]] = lambda text: []
        self.sequence = 0
        self.output: list[dict] = []     # items done, in output_index order
        self._open: str | None = None    # "reasoning" | "message" | None
        self._id = ""
        self._parts: list[str] = []      # the open item's text so far
        self._head = self._mid = self._tail = b""   # the open item's delta framing
        self._call: dict | None = None   # the function call being streamed
        self._had_message = False

    @property
    def id(self) -> str:
        return self.response["id"]

    # ----------------------------------------------------------- events

    def _event(self, kind: str, body: dict) -> bytes:
        if not self.stream:
            return b""
        payload = {"type": kind, "sequence_number": self.sequence}
        payload.update(body)
        self.sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"

    def _delta(self, text: str) -> bytes:
        self._parts.append(text)
        if not self.stream:
            return b""
        number = self.sequence
        self.sequence += 1
        return self._head + str(number).encode() + self._mid + orjson.dumps(text) + self._tail

    def _framing(self, kind: bytes, index_fields: bytes, tail: bytes) -> None:
        """The open item's delta event around its sequence number and its text."""
        self._head = b"event: " + kind + b'\ndata: {"type":"' + kind + b'","sequence_number":'
        self._mid = b',"item_id":"' + self._id.encode() + b'","output_index":' \
            + str(len(self.output)).encode() + index_fields + b',"delta":'
        self._tail = tail

    def started(self) -> bytes:
        """``response.created`` and ``response.in_progress``: the first two events."""
        return self._event("response.created", {"response": self.response}) \
            + self._event("response.in_progress", {"response": self.response})

    # ----------------------------------------------------------- parts

    def reasoning(self, text: str) -> bytes:
        """Thoughts: a reasoning item when a summary was asked and no message started yet."""
        if not self.summary or not text or self._had_message or self._call is not None:
            return b""
        out = b""
        if self._open != "reasoning":
            out = self.close()
            self._id, self._open, self._parts = objects.new_id("rs"), "reasoning", []
            index = len(self.output)
            self._framing(_SUMMARY_DELTA, b',"summary_index":0', b"}\n\n")
            out += self._event("response.output_item.added", {
                "output_index": index, "item": objects.reasoning_item(self._id, None, "in_progress")})
            out += self._event("response.reasoning_summary_part.added", {
                "item_id": self._id, "output_index": index, "summary_index": 0,
                "part": {"type": "summary_text", "text": ""}})
        return out + self._delta(text)

    def text(self, text: str) -> bytes:
        """Answer text: the message item is opened at the first piece."""
        if self._open == "message" and self.stream and text:   # the hot path: one more delta
            self._parts.append(text)
            number = self.sequence
            self.sequence = number + 1
            return self._head + str(number).encode() + self._mid + orjson.dumps(text) + self._tail
        if not text:
            return b""
        out = b""
        if self._open != "message":
            out = self.close()
            self._id, self._open, self._parts = objects.new_id("msg"), "message", []
            self._had_message = True
            index = len(self.output)
            self._framing(_TEXT_DELTA, b',"content_index":0', b',"logprobs":[]}\n\n')
            out += self._event("response.output_item.added", {
                "output_index": index, "item": objects.message_item(self._id, None, "in_progress")})
            out += self._event("response.content_part.added", {
                "item_id": self._id, "output_index": index, "content_index": 0,
                "part": objects.text_part("")})
        return out + self._delta(text)

    def call_start(self, call_id: str, name: str) -> bytes:
        """A function call begins: whatever item is open is closed first."""
        out = self.close()
        self._call = objects.function_call_item(objects.new_id("fc"), call_id, name, "", "in_progress")
        return out + self._event("response.output_item.added",
                                 {"output_index": len(self.output), "item": dict(self._call)})

    def call_arguments(self, fragment: str) -> bytes:
        call = self._call
        assert call is not None
        if not fragment:
            return b""
        call["arguments"] += fragment
        return self._event("response.function_call_arguments.delta", {
            "item_id": call["id"], "output_index": len(self.output), "delta": fragment})

    def call(self, call_id: str, name: str, arguments: str) -> bytes:
        """A whole function call: added, its arguments, done."""
        return self.call_start(call_id, name) + self.call_arguments(arguments) + self.close()

    def close(self, status: str = "completed") -> bytes:
        """Close the open item (its done events); nothing when none is open."""
        index = len(self.output)
        if self._call is not None:
            call, self._call = self._call, None
            call["status"] = status
            self.output.append(call)
            return self._event("response.function_call_arguments.done", {
                "item_id": call["id"], "output_index": index, "arguments": call["arguments"]}) \
                + self._event("response.output_item.done", {"output_index": index, "item": call})
        if self._open is None:
            return b""
        text = "".join(self._parts)
        item_id, kind = self._id, self._open
        self._open, self._parts = None, []
        if kind == "message":
            annotations = [objects.url_citation(a) for a in self.annotate(text)]
            item = objects.message_item(item_id, text, status, annotations)
            self.output.append(item)
            where = {"item_id": item_id, "output_index": index, "content_index": 0}
            return self._event("response.output_text.done", {**where, "text": text, "logprobs": []}) \
                + self._event("response.content_part.done",
                              {**where, "part": objects.text_part(text, annotations)}) \
                + self._event("response.output_item.done", {"output_index": index, "item": item})
        item = objects.reasoning_item(item_id, text, status)
        self.output.append(item)
        where = {"item_id": item_id, "output_index": index, "summary_index": 0}
        return self._event("response.reasoning_summary_text.done", {**where, "text": text}) \
            + self._event("response.reasoning_summary_part.done",
                          {**where, "part": {"type": "summary_text", "text": text}}) \
            + self._event("response.output_item.done", {"output_index": index, "item": item})

    # ----------------------------------------------------------- endings

    def completed(self, usage: dict) -> tuple[dict, bytes]:
        out = self.close()
        final = objects.finished(self.response, "completed", self.output, usage)
        return final, out + self._event("response.completed", {"response": final})

    def incomplete(self, usage: dict, reason: str = "max_output_tokens") -> tuple[dict, bytes]:
        out = self.close("incomplete")
        final = objects.finished(self.response, "incomplete", self.output, usage, incomplete_reason=reason)
        return final, out + self._event("response.incomplete", {"response": final})

    def failed(self, code: str, message: str, usage: dict | None = None) -> tuple[dict, bytes]:
        out = self.close("incomplete")
        final = objects.finished(self.response, "failed", self.output, usage,
                                 error=objects.error(code, message))
        return final, out + self._event("response.failed", {"response": final})
