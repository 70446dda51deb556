"""One agent turn: upstream answers -> typed events, with the detector, the JSON transform and retries.

API-agnostic. The caller starts the first upstream answer itself (so errors
before the answer keep their HTTP status) and passes a ``restart`` callable
that starts another one with extra messages appended, for the one retry
(agents-spec A.3.4, A.4). Each answer is a ``Source``.

    turn = plan_turn(...)                       # translate/tools.py
    engine = AgentTurn(turn, first_source, restart, stream=True, retry_attempts=1)
    for events in engine.events(keepalive):    # [] = nothing for a while (keep-alive)
        for kind, value in events:             # CONTENT/REASONING str, TOOL_CALL ToolCall
            ...
    engine.finish_reason     # stop | length | content_filter | tool_calls
    engine.calls             # the ToolCalls emitted
    engine.content, engine.reasoning   # all text emitted, for usage and non-stream bodies

Rules:
* text streams as it comes; a started call is never taken back (calls are
  emitted whole, after validation);
* a retry happens only while it is invisible: in a stream, content already
  sent is not repeated, and the retry's own text is dropped when some went out;
* when ``buffered`` (non-stream, or a strict response_format) an attempt's
  events are held until it is accepted, so a retry replaces it cleanly;
* after the last attempt: ``auto`` gets the raw block as text and
  finish_reason stop; required / named gets ``APIError(502, tool_call_failed)``;
  a strict response_format gets ``APIError(502, json_validation_failed)``.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Protocol as TypingProtocol

from ..errors import APIError
from ..translate.render import CONTENT, REASONING, Piece
from ..translate.request import ChatMessage
from .detector import DONE, TOOL_CALL, CallDetector, Event, ToolCall
from .prompt import Turn
from .structured import JsonText, json_error

log = logging.getLogger(__name__)


class Source(TypingProtocol):
    """One upstream answer (chat's ``Answer`` is one)."""
    def batches(self, keepalive: float | None = None) -> Iterator[list[Piece]]: ...
    @property
    def finish_reason(self) -> str: ...
    def stop(self) -> None: ...      # no more is wanted: close the upstream now


class Counters(TypingProtocol):
    def retry(self, reason: str) -> None: ...
    def failure(self, reason: str) -> None: ...


class _NoCounters:
    def retry(self, reason: str) -> None:
        pass

    def failure(self, reason: str) -> None:
        pass


def retry_message(kind: str, reason: str, turn: Turn) -> str:
    if kind == "call" and turn.protocol is not None:
        open_, close = turn.protocol.markers[0]
        return (f"Your function call was invalid: {reason}. Reply again with only the corrected "
                f"{open_} ... {close} block.")
    return f"Your reply was invalid: {reason}. Reply again with only the corrected JSON object."


class AgentTurn:
    def __init__(self, turn: Turn, first: Source, restart: Callable[[tuple[ChatMessage, ...]], Source],
                 *, stream: bool, retry_attempts: int = 1, counters: Counters | None = None,
                 on_done: Callable[[], None] | None = None):
        self.turn = turn
        self.protocol = turn.protocol
        self.format = turn.response_format
        self.source = first
        self._restart = restart
        self._retries_left = max(0, retry_attempts)
        self._counters = counters or _NoCounters()
        self.buffered = not stream or bool(self.format and self.format.strict)
        self.sent: list[list[Event]] = []   # the event lists handed out (tallied only when asked)
        self.finish_reason = "stop"
        self.retries = 0
        self._on_done = on_done       # called once the turn is accepted, before the caller's last event

    def _values(self, kind: str, start: int = 0) -> list:
        return [value for events in self.sent[start:] for k, value in events if k == kind]

    @property
    def content(self) -> str:
        return "".join(self._values(CONTENT))

    @property
    def reasoning(self) -> str:
        return "".join(self._values(REASONING))

    @property
    def calls(self) -> list[ToolCall]:
        return self._values(TOOL_CALL)

    @property
    def legacy(self) -> bool:
        return bool(self.protocol and self.protocol.legacy)

    def events(self, keepalive: float | None = None) -> Iterator[list[Event]]:
        first_failure: tuple[list[Event], str] | None = None    # (its events, raw block) for the fallback
        while True:
            attempt = _Attempt(self)
            held: list[Event] = []
            detector, feed, sent, buffered = attempt.detector, attempt.feed, self.sent, self.buffered
            for batch in self.source.batches(keepalive):   # the hot path: one pass per upstream read
                if not batch:
                    yield []
                    continue
                out = feed(batch)
                if out:
                    if buffered:
                        held.extend(out)
                    else:
                        sent.append(out)
                        yield out
                if detector is not None and detector.state is DONE:
                    self.source.stop()
                    break
            tail = attempt.close(self.source.finish_reason == "length")
            if self.buffered:
                held.extend(tail)
            elif tail:
                yield self._emitted(tail)
            problem = attempt.problem(held)
            if problem is None:
                if held:
                    yield self._emitted(held)
                self.finish_reason = ("function_call" if self.legacy else "tool_calls") if self.calls \
                    else self.source.finish_reason
                if self._on_done is not None:
                    self._on_done()
                return
            kind, reason, raw = problem
            if first_failure is None:
                first_failure = (held, raw)
            self._counters.failure(kind)
            if self._retries_left:
                self._retries_left -= 1
                self.retries += 1
                self._counters.retry(kind)
                log.info("retrying an invalid answer: %s", reason[:300])
                extra = (ChatMessage("assistant", attempt.text(held) + raw),
                         ChatMessage("user", retry_message(kind, reason, self.turn)))
                self.source = self._restart(extra)
                continue
            yield from self._give_up(kind, reason, first_failure)
            return

    def _give_up(self, kind: str, reason: str, first_failure) -> Iterator[list[Event]]:
        if kind == "json":
            if self.format is not None and self.format.strict:
                raise APIError(502, f"The model's reply was not valid JSON for the response format: {reason}",
                               code="json_validation_failed")
            events = first_failure[0] if self.buffered else []
        elif self.protocol is not None and self.protocol.required:
            raise APIError(502, f"The model did not make a valid function call: {reason}",
                           code="tool_call_failed")
        else:
            held, raw = first_failure
            events = (list(held) if self.buffered else []) + ([(CONTENT, raw)] if raw else [])
        self.finish_reason = self.source.finish_reason if self.source.finish_reason != "tool_calls" else "stop"
        if events:
            yield self._emitted(events)

    def _emitted(self, events: list[Event]) -> list[Event]:
        self.sent.append(events)
        return events


def _same(batch: list[Piece]) -> list[Piece]:
    return batch


class _Attempt:
    """One upstream answer through the detector and the JSON transform."""

    def __init__(self, turn: AgentTurn):
        self.turn = turn
        self.detector = CallDetector(turn.protocol) if turn.protocol is not None else None
        self.json = JsonText() if turn.format is not None else None
        self._start = len(turn.sent)
        self._json_text: list[str] = []   # with a response format: the transformed text, to validate
        # A retry in a stream whose client already has text: its own text would repeat it.
        self._drop_text = turn.retries > 0 and not turn.buffered and bool(turn._values(CONTENT))
        self._plain = self.json is None and not self._drop_text
        if self._plain:   # nothing to rework after the detector: hand its output on directly
            self.feed = self.detector.feed if self.detector is not None else _same  # type: ignore[method-assign,assignment]

    def feed(self, batch: list[Piece]) -> list[Event]:
        events = self.detector.feed(batch) if self.detector is not None else batch
        return events if self._plain else self._content(events)

    def close(self, cut: bool) -> list[Event]:
        out = self.detector.close(cut) if self.detector is not None else []
        if not self._plain:
            out = self._content(out)
        rest = self.json.close() if self.json is not None else ""
        if rest:
            self._json_text.append(rest)
            if not self._drop_text:
                out.append((CONTENT, rest))
        return out

    def _content(self, events: list[Event]) -> list[Event]:
        out = []
        for kind, value in events:
            if kind == CONTENT:
                if self.json is not None:
                    value = self.json.feed(value)
                    if not value:
                        continue
                    self._json_text.append(value)
                if self._drop_text:
                    continue
            out.append((kind, value))
        return out

    def text(self, held: list[Event]) -> str:
        """What this attempt said (for the retry's transcript)."""
        if self.json is not None:
            return "".join(self._json_text)
        sent = self.turn._values(CONTENT, self._start)
        return "".join(sent + [v for k, v in held if k == CONTENT])

    def problem(self, held: list[Event]) -> tuple[str, str, str] | None:
        """(kind "call" | "json", reason, raw block) when this attempt is not acceptable."""
        detector, turn = self.detector, self.turn
        if detector is not None:
            if detector.failure is not None:
                return "call", detector.failure[1], detector.failure[0]
            if detector.calls:
                return None
            if turn.protocol is not None and turn.protocol.required:
                return "call", "no function call was made, but one is required", ""
        if self.json is not None and turn.format is not None and turn.source.finish_reason == "stop":
            if not turn.buffered and turn._values(CONTENT):
                return None     # the client has the text already: too late to try again
            error = json_error(self.text(held), turn.format)
            if error is not None:
                return "json", error, ""
        return None
