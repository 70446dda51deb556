"""A fake ChatGPT "backend-api" upstream, for the tests and for benchmarks.

It follows /work/shared/docs/upstream-protocol.md, including the ugly parts
real upstreams show (events cut at any byte, CRLF, heart-beats, noise events,
no [DONE], resets, stalls). It is built on ``http.server`` rather than a
framework so that it controls every byte it writes: event streams use
``Transfer-Encoding: chunked`` with the framing written here, each chunk
flushed as soon as it is written.

What a conversation answers is chosen by ``!directive`` lines in the last
user message (see ``parse_prompt``); the other lines are the answer text.
``answer_text(prompt)`` says what text the client must end up with.

    fake = FakeUpstream().start()      # in tests
    python tests/fake_upstream.py --port 8999   # as a process: prints "ready <url>"

Besides the conversation it serves the token endpoints of "Token refresh"
(``POST …/api/auth/refresh`` proxy style, ``POST /oauth/token`` OAuth2
style), ``GET /backend-api/gizmos/{id}`` and the accounts check. Every
``/backend-api`` route wants a JWT (``require_issued``: one the fake issued).
Tests steer the token endpoints through attributes (``refresh_status``,
``refresh_delay``, ``token_lifetime``, ``rotate``, ``revoked``) and count
exchanges in ``exchanges``.
"""
from __future__ import annotations

import argparse
import base64
import copy
import re
import select
import socket
import struct
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import chain
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, parse_qsl, urlsplit

import orjson

DEFAULT_ANSWER = "Hello! How can I help you today?"
# A bare greeting gets the default answer too (the e2e tests say "hi" and expect it).
GREETINGS = {"hi", "hello", "hey"}
LOREM = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud").split()
MODELS = [{"slug": "gpt-4o", "title": "GPT-4o"}, {"slug": "gpt-4o-mini", "title": "GPT-4o mini"},
          {"slug": "gpt-4", "title": "GPT-4"}, {"slug": "o1", "title": "o1"},
          {"slug": "o3-mini", "title": "o3-mini"}]
THOUGHTS = [("Planning", "I should greet the user."), ("Checking", "Keep it short.")]
RECAP = "Thought for 3 seconds"
TOOL_CODE = "print(1+1)"
MIDSTREAM_ERROR = "Something went wrong while generating the response."
PART0 = "/message/content/parts/0"
PING = b"event: ping\ndata: 2024-01-01 12:00:00.123456\n\n"
COMMENT = b": comment\n\n"
PROXY_PAGE = ("<html><head><title>{0}</title></head><body><center><h1>{0}</h1></center>"
              "<hr><center>nginx</center></body></html>")
ERROR_DETAILS: dict[int, Any] = {
    401: "Could not parse your authentication token. Please try signing in again.",
    403: "Forbidden",
    404: "Conversation not found",
    413: "Request too large",
    422: [{"loc": ["body", "model"], "msg": "field required", "type": "value_error"}],
    429: {"message": "You've reached our limit of messages per hour. Please try again later.",
          "code": "rate_limit_exceeded"},
    500: "Internal error",
}
CONNECTION_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


# ---------------------------------------------------------------- directives

@dataclass
class Plan:
    """How to answer one conversation request, read from the prompt."""
    text: str = DEFAULT_ANSWER
    format: str | None = None       # "A" / "B"; None: whatever the request asked for
    split: int = 0                  # 0: one HTTP chunk per event
    crlf: bool = False
    ping: bool = False
    noise: bool = False
    done: bool = True               # False with !nodone
    pieces: int | None = None
    words: bool = False             # !tokens: one word per update unless !pieces is given
    delay: float = 0.0
    status: int | None = None
    error_midstream: bool = False
    moderation: bool = False
    max_tokens: bool = False
    stall_first: float = 0.0
    stall_mid: float = 0.0
    reset: bool = False
    reasoning: bool = False
    tool: bool = False
    chart: bool = False             # a code-interpreter run that draws a chart
    browse: bool = False            # a browsing turn; the answer's 【n†source】 marks get citations
    dalle: int = 0                  # a DALL·E turn drawing this many images
    dalle_refuse: bool = False      # a DALL·E turn whose tool refuses to draw
    endless: bool = False           # after the text, keep appending "lorem " until the client leaves
    bad_event: bool = False         # a malformed JSON event half way
    huge_event: float = 0.0         # a noise event of this many MB half way
    model: str | None = None

    def chunks(self, text: str) -> list[str]:
        """The text updates for ``text``: whole characters, never bytes."""
        if self.words and self.pieces is None:
            return re.findall(r"\S+\s*|\s+", text)
        size = self.pieces or 3
        return [text[i:i + size] for i in range(0, len(text), size)]


FLAGS = {"crlf", "ping", "noise", "error_midstream", "moderation", "max_tokens", "reset",
         "reasoning", "tool", "chart", "browse", "dalle_refuse", "endless", "bad_event"}
VALUED: dict[str, Callable[[str], Any]] = {
    "format": str.upper, "split": int, "pieces": int, "delay": float, "status": int,
    "stall_first": float, "stall_mid": float, "model": str, "dalle": int, "huge_event": float}


def parse_prompt(prompt: str) -> Plan:
    """Split a prompt into directives (lines starting with "!") and answer text.

    Raises ValueError for an unknown or malformed directive, so that a typo in
    a test fails loudly instead of silently answering something else.
    """
    plan, lines, tokens = Plan(), [], 0
    for line in prompt.split("\n"):
        if not line.startswith("!"):
            lines.append(line)
            continue
        name, _, arg = line[1:].strip().partition(" ")
        try:
            if name == "nodone":
                plan.done = False
            elif name in FLAGS:
                setattr(plan, name, True)
            elif name == "tokens":
                tokens = int(arg)
            elif name in VALUED:
                setattr(plan, name, VALUED[name](arg.strip()))
            else:
                raise ValueError("unknown directive")
        except ValueError as exc:
            raise ValueError(f"bad directive {line!r}: {exc}") from None
    if plan.format not in (None, "A", "B") or plan.split < 0 or tokens < 0 \
            or (plan.pieces is not None and plan.pieces < 1):
        raise ValueError(f"bad directive value in {prompt!r}")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    text = "\n".join(lines)
    if tokens:
        plan.text, plan.words = lorem(tokens), True
    elif text and text.strip().rstrip("!.?").lower() not in GREETINGS:
        plan.text = text
    return plan


def lorem(words: int) -> str:
    """Deterministic filler of ``words`` words, with a newline every 20 words."""
    out = []
    for i in range(words):
        out.append(LOREM[i % len(LOREM)])
        out.append("\n" if (i + 1) % 20 == 0 else " ")
    return "".join(out[:-1])


def answer_text(prompt: str) -> str:
    """Exactly the assistant text the fake streams for ``prompt``.

    Cut short where the stream is (!moderation, !error_midstream, !reset).
    Derived from the very timeline that is streamed, so it cannot drift.
    """
    steps = build_timeline(parse_prompt(prompt), Turn(str(uuid.uuid4()), "gpt-4o", {}))
    start = max(i for i, step in enumerate(steps) if isinstance(step, Add))   # the answer is last
    ops = chain.from_iterable([(s.path, "append", s.value)] if isinstance(s, Grow) else getattr(s, "ops", [])
                              for s in steps[start:])
    return "".join(value for path, op, value in ops if path == PART0 and op == "append")


# ----------------------------------------------------------------- timeline
# A turn is first built as format-neutral steps; format A and B are two
# renderings of the same steps, so folding B gives exactly A's snapshots.

@dataclass(frozen=True)
class Add:            # a new message starts
    message: dict


@dataclass(frozen=True)
class Grow:           # append to a string (or push to a list) of the current message
    path: str
    value: Any


@dataclass(frozen=True)
class Finish:         # several (path, op, value) changes at once, ending a message
    ops: list


@dataclass(frozen=True)
class Event:          # a JSON event that is no message delta (noise, moderation, error)
    obj: Any


@dataclass(frozen=True)
class Endless:        # append this piece to the answer forever
    piece: str


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Abort:          # drop the TCP connection here
    pass


@dataclass
class Turn:
    conversation_id: str
    model: str
    user_message: dict    # the request's last user message, echoed back first


class Timeline:
    """Builds the steps of one turn; each message's parent is the previous one."""

    def __init__(self, plan: Plan, turn: Turn):
        self.plan, self.turn, self.steps = plan, turn, []
        self.parent: str | None = None

    def add(self, message: dict) -> None:
        self.parent = message["id"]
        self.steps.append(Add(message))

    def message(self, role: str, content: dict, *, name=None, recipient="all",
                status="in_progress", metadata=None) -> None:
        self.add({
            "id": str(uuid.uuid4()), "author": {"role": role, "name": name, "metadata": {}},
            "create_time": time.time(), "update_time": None, "content": content,
            "status": status, "end_turn": None, "weight": 1.0,
            "metadata": {"model_slug": self.turn.model, "default_model_slug": self.turn.model,
                         "parent_id": self.parent, "message_type": "next", "citations": [],
                         "content_references": [], **(metadata or {})},
            "recipient": recipient, "channel": None})

    def update(self, path: str, piece: str) -> None:
        if self.plan.delay:
            self.steps.append(Sleep(self.plan.delay))
        self.steps.append(Grow(path, piece))

    def grow(self, path: str, text: str) -> None:
        for piece in self.plan.chunks(text):
            self.update(path, piece)

    def finish(self, status="finished_successfully", *, last: str = "", end_turn=None,
               metadata=None) -> None:
        if last and self.plan.delay:
            self.steps.append(Sleep(self.plan.delay))
        ops = [(PART0, "append", last)] if last else []
        ops.append(("/message/status", "replace", status))
        if end_turn is not None:
            ops.append(("/message/end_turn", "replace", end_turn))
        if metadata:
            ops.append(("/message/metadata", "append", metadata))
        self.steps.append(Finish(ops))

    def event(self, obj: Any) -> None:
        self.steps.append(Event(obj))

    def noise(self, kind: str) -> None:
        if self.plan.noise:
            extra = {"title_generation": {"title": "x"},
                     "server_ste_metadata": {"metadata": {"tool_invoked": False, "turn_use_case": "text"}},
                     "conversation_detail_metadata": {"banner_info": None, "blocked_features": [],
                                                      "model_limits": [], "default_model_slug": "auto"}}
            self.event({"type": kind, **extra[kind], "conversation_id": self.turn.conversation_id})


def build_timeline(plan: Plan, turn: Turn) -> list:
    tl = Timeline(plan, turn)
    tl.add(user_echo(turn.user_message))
    tl.noise("server_ste_metadata")
    if plan.reasoning:
        reasoning_turn(tl)
    if plan.tool:
        tool_turn(tl)
    if plan.chart:
        chart_turn(tl)
    if plan.browse:
        browse_turn(tl)
    if plan.dalle or plan.dalle_refuse:
        dalle_turn(tl)
    if answer_turn(tl):
        tl.noise("conversation_detail_metadata")
    return tl.steps


def user_echo(sent: dict) -> dict:
    content = sent.get("content") or {"content_type": "text", "parts": [""]}
    return {"id": sent.get("id") or str(uuid.uuid4()),
            "author": {"role": "user", "name": None, "metadata": {}},
            "create_time": time.time(), "update_time": None, "content": content,
            "status": "finished_successfully", "end_turn": None, "weight": 1.0,
            "metadata": sent.get("metadata") or {}, "recipient": "all", "channel": None}


def reasoning_turn(tl: Timeline) -> None:
    tl.message("assistant", {"content_type": "thoughts", "thoughts": []},
               metadata={"initial_text": "Thinking"})
    for i, (summary, content) in enumerate(THOUGHTS):
        tl.steps.append(Grow("/message/content/thoughts", {"summary": summary, "content": ""}))
        tl.grow(f"/message/content/thoughts/{i}/content", content)
    tl.finish(metadata={"finished_text": RECAP, "finished_duration_sec": 3})
    tl.message("assistant", {"content_type": "reasoning_recap", "content": RECAP},
               status="finished_successfully")


def tool_call(tl: Timeline, recipient: str, language: str, code: str) -> None:
    """The assistant writing ``code`` to a tool: streamed into content.text, then finished."""
    tl.message("assistant", {"content_type": "code", "language": language, "text": ""}, recipient=recipient)
    tl.grow("/message/content/text", code)
    tl.finish()


def tool_turn(tl: Timeline) -> None:
    tool_call(tl, "python", "python", TOOL_CODE)
    tl.message("tool", {"content_type": "execution_output", "text": "2"}, name="python",
               status="finished_successfully",
               metadata={"is_complete": True, "aggregate_result": {
                   "status": "success", "code": TOOL_CODE, "final_expression_output": None,
                   "messages": [{"message_type": "stream", "stream_name": "stdout", "text": "2\n"}]}})


CHART_CODE = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"
CHART_FILE = "file-chart0001"
DALLE_PROMPT = "A cute baby sea otter floating on its back"
DALLE_NOTE = "DALL·E displayed 1 images. The images are already plainly visible, so don't repeat the descriptions in detail."
DALLE_REFUSAL = "This request may violate our content policy."
CITATION = re.compile(r"【(\d+)(?::\d+)?†[^】]*】")


def dalle_file(index: int) -> str:
    return f"file-dalle{index:04d}"


def revised_prompt(index: int) -> str:
    return f"{DALLE_PROMPT}, picture {index + 1}, soft watercolor style"


def chart_turn(tl: Timeline) -> None:
    tool_call(tl, "python", "python", CHART_CODE)
    tl.message("tool", {"content_type": "execution_output", "text": "<<ImageDisplayed>>"}, name="python",
               status="finished_successfully",
               metadata={"is_complete": True, "aggregate_result": {
                   "status": "success", "code": CHART_CODE, "messages": [
                       {"message_type": "image", "image_url": f"file-service://{CHART_FILE}",
                        "width": 640, "height": 480, "sender": "server", "time": 1.0}]}})


def browse_turn(tl: Timeline) -> None:
    tool_call(tl, "browser", "unknown", 'search("otters")')
    tl.message("tool", {"content_type": "tether_browsing_display", "result": "# 【0†Otters†example.com】\nOtters are...",
                        "summary": None, "assets": [], "tether_id": None}, name="browser",
               status="finished_successfully")
    tl.message("tool", {"content_type": "tether_quote", "url": "https://example.com/otters", "domain": "example.com",
                        "title": "Otters", "text": "Otters are semiaquatic mammals."}, name="browser",
               status="finished_successfully")


def citations_for(text: str, uncited: set) -> list:
    """A citation for every mark in the answer except those in ``uncited``."""
    out = []
    for match in CITATION.finditer(text):
        index = int(match.group(1))
        if index not in uncited:
            out.append({"start_ix": match.start(), "end_ix": match.end(), "citation_format_type": "tether_og",
                        "metadata": {"type": "webpage", "title": f"Source {index}",
                                     "url": f"https://example.com/source/{index}", "text": "",
                                     "extra": {"cited_message_idx": index, "evidence_text": "source"}}})
    return out


def dalle_turn(tl: Timeline) -> None:
    plan = tl.plan
    tool_call(tl, "dalle.text2im", "json", orjson.dumps({"prompt": DALLE_PROMPT, "size": "1024x1024"}).decode())
    if plan.dalle_refuse:
        tl.message("tool", {"content_type": "text", "parts": [DALLE_REFUSAL]}, name="dalle.text2im",
                   status="finished_successfully")
        return
    parts = [{"content_type": "image_asset_pointer", "asset_pointer": f"file-service://{dalle_file(i)}",
              "size_bytes": len(blob_bytes(dalle_file(i))), "width": 1024, "height": 1024,
              "metadata": {"dalle": {"gen_id": f"gen{i}", "prompt": revised_prompt(i), "seed": 42}}}
             for i in range(plan.dalle)]
    tl.message("tool", {"content_type": "multimodal_text", "parts": parts}, name="dalle.text2im",
               status="finished_successfully")
    tl.message("tool", {"content_type": "text", "parts": [DALLE_NOTE]}, name="dalle.text2im",
               status="finished_successfully", recipient="all")


def answer_turn(tl: Timeline) -> bool:
    """The final text answer; False when the stream is cut before it finishes."""
    plan = tl.plan
    pieces = plan.chunks(plan.text)
    metadata = {"citations": citations_for(plan.text, {7})} if plan.browse else None
    tl.message("assistant", {"content_type": "text", "parts": [""]}, metadata=metadata)
    half = len(pieces) // 2
    for i, piece in enumerate(pieces):
        if plan.moderation and i == min(1, len(pieces) - 1):
            tl.event({"type": "moderation", "conversation_id": tl.turn.conversation_id,
                      "moderation_response": {"flagged": True, "blocked": True, "disclaimers": []}})
            tl.finish("finished_partial_completion", end_turn=True,
                      metadata={"is_complete": True, "finish_details": {"type": "interrupted"}})
            return True
        if i == half and not midway(tl):
            return False
        if i < len(pieces) - 1 or plan.endless:
            tl.update(PART0, piece)
        else:
            finish = {"type": "max_tokens"} if plan.max_tokens else {"type": "stop", "stop_tokens": [200002]}
            tl.finish(last=piece, end_turn=True, metadata={"is_complete": True, "finish_details": finish})
    if plan.endless:
        tl.steps.append(Endless("lorem "))
        return False
    return True


def midway(tl: Timeline) -> bool:
    """What happens half way through the answer; False when the stream ends here."""
    plan = tl.plan
    tl.noise("title_generation")
    if plan.stall_mid:
        tl.steps.append(Sleep(plan.stall_mid))
    if plan.bad_event:
        tl.event(b'{"message": {"id": "broken", "content": {"parts": ["unterminated')
    if plan.huge_event:
        tl.event({"type": "server_ste_metadata", "conversation_id": tl.turn.conversation_id,
                  "blob": "x" * int(plan.huge_event * 1024 * 1024)})
    if plan.error_midstream:
        tl.event({"message": None, "conversation_id": tl.turn.conversation_id, "error": MIDSTREAM_ERROR})
        return False
    if plan.reset:
        tl.steps.append(Abort())
        return False
    return True


# ---------------------------------------------------------------- rendering

def sse(payload: Any, event: str | None = None) -> bytes:
    data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return (b"event: %s\n" % event.encode() if event else b"") + b"data: " + data + b"\n\n"


def render_a(steps: list, conversation_id: str, noise: bool) -> Iterator[Any]:
    """Format A: after every change, the whole current message."""
    if noise:
        yield sse(b'"v1"')
    root: dict | None = None
    for step in steps:
        if isinstance(step, Add):
            root = {"message": copy.deepcopy(step.message), "conversation_id": conversation_id, "error": None}
        elif isinstance(step, Grow):
            apply_op(root, step.path, "append", step.value)
        elif isinstance(step, Finish):
            for path, op, value in step.ops:
                apply_op(root, path, op, value)
        elif isinstance(step, Endless):
            while True:
                apply_op(root, PART0, "append", step.piece)
                yield sse(root)
        else:
            yield sse(step.obj) if isinstance(step, Event) else step
            continue
        yield sse(root)


def render_b(steps: list, conversation_id: str) -> Iterator[Any]:
    """Format B: delta encoding v1; an event without p/o reuses the previous ones."""
    yield sse(b'"v1"', "delta_encoding")
    previous, count = None, 0
    for step in steps:
        if isinstance(step, Add):
            delta = {"p": "", "o": "add", "v": {"message": step.message, "conversation_id": conversation_id,
                                                 "error": None}, "c": count}
            count += 1
        elif isinstance(step, Grow):
            delta = {"v": step.value} if previous == (step.path, "append") else \
                {"p": step.path, "o": "append", "v": step.value}
        elif isinstance(step, Finish):
            delta = {"p": "", "o": "patch", "v": [{"p": p, "o": o, "v": v} for p, o, v in step.ops]}
        elif isinstance(step, Endless):
            while True:
                yield sse({"p": PART0, "o": "append", "v": step.piece}, "delta")
        else:
            yield sse(step.obj) if isinstance(step, Event) else step
            continue
        if "p" in delta:
            previous = (delta["p"], delta["o"])
        yield sse(delta, "delta")


def apply_op(root: dict, path: str, op: str, value: Any) -> None:
    """The two operations the fake itself needs to build format A snapshots."""
    *parents, key = path.split("/")[1:]
    target: Any = root
    for part in parents:
        target = target[int(part) if isinstance(target, list) else part]
    key = int(key) if isinstance(target, list) else key
    current = target[key]
    if op == "replace":
        target[key] = value
    elif isinstance(current, str):
        target[key] = current + value
    elif isinstance(current, list):
        current.append(value)
    else:
        current.update(value)


def render(plan: Plan, fmt: str, steps: list, conversation_id: str) -> Iterator[Any]:
    """The whole body: events (bytes) with Sleep/Abort steps for the writer."""
    events = render_b(steps, conversation_id) if fmt == "B" else render_a(steps, conversation_id, plan.noise)
    ending = []
    if plan.done:
        if fmt == "B":
            ending.append(sse({"type": "message_stream_complete", "conversation_id": conversation_id}))
        ending.append(sse(b"[DONE]"))
    lines = (lambda b: b.replace(b"\n", b"\r\n")) if plan.crlf else (lambda b: b)  # JSON holds no raw newline
    written = 0
    for item in chain(events, ending):
        if isinstance(item, bytes):
            if plan.ping and written:   # heart-beats go between events, each its own write
                yield lines(PING if written % 2 else COMMENT)
            written += 1
            item = lines(item)
        yield item


class ChunkedBody:
    """Writes HTTP/1.1 chunks, each flushed at once.

    With ``split`` the bytes are cut into ``split``-byte chunks across event
    boundaries; the remainder is held until more comes or ``flush``.
    """

    def __init__(self, wfile, split: int = 0):
        self.wfile, self.split, self.pending = wfile, split, b""

    def write(self, data: bytes) -> None:
        if not self.split:
            return self._chunk(data)
        data = self.pending + data
        whole = len(data) - len(data) % self.split
        for i in range(0, whole, self.split):
            self._chunk(data[i:i + self.split])
        self.pending = data[whole:]

    def flush(self) -> None:
        self._chunk(self.pending)
        self.pending = b""

    def close(self) -> None:
        self.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()


def error_response(status: int) -> tuple[int, dict, bytes]:
    """What an upstream answers with ``status``: JSON, or a proxy's HTML page for 502-504."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    if status in (502, 503, 504):
        return status, {"Content-Type": "text/html"}, PROXY_PAGE.format(f"{status} {phrase}").encode()
    headers = {"Content-Type": "application/json"}
    if status == 429:
        headers["Retry-After"] = "42"
    return status, headers, orjson.dumps({"detail": ERROR_DETAILS.get(status, phrase)})


# ------------------------------------------------------------------ files

def png_bytes(seed: str, width: int = 4, height: int = 3) -> bytes:
    """A small valid PNG whose pixels depend on ``seed``, so each file differs."""
    import zlib

    colour = zlib.crc32(seed.encode()).to_bytes(4, "big")[:3]
    raw = b"".join(b"\x00" + colour * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def blob_bytes(key: str) -> bytes:
    """What the fake's file storage serves for a file id or a sandbox path."""
    if key.startswith("/mnt/data/"):
        return f"name,value\nfile,{key}\n".encode() * 50
    return png_bytes(key)


# ------------------------------------------------------------- tokens etc.

OAUTH_PATH = "/oauth/token"
OAUTH_CLIENT_ID = "fake-client-id"
ACCOUNTS_PATH = "/backend-api/accounts/check/v4-2023-04-27"
PLUS_ACCOUNT = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
TEAM_ACCOUNT = "16fd2706-8baf-433b-82eb-8c7fada847da"


def _b64(obj: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(obj)).rstrip(b"=").decode()


def mint_jwt(subject: str, lifetime: float) -> str:
    """An access token as upstreams issue them: a JWT with exp (the signature is not checked)."""
    now = time.time()
    claims = {"iss": "fake-upstream", "sub": subject, "iat": int(now), "exp": int(now + lifetime),
              "jti": uuid.uuid4().hex}
    return f"{_b64({'alg': 'RS256', 'typ': 'JWT'})}.{_b64(claims)}.ZmFrZS1zaWduYXR1cmU"


def is_jwt(token: str) -> bool:
    parts = token.split(".")
    return len(parts) == 3 and token.startswith("eyJ") and all(parts)


def account_entry(account_id: str, plan: str, name: str | None) -> dict:
    """One account of the accounts check, in the shape the web app gets."""
    return {"account": {"account_id": account_id, "account_user_role": "account-owner",
                        "plan_type": plan, "name": name, "is_deactivated": False,
                        "structure": "workspace" if plan == "team" else "personal"},
            "features": ["beta_features"], "entitlement": {
                "subscription_id": None, "has_active_subscription": plan != "free",
                "subscription_plan": {"plus": "chatgptplusplan", "team": "chatgptteamplan"}.get(plan, "")},
            "last_active_subscription": None}


def default_accounts() -> dict:
    plus = account_entry(PLUS_ACCOUNT, "plus", None)
    return {PLUS_ACCOUNT: plus, TEAM_ACCOUNT: account_entry(TEAM_ACCOUNT, "team", "Research team"),
            "default": copy.deepcopy(plus)}


@dataclass
class Exchange:
    """One call of a token endpoint."""
    style: str                 # "proxy" | "oauth"
    refresh_token: str
    status: int
    access_token: str | None = None
    rotated_to: str | None = None


# ------------------------------------------------------------------- server

@dataclass
class Recorded:
    method: str
    path: str                  # without the query
    query: dict
    prefix: str                # path segments before /backend-api, "" if none
    headers: dict              # lower-case keys
    json: Any
    body: bytes
    stream_outcome: str | None = field(default=None, compare=False)  # "complete" | "client_gone" | "reset"
    ended_at: float | None = field(default=None, compare=False)      # time.monotonic() of the outcome


def split_route(path: str) -> tuple[str, str | None]:
    """("a/b", "/backend-api/models") for "/a/b/backend-api/models"; route None off the API."""
    match = re.fullmatch(r"(.*?)(/backend-api(?:/.*)?)", path)
    if not match:
        return "", None
    return match.group(1).strip("/"), match.group(2)


def last_user_message(payload: dict) -> dict:
    messages = payload.get("messages") if isinstance(payload.get("messages"), list) else []
    users = [m for m in messages if isinstance(m, dict) and (m.get("author") or {}).get("role") == "user"]
    return users[-1] if users else {}


def message_text(message: dict) -> str:
    parts = (message.get("content") or {}).get("parts") or []
    return "\n".join(p for p in parts if isinstance(p, str))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256      # benchmarks open many connections at once
    fake: "FakeUpstream"

    def handle_error(self, request, client_address):
        # A client resetting an idle keep-alive connection is normal, not a bug to print.
        if not isinstance(sys.exc_info()[1], CONNECTION_GONE):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeUpstream/1.0"
    server: _Server

    def log_message(self, format, *args):   # quiet: tests read their own output
        pass

    def do_GET(self):
        fake = self.server.fake
        record = self._read_request()
        fake._record(record)
        try:
            self._route(fake, record)
        except CONNECTION_GONE:
            self.close_connection = True

    do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

    def _read_request(self) -> Recorded:
        url = urlsplit(self.path)
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = self._read_chunked()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
        return Recorded(self.command, url.path, dict(parse_qsl(url.query, keep_blank_values=True)),
                        split_route(url.path)[0], {k.lower(): v for k, v in self.headers.items()},
                        parsed, body)

    def _read_chunked(self) -> bytes:
        body = b""
        while size := int(self.rfile.readline().split(b";")[0], 16):
            body += self.rfile.read(size)
            self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):   # trailers
            pass
        return body

    def _route(self, fake: "FakeUpstream", record: Recorded) -> None:
        if record.path.startswith("/_"):
            return self._storage(fake, record)   # signed storage URLs and test helpers: no auth
        if record.method == "POST" and (record.path.endswith("/api/auth/refresh") or record.path == OAUTH_PATH):
            return self._token_endpoint(fake, record)
        if record.prefix in fake.prefix_status:
            return self._send(*error_response(fake.prefix_status[record.prefix]))
        auth = record.headers.get("authorization", "")
        token = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else ""
        if not token:
            return self._json(401, {"detail": "Unauthorized"})
        if token == "expired-token":
            return self._json(401, {"detail": "Your authentication token has expired."})
        route = split_route(record.path)[1]
        if route and (not is_jwt(token) or (fake.require_issued and token not in fake.issued)):
            return self._json(401, {"detail": ERROR_DETAILS[401]})
        if record.method == "POST" and route == "/backend-api/conversation":
            return self._conversation(fake, record)
        if record.method == "PATCH" and route and re.fullmatch(r"/backend-api/conversation/[^/]+", route):
            return self._json(200, {"success": True})
        if record.method == "GET" and route == "/backend-api/models":
            return self._json(200, {"models": MODELS})
        if record.method == "POST" and route == "/backend-api/files":
            return self._create_upload(fake, record)
        uploaded = re.fullmatch(r"/backend-api/files/([^/]+)/uploaded", route or "")
        if record.method == "POST" and uploaded:
            file = fake.uploads.get(uploaded.group(1))
            if not file or "bytes" not in file:
                return self._json(404, {"detail": "File not found"})
            return self._json(200, {"status": "success", "download_url": f"{fake.url}/_blob/{uploaded.group(1)}"})
        if record.method == "GET" and route:
            file_route = re.fullmatch(r"/backend-api/files/([^/]+)/download", route)
            if file_route:
                return self._download_url(fake, file_route.group(1))
            sandbox = re.fullmatch(r"/backend-api/conversation/[^/]+/interpreter/download", route)
            if sandbox and record.query.get("message_id") and record.query.get("sandbox_path"):
                return self._download_url(fake, record.query["sandbox_path"])
        if record.method == "GET" and route == ACCOUNTS_PATH:
            return self._json(200, {"accounts": fake.accounts, "account_ordering": list(fake.accounts)[:-1]})
        gizmo = re.fullmatch(r"/backend-api/gizmos/([^/]+)", route or "")
        if record.method == "GET" and gizmo:
            return self._gizmo(fake, gizmo.group(1))
        self._json(404, {"detail": "Not Found"})

    def _create_upload(self, fake: "FakeUpstream", record: Recorded) -> None:
        if fake.files_status:
            return self._send(*error_response(fake.files_status))
        body = record.json if isinstance(record.json, dict) else {}
        if not isinstance(body.get("file_name"), str) or not isinstance(body.get("file_size"), int) \
                or body.get("use_case") not in ("multimodal", "my_files", "ace_upload"):
            return self._json(422, {"detail": [{"loc": ["body"], "msg": "bad upload request"}]})
        file_id = f"file-{uuid.uuid4().hex[:20]}"
        fake.uploads[file_id] = dict(body)
        self._json(200, {"status": "success", "file_id": file_id,
                         "upload_url": f"{fake.url}/_upload/{file_id}?sv=2024&sig=abc"})

    def _storage(self, fake: "FakeUpstream", record: Recorded) -> None:
        from urllib.parse import unquote

        name = unquote(record.path.split("/", 2)[2]) if record.path.count("/") >= 2 else ""
        if record.method == "GET" and record.path.startswith("/_blob/"):
            if name in fake.uploads and "bytes" in fake.uploads[name]:
                return self._send(200, {"Content-Type": fake.uploads[name]["content_type"]},
                                  fake.uploads[name]["bytes"])
            return self._blob(fake, name)
        if record.method == "PUT" and record.path.startswith("/_upload/"):
            if name not in fake.uploads or record.headers.get("x-ms-blob-type") != "BlockBlob":
                return self._json(400, {"detail": "bad blob upload"})
            fake.uploads[name].update(bytes=record.body, content_type=record.headers.get("content-type", ""))
            return self._send(201, {}, b"")
        if record.method == "GET" and record.path.startswith("/_static/") and name in fake.static:
            kind, data = fake.static[name]
            return self._send(200, {"Content-Type": kind}, data)
        if record.method == "GET" and record.path == "/_redirect":
            self.send_response(302)
            self.send_header("Location", record.query.get("to", "/"))
            self.send_header("Content-Length", "0")
            return self.end_headers()
        self._json(404, {"detail": "Not Found"})

    def _download_url(self, fake: "FakeUpstream", key: str) -> None:
        if key in fake.missing_files:
            return self._json(404, {"detail": "File not found"})
        from urllib.parse import quote

        self._json(200, {"status": "success", "download_url": f"{fake.url}/_blob/{quote(key, safe='')}?sig=abc",
                         "file_name": key.rsplit("/", 1)[-1], "creation_time": "2024-01-01"})

    def _blob(self, fake: "FakeUpstream", key: str) -> None:
        data = blob_bytes(key)
        kind = "text/csv" if key.startswith("/mnt/data/") else "image/png"
        if key not in fake.broken_files:
            return self._send(200, {"Content-Type": kind}, data)
        # Announce the whole body, send half, drop the connection.
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: len(data) // 2])
        self.wfile.flush()
        self._abort()

    def _send(self, status: int, headers: dict, body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, {"Content-Type": "application/json"}, orjson.dumps(obj))

    def _conversation(self, fake: "FakeUpstream", record: Recorded) -> None:
        payload = record.json if isinstance(record.json, dict) else {}
        user = last_user_message(payload)
        try:
            plan = parse_prompt(message_text(user))
        except ValueError as exc:
            return self._json(400, {"detail": f"fake upstream: {exc}"})
        if plan.status:
            return self._send(*error_response(plan.status))
        fmt = plan.format or ("B" if "v1" in (payload.get("supported_encodings") or []) else "A")
        turn = Turn(payload.get("conversation_id") or str(uuid.uuid4()),
                    plan.model or payload.get("model") or "gpt-4o", user)
        body = render(plan, fmt, build_timeline(plan, turn), turn.conversation_id)
        fake._set_outcome(record, self._stream(plan, body))

    def _stream(self, plan: Plan, items: Iterator[Any]) -> str:
        """Write the event stream; say how it ended."""
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            self._pause(plan.stall_first)
            out = ChunkedBody(self.wfile, plan.split)
            for item in items:
                if isinstance(item, Sleep):
                    out.flush()   # what was "sent" before a pause must reach the client
                    self._pause(item.seconds)
                elif isinstance(item, Abort):
                    out.flush()
                    self._abort()
                    return "reset"
                else:
                    out.write(item)
            out.close()
            return "complete"
        except CONNECTION_GONE:
            self.close_connection = True
            return "client_gone"

    def _pause(self, seconds: float) -> None:
        """Send nothing for ``seconds``, but notice the client closing meanwhile (as a real
        server's event loop does): ConnectionResetError then."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([self.connection], [], [], left)
            if readable:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK):
                        time.sleep(left)   # the client sent more (it should not): just wait
                        return
                except OSError:
                    pass
                raise ConnectionResetError("the client closed the connection")

    def _abort(self) -> None:
        """Drop the connection with an RST: no final chunk, no FIN."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.rfile.close()   # the last reference to the socket: now it really closes

    def _token_endpoint(self, fake: "FakeUpstream", record: Recorded) -> None:
        """Proxy style (form refresh_token) or OAuth2 style (JSON grant) -> an access token."""
        oauth = record.path == OAUTH_PATH
        if oauth:
            grant = record.json if isinstance(record.json, dict) else {}
            refresh = grant.get("refresh_token") if grant.get("grant_type") == "refresh_token" else None
            if grant.get("client_id") != fake.oauth_client_id:
                refresh = None
        else:
            form = parse_qs(record.body.decode("utf-8", "replace"))
            refresh = (form.get("refresh_token") or [None])[0]
        time.sleep(fake.refresh_delay)
        status = fake.refresh_status or (400 if oauth else 401)
        if fake.refresh_status is None and refresh and refresh not in fake.revoked:
            status = 200
        exchange = Exchange("oauth" if oauth else "proxy", refresh or "", status)
        if status == 200:
            exchange.access_token = mint_jwt(f"user-{abs(hash(refresh)) % 10**8}", fake.token_lifetime)
            answer = {"access_token": exchange.access_token, "expires_in": int(fake.token_lifetime),
                      "token_type": "Bearer", "scope": "openid profile email offline_access"}
            if oauth and fake.rotate:
                exchange.rotated_to = f"rt-rotated-{uuid.uuid4().hex}"
                fake.revoked.add(refresh)     # a rotated token is spent
                answer["refresh_token"] = exchange.rotated_to
        fake._exchanged(exchange)
        if status == 200:
            return self._json(200, answer)
        if status >= 500:
            return self._send(*error_response(status))
        if oauth:
            return self._json(status, {"error": "invalid_grant", "error_description": "Invalid refresh token"})
        return self._json(status, {"detail": "refresh token is invalid or expired"})

    def _gizmo(self, fake: "FakeUpstream", gizmo_id: str) -> None:
        if not gizmo_id.startswith("g-") or gizmo_id in fake.missing_gizmos:
            return self._json(404, {"detail": "Gizmo not found"})
        name = fake.gizmo_names.get(gizmo_id, f"GPT {gizmo_id}")
        self._json(200, {"gizmo": {"id": gizmo_id, "organization_id": "org-fake",
                                   "short_url": gizmo_id, "author": {"display_name": "Fake"},
                                   "display": {"name": name, "description": f"The {name} GPT.",
                                               "welcome_message": "Hello", "prompt_starters": [],
                                               "profile_picture_url": None},
                                   "tags": ["public"], "version": 1},
                         "tools": [{"type": "browser"}], "files": [], "product_features": {}})


class FakeUpstream:
    """The fake upstream on a loopback port; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, keep_requests: bool = True):
        self._server = _Server((host, port), _Handler)   # bound now, so url is known before start()
        self._server.fake = self
        self.url = f"http://{host}:{self._server.server_address[1]}"
        self.keep_requests = keep_requests
        self.requests: list[Recorded] = []
        self.prefix_status: dict[str, int] = {}
        self.missing_files: set[str] = set()   # file ids / sandbox paths whose download URL is a 404
        self.broken_files: set[str] = set()    # whose bytes stop half way with a reset
        self.uploads: dict[str, dict] = {}      # file id -> the upload request, then bytes + content_type
        self.files_status: int | None = None    # answer POST /backend-api/files with this error
        self.static: dict[str, tuple[str, bytes]] = {}   # /_static/<name>: (content type, bytes)
        self._changed = threading.Condition()
        self._reset_tokens()
        self._thread: threading.Thread | None = None

    def start(self) -> "FakeUpstream":
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-upstream", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread:   # shutdown() would wait forever for a loop that never ran
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def reset(self) -> None:
        with self._changed:
            self.requests.clear()
            self.prefix_status.clear()
            self.missing_files.clear()
            self.broken_files.clear()
            self.uploads.clear()
            self.static.clear()
            self.files_status = None
            self._reset_tokens()

    def _reset_tokens(self) -> None:
        self.exchanges: list[Exchange] = []
        self.issued: set[str] = set()           # access tokens it handed out
        self.require_issued = False             # True: /backend-api accepts only those
        self.refresh_status: int | None = None  # the token endpoints answer this instead
        self.refresh_delay = 0.0                # seconds before a token endpoint answers
        self.token_lifetime: float = 864000     # exp of issued tokens, seconds from now
        self.rotate = False                     # OAuth2: hand out a new refresh token each time
        self.revoked: set[str] = set()          # refresh tokens refused (spent by rotation, ...)
        self.oauth_client_id = OAUTH_CLIENT_ID
        self.missing_gizmos: set[str] = set()
        self.gizmo_names: dict[str, str] = {}
        self.accounts = default_accounts()

    def _exchanged(self, exchange: Exchange) -> None:
        with self._changed:
            self.exchanges.append(exchange)
            if exchange.access_token:
                self.issued.add(exchange.access_token)
            self._changed.notify_all()

    def good_exchanges(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.status == 200]

    def wait_for(self, predicate: Callable[[Recorded], bool], timeout: float = 5.0) -> Recorded:
        """The first recorded request matching ``predicate``, waiting for it if need be."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for record in self.requests:
                    if predicate(record):
                        return record
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(r.method, r.path, r.stream_outcome) for r in self.requests]
                    raise AssertionError(f"no matching upstream request within {timeout}s; got {seen}")
                self._changed.wait(left)

    def _record(self, record: Recorded) -> None:
        if self.keep_requests:
            with self._changed:
                self.requests.append(record)
                self._changed.notify_all()

    def _set_outcome(self, record: Recorded, outcome: str) -> None:
        with self._changed:
            record.stream_outcome, record.ended_at = outcome, time.monotonic()
            self._changed.notify_all()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the fake backend-api upstream until killed.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument("--gevent", action="store_true",
                        help="serve each connection on a greenlet (cheap enough for hundreds of streams)")
    args = parser.parse_args(argv)
    if args.gevent:
        from gevent import monkey

        monkey.patch_all()
    fake = FakeUpstream(args.host, args.port, keep_requests=False)   # no unbounded growth in benchmarks
    print(f"ready {fake.url}", flush=True)
    try:
        fake._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
