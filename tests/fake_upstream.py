"""A fake ChatGPT "backend-api" upstream, for the tests and for benchmarks.

It follows docs/upstream-protocol.md, including the ugly parts
real upstreams show (events cut at any byte, CRLF, heart-beats, noise events,
no [DONE], resets, stalls). It is built on ``http.server`` rather than a
framework so that it controls every byte it writes: event streams use
``Transfer-Encoding: chunked`` with the framing written here, each chunk
flushed as soon as it is written.

What a conversation answers is chosen by ``!directive`` lines in the last
user message (see ``parse_prompt``); the other lines are the answer text.
``!today`` and the other today directives (``Plan.modern``) answer in the
2025-2026 shapes: the capture's frame order, private-use citation markers,
memories and tool calls that must stay hidden, gpt-image files finished
only in the conversation document (``GET /backend-api/conversation/{id}``),
hand-offs resumed at ``POST /backend-api/f/conversation/resume``.
``answer_text(prompt)`` says what text the client must end up with.
What the upstream does with the capability switches (``thinking_effort``
checked against the 2026 model list it serves, search hints making a turn
search) and today's python turn (``!python``, ``!python code_interpreter``)
are in fake_capabilities.py.

Refusals, limits and documents (fake_refusals.py, fake_documents.py): a temporary chat
(``history_and_training_disabled: true``, or ``force_no_history`` as a proxy
that forces it) is not kept (its document and PATCH are 404s, it cannot be
continued) and draws nothing (the model refuses in text); ``message_limit``
makes long messages a 413 ``message_length_exceeds_limit``; a body it cannot
take (``thinking_effort`` not standard/extended/max, one on an instant slug,
``!invalid_body``) is a 422; ``/backend-api/conversation/init`` lists
``limits``; ``POST /backend-api/f/conversation/prepare`` hands out conduit
tokens; ``filecite`` markers get ``type: "file"`` references, writing blocks
their ``metadata.writing_blocks``; ``!files`` reads the attachment first;
``!echo_history messages|prefix`` replays the request's history.

Conversations are kept (fake_sessions.py): messages by id, parent links, a current node. A POST with
``conversation_id`` and ``parent_message_id`` continues one and is answered from the branch up to that
parent plus the new messages (an unknown conversation or parent is refused: ``parent_error``); a big-paste
attachment is read as its message.

    fake = FakeUpstream().start()      # in tests
    python tests/fake_upstream.py --port 8999   # as a process: prints "ready <url>"

The capabilities on request (images drawn and edited, transcribe, read-aloud,
documents processed and read: ``!picture``, ``!read_files``, the media routes)
live in fake_media.py, which this module dispatches to.

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

try:        # a module of the tests package, or run as a script from tests/ (bench, heavy input)
    from tests import fake_capabilities as capabilities
    from tests import fake_documents, fake_refusals, fake_sessions
except ImportError:
    import fake_capabilities as capabilities  # type: ignore[no-redef]
    import fake_documents  # type: ignore[no-redef]
    import fake_refusals  # type: ignore[no-redef]
    import fake_sessions  # type: ignore[no-redef]

DEFAULT_ANSWER = "Hello! How can I help you today?"
# A bare greeting gets the default answer too (the e2e tests say "hi" and expect it).
GREETINGS = {"hi", "hello", "hey"}
LOREM = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua ut enim ad minim veniam quis nostrud").split()
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
    # Today's stream (2025-2026), see "Today's stream" in upstream-protocol.md. Any of these
    # wraps the turn in today's frame order (!today alone: a plain answer in it).
    today: bool = False
    memory: bool = False            # saved memories, custom instructions, a bio (memory) call
    thinking: bool = False          # thoughts streamed by appends to their summary and content
    commentary: bool = False        # a preamble on the commentary channel
    search: bool = False            # a web.run call; the answer's markers get content_references
    canvas: str | None = None       # canmore.create_textdoc of this type ("document", "code/python")
    canvas_update: bool = False     # then canmore.update_textdoc edits it
    variants: bool = False          # two paragen variants answer the turn
    image_limit: bool = False       # the image tool fails with a system_error
    gpt_image: bool = False         # gpt-image: a sediment:// image finished within the stream
    image_async: bool = False       # ... finished only in the conversation document, after some polls
    handoff: bool = False           # the turn arrives as a hand-off envelope; the answer via resume
    polls: int = 0                  # document GETs before a late turn is whole in it (0: the defaults below)
    files: bool = False             # the model reads the attached files (myfiles_browser) first
    echo_history: str | None = None  # replay the request's history: "messages" before the answer, "prefix" first
    invalid_body: bool = False      # the upstream finds the body invalid (422, as for a bad thinking_effort)
    # Capabilities on request (fake_media.py): the image tool drawing (or editing) one picture, with
    # this many partial previews first; an answer about the turn's attachments.
    picture: bool = False
    partials: int = 0
    read_files: bool = False
    python: str | None = None       # today's python turn (fake_capabilities.py), to this recipient

    @property
    def modern(self) -> bool:
        return self.today or self.memory or self.thinking or self.commentary or self.search \
            or bool(self.canvas) or self.variants or self.image_limit or self.gpt_image \
            or self.image_async or self.handoff or self.files or bool(self.echo_history) or bool(self.python)

    def chunks(self, text: str) -> list[str]:
        """The text updates for ``text``: whole characters, never bytes."""
        if self.words and self.pieces is None:
            return re.findall(r"\S+\s*|\s+", text)
        size = self.pieces or 3
        return [text[i:i + size] for i in range(0, len(text), size)]


FLAGS = {"crlf", "ping", "noise", "error_midstream", "moderation", "max_tokens", "reset",
         "reasoning", "tool", "chart", "browse", "dalle_refuse", "endless", "bad_event",
         "today", "memory", "thinking", "commentary", "search", "canvas_update", "variants", "image_limit",
         "gpt_image", "image_async", "handoff", "files", "invalid_body", "picture", "read_files"}
VALUED: dict[str, Callable[[str], Any]] = {
    "format": str.upper, "split": int, "pieces": int, "delay": float, "status": int,
    "stall_first": float, "stall_mid": float, "model": str, "dalle": int, "huge_event": float, "polls": int,
    "canvas": str, "echo_history": str, "partials": int, "python": lambda recipient: recipient or "python"}


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
            or plan.echo_history not in (None, "messages", "prefix") \
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
    # the answer is the last message (today's turns: the first final-channel one)
    adds = [i for i, step in enumerate(steps) if isinstance(step, Add)]
    if not adds:
        return ""      # a hand-off envelope carries no answer
    finals = [i for i in adds if steps[i].message.get("channel") == "final"]
    start = finals[0] if finals else adds[-1]
    end = next((i for i in adds if i > start), len(steps))
    steps = steps[:end]
    ops = chain.from_iterable([(s.path, "append", s.value)] if isinstance(s, Grow) else getattr(s, "ops", [])
                              for s in steps[start:])
    return "".join(value for path, op, value in ops if path == PART0 and op == "append")


# ----------------------------------------------------------------- timeline
# A turn is first built as format-neutral steps; format A and B are two
# renderings of the same steps, so folding B gives exactly A's snapshots.

@dataclass(frozen=True)
class Add:            # a new message starts
    message: dict
    bare: bool = False    # format B: {"v": root, "c": N} without p and o


@dataclass(frozen=True)
class Patch:          # several (path, op, value) changes at once, not ending a message
    ops: list
    bare: bool = False    # format B: {"v": [ops]} without p and o


@dataclass(frozen=True)
class Op:             # one explicit operation (metadata appends and replaces)
    path: str
    op: str
    value: Any


@dataclass(frozen=True)
class Counter:        # format B only: a frame with no "v" ({"c": N}); format A: nothing
    pass


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
    history: tuple = ()   # the messages before it (for !echo_history): a continued conversation's branch too


class Timeline:
    """Builds the steps of one turn; each message's parent is the previous one."""

    def __init__(self, plan: Plan, turn: Turn):
        self.plan, self.turn, self.steps = plan, turn, []
        self.parent: str | None = None

    def add(self, message: dict, bare: bool = False) -> None:
        self.parent = message["id"]
        self.steps.append(Add(message, bare))

    def message(self, role: str, content: dict, *, name=None, recipient="all",
                status="in_progress", metadata=None, channel=None, bare=False) -> None:
        self.add(bare=bare, message={
            "id": str(uuid.uuid4()), "author": {"role": role, "name": name, "metadata": {}},
            "create_time": time.time(), "update_time": None, "content": content,
            "status": status, "end_turn": None, "weight": 1.0,
            "metadata": {"model_slug": self.turn.model, "default_model_slug": self.turn.model,
                         "parent_id": self.parent, "message_type": "next", "citations": [],
                         "content_references": [], **(metadata or {})},
            "recipient": recipient, "channel": channel})

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
    if plan.modern:
        return today_turn(plan, turn).stream
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


# ------------------------------------------------------------ today's turns
# Written from "Today's stream (2025-2026)" in upstream-protocol.md: the frame
# order of the real capture around every turn, private-use citation markers
# resolved by content_references that arrive by appends, and the messages a
# client must never see (memories, instructions, developer text, tool calls).

RESUME_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJjb252ZXJzYXRpb24iOiJyZXN1bWUifQ.cmVzdW1l"
MEMORY_TEXT = "1. [2025-03-01]. User's name is Jane Secretface and she lives at 12 Hidden Lane."
INSTRUCTIONS_TEXT = "Always answer like a pirate (custom instructions)."
DEVELOPER_TEXT = "Developer: the current date is 2026-01-01; tools available: web.run, bio."
BIO_NOTE = "User's favourite animal is the otter."
BIO_RESULT = "Model set context updated."
SEARCH_CALL = '{"search_query": [{"q": "do otters hold hands"}], "response_length": "short"}'
COMMENTARY = "I'll look that up on the web first."
TODAY_THOUGHTS = [("Considering the question", None), ("Checking sources", "Two sources agree.")]
TODAY_RECAP = "Thought for 12s"
VARIANT_TWO = "The second variant's answer, never shown."
IMAGE_LIMIT = ("You've hit the free plan limit for image generations requests. "
               "You can create more images when the limit resets in 23 hours and 5 minutes.")
CANVAS_NAME = "otter_notes"
CANVAS = {"document": ("# Otter notes\n\nOtters hold hands while they sleep.\n", "hold hands", "hold paws"),
          "code/python": ("def otter():\n    return 'float'\n", "float", "swim")}
CANVAS_REPLY = "Successfully created text document 'otter_notes' which will be referenced in all future messages."
MARKER = re.compile("\ue200([^\ue200\ue201]*)\ue201")


def source_url(ref_id: str) -> str:
    """Where a search result points: "turn0search3" -> https://example.com/s/0search3."""
    return f"https://example.com/s/{ref_id[len('turn'):]}"


def source_title(ref_id: str) -> str:
    return f"Source {ref_id[len('turn'):]}"


def marker_event(tl: Timeline, name: str, event: str) -> None:
    tl.event({"type": "message_marker", "conversation_id": tl.turn.conversation_id,
              "message_id": tl.parent, "marker": name, "event": event})


@dataclass
class TodayTurn:
    stream: list          # the steps the conversation POST streams
    full: list            # the whole turn: what a resume replays and the document ends with
    ready_after: int = 0  # document GETs before it holds the whole turn (before: what was streamed)


def today_turn(plan: Plan, turn: Turn) -> TodayTurn:
    """A hand-off streams only the envelope; an async image ends the stream before it is done."""
    full, stream_end = today_timeline(plan, turn)
    if plan.handoff:
        envelope = [full[0], Event({"type": "stream_handoff", "conversation_id": turn.conversation_id,
                                    "options": [{"type": "subscribe_ws_topic", "topic": f"conversation-{turn.conversation_id}"}]})]
        return TodayTurn(envelope, full, plan.polls or HANDOFF_POLLS)
    if stream_end is not None:
        return TodayTurn(full[:stream_end] + [s for s in full[stream_end:] if isinstance(s, Event)
                                              and s.obj.get("type") in ("title_generation", "server_ste_metadata")],
                         full, plan.polls or IMAGE_POLLS)
    return TodayTurn(full, full)


IMAGE_POLLS = 3      # document GETs before an async image is finished in it
HANDOFF_POLLS = 2    # ... before a handed-off answer is


def today_timeline(plan: Plan, turn: Turn) -> tuple[list, int | None]:
    """The frame order of the capture in the doc, with the turn's own messages in the middle;
    and where the stream stops when an image is finished only later (else None)."""
    tl, cid = Timeline(plan, turn), turn.conversation_id
    stream_end = None
    tl.event({"type": "resume_conversation_token", "kind": "conversation_id", "token": RESUME_TOKEN,
              "conversation_id": cid})
    tl.message("system", {"content_type": "text", "parts": [""]}, status="finished_successfully",
               metadata={"is_visually_hidden_from_conversation": True})
    if plan.echo_history == "prefix":     # the whole history replayed first, with the ids it was sent with
        for sent in turn.history:
            tl.add(replayed(sent), bare=True)
    echo = user_echo(turn.user_message)
    if plan.variants:
        echo["metadata"] = {**echo["metadata"], "paragen_variants_info": {
            "type": "num_variants_in_stream", "num_variants_in_stream": 2, "display_treatment": "skippable"}}
    tl.add(echo, bare=True)
    tl.steps.append(Counter())
    tl.event({"type": "input_message", "input_message": copy.deepcopy(echo), "conversation_id": cid})
    marker_event(tl, "user_visible_token", "first")
    if plan.memory:
        memory_turn(tl)
    tl.message("developer", {"content_type": "developer_content", "parts": [DEVELOPER_TEXT]},
               status="finished_successfully", bare=True)
    if plan.thinking:
        thinking_turn(tl)
    if plan.commentary:
        tl.message("assistant", {"content_type": "text", "parts": [""]}, channel="commentary", bare=True)
        tl.grow(PART0, COMMENTARY)
        tl.finish(end_turn=False)
    if plan.search:
        today_tool_call(tl, "web.run", SEARCH_CALL)
        tl.message("tool", {"content_type": "text", "parts": [""]}, name="web.run", status="finished_successfully",
                   metadata={"search_result_groups": [{"type": "search_result_group", "domain": "example.com",
                                                       "entries": [{"url": source_url("turn0search0"),
                                                                    "title": "Otters", "snippet": "..."}]}]},
                   channel="commentary", bare=True)
    if plan.image_limit:
        today_tool_call(tl, "t2uay3k.sj1i4kz", orjson.dumps({"prompt": DALLE_PROMPT, "size": "1024x1024", "n": 1}).decode())
        tl.message("tool", {"content_type": "system_error", "name": "ChatGPTAgentToolRateLimitException",
                            "text": IMAGE_LIMIT}, name="t2uay3k.sj1i4kz", status="finished_successfully", bare=True)
    if plan.canvas:
        canvas_turn(tl)
    if plan.python:
        capabilities.python_turn(tl, plan.python)
    if plan.gpt_image or plan.image_async:
        stream_end = gpt_image_turn(tl)
    if plan.files:
        today_tool_call(tl, "myfiles_browser", fake_documents.FILE_CALL)
        tl.message("tool", {"content_type": "text", "parts": [fake_documents.FILE_QUOTE]}, name="myfiles_browser",
                   status="finished_successfully", channel="commentary", bare=True)
    if plan.stall_mid:
        tl.steps.append(Sleep(plan.stall_mid))   # the model thinking in silence before it answers
    if plan.echo_history == "messages":   # replayed assistant turns, complete, just before the real answer
        for sent in turn.history:
            if (sent.get("author") or {}).get("role") == "assistant":
                tl.add({**replayed(sent), "id": str(uuid.uuid4())}, bare=True)
    today_answer(tl, plan.text)
    if plan.variants:
        today_answer(tl, VARIANT_TWO)
    marker_event(tl, "last_token", "last")
    tl.event({"type": "title_generation", "title": "Otters", "conversation_id": cid})
    tl.steps.append(Op("/message/metadata/conversation_followup_suggestions_eligible", "replace", False))
    tl.event({"type": "server_ste_metadata", "conversation_id": cid,
              "metadata": {"tool_invoked": plan.search or bool(plan.python), "turn_use_case": "text",
                           "model_slug": turn.model, **({"tool_name": "PythonCaasCotTool"} if plan.python else {})}})
    return tl.steps, stream_end


def replayed(sent: dict) -> dict:
    """A message of the request's history as the upstream echoes it back: complete, final."""
    message = user_echo(sent)
    message["author"]["role"] = (sent.get("author") or {}).get("role") or "user"
    if message["author"]["role"] == "assistant":
        message.update(channel="final", end_turn=True)
        message["metadata"] = {**message["metadata"], "is_complete": True,
                               "finish_details": {"type": "stop", "stop_tokens": [200002]}}
    return message


def sediment_file(partial: bool = False) -> str:
    return "file_00000000partial0preview" if partial else "file_00000000otter0final0image"


def image_pointer(partial: bool) -> dict:
    height = 256 if partial else 1024
    return {"content_type": "image_asset_pointer", "asset_pointer": f"sediment://{sediment_file(partial)}",
            "size_bytes": len(blob_bytes(sediment_file(partial))), "width": 1024, "height": 1024, "fovea": None,
            "metadata": {"dalle": None, "gizmo": None, "sanitized": False, "generation": {
                "gen_id": "gen-1", "gen_size": "image", "seed": None, "parent_gen_id": None,
                "height": height, "width": 1024, "transparent_background": False, "serialization_title": "Image"}}}


def gpt_image_turn(tl: Timeline) -> int | None:
    """gpt-image: the JSON call, then the tool message with a partial preview that grows, then
    finished. With !image_async the stream ends before that (the step index is returned): the
    finished image and the answer are only in the document, after some polls."""
    today_tool_call(tl, "t2uay3k.sj1i4kz", orjson.dumps({"prompt": DALLE_PROMPT, "size": "1024x1024", "n": 1}).decode())
    tl.message("tool", {"content_type": "multimodal_text", "parts": [image_pointer(partial=True)]},
               name="t2uay3k.sj1i4kz", bare=True, metadata={
                   "async_task_type": "image_gen", "image_gen_async": True, "image_gen_task_id": "task-otter",
                   "image_gen_title": "Otter floating", "trigger_async_ux": True})
    tl.steps.append(Op("/message/content/parts/0/metadata/generation/height", "replace", 512))
    finish = Patch([("/message/content/parts/0", "replace", image_pointer(partial=False)),
                    ("/message/status", "replace", "finished_successfully"),
                    ("/message/metadata/is_complete", "replace", True)])
    stream_end = len(tl.steps) if tl.plan.image_async else None
    tl.steps.append(finish)
    return stream_end


def today_tool_call(tl: Timeline, recipient: str, code: str) -> None:
    """The assistant writing JSON to a tool; a tool call stops with token 200012."""
    tl.message("assistant", {"content_type": "code", "language": "json", "text": ""}, recipient=recipient,
               channel="commentary", bare=True)
    tl.grow("/message/content/text", code)
    tl.finish(metadata={"finish_details": {"type": "stop", "stop_tokens": [200012]}})


def memory_turn(tl: Timeline) -> None:
    """Saved memories and custom instructions, as the upstream puts them into the turn, and a
    bio call: written as plainly as an answer would be, so only their kind tells them apart."""
    tl.message("user", {"content_type": "user_editable_context", "user_profile": "Jane",
                        "user_instructions": INSTRUCTIONS_TEXT}, status="finished_successfully",
               metadata={"is_visually_hidden_from_conversation": True, "user_context_message_data": {
                   "about_model_message": INSTRUCTIONS_TEXT}}, bare=True)
    tl.message("assistant", {"content_type": "model_editable_context", "model_set_context": "",
                             "repository": None, "repo_summary": None}, bare=True)
    tl.grow("/message/content/model_set_context", MEMORY_TEXT)
    tl.finish()
    today_tool_call(tl, "bio", BIO_NOTE)
    tl.message("tool", {"content_type": "text", "parts": [BIO_RESULT]}, name="bio", status="finished_successfully",
               bare=True)


def thinking_turn(tl: Timeline) -> None:
    """Thoughts grow by appends: a new thought pushed, then its summary (and content) appended."""
    tl.message("assistant", {"content_type": "thoughts", "thoughts": [], "source_analysis_msg_id": "x"},
               metadata={"reasoning_status": "is_reasoning"}, bare=True)
    marker_event(tl, "cot_token", "first")
    for i, (summary, content) in enumerate(TODAY_THOUGHTS):
        # the first thought arrives with empty fields; the second without a summary field at all
        tl.steps.append(Grow("/message/content/thoughts",
                             {"summary": "", "content": "", "chunks": [], "finished": False} if i == 0
                             else {"content": "", "chunks": [], "finished": False}))
        tl.grow(f"/message/content/thoughts/{i}/summary", summary)
        if content:
            tl.grow(f"/message/content/thoughts/{i}/content", content)
    tl.finish(metadata={"reasoning_status": "reasoning_ended", "finished_text": TODAY_RECAP})
    tl.message("assistant", {"content_type": "reasoning_recap", "content": TODAY_RECAP},
               status="finished_successfully", bare=True)


def canvas_turn(tl: Timeline) -> None:
    content, pattern, replacement = CANVAS[tl.plan.canvas]
    today_tool_call(tl, "canmore.create_textdoc",
                    orjson.dumps({"name": CANVAS_NAME, "type": tl.plan.canvas, "content": content}).decode())
    tl.message("tool", {"content_type": "text", "parts": [CANVAS_REPLY]}, name="canmore.create_textdoc",
               status="finished_successfully", metadata={"canvas": {"textdoc_id": "67a1", "version": 1}}, bare=True)
    if tl.plan.canvas_update:
        today_tool_call(tl, "canmore.update_textdoc", orjson.dumps(
            {"updates": [{"pattern": pattern, "multiple": False, "replacement": replacement}]}).decode())
        tl.message("tool", {"content_type": "text", "parts": ["Successfully updated text document."]},
                   name="canmore.update_textdoc", status="finished_successfully", bare=True)


def content_reference(text: str, match: re.Match) -> dict | None:
    """What the upstream says a marker stands for: sources for cite (refs in turn9 are never
    found), a name for an entity, nothing useful for the other kinds."""
    kind, *args = match.group(1).split("\ue202")
    ref = {"matched_text": match.group(0), "start_idx": match.start(), "end_idx": match.end(),
           "safe_urls": [], "refs": [], "alt": None, "prompt_text": None}
    if kind == "entity":
        return {**ref, "type": "entity", "name": orjson.loads(args[0])[1], "alt": orjson.loads(args[0])[1]}
    if kind == "filecite":
        return fake_documents.file_reference(match.group(0), match.start(), match.end(), args)
    if kind != "cite":
        return {**ref, "type": "hidden", "invalid": True}
    found = [a for a in args if not a.startswith("turn9")]
    if not found:
        return None
    items = [{"title": source_title(a), "url": source_url(a), "attribution": "example.com", "snippet": "…",
              "refs": [{"turn_index": int(a[4]), "ref_type": a[5:].rstrip("0123456789"),
                        "ref_index": int(re.search(r"\d+$", a).group())}], "supporting_websites": []}
             for a in found]
    return {**ref, "type": "grouped_webpages", "items": items,
            "alt": f"([{source_title(found[0])}]({source_url(found[0])}))"}


def today_answer(tl: Timeline, text: str) -> None:
    """The final-channel answer: parts appended (bare {"v"} continuing them, also after a bare
    patch list half way), each marker's content_reference appended once the marker closed; every
    second cite reference comes without items, which arrive only in the end-of-message patch."""
    plan = tl.plan
    tl.message("assistant", {"content_type": "text", "parts": [""]}, channel="final", bare=True)
    marker_event(tl, "final_channel_token", "first")
    pieces = plan.chunks(text) or [""]
    sent, refs, late = "", 0, []
    for i, piece in enumerate(pieces):
        before, sent = len(sent), sent + piece
        new_refs = []
        for match in MARKER.finditer(sent):
            if before < match.end() <= len(sent):
                ref = content_reference(sent, match)
                if ref is None:
                    continue
                if ref["type"] == "grouped_webpages" and refs % 2 == 1:
                    late.append((refs, ref["items"], ref["alt"]))
                    ref = {**ref, "items": [], "alt": None}
                new_refs.append(ref)
                refs += 1
        blocks = [("/message/metadata/writing_blocks", "append", {block_id: entry})
                  for end, block_id, entry in fake_documents.writing_blocks(sent) if before < end <= len(sent)]
        if i == len(pieces) - 1:
            ops = [(PART0, "append", piece)] if piece else []
            ops += [("/message/metadata/content_references", "append", r) for r in new_refs] + blocks
            for index, items, alt in late:
                ops += [(f"/message/metadata/content_references/{index}/items", "append", item) for item in items]
                ops.append((f"/message/metadata/content_references/{index}/alt", "replace", alt))
            ops.append(("/message/metadata/content_references", "append", {
                "matched_text": " ", "start_idx": len(text), "end_idx": len(text), "type": "sources_footnote",
                "sources": [{"title": "Otters", "url": source_url("turn0search0"), "attribution": "example.com"}]}))
            ops += [("/message/status", "replace", "finished_successfully"), ("/message/end_turn", "replace", True),
                    ("/message/metadata", "append", {"is_complete": True, "finish_details": {
                        "type": "stop", "stop_tokens": [200002]}})]
            tl.steps.append(Patch(ops))
        elif i == len(pieces) // 2:
            # a bare patch list whose text append is the target later bare {"v": "…"} continue
            tl.steps.append(Patch([("/message/metadata/refresh_key_info", "replace", {"k": i}),
                                   (PART0, "append", piece)], bare=True))
        else:
            tl.update(PART0, piece)
        for ref in new_refs if i < len(pieces) - 1 else ():
            tl.steps.append(Op("/message/metadata/content_references", "append", ref))
        for block in blocks if i < len(pieces) - 1 else ():
            tl.steps.append(Op(*block))


def conversation_document(steps: list, conversation_id: str, title: str = "Otters") -> dict:
    """GET /backend-api/conversation/{id}: the turn's messages as they ended, as a mapping."""
    mapping = {"client-created-root": {"id": "client-created-root", "message": None, "parent": None,
                                       "children": []}}
    root, parent = None, "client-created-root"
    for step in steps:
        if isinstance(step, Add):
            root = {"message": copy.deepcopy(step.message)}
            node = root["message"]["id"]
            mapping[node] = {"id": node, "message": root["message"], "parent": parent, "children": []}
            mapping[parent]["children"].append(node)
            parent = node
        elif root is not None:
            for path, op, value in step_ops(step):
                apply_op(root, path, op, copy.deepcopy(value))   # the steps stay as they are
    return {"conversation_id": conversation_id, "title": title, "create_time": time.time(),
            "mapping": mapping, "current_node": parent, "is_archived": False}


def step_ops(step) -> list:
    if isinstance(step, Grow):
        return [(step.path, "append", step.value)]
    if isinstance(step, (Finish, Patch)):
        return step.ops
    if isinstance(step, Op):
        return [(step.path, step.op, step.value)]
    return []


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
        elif isinstance(step, (Grow, Finish, Patch, Op)):
            for path, op, value in step_ops(step):
                apply_op(root, path, op, copy.deepcopy(value))   # the steps stay as they are
        elif isinstance(step, Counter):
            continue
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
            if step.bare:
                del delta["p"], delta["o"]
            previous = ("", "add")
            count += 1
        elif isinstance(step, Counter):
            yield sse({"c": count + 2}, "delta")   # counts messages this stream never shows
            count += 3
            continue
        elif isinstance(step, Patch):
            ops = [{"p": p, "o": o, "v": v} for p, o, v in step.ops]
            delta = {"v": ops} if step.bare else {"p": "", "o": "patch", "v": ops}
            texts = [(p, o) for p, o, v in step.ops if o == "append" and isinstance(v, str)]
            yield sse(delta, "delta")
            # today: a bare {"v": "…"} continues the last text append, also one inside a patch list
            previous = texts[-1] if texts else ("", "patch")
            continue
        elif isinstance(step, Op):
            delta = {"p": step.path, "o": step.op, "v": step.value}
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
    """The operations the fake itself needs to build format A snapshots (and its documents)."""
    *parents, key = path.split("/")[1:]
    target: Any = root
    for part in parents:
        target = target[int(part) if isinstance(target, list) else part]
    key = int(key) if isinstance(target, list) else key
    current = target[key] if isinstance(target, list) else target.get(key)
    if op == "replace" or current is None:
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


# ------------------------------------------------------- function calling
# pandora_v1 emulates tool calls by prompt (agents-spec A.3): its system instruction
# teaches blocks fenced by "⟦call N⟧" / "⟦/call N⟧" with a per-request nonce N, and
# renders tool results as "⟦result N name=… id=…⟧ … ⟦/result N⟧" user messages. The fake
# plays a model that follows it. Directives (expanded before parse_prompt):
#   !call NAME {json}         a compliant block (repeatable; after any answer text)
#   !call-fenced NAME {json}  the JSON inside a ```json fence within the markers
#   !call-noend NAME {json}   no close marker
#   !call-bad NAME {json}     JSON with bare keys (not repairable)
#   !ascii                    [[call N]] markers instead of the brackets
#   !then-text                a made-up result after the blocks
#   !on-retry                 the lines after it answer the retry request instead
# Without a nonce in the instruction (no tools, tool_choice none) blocks use XXXXXXXX.
# A last user message made of result blocks is answered "Result: <content>" (" | " between).

NONCE = re.compile(r"⟦call ([A-Z2-7]{8})⟧")
RESULT_BLOCK = re.compile(r'⟦result (\S+) name="[^"]*"(?: id="[^"]*")?⟧\n(.*?)\n⟦/result \1⟧', re.S)
RETRY_REQUESTS = ("Your function call was invalid", "Your reply was invalid")
CALL_KINDS = ("call", "call-fenced", "call-noend", "call-bad")
MADE_UP_RESULT = "It is 30°C and sunny in Paris (a made-up result)."


def agent_prompt(payload: dict) -> str:
    """The prompt the fake answers: a result summary, the retry section, or blocks expanded."""
    messages = [m for m in payload.get("messages") or [] if isinstance(m, dict)]
    users = [m for m in messages if (m.get("author") or {}).get("role") == "user"]
    last = message_text(users[-1]) if users else ""
    results = RESULT_BLOCK.findall(last)
    if results:
        return "Result: " + " | ".join(content for _, content in results)
    retry = last.startswith(RETRY_REQUESTS) and len(users) > 1
    if retry:
        last = message_text(users[-2])
    lines = last.split("\n")
    if "!on-retry" in lines:
        at = lines.index("!on-retry")
        lines = lines[at + 1:] if retry else lines[:at]
    system = "\n".join(message_text(m) for m in messages if (m.get("author") or {}).get("role") == "system")
    found = NONCE.search(system)
    return expand_calls(lines, found.group(1) if found else "XXXXXXXX")


def expand_calls(lines: list[str], nonce: str) -> str:
    text, blocks, tail, ascii_ = [], [], [], "!ascii" in lines
    for line in lines:
        kind, _, arg = line[1:].partition(" ") if line.startswith("!") else ("", "", "")
        if kind in CALL_KINDS:
            blocks.append(call_block(kind, arg, nonce, ascii_))
        elif kind == "then-text":
            tail.append(MADE_UP_RESULT)
        elif kind != "ascii":
            text.append(line)
    return "\n".join(text + blocks + tail)


def call_block(kind: str, arg: str, nonce: str, ascii_: bool = False) -> str:
    name, _, arguments = arg.strip().partition(" ")
    arguments = arguments.strip() or "{}"
    body = f'{{name: "{name}", arguments: {arguments}}}' if kind == "call-bad" else \
        f'{{"name": "{name}", "arguments": {arguments}}}'
    if kind == "call-fenced":
        body = f"```json\n{body}\n```"
    open_, close = (f"[[call {nonce}]]", f"[[/call {nonce}]]") if ascii_ else (f"⟦call {nonce}⟧", f"⟦/call {nonce}⟧")
    return f"{open_}\n{body}" + ("" if kind == "call-noend" else f"\n{close}")


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
        if record.method == "POST" and route in ("/backend-api/conversation", "/backend-api/f/conversation"):
            return self._conversation(fake, record)
        if record.method in ("GET", "POST") and route == "/backend-api/conversation/init":
            if fake.init_status:
                return self._send(*error_response(fake.init_status))
            return self._json(200, fake_refusals.conversation_init(fake.limits))
        if record.method == "POST" and route == "/backend-api/f/conversation/prepare":
            return self._prepare(fake, record)
        document = re.fullmatch(r"/backend-api/conversation/([^/]+)", route or "")
        if record.method == "GET" and document:
            return self._document(fake, document.group(1))
        if record.method == "POST" and route == "/backend-api/f/conversation/resume":
            return self._resume(fake, record)
        attachment = re.fullmatch(r"/backend-api/conversation/[^/]+/attachment/([^/]+)/download", route or "") \
            or re.fullmatch(r"/backend-api/files/download/([^/]+)", route or "")
        if record.method == "GET" and attachment:
            if attachment.group(1) in fake.missing_files or \
                    ("/attachment/" in route and attachment.group(1) in fake.missing_attachments):
                return self._json(404, {"detail": "File not found"})
            # today's answer: a download URL relative to the upstream, fetched with the same credentials
            return self._json(200, {"status": "success", "file_name": f"{attachment.group(1)}.png",
                                    "download_url": f"/backend-api/estuary/content?id={attachment.group(1)}&sig=abc"})
        if record.method == "GET" and route == "/backend-api/estuary/content" and record.query.get("sig") == "abc":
            key = record.query.get("id", "")
            return self._send(200, {"Content-Type": "image/png"}, fake.media.files.get(key) or blob_bytes(key))
        if record.method == "PATCH" and route and re.fullmatch(r"/backend-api/conversation/[^/]+", route):
            if route.rsplit("/", 1)[1] in fake.temporary:       # not in the history: nothing to hide
                return self._json(404, {"detail": ERROR_DETAILS[404]})
            if (record.json or {}).get("is_visible") is False:
                fake.media.hidden.add(route.rsplit("/", 1)[1])
            return self._json(200, {"success": True})
        from tests import fake_media
        if record.method == "POST" and route == "/backend-api/transcribe":
            return fake_media.transcribe(self, fake, record)
        if record.method == "GET" and route == "/backend-api/synthesize":
            return fake_media.synthesize(self, fake, record)
        if record.method == "GET" and route == "/backend-api/settings/voices":
            return fake_media.voices(self)
        if record.method == "GET" and route == "/backend-api/models":
            if fake.models_status:
                return self._send(*error_response(fake.models_status))
            return self._json(200, capabilities.MODELS_DOCUMENT)
        if record.method == "POST" and route == "/backend-api/files":
            return self._create_upload(fake, record)
        uploaded = re.fullmatch(r"/backend-api/files/([^/]+)/uploaded", route or "")
        if record.method == "POST" and uploaded:
            file = fake.uploads.get(uploaded.group(1))
            if not file or "bytes" not in file:
                return self._json(404, {"detail": "File not found"})
            if fake.uploaded_minimal:     # today's answer may lack the download URL
                return self._json(200, {"status": "success", "file_id": uploaded.group(1)})
            return self._json(200, {"status": "success", "download_url": f"{fake.url}/_blob/{uploaded.group(1)}"})
        if record.method == "POST" and route == "/backend-api/files/process_upload_stream":
            return fake_media.process_upload(self, fake, record)
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
            if name in fake.media.files:
                return self._send(200, {"Content-Type": "application/octet-stream"}, fake.media.files[name])
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
        from tests import fake_media

        payload = record.json if isinstance(record.json, dict) else {}
        user = last_user_message(payload)
        kept = fake.conversations.get(str(payload.get("conversation_id") or ""))   # continued (fake_sessions.py)
        base = kept.final if kept is not None else None
        seen = fake_sessions.seen(payload, base, fake.uploads)       # a continued conversation's branch too
        try:
            plan = Plan() if fake_media.is_read_aloud(payload) else \
                parse_prompt(agent_prompt({**payload, "messages": seen}))
        except ValueError as exc:
            return self._json(400, {"detail": f"fake upstream: {exc}"})
        if fake_refusals.too_long(payload, fake.message_limit):
            return self._json(413, fake_refusals.TOO_LONG)
        if plan.invalid_body or fake_refusals.body_problem(payload):
            return self._json(422, fake_refusals.INVALID_BODY)
        if payload.get("conversation_id") in fake.temporary:     # a temporary chat cannot be continued
            return self._json(404, {"detail": ERROR_DETAILS[404]})
        refused = fake_sessions.refusal(payload, base, fake.parent_error)
        if refused:
            return self._json(*refused)
        if plan.status:
            return self._send(*error_response(plan.status))
        temporary = fake_refusals.is_temporary(payload, fake.force_no_history)
        if temporary:
            fake_refusals.temporary_refusal(plan, fake_refusals.hints_of(payload, user))
        if plan.image_limit and fake.limits.get("image_gen", (1, 0))[0] > 0:   # now used up, as the text says
            fake.limits["image_gen"] = (0, fake_refusals.IMAGE_RESET_SECONDS)
        refusal = capabilities.effort_refusal(payload)
        if refusal:
            return self._json(422, {"detail": refusal})
        plan.search = plan.search or capabilities.search_hinted(payload)
        fmt = plan.format or ("B" if "v1" in (payload.get("supported_encodings") or []) else "A")
        turn = Turn(payload.get("conversation_id") or str(uuid.uuid4()),
                    plan.model or payload.get("model") or "gpt-4o", user,
                    tuple(m for m in seen if m.get("id") != user.get("id")))
        document = lambda steps: fake_sessions.graft(base, payload, conversation_document(steps, turn.conversation_id))
        if plan.read_files:
            plan.text = fake_media.read_files_answer(fake, user)
        if fake_media.is_read_aloud(payload):
            steps = fake_media.read_aloud_turn(fake, plan, turn, payload)
            stored = StoredConversation(None, document(steps))
        elif plan.picture:
            drawn = fake_media.picture_turn(fake, plan, turn, payload, user)
            if isinstance(drawn, str):
                return self._json(400, {"detail": f"fake upstream: {drawn}"})
            steps, full, ready_after = drawn
            stored = StoredConversation(document(steps) if ready_after else None, document(full), ready_after)
        elif plan.modern:
            today = today_turn(plan, turn)
            steps = today.stream
            stored = StoredConversation(document(today.stream), document(today.full), today.ready_after)
            if plan.handoff and (not temporary or fake.temporary_resume):
                fake.resumable[turn.conversation_id] = (plan, fmt, today.full)
        else:
            steps = build_timeline(plan, turn)
            stored = StoredConversation(None, document(steps))
        if temporary:           # not in the history: its document is a 404, while open and after
            fake.temporary.add(turn.conversation_id)
        else:
            fake.conversations[turn.conversation_id] = stored
        body = render(plan, fmt, steps, turn.conversation_id)
        fake._set_outcome(record, self._stream(plan, body))

    def _document(self, fake: "FakeUpstream", conversation_id: str) -> None:
        """The conversation document; an async image or a handed-off answer appears in it only
        after ``ready_after`` GETs (before that, what the stream had)."""
        stored = fake.conversations.get(conversation_id)
        if stored is None:
            return self._json(404, {"detail": ERROR_DETAILS[404]})
        if fake.document_errors:
            return self._send(*error_response(fake.document_errors.pop(0)))
        stored.polls += 1
        ready = stored.early is None or stored.polls >= stored.ready_after
        self._json(200, stored.final if ready else stored.early)

    def _prepare(self, fake: "FakeUpstream", record: Recorded) -> None:
        """POST /backend-api/f/conversation/prepare: the body without messages -> a conduit token."""
        body = record.json if isinstance(record.json, dict) else {}
        if fake.prepare_status:
            return self._send(*error_response(fake.prepare_status))
        if "messages" in body or not isinstance(body.get("partial_query"), dict):
            return self._json(422, fake_refusals.INVALID_BODY)
        token = mint_jwt("conduit", 300)
        fake.conduit_tokens.append(token)
        self._json(200, {"status": "ok", "conduit_token": token})

    def _resume(self, fake: "FakeUpstream", record: Recorded) -> None:
        """POST /backend-api/f/conversation/resume: the handed-off turn, replayed from offset 0."""
        body = record.json if isinstance(record.json, dict) else {}
        found = fake.resumable.get(body.get("conversation_id"))
        if fake.resume_status:
            return self._send(*error_response(fake.resume_status))
        if found is None or record.headers.get("x-conduit-token") != RESUME_TOKEN or body.get("offset") != 0:
            return self._json(404, {"detail": "Nothing to resume"})
        plan, fmt, steps = found
        fake._set_outcome(record, self._stream(plan, render(plan, fmt, steps, body["conversation_id"])))

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


@dataclass
class StoredConversation:
    early: dict | None     # the document while the turn is not finished (None: always final)
    final: dict
    ready_after: int = 0
    polls: int = 0


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
        self.uploaded_minimal = False           # /uploaded answers without download_url (today)
        self.process_uploads = False            # serve POST /backend-api/files/process_upload_stream
        self.static: dict[str, tuple[str, bytes]] = {}   # /_static/<name>: (content type, bytes)
        self.conversations: dict[str, StoredConversation] = {}   # for GET /backend-api/conversation/{id}
        self.missing_attachments: set[str] = set()   # file ids the conversation attachment route 404s
        self.resumable: dict[str, tuple] = {}     # conversation id -> what its resume stream replays
        self.resume_status: int | None = None     # answer the resume endpoint with this error
        self.document_errors: list[int] = []      # answer the next document GETs with these errors
        self._reset_refusals()
        from tests.fake_media import MediaState
        self.media = MediaState()                 # the media routes' memory and switches (fake_media.py)
        self.models_status: int | None = None     # answer GET /backend-api/models with this error
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
            self.conversations.clear()
            self.resumable.clear()
            self.missing_attachments.clear()
            self.resume_status = None
            self.document_errors.clear()
            self.models_status = None
            self.files_status = None
            self.uploaded_minimal = False
            self.process_uploads = False
            self.media = type(self.media)()
            self._reset_tokens()
            self._reset_refusals()

    def _reset_refusals(self) -> None:
        """Temporary chats, the size limit, limits_progress, the prepare step (fake_refusals.py)."""
        self.temporary: set[str] = set()        # conversation ids of temporary chats (not kept)
        self.force_no_history = False           # a proxy that makes every conversation temporary
        self.temporary_resume = True            # the resume stream works for a temporary turn (not known)
        self.message_limit = 0                  # characters a message may have (0: no limit); over: 413
        self.parent_error = fake_sessions.PARENT_ERROR   # a continuation from a parent it does not have
        self.limits: dict[str, tuple[int, float]] = {"image_gen": (3, 86400.0)}   # conversation/init
        self.init_status: int | None = None     # answer conversation/init with this error
        self.prepare_status: int | None = None  # answer f/conversation/prepare with this error
        self.conduit_tokens: list[str] = []     # the tokens prepare handed out

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
    # Run the package's copy (tests.fake_upstream), the one fake_media.py builds its turns with.
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    from tests.fake_upstream import main as package_main

    package_main()
