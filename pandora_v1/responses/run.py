"""One answer of the chat pipeline, delivered as a Response or its event stream.

``ResponseRun`` reads the same pieces ``/v1/chat/completions`` encodes as
chunks and feeds them to a ``ResponseEncoder``; the stream and the
non-stream Response come from the same loop. How the answer ends decides
the last event:

  the upstream finished              response.completed
  cut (size/time limit, max_output_tokens)   response.incomplete (max_output_tokens)
  blocked by moderation              response.incomplete (content_filter)
  an upstream failure mid-answer     response.failed (streams; non-stream: the HTTP error)

A stored response (``store`` true) is written before its last event goes
out, so a client that follows up at once finds it.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator

from .. import tokens
from ..errors import APIError
from ..translate.render import CONTENT
from . import objects
from .events import SSE_KEEPALIVE, ResponseEncoder
from .request import ResponsesRequest
from .state import ResponseStore

log = logging.getLogger(__name__)

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


class ResponseRun:
    def __init__(self, request: ResponsesRequest, answer, states: ResponseStore):
        self.request = request
        self.answer = answer             # the chat pipeline's Answer (translation, finish)
        self.states = states
        self.encoder = ResponseEncoder(objects.response(request), request.summary, request.stream)
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._budget = request.max_output_tokens   # the client's limit on output tokens, if any
        self._bytes = 0                              # UTF-8 size of the output so far (with a limit)
        self._cut = False

    # --------------------------------------------------------- delivery

    def response(self) -> dict:
        """The whole Response (non-stream). Upstream failures raise APIError as chat's do."""
        try:
            for _ in self._events(None):
                pass
        finally:
            self.answer.finish()
        final, _ = self._ending()
        return final

    def events(self, keepalive: float) -> Iterator[bytes]:
        """The event stream; keep-alive comments while the upstream is silent."""
        encoder = self.encoder
        try:
            yield encoder.started()
            try:
                yield from self._events(keepalive)
            except APIError as exc:
                code = "rate_limit_exceeded" if exc.status == 429 else "server_error"
                _, out = self._ending(failure=(code, exc.message))
                yield out
                return
            except Exception:  # noqa: BLE001 - the stream must end in a Response event, whatever broke
                log.exception("responses stream failed")
                _, out = self._ending(failure=("server_error", "The server failed while streaming the answer."))
                yield out
                return
            _, out = self._ending()
            yield out
        finally:
            self.answer.finish(drain=0.05)

    # --------------------------------------------------------- the loop

    def _events(self, keepalive: float | None) -> Iterator[bytes]:
        encoder, answer = self.encoder, self.answer
        started = False
        for batch in answer.translation.batches(keepalive):
            if not batch:
                yield SSE_KEEPALIVE
                continue
            if not started:
                started = True
                answer._first_token()
            out = []
            for kind, text in batch:
                if self._budget is not None:
                    text = self._within_budget(kind, text)
                if kind == CONTENT:
                    self._content.append(text)
                    out.append(encoder.text(text))
                else:
                    self._reasoning.append(text)
                    out.append(encoder.reasoning(text))
                if self._cut:
                    break
            yield b"".join(out)
            if self._cut:
                answer.finish()          # stop reading: the client's limit is reached
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
        slug = self.answer.slug
        before = "".join(mine)
        ids = tokens.encoding_for(slug).encode(before + text, disallowed_special=())
        allowed = self._budget - tokens.count("".join(other), slug)
        if len(ids) <= allowed:
            return text
        self._cut = True
        kept = tokens.encoding_for(slug).decode(ids[:max(0, allowed)])
        return kept[len(before):] if kept.startswith(before) else ""

    def _usage(self) -> dict:
        slug = self.answer.slug
        reasoning = tokens.count("".join(self._reasoning), slug)
        output = tokens.count("".join(self._content), slug) + reasoning
        return objects.usage(tokens.prompt_tokens(self.request.chat.messages, slug), output, reasoning)

    def _ending(self, failure: tuple[str, str] | None = None) -> tuple[dict, bytes]:
        encoder = self.encoder
        if failure is not None:
            final, out = encoder.failed(*failure, usage=self._usage())
        else:
            reason = "length" if self._cut else self.answer.translation.finish_reason
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
