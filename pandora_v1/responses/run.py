"""One agent turn of the chat pipeline, delivered as a Response or its event stream.

The request's tools and text format are planned by the same engine as
``/v1/chat/completions`` (``translate/tools.plan_turn`` and
``translate/agent.AgentTurn``: the injected protocol, the call detector, the
JSON transform, the invisible retry). ``ResponseRun`` reads the engine's
typed events (text, reasoning, whole function calls) and feeds them to a
``ResponseEncoder``; the stream and the non-stream Response come from the
same loop. How the turn ends decides the last event:

  finished (text or calls)                   response.completed
  cut (size/time limit, max_output_tokens)   response.incomplete (max_output_tokens)
  blocked by moderation                      response.incomplete (content_filter)
  a failure mid-answer                       response.failed (streams; non-stream: the HTTP error)

A stored response (``store`` true) is written before its last event goes
out, so a client that follows up at once finds it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace

from .. import tokens
from ..errors import APIError
from ..translate.agent import AgentTurn
from ..translate.render import CONTENT, REASONING
from ..translate.request import ChatMessage, ChatRequest
from ..translate.tools import Turn, plan_turn
from . import objects
from .events import SSE_KEEPALIVE, ResponseEncoder
from .request import ResponsesRequest
from .state import ResponseStore

log = logging.getLogger(__name__)

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


class AnswerSource:
    """The chat pipeline's ``Answer`` as the engine's ``Source``."""

    def __init__(self, answer):
        self.answer = answer

    def batches(self, keepalive: float | None = None):
        return self.answer.translation.batches(keepalive)

    @property
    def finish_reason(self) -> str:
        return self.answer.translation.finish_reason

    def stop(self) -> None:
        self.answer.finish()


def plan(chat: ChatRequest, tool_settings=None) -> Turn:
    """The upstream messages of a request (tool protocol and format instruction injected)."""
    fields = chat.tools
    return plan_turn(chat.messages, fields.tools, fields.choice, fields.parallel, fields.legacy,
                     fields.response_format,
                     max_catalog_chars=getattr(tool_settings, "max_catalog_chars", 200_000),
                     enabled=getattr(tool_settings, "enabled", True))


class ResponseRun:
    """``start(extra)`` starts one upstream answer (an ``Answer``) for the planned messages plus
    ``extra``; it is called once now (errors before the answer raise from here) and again
    for the engine's retry."""

    def __init__(self, request: ResponsesRequest, turn: Turn, slug: str,
                 start: Callable[[tuple[ChatMessage, ...]], object], states: ResponseStore,
                 retry_attempts: int = 1):
        self.request = request
        self.turn = turn
        self.slug = slug
        self.states = states
        self._start = start
        self._answers: list = []
        self.engine = AgentTurn(turn, self._source(()), self._source, stream=request.stream,
                                retry_attempts=retry_attempts)
        self.encoder = ResponseEncoder(objects.response(request), request.summary, request.stream)
        self._budget = request.max_output_tokens   # the client's limit on output tokens, if any
        self._bytes = 0                             # UTF-8 size of the output so far (with a limit)
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._arguments: list[str] = []
        self._cut = False

    def _source(self, extra: tuple[ChatMessage, ...]) -> AnswerSource:
        for answer in self._answers:     # a retry: the answer before it is over
            answer.finish()
        answer = self._start(self.turn.messages + tuple(extra))
        self._answers.append(answer)
        return AnswerSource(answer)

    def _finish(self, drain: float = 0.0) -> None:
        for answer in self._answers:
            answer.finish(drain)

    # --------------------------------------------------------- delivery

    def response(self) -> dict:
        """The whole Response (non-stream). Failures raise APIError, as chat's do."""
        try:
            for _ in self._events(None):
                pass
        finally:
            self._finish()
        final, _ = self._ending()
        return final

    def events(self, keepalive: float) -> Iterator[bytes]:
        """The event stream; keep-alive comments while the upstream is silent."""
        try:
            yield self.encoder.started()
            try:
                yield from self._events(keepalive)
            except APIError as exc:
                code = "rate_limit_exceeded" if exc.status == 429 else "server_error"
                yield self._ending(failure=(code, exc.message))[1]
                return
            except Exception:  # noqa: BLE001 - the stream must end in a Response event, whatever broke
                log.exception("responses stream failed")
                yield self._ending(failure=("server_error", "The server failed while streaming the answer."))[1]
                return
            yield self._ending()[1]
        finally:
            self._finish(drain=0.05)

    # --------------------------------------------------------- the loop

    def _events(self, keepalive: float | None) -> Iterator[bytes]:
        encoder = self.encoder
        first = True
        for batch in self.engine.events(keepalive):
            if not batch:
                yield SSE_KEEPALIVE
                continue
            if first:
                first = False
                self._answers[-1]._first_token()
            out = []
            for kind, value in batch:
                if kind == CONTENT or kind == REASONING:
                    if self._budget is not None:
                        value = self._within_budget(kind, value)
                    if kind == CONTENT:
                        self._content.append(value)
                        out.append(encoder.text(value))
                    else:
                        self._reasoning.append(value)
                        out.append(encoder.reasoning(value))
                    if self._cut:
                        break
                else:           # a whole, validated function call
                    self._arguments.append(value.arguments)
                    out.append(encoder.call_start(value.id, value.name))
                    out.extend(encoder.call_arguments(f) for f in value.fragments())
                    out.append(encoder.close())
            yield b"".join(out)
            if self._cut:
                self.engine.source.stop()     # the client's limit is reached: stop reading
                return

    def _within_budget(self, kind: str, text: str) -> str:
        """``text`` cut where the answer reaches ``max_output_tokens``.

        Counted on the whole output so far (tokens merge across pieces), and
        only once its UTF-8 size could exceed the limit: a token is at least a byte.
        """
        mine, other = (self._content, self._reasoning) if kind == CONTENT else (self._reasoning, self._content)
        self._bytes += len(text.encode())
        if self._bytes <= self._budget:
            return text
        encoding = tokens.encoding_for(self.slug)
        before = "".join(mine)
        ids = encoding.encode(before + text, disallowed_special=())
        allowed = self._budget - tokens.count("".join(other), self.slug)
        if len(ids) <= allowed:
            return text
        self._cut = True
        kept = encoding.decode(ids[:max(0, allowed)])
        return kept[len(before):] if kept.startswith(before) else ""

    def _usage(self) -> dict:
        slug = self.slug
        reasoning = tokens.count("".join(self._reasoning), slug)
        output = tokens.count("".join(self._content), slug) + reasoning \
            + sum(tokens.count(a, slug) for a in self._arguments)
        # The rendered prompt: the injected tool protocol counts, as in chat.
        return objects.usage(tokens.prompt_tokens(self.turn.messages, slug), output, reasoning)

    def _ending(self, failure: tuple[str, str] | None = None) -> tuple[dict, bytes]:
        encoder = self.encoder
        if failure is not None:
            final, out = encoder.failed(*failure, usage=self._usage())
        else:
            reason = "length" if self._cut else self.engine.finish_reason
            if reason in _INCOMPLETE:
                final, out = encoder.incomplete(self._usage(), _INCOMPLETE[reason])
            else:
                final, out = encoder.completed(self._usage())
        if self.request.store:
            try:
                self.states.save(final, self.request.items)
            except APIError as exc:   # the answer still goes out; a follow-up will say what is missing
                log.warning("could not store response %s: %s", final["id"], exc.message)
        return final, out


def start_run(request: ResponsesRequest, slug: str, start_answer: Callable[[ChatRequest], object],
              states: ResponseStore, tool_settings=None) -> ResponseRun:
    """Plan the turn and start its first upstream answer (``start_answer(chat)`` -> ``Answer``)."""
    turn = plan(request.chat, tool_settings)
    return ResponseRun(request, turn, slug,
                       lambda messages: start_answer(replace(request.chat, messages=messages)),
                       states, retry_attempts=getattr(tool_settings, "retry_attempts", 1))
