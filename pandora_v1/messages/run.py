"""One Messages request answered by an agent turn, delivered as a ``message`` or its event stream.

The turn is the same engine ``/v1/chat/completions`` and ``/v1/responses`` use (``AgentAnswer``: the
planned prompt, the call detector, the JSON transform, the invisible retry, every upstream answer
finished). ``MessageRun`` reads its typed events (text, reasoning, whole tool calls) and feeds them to a
``MessageEncoder``; the stream and the non-stream message come from the same loop. How the turn ends:

  finished with text                         stop_reason end_turn
  finished with tool calls                   tool_use
  max_tokens (capped to what the context     max_tokens
  window leaves), the upstream's own cut
  one of stop_sequences in the text          stop_sequence (and the sequence)
  blocked by moderation                      refusal
  a failure mid-answer                       an ``error`` event (streams; non-stream: the HTTP error)

Before anything goes upstream the prompt is checked against the context window; its input tokens are
counted while the upstream starts answering (``message_start`` carries them).

With the web search tool listed, the upstream's searches come as typed steps (translate/hosted.py), each
a ``server_tool_use`` and a ``web_search_tool_result`` block, and its citations silently (no link in the
text, translate/citations.py): the text is cut where they stand into claims (claims.py), each with its
``web_search_result_location`` citations (search.py).
"""
from __future__ import annotations

import logging
from collections.abc import Iterator

from ..answer.agent import AgentAnswer
from ..answer.budget import OutputBudget
from ..answer.pipeline import account, open_thread
from ..errors import APIError
from ..metering import ledger
from ..translate.citations import span
from ..translate.hosted import DONE, SEARCH
from ..translate.render import CONTENT, REASONING, RenderOptions
from ..usage import tokens
from . import search
from .claims import Claims
from .errors import error_event
from .events import PING, MessageEncoder, usage
from .prompt import check_window, input_tokens, plan_prompt, prompt_too_long
from .request import MessagesRequest
from .stops import StopSequences

log = logging.getLogger(__name__)

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
                "content_filter": "refusal"}


class MessageRun:
    def __init__(self, request: MessagesRequest, agent, slug: str, input_tokens: int, window: int):
        self.request = request
        self.agent = agent
        self.engine = agent.turn
        self.slug = slug
        self.input_tokens = input_tokens
        self.encoder = MessageEncoder(request.chat.model, request.stream, request.thinking)
        limit = request.max_tokens
        # Claude Code asks 128,000 on every call: a ceiling, capped to what the window leaves (§6.8).
        self.budget = OutputBudget(None if limit is None else min(limit, max(0, window - input_tokens)), slug)
        self.stops = StopSequences(request.stop_sequences) if request.stop_sequences else None
        self._hidden: list[str] = []       # reasoning with thinking off: counted in usage, never shown
        self.searching = request.chat.hosted.search     # the web search tool is listed
        self.claims = Claims() if self.searching else None
        self._pages: dict[str, dict] = {}  # the pages the searches found, by URL (what citations quote)
        self._length = 0                   # characters of text given to the encoder
        self._cited = 0                    # citations of the answer taken so far

    @classmethod
    def start(cls, services, request: MessagesRequest, entry, creds, *, public_url: str,
              started: float | None = None, watch=None) -> "MessageRun":
        """Plan the turn, check the window, start its first upstream answer (errors before it raise here)."""
        window = services.settings.anthropic.context_window
        thread = open_thread(services, request.chat, entry, creds)   # Claude Code's loop goes on upstream
        turn = plan_prompt(services, request.chat, thread)
        counted = check_window(turn, entry.slug, window)
        # With web search listed, searches render as their steps and citations without links (search.py).
        options = RenderOptions(hosted=frozenset({SEARCH}), silent_citations=True) \
            if request.chat.hosted.search else None
        try:
            agent = AgentAnswer.start(services, request.chat, turn, entry, creds, public_url=public_url,
                                      started=started, watch=watch, thread=thread, options=options)
        except APIError as exc:
            if exc.upstream_status == 413:   # the upstream's own limit: the wording Claude Code compacts on
                counted = input_tokens(turn, entry.slug) if counted is None else counted
                raise prompt_too_long(counted, min(window, counted - 1)) from None
            request.rename(exc)
            raise
        # Counted while the upstream starts its answer: the count waits on the token server, not the worker.
        return cls(request, agent, entry.slug, input_tokens(turn, entry.slug) if counted is None else counted,
                   window)

    @property
    def upstream_status(self):
        return self.agent.upstream_status

    def finish(self, drain: float = 0.0) -> None:
        self.agent.finish(drain)

    # --------------------------------------------------------- delivery

    def message(self) -> dict:
        """The whole message (non-stream). Failures raise APIError."""
        try:
            for _ in self._events(None):
                pass
        finally:
            self.finish()
        return self.encoder.message(*self._stop(), self._accounted())

    def events(self, keepalive: float) -> Iterator[bytes]:
        """The event stream: ``message_start`` first, ``ping`` while the upstream is silent, ``error`` last
        when the answer fails."""
        try:
            yield self.encoder.start(self.input_tokens)
            try:
                yield from self._events(keepalive)
            except APIError as exc:
                yield error_event(exc)
                return
            except Exception:  # noqa: BLE001 - the stream must end in an Anthropic event, whatever broke
                log.exception("messages stream failed")
                yield error_event(APIError(500, "The server failed while streaming the answer."))
                return
            yield self.encoder.finish(*self._stop(), self._accounted())
        finally:
            self.finish(drain=0.05)
            if not ledger.current().noted:      # the client left or it failed: what was sent counts
                try:
                    self._accounted()
                except Exception:  # noqa: BLE001 - accounting must not hide the stream's own ending
                    log.exception("counting the usage of a broken stream failed")

    # --------------------------------------------------------- the loop

    def _events(self, keepalive: float | None) -> Iterator[bytes]:
        encoder, budget, stops = self.encoder, self.budget, self.stops
        shown = self.request.thinking != "off"
        for batch in self.engine.events(keepalive):
            if not batch:
                yield PING
                continue
            out = []
            for kind, value in batch:
                if kind == CONTENT:
                    out.append(self._text(stops.feed(value) if stops is not None else value))
                elif kind == REASONING:
                    if shown:
                        out.append(encoder.thought(budget.take(REASONING, value)))
                    else:
                        self._hidden.append(value)     # the upstream did think: usage counts it
                elif kind == SEARCH:
                    if value.step == DONE:
                        out.append(self._search(value.data))
                else:           # a whole, validated tool call
                    if stops is not None:
                        out.append(self._text(stops.flush()))
                    out.append(self._flushed())
                    budget.take("call", value.name + value.arguments, cut=False)
                    out.append(encoder.tool_use("toolu_" + value.id[len("call_"):], value.name, value.arguments,
                                                value.fragments()))
                if budget.reached or (stops is not None and stops.matched):
                    break
            if self.searching:
                out.append(self._text(""))     # citations whose marks resolved without more text
            yield b"".join(out)
            if budget.reached or (stops is not None and stops.matched):
                self.finish()           # nothing more is wanted: close the upstream now
                yield self._flushed()
                return
        if stops is not None:
            yield self._text(stops.flush())
        yield self._flushed()

    def _text(self, text: str) -> bytes:
        """Answer text, within max_tokens; with searches, cut where its citations stand (claims.py)."""
        text = self.budget.take(CONTENT, text)
        if self.claims is None:
            return self.encoder.text(text)
        start = self._length
        self._length += len(text)
        out, at = [], 0
        for position, citations in self._citations():
            cut = min(max(position - start, at), len(text))
            out.append(self.encoder.steps(self.claims.feed(text[at:cut]) + self.claims.cite(citations)))
            at = cut
        out.append(self.encoder.steps(self.claims.feed(text[at:])))
        return b"".join(out)

    def _citations(self) -> list[tuple[int, list[dict]]]:
        """The answer's new citations within the text given so far: (where, citations there)."""
        if self.agent.annotation_count() <= self._cited:
            return []
        found = self.agent.annotations("".join(self.budget.texts.get(CONTENT, ())))
        fresh, self._cited = found[self._cited:], max(self._cited, len(found))
        groups: list[tuple[int, list[dict]]] = []
        for annotation in fresh:
            if annotation["type"] != "url_citation":
                continue
            at, cited = span(annotation)["start_index"], search.citation(span(annotation), self._pages)
            if groups and groups[-1][0] == at:
                groups[-1][1].append(cited)
            else:
                groups.append((at, [cited]))
        return groups

    def _flushed(self) -> bytes:
        """The text held for a claim goes out (a search, a tool call or the end follows it)."""
        if self.claims is None:
            return b""
        return self._text("") + self.encoder.steps(self.claims.flush())

    def _search(self, data: dict) -> bytes:
        """A search the upstream ran: its blocks (a call that only opened a page has none)."""
        pages = data.get("results") or []
        for page in pages:
            self._pages.setdefault(page["url"], page)
        query = search.query_of(data.get("action") or {})
        if query is None:
            return b""
        return self._flushed() + self.encoder.search(query, search.results(pages))

    def _stop(self) -> tuple[str, str | None]:
        if self.stops is not None and self.stops.matched:
            return "stop_sequence", self.stops.matched
        if self.budget.reached:
            return "max_tokens", None
        return STOP_REASONS.get(self.engine.finish_reason, "end_turn"), None

    def _accounted(self) -> dict:
        """The usage as sent, written down for the key's usage (metering/)."""
        sent = self._usage()
        account(getattr(self.agent, "answers", ()), sent["input_tokens"], sent["output_tokens"])
        return sent

    def _usage(self) -> dict:
        texts = [*self.budget.texts.values(), self._hidden]
        used = usage(self.input_tokens, sum(tokens.count("".join(parts), self.slug) for parts in texts))
        if self.searching:
            used["server_tool_use"] = {"web_search_requests": self.encoder.searches, "web_fetch_requests": 0}
        return used
