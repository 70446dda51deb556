"""One agent turn of the answer pipeline, delivered as a Response or its event stream.

The request's tools and text format go through the same engine as
``/v1/chat/completions`` (``agent_answer.AgentAnswer``: the planned prompt,
the call detector, the JSON transform, the invisible retry, every upstream
answer finished). ``ResponseRun`` reads the engine's typed events (text,
reasoning, whole function calls) and feeds them to a ``ResponseEncoder``;
the stream and the non-stream Response come from the same loop. How the
turn ends decides the last event:

  finished (text or calls)                   response.completed
  cut (size/time limit, max_output_tokens)   response.incomplete (max_output_tokens)
  blocked by moderation                      response.incomplete (content_filter)
  a failure mid-answer                       response.failed (streams; non-stream: the HTTP error)

A stored response (``store`` true) is written before its last event goes
out, so a client that follows up at once finds it.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

from ..answer.agent import AgentAnswer, plan
from ..answer.budget import OutputBudget
from ..answer.pipeline import account, open_thread
from ..answer.sse import SSE_KEEPALIVE
from ..errors import APIError
from ..metering import ledger
from ..runtime.store import StoreUnavailable
from ..tools.detector import TOOL_CALL
from ..translate.hosted import IMAGE
from ..translate.render import CONTENT, REASONING, RenderOptions
from ..usage import tokens
from . import objects
from .events import ResponseEncoder
from .request import ResponsesRequest
from .state import ResponseStore

log = logging.getLogger(__name__)

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


class ResponseRun:
    """``agent`` is the turn's ``AgentAnswer`` (or anything with its ``turn``, ``chat``, ``finish``,
    ``annotations`` and ``annotation_count``); ``slug`` the upstream model, for token counts."""

    def __init__(self, request: ResponsesRequest, agent, slug: str, states: ResponseStore):
        self.request = request
        self.agent = agent
        self.engine = agent.turn
        self.slug = slug
        self.states = states
        self.encoder = ResponseEncoder(objects.response(request), request.summary, request.stream,
                                       request.hosted, request.include)
        self.encoder.annotate = agent.annotations
        # The client's max_output_tokens as a cut; it also keeps the text and reasoning sent, by kind.
        self.budget = OutputBudget(request.max_output_tokens, slug)

    @classmethod
    def start(cls, services, request: ResponsesRequest, entry, creds, states: ResponseStore, *,
              public_url: str, started: float | None = None, watch=None) -> "ResponseRun":
        """Plan the turn and start its first upstream answer (errors before it raise from here).

        The hosted tools the request listed render as their items; the rest as text."""
        chat = replace(request.chat, stream=request.stream)
        thread = open_thread(services, chat, entry, creds)   # previous_response_id or a replayed history
        turn = plan(services, chat.messages, chat.tools, thread)
        image = request.hosted.get(IMAGE) or {}
        options = RenderOptions(inline_citations=chat.hosted.search, hosted=frozenset(request.hosted),
                                partial_images=image.get("partial_images") or 0)
        reasoning = request.echo.get("reasoning") or {}
        if reasoning.get("effort") is None and services.catalog.efforts(entry, creds, fetch=False):
            # A reasoning model's own default, as OpenAI echoes it (platform-spec §3.2).
            request = replace(request, echo={**request.echo, "reasoning": {**reasoning, "effort": "medium"}})
        agent = AgentAnswer.start(services, chat, turn, entry, creds, public_url=public_url, started=started,
                                  watch=watch, thread=thread, options=options)
        return cls(request, agent, entry.slug, states)

    @property
    def upstream_status(self):
        return self.agent.upstream_status

    def _finish(self, drain: float = 0.0) -> None:
        self.agent.finish(drain)

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
            if not ledger.current().noted:      # the client left: what it was sent until then counts
                try:
                    self._accounted(self._usage())
                except Exception:  # noqa: BLE001 - accounting must not hide the stream's own ending
                    log.exception("counting the usage of a broken stream failed")

    # --------------------------------------------------------- the loop

    def _events(self, keepalive: float | None) -> Iterator[bytes]:
        encoder = self.encoder
        for batch in self.engine.events(keepalive):
            if not batch:
                yield SSE_KEEPALIVE
                continue
            out = []
            for kind, value in batch:
                if kind == CONTENT or kind == REASONING:
                    value = self.budget.take(kind, value)
                    if kind == CONTENT:
                        out.append(encoder.text(value))
                        # A link ends with ")": annotation.added right after the delta completing it.
                        if ")" in value and self.agent.annotation_count() > encoder.announced:
                            out.append(encoder.announce())
                    else:
                        out.append(encoder.reasoning(value))
                    if self.budget.reached:
                        break
                elif kind == TOOL_CALL:           # a whole, validated function call
                    out.append(encoder.call_start(value.id, value.name))
                    out.extend(encoder.call_arguments(f) for f in value.fragments())
                    out.append(encoder.close())
                else:                             # a hosted tool's step (translate/hosted.py)
                    out.append(encoder.hosted(kind, value))
            yield b"".join(out)
            if self.budget.reached:
                self.agent.finish()           # the client's limit is reached: close the upstream now
                return

    def _usage(self) -> dict:
        slug = self.slug
        sent = self.budget.texts
        reasoning = tokens.count("".join(sent.get(REASONING, ())), slug)
        output = tokens.count("".join(sent.get(CONTENT, ())), slug) + reasoning \
            + sum(tokens.count(call.arguments, slug) for call in self.engine.calls) \
            + sum(tokens.count(code, slug) for code in self.encoder.code)
        # The rendered prompt: the injected tool protocol counts, as in chat.
        return objects.usage(tokens.prompt_tokens(self.agent.chat.messages, slug), output, reasoning)

    def _accounted(self, usage: dict) -> dict:
        """``usage`` as the Response carries it, reported for the key's usage."""
        account(getattr(self.agent, "answers", ()), usage["input_tokens"], usage["output_tokens"])
        return usage

    def _ending(self, failure: tuple[str, str] | None = None) -> tuple[dict, bytes]:
        encoder = self.encoder
        usage = self._accounted(self._usage())
        if failure is not None:
            final, out = encoder.failed(*failure, usage=usage)
        else:
            reason = "length" if self.budget.reached else self.engine.finish_reason
            if reason in _INCOMPLETE:
                final, out = encoder.incomplete(usage, _INCOMPLETE[reason])
            else:
                final, out = encoder.completed(usage)
        if self.request.store:
            try:
                self.states.save(final, self.request.items)
            except StoreUnavailable as exc:   # the answer still goes out; a follow-up will say what is missing
                log.warning("could not store response %s: %s", final["id"], exc)
        return final, out
