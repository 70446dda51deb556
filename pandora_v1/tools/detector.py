"""The call detector: rendered content pieces -> text, reasoning and finished tool calls.

A stage after the renderer (agents-spec A.3.3), fed with what the client
would see. States:

  TEXT   text streams on at once, except the longest tail that is still a
         prefix of this request's open marker: held back only while it can
         still become one (so plain answers get no added latency)
  CALL   inside a block: buffered until its close marker, then parsed and
         validated (a started call can't be taken back, so it is emitted whole)
  AFTER  after a call: only whitespace and another open marker keep it going
  DONE   nothing more is wanted; the caller closes the upstream early, which
         also drops any "result" the model makes up after its call

Markers carry the request's nonce, so a marker from a tool result, a web page
or an old transcript (another nonce) is plain text.

Events are ``(kind, value)``: ``(CONTENT, str)``, ``(REASONING, str)`` as the
renderer makes them, and ``(TOOL_CALL, ToolCall)``. Encoders turn them into
any API's wire format; ``ToolCall.fragments()`` gives argument fragments for
streams.
"""
from __future__ import annotations

import logging
import re
import secrets
import string
from dataclasses import dataclass
from typing import Any

import orjson
from jsonschema import validators
from jsonschema.exceptions import SchemaError

from ..translate.render import CONTENT, Piece
from .prompt import Protocol

log = logging.getLogger(__name__)

TOOL_CALL = "tool_call"
FRAGMENT_CHARS = 256
_ALPHABET = string.ascii_letters + string.digits
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*[ \t]*\r?\n?|\r?\n?```\s*$")

Event = tuple[str, Any]


@dataclass(frozen=True)
class ToolCall:
    index: int         # order in the answer, from 0
    id: str            # call_ + 24 random characters; never the model's
    name: str
    arguments: str     # canonical JSON of the arguments object

    def fragments(self, size: int = FRAGMENT_CHARS) -> list[str]:
        """The arguments cut for a stream: at least one fragment, none longer than ``size``."""
        args = self.arguments
        return [args[i:i + size] for i in range(0, len(args), size)] or [""]


def call_id() -> str:
    return "call_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


class InvalidCall(ValueError):
    """A block that is not a usable call; the message says why, for the retry prompt."""


# ------------------------------------------------------------------ parsing

def loads_lenient(text: str):
    """``json.loads``, then once more after a cheap repair of near-JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        first = exc
    start = text.find("{")
    if start < 0:
        raise InvalidCall(f"the block is not JSON ({first})")
    end = text.rfind("}")
    candidate = text[start:end + 1] if end > start else text[start:]
    try:
        return orjson.loads(repair(candidate))
    except orjson.JSONDecodeError:
        raise InvalidCall(f"the block is not valid JSON ({first})") from None


def repair(text: str) -> str:
    """Raw newlines/tabs in strings escaped, trailing commas dropped, unclosed strings and brackets closed."""
    out: list[str] = []
    stack: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
            elif ch == "\n":
                ch = "\\n"
            elif ch == "\t":
                ch = "\\t"
            elif ch == "\r":
                ch = "\\r"
            out.append(ch)
            continue
        if ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
        elif ch in "}]":
            _drop_trailing_comma(out)
            if stack:
                stack.pop()
        out.append(ch)
    if in_string:
        out.append('"')
    for closer in reversed(stack):
        _drop_trailing_comma(out)
        out.append(closer)
    return "".join(out)


def _drop_trailing_comma(out: list[str]) -> None:
    i = len(out) - 1
    while i >= 0 and out[i].isspace():
        i -= 1
    if i >= 0 and out[i] == ",":
        del out[i]


def schema_errors(instance, schema: dict) -> list[str]:
    """Messages of the JSON Schema violations (Draft 2020-12 unless the schema says otherwise)."""
    try:
        cls = validators.validator_for(schema, default=validators.Draft202012Validator)
        validator = cls(schema)
        return [_where(e) + e.message for e in validator.iter_errors(instance)][:5]
    except SchemaError as exc:   # checked at request time; a schema that still breaks is not the model's fault
        log.warning("tool schema failed to load: %s", exc.message)
        return []


def _where(error) -> str:
    path = "/".join(str(p) for p in error.absolute_path)
    return f"at '{path}': " if path else ""


def parse_call(body: str, protocol: Protocol, index: int) -> ToolCall:
    """A block's text -> a validated ToolCall, or InvalidCall saying what is wrong."""
    text = _FENCE.sub("", body.strip()).strip()
    call = loads_lenient(text)
    if not isinstance(call, dict):
        raise InvalidCall('the block must be one JSON object {"name": ..., "arguments": {...}}')
    name = call.get("name")
    tool = protocol.tools.get(name) if isinstance(name, str) else None
    if tool is None or not isinstance(name, str):
        raise InvalidCall(f"unknown function {name!r}; the functions you can call are: "
                          + ", ".join(protocol.tools))
    arguments = call.get("arguments", {})
    if isinstance(arguments, str):
        arguments = loads_lenient(arguments) if arguments.strip() else {}
    if not isinstance(arguments, dict):
        raise InvalidCall("'arguments' must be a JSON object")
    arguments = _coerce_numbers(arguments, tool.parameters)
    errors = schema_errors(arguments, tool.parameters)
    if errors:
        if tool.strict:
            raise InvalidCall(f"the arguments of {name} do not match its parameters: " + "; ".join(errors))
        log.info("arguments of %s do not match its schema (passed on, the tool is not strict): %s",
                 name, "; ".join(errors))
    return ToolCall(index, call_id(), name, orjson.dumps(arguments).decode())


def _coerce_numbers(arguments: dict, schema: dict) -> dict:
    """A numeric string where the schema wants a number becomes the number (top level only)."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return arguments
    out = arguments
    for key, value in arguments.items():
        kind = (properties.get(key) or {}).get("type") if isinstance(properties.get(key), dict) else None
        if isinstance(value, str) and kind in ("number", "integer"):
            try:
                number = int(value) if kind == "integer" else float(value)
            except ValueError:
                continue
            out = dict(out) if out is arguments else out
            out[key] = number
    return out


# ---------------------------------------------------------------- detector

TEXT, CALL, AFTER, DONE = "text", "call", "after", "done"


class CallDetector:
    """Feed it the renderer's pieces, then ``close()``; see the module docstring.

    After the stream: ``calls`` (what was emitted), ``failure`` (the raw block
    and the reason when the first call was unusable), ``done`` (stop reading).
    """

    def __init__(self, protocol: Protocol):
        self.protocol = protocol
        self.calls: list[ToolCall] = []
        self.failure: tuple[str, str] | None = None
        self.state = TEXT
        self._opens = [open_ for open_, _ in protocol.markers]
        self._closes = [close for _, close in protocol.markers]
        self._hold = max(len(m) for m in self._opens) - 1
        self._pending = ""     # TEXT: held-back tail; CALL: the block so far; AFTER: text after a call
        self._open = ""        # the open marker of the current block
        self._scanned = 0      # CALL: how much of the block was searched for a close marker already
        self._close_len = max(len(m) for m in self._closes)

    @property
    def done(self) -> bool:
        return self.state == DONE

    def feed(self, pieces: list[Piece]) -> list[Event]:
        if self.state == TEXT and not self._pending:
            for kind, text in pieces:       # the hot path: plain text goes on as it is
                if kind == CONTENT and ("⟦" in text or "[" in text):
                    break
            else:
                return pieces
        out: list[Event] = []
        for piece in pieces:
            if self.state == DONE:
                break
            if piece[0] != CONTENT:
                out.append(piece)          # reasoning is never searched
            elif self.state == TEXT:
                self._text(piece[1], out)
            else:
                self._pending += piece[1]
                self._advance(out)
        return out

    def close(self, cut: bool = False) -> list[Event]:
        """The upstream answer ended (``cut``: by a length limit, so a half block is dropped)."""
        out: list[Event] = []
        if self.state == TEXT and self._pending:
            out.append((CONTENT, self._pending))
        elif self.state == CALL and not cut:
            self._finish_block(self._pending, out)   # models often omit the close marker at the end
        self._pending = ""
        self.state = DONE
        return out

    # -- states ---------------------------------------------------------------

    def _text(self, text: str, out: list[Event]) -> None:
        if self._pending:
            text = self._pending + text
            self._pending = ""
        if "⟦" not in text and "[" not in text:      # the hot path: plain text
            out.append((CONTENT, text))
            return
        found = self._find(text, self._opens)
        if found is None:
            keep = self._held_tail(text)
            if keep:
                self._pending = text[-keep:]
                text = text[:-keep]
            if text:
                out.append((CONTENT, text))
            return
        at, marker = found
        if at:
            out.append((CONTENT, text[:at]))
        self._open, self._pending, self.state, self._scanned = marker, text[at + len(marker):], CALL, 0
        self._advance(out)

    def _advance(self, out: list[Event]) -> None:
        """CALL / AFTER with ``_pending`` grown: finish blocks, start the next, or stop."""
        while True:
            if self.state == CALL:
                # Search only what came since the last look (a long block would cost its square).
                found = self._find(self._pending, self._closes, max(0, self._scanned - self._close_len + 1))
                if found is None:
                    self._scanned = len(self._pending)
                    return
                self._scanned = 0
                at, marker = found
                body, self._pending = self._pending[:at], self._pending[at + len(marker):]
                if not self._finish_block(body, out):
                    return
                self.state = AFTER if self.protocol.parallel else DONE
            if self.state != AFTER:
                return
            rest = self._pending.lstrip()
            opener = next((m for m in self._opens if rest.startswith(m)), None)
            if opener is not None:
                self._open, self._pending, self.state = opener, rest[len(opener):], CALL
                continue
            if rest and not any(m.startswith(rest) for m in self._opens):
                self.state = DONE       # anything else after a call is not for the client
            return

    def _finish_block(self, body: str, out: list[Event]) -> bool:
        try:
            call = parse_call(body, self.protocol, len(self.calls))
        except InvalidCall as exc:
            if not self.calls:
                self.failure = (f"{self._open}{body}{self._closes[self._opens.index(self._open)]}", str(exc))
            else:
                log.info("dropping an invalid call after %d good ones: %s", len(self.calls), exc)
            self.state = DONE
            return False
        self.calls.append(call)
        out.append((TOOL_CALL, call))
        return True

    # -- helpers --------------------------------------------------------------

    @staticmethod
    def _find(text: str, markers: list[str], start: int = 0) -> tuple[int, str] | None:
        best = None
        for marker in markers:
            at = text.find(marker, start)
            if at >= 0 and (best is None or at < best[0]):
                best = (at, marker)
        return best

    def _held_tail(self, text: str) -> int:
        """Length of the longest tail of ``text`` that is a proper prefix of an open marker."""
        window = text[-self._hold:]
        for i, ch in enumerate(window):
            if ch in "⟦[":
                tail = window[i:]
                if any(m.startswith(tail) for m in self._opens):
                    return len(tail)
        return 0
