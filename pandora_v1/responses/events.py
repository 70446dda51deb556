"""Answer parts -> output items and, when streaming, the Responses event stream (agents-spec B.4).

``ResponseEncoder`` is fed what the answer pipeline produces, in order:
reasoning text, answer text, function calls. It keeps the output items
(the non-stream Response is built from the same items) and, with
``stream=True``, returns each part's events as bytes:

    event: <type>\\ndata: {"type": <type>, "sequence_number": n, ...}\\n\\n

``sequence_number`` counts every event from 0 without gaps. Items never
overlap: the open item (reasoning, message or a hosted call) is closed before
the next one is added, so function calls always follow a closed message.
Text deltas are the hot path: their constant JSON is built once per item.

Hosted tool calls (``hosted``: the renderer's typed steps, translate/hosted.py)
become ``web_search_call``, ``code_interpreter_call`` and
``image_generation_call`` items with their events in the recorded order
(platform-spec §1.3); ``include`` decides whether search sources and code
outputs are shown. Annotations (``annotate``: the links in the answer so far)
go out as ``response.output_text.annotation.added`` once their link was sent
(``announce``) and with the message's done events.
"""
from __future__ import annotations

from collections.abc import Callable

import orjson

from ..translate.hosted import CODE, DELTA, DONE, IMAGE, PARTIAL, RUN, SEARCH, START, HostedStep
from . import objects

_TEXT_DELTA = b"response.output_text.delta"
_SUMMARY_DELTA = b"response.reasoning_summary_text.delta"
# (hosted kind, step) -> the method that encodes it
_HOSTED = {(SEARCH, START): "_search_start", (SEARCH, DONE): "_search_done",
           (CODE, START): "_code_start", (CODE, DELTA): "_code_delta", (CODE, RUN): "_code_run",
           (CODE, DONE): "_code_done",
           (IMAGE, START): "_image_start", (IMAGE, PARTIAL): "_image_partial", (IMAGE, DONE): "_image_done"}
# What each hosted item says once it started, and once it is whole (platform-spec §1.3).
_STARTED = {SEARCH: ("response.web_search_call.in_progress", "response.web_search_call.searching"),
            CODE: ("response.code_interpreter_call.in_progress",),
            IMAGE: ("response.image_generation_call.in_progress", "response.image_generation_call.generating")}
_COMPLETED = {SEARCH: "response.web_search_call.completed", CODE: "response.code_interpreter_call.completed",
              IMAGE: "response.image_generation_call.completed"}


class ResponseEncoder:
    def __init__(self, start: dict, summary: bool = False, stream: bool = True,
                 hosted: dict[str, dict] | None = None, include: frozenset[str] = frozenset()):
        self.response = start            # the Response as it started (in_progress, no output)
        self.summary = summary           # reasoning.summary asked: thoughts become an item
        self.stream = stream
        self.tools = hosted or {}        # hosted kind -> the tool as echoed (its settings)
        self.include = include
        # The annotations (chat shape) of the links in the answer's text so far, given that
        # text (all message items'); the run sets it.
        self.annotate: Callable[[str], list[dict]] = lambda text: []
        self.sequence = 0
        self.output: list[dict] = []     # items done, in output_index order
        self._open: str | None = None    # "reasoning" | "message" | None
        self._id = ""
        self._parts: list[str] = []      # the open item's text so far
        self._head = self._mid = self._tail = b""   # the open item's delta framing
        self._call: dict | None = None   # the function call being streamed
        self._had_message = False
        self._earlier: list[str] = []    # the text of closed message items
        self._announced: set[int] = set()   # ids of the annotations already sent
        self._item: dict | None = None   # the hosted call being streamed, its kind and key
        self._kind = self._key = ""
        self._code: list[str] = []       # the open code call's code so far
        self._ran = False                # its code.done went out
        self._ended: set[str] = set()    # keys of the hosted calls already done
        self._container = ""             # the code interpreter's cntr_ id, one per response
        self.partials: dict[str, int] = {}   # image key -> partial images sent
        self.code: list[str] = []        # every code call's code (for usage)

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
        if self._item is not None:
            return self._end_hosted(status)
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
            out = self._announce(item_id, index, text)
            base = sum(map(len, self._earlier))
            found = [a for a in self.annotate("".join(self._earlier) + text) if a[a["type"]]["start_index"] >= base]
            annotations = [objects.annotation(a, base, self._container_id(a)) for a in found]
            self._earlier.append(text)
            item = objects.message_item(item_id, text, status, annotations)
            self.output.append(item)
            where = {"item_id": item_id, "output_index": index, "content_index": 0}
            return out + self._event("response.output_text.done", {**where, "text": text, "logprobs": []}) \
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

    # ----------------------------------------------------------- annotations

    @property
    def announced(self) -> int:
        """How many annotations went out as annotation.added."""
        return len(self._announced)

    def announce(self) -> bytes:
        """``annotation.added`` for links of the open message that were sent since the last look."""
        if self._open != "message" or not self.stream:
            return b""
        return self._announce(self._id, len(self.output), "".join(self._parts))

    def _announce(self, item_id: str, index: int, text: str) -> bytes:
        if not self.stream:
            return b""
        base = sum(map(len, self._earlier))
        mine = []
        for found in self.annotate("".join(self._earlier) + text):
            if found[found["type"]]["start_index"] >= base:
                mine.append(found)
            else:                                  # an earlier item's, never placed: not looked for again
                self._announced.add(id(found))
        out = b""
        for number, found in enumerate(mine):     # annotation_index counts within the part
            if id(found) in self._announced:
                continue
            self._announced.add(id(found))
            out += self._event("response.output_text.annotation.added", {
                "item_id": item_id, "output_index": index, "content_index": 0, "annotation_index": number,
                "annotation": objects.annotation(found, base, self._container_id(found))})
        return out

    def _container_id(self, found: dict | None = None) -> str:
        if found is not None and found["type"] != "container_file_citation":
            return ""
        if not self._container:
            self._container = objects.new_id("cntr")
        return self._container

    # ----------------------------------------------------------- hosted tools

    def hosted(self, kind: str, step: HostedStep) -> bytes:
        """One step of a hosted tool call (translate/hosted.py) as its item and events."""
        return getattr(self, _HOSTED[(kind, step.step)])(step)

    def _ours(self, step: HostedStep) -> bool:
        return self._item is not None and self._key == step.key

    def _begin(self, kind: str, step: HostedStep, item: dict) -> bytes:
        """A hosted item is added; whatever item is open is closed first."""
        if step.key in self._ended or self._ours(step):
            return b""
        out = self.close()
        self._item, self._kind, self._key = item, kind, step.key
        index = len(self.output)
        out += self._event("response.output_item.added", {"output_index": index, "item": dict(item)})
        for name in _STARTED[kind]:
            out += self._event(name, {"output_index": index, "item_id": item["id"]})
        return out

    def _end_hosted(self, status: str) -> bytes:
        """The open hosted item's last events; ``status`` other than completed: it broke off."""
        item, kind, index = self._item, self._kind, len(self.output)
        assert item is not None
        self._item = None
        self._ended.add(self._key)
        where = {"output_index": index, "item_id": item["id"]}
        out = b""
        if kind == CODE and not self._ran:       # the AI SDK shows a code call only at code.done
            out += self._event("response.code_interpreter_call_code.done", {**where, "code": item["code"]})
        if kind == IMAGE and (status != "completed" or not item.get("result")):
            status = "failed"                    # an image is there or it failed; never a null result
            item.update(objects.image_generation_item(item["id"], "failed", quality=self._quality()))
        elif kind == SEARCH and "action" not in item:
            item["action"] = {"type": "search", "query": ""}
        if status == "completed":
            out += self._event(_COMPLETED[kind], where)
        item["status"] = status
        self.output.append(item)
        return out + self._event("response.output_item.done", {"output_index": index, "item": item})

    def _search_start(self, step: HostedStep) -> bytes:
        return self._begin(SEARCH, step, objects.web_search_item(objects.new_id("ws"), "in_progress"))

    def _search_done(self, step: HostedStep) -> bytes:
        out = self._search_start(step)
        if not self._ours(step):
            return out
        action = dict(step.data.get("action") or {"type": "search", "query": ""})
        if action.get("type") == "search" and "web_search_call.action.sources" in self.include:
            action["sources"] = step.data.get("sources") or []
        assert self._item is not None
        self._item["action"] = action
        return out + self._end_hosted("completed")

    def _code_start(self, step: HostedStep) -> bytes:
        self._code, self._ran = [], False
        return self._begin(CODE, step, objects.code_interpreter_item(
            objects.new_id("ci"), "in_progress", "", self._container_id(), []))

    def _code_delta(self, step: HostedStep) -> bytes:
        if not self._ours(step) or not step.text:
            return b""
        assert self._item is not None
        self._code.append(step.text)
        self._item["code"] += step.text
        return self._event("response.code_interpreter_call_code.delta", {
            "output_index": len(self.output), "item_id": self._item["id"], "delta": step.text})

    def _code_run(self, step: HostedStep) -> bytes:
        if not self._ours(step) or self._ran:
            return b""
        assert self._item is not None
        self._ran = True
        code = step.data.get("code", self._item["code"])
        out = b""
        if code.startswith(self._item["code"]) and len(code) > len(self._item["code"]):
            out = self._code_delta(HostedStep(step.key, DELTA, code[len(self._item["code"]):]))
        self._item["code"] = code
        self.code.append(code)
        where = {"output_index": len(self.output), "item_id": self._item["id"]}
        return out + self._event("response.code_interpreter_call_code.done", {**where, "code": code}) \
            + self._event("response.code_interpreter_call.interpreting", where)

    def _code_done(self, step: HostedStep) -> bytes:
        out = self._code_start(step) if not self._ours(step) and step.key not in self._ended else b""
        if not self._ours(step):
            return out
        out += self._code_run(HostedStep(step.key, RUN, data={"code": step.data.get("code", "")}))
        assert self._item is not None
        if "code_interpreter_call.outputs" in self.include:
            logs = step.data.get("logs") or ""
            self._item["outputs"] = ([{"type": "logs", "logs": logs}] if logs else []) \
                + [{"type": "image", "url": url} for url in step.data.get("images") or ()]
        else:
            self._item["outputs"] = None
        return out + self._end_hosted("failed" if step.data.get("failed") else "completed")

    def _quality(self) -> str:
        quality = (self.tools.get(IMAGE) or {}).get("quality")
        return quality if isinstance(quality, str) else "auto"

    def _image_start(self, step: HostedStep) -> bytes:
        return self._begin(IMAGE, step, objects.image_generation_item(objects.new_id("ig"), "in_progress"))

    def _image_partial(self, step: HostedStep) -> bytes:
        wanted = (self.tools.get(IMAGE) or {}).get("partial_images") or 0
        sent = self.partials.get(step.key, 0)
        if not self._ours(step) or sent >= wanted:
            return b""
        assert self._item is not None
        self.partials[step.key] = sent + 1
        data = step.data
        return self._event("response.image_generation_call.partial_image", {
            "output_index": len(self.output), "item_id": self._item["id"], "partial_image_index": sent,
            "partial_image_b64": data["b64"], "size": data.get("size"), "quality": self._quality(),
            "background": data.get("background"), "output_format": data.get("output_format")})

    def _image_done(self, step: HostedStep) -> bytes:
        out = self._image_start(step)
        if not self._ours(step):
            return out
        assert self._item is not None
        self._item.update(objects.image_generation_item(self._item["id"], "completed", step.data, self._quality()))
        return out + self._end_hosted("completed")

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
