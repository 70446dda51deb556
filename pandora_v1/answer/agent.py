"""An agent turn on top of ``Answer``: tool calls by prompt and structured output.

API-agnostic, like answer.py: ``/v1/chat/completions`` encodes it with
chat_agent_output.py, ``/v1/responses`` with its own encoder.

    turn = plan(services, messages, fields)       # rendered messages + protocol (translate/tools.py)
    agent = AgentAnswer.start(services, chat, turn, entry, creds, public_url=..., started=...)
    for events in agent.turn.events(keepalive):   # translate/agent.py: CONTENT / REASONING / TOOL_CALL
        ...
    agent.usage(); agent.finish()

The first upstream answer starts at once (errors before the answer keep
their HTTP status); a retry starts another answer with the failed reply and
a correction appended (continuing the conversation of that reply). Every
answer started is finished (closed, hidden); an accepted turn is kept as the
session's next turn (continuity.py) before its last event goes out.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

from ..auth.credentials import Credentials
from ..runtime.config import ModelEntry
from ..services import Services
from ..tools.definitions import ToolFields
from ..tools.prompt import Turn, plan_turn
from ..tools.turn import AgentTurn
from ..translate.citations import span
from ..translate.render import Piece, RenderOptions
from ..translate.request import ChatMessage
from ..usage import tokens
from . import continuity
from .continuity import Session, Thread
from .pipeline import Answer, hide_others, start_answer
from .request import ChatRequest


def plan(services: Services, messages: tuple[ChatMessage, ...], fields: ToolFields,
         thread: Thread | None = None) -> Turn:
    """The upstream messages for a request; ``protocol``/``response_format`` set when the engine is needed.
    A ``thread`` that continues a conversation keeps the nonce the upstream was taught."""
    config = services.settings.tools
    return plan_turn(messages, fields.tools, fields.choice, fields.parallel, fields.legacy,
                     fields.response_format, config.max_catalog_chars, config.enabled,
                     nonce=thread.nonce if thread is not None else None)


def needs_engine(turn: Turn) -> bool:
    return turn.protocol is not None or turn.response_format is not None


class _Source:
    """An ``Answer`` as the engine's source; ``stop`` closes the upstream early."""

    def __init__(self, answer: Answer, early_close: bool):
        self.answer = answer
        self._early_close = early_close

    def batches(self, keepalive: float | None = None) -> Iterator[list[Piece]]:
        return self.answer.batches(keepalive)

    @property
    def finish_reason(self) -> str:
        return self.answer.finish_reason

    def stop(self) -> None:
        if self._early_close:
            self.answer.stopped = True      # its calls are complete: the answer is whole
            self.answer.finish()
        else:
            for _ in self.answer.batches():   # read the upstream to its end; the text is not wanted
                pass


class _Counters:
    def __init__(self, metrics):
        self._metrics = metrics

    def retry(self, kind: str) -> None:
        self._metrics.tool_retries.labels(kind).inc()

    def failure(self, kind: str) -> None:
        self._metrics.tool_parse_failures.labels(kind).inc()


class AgentAnswer:
    def __init__(self, services: Services, chat: ChatRequest, turn: Turn, entry: ModelEntry, creds: Credentials,
                 *, public_url: str, started: float | None = None,
                 watch: Callable[[Answer], None] | None = None, thread: Thread | None = None,
                 options: RenderOptions | None = None):
        self.services = services
        self.chat = replace(chat, messages=turn.messages)   # what a fresh request renders: usage counts it
        self._entry, self._creds, self._public_url, self._started = entry, creds, public_url, started
        self._watch = watch
        # Bot mode does not apply: tools and formats are for programs.
        self._options = options or RenderOptions(inline_citations=chat.hosted.search)
        self._nonce = turn.protocol.nonce if turn.protocol is not None else None
        self._finished = False
        self.kept: str | None = None
        self.answers = [self._answer(self.chat, thread)]
        config = services.settings.tools
        self._early_close = config.early_close
        self.turn = AgentTurn(turn, _Source(self.answers[0], self._early_close), self._restart,
                              stream=chat.stream, retry_attempts=config.retry_attempts,
                              counters=_Counters(services.metrics), on_done=self._keep)

    @classmethod
    def start(cls, services: Services, chat: ChatRequest, turn: Turn, entry: ModelEntry, creds: Credentials,
              *, public_url: str, started: float | None = None,
              watch: Callable[[Answer], None] | None = None, thread: Thread | None = None,
              options: RenderOptions | None = None) -> "AgentAnswer":
        """``watch`` is called with every upstream answer started (client_watch.py's hook); ``thread``
        is the session the history continues (pipeline.open_thread), planned with its nonce;
        ``options`` how the upstream's messages render (default: text, as chat shows them)."""
        return cls(services, chat, turn, entry, creds, public_url=public_url, started=started, watch=watch,
                   thread=thread, options=options)

    @property
    def upstream_status(self) -> int | None:
        return self.answers[0].upstream_status

    def _answer(self, chat: ChatRequest, thread: Thread | None) -> Answer:
        answer = start_answer(self.services, chat, self._entry, self._creds, self._options,
                              public_url=self._public_url, started=self._started,
                              system_hints=chat.hosted.system_hints(), thread=thread, owned=True)
        if self._watch is not None:
            self._watch(answer)
        return answer

    def _restart(self, extra: tuple[ChatMessage, ...]) -> _Source:
        """A retry goes on in the conversation of the reply it corrects (only the correction goes
        up, after that reply), or, when that cannot be, sends the whole history again."""
        last = self.answers[-1]
        last.finish()
        thread = last.thread
        replied = last.renderer.answer_id or last.renderer.last_text_id
        if thread is not None:
            conversation_id = last.translation.conversation_id
            thread = thread.following(Session(conversation_id, replied, self._nonce)) \
                if conversation_id and replied else thread.afresh()
        answer = self._answer(replace(self.chat, messages=self.chat.messages + extra), thread)
        self.answers.append(answer)
        return _Source(answer, self._early_close)

    def _keep(self) -> None:
        """The turn is accepted and the client has all of it: the last answer's conversation goes on."""
        turn, last = self.turn, self.answers[-1]
        if turn.finish_reason in ("stop", "tool_calls", "function_call"):
            last.keep(continuity.answer_message(turn.content, turn.calls), self._nonce)
            self.kept = last.kept

    def usage(self) -> dict:
        slug = self.answers[0].slug
        turn = self.turn
        calls = "".join(c.name + c.arguments for c in turn.calls)
        thought = tokens.count(turn.reasoning, slug)
        prompt = tokens.prompt_tokens(self.chat.messages, slug)
        return tokens.usage(prompt, tokens.count(turn.content + calls, slug) + thought, thought)

    def annotations(self, text: str) -> list[dict]:
        """The annotations of the links in ``text`` (chat's nested shape), when ``text`` is the last
        upstream answer's content as rendered (no JSON transform, no retry in between moved it)."""
        answer = self.answers[-1]
        found = answer.renderer.annotations
        if not found or not "".join(answer.content).startswith(text):
            return []
        return [a for a in found if span(a)["end_index"] <= len(text)]

    def annotation_count(self) -> int:
        """How many links the current upstream answer wrote so far (a cheap look, per read)."""
        return len(self.answers[-1].renderer.citations.annotations)

    def finish(self, drain: float = 0.0) -> None:
        for answer in self.answers:
            answer.finish(drain)
        if not self._finished:
            self._finished = True
            hide_others(self.services, self.answers, self.kept)
