"""One answer: the conversation sent upstream, its events translated into pieces, the clean-up.

    upload -> payload -> upstream -> Translation (decode, fold, render) -> pieces

A request whose history extends one answered before (continuity.py) sends
only its new messages, into the conversation it continues; a whole answer is
kept as that session's next turn before the client's last event, and long
messages go up as big-paste attachments.

The pipeline does not know which API it answers. ``Answer`` hands out the
pieces (``batches`` while streaming, ``collect`` for one body), the usage and
the finish reason; an encoder turns them into one API's wire format
(``chat_output.py`` for chat completions). A stage that reworks pieces (tool
calls, structured output) sits between ``Answer.batches`` and the encoder.

Every encoder reports what its client received with ``account`` (the per-key
usage, metering/). Limits the upstream reports (a 429 on the conversation, an
image tool's rate limit and its reset from ``conversation/init``) are noted per
account for the status page (metering/limits.py).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from functools import partial

from ..auth.credentials import Credentials
from ..errors import APIError
from ..metering import ledger
from ..metering import limits as upstream_limits
from ..models.registry import conversation_mode
from ..runtime.config import ModelEntry
from ..services import Services
from ..translate.continuation import ContinuationSettings
from ..translate.render import CONTENT, REASONING, Piece, Renderer, RenderOptions
from ..translate.request import ChatMessage, big_pastes, conversation_payload, prepare_body, upstream_message
from ..translate.stream import Translation
from ..upstream.body import Body, open_body
from ..upstream.client import UpstreamClient
from ..usage import tokens
from . import continuity, limits
from .continuity import Session, Thread
from .request import ChatRequest
from .temporary import HistoryChoice, Turn, history_choice

log = logging.getLogger(__name__)


def start_answer(services: Services, chat: ChatRequest, entry: ModelEntry, creds: Credentials,
                 options: RenderOptions, *, public_url: str, started: float | None = None,
                 keep_media_local: bool = False, system_hints: tuple[str, ...] = (),
                 thread: Thread | None = None, owned: bool = False) -> "Answer":
    """Send the conversation upstream; upstream errors before the answer raise APIError.

    ``public_url`` is where clients reach us (links to saved media);
    ``started`` is when the request came in (time to first token);
    ``system_hints`` asks the upstream for a tool (``picture_v2``: draw; ``search``), the rest of
    what the turn switches on comes with ``chat`` (``effort``, ``hosted``); a turn with hints is
    never a temporary chat (temporary.py);
    ``thread`` (continuity.py): the session the request's history continues, if any; then only the
    messages after the last assistant one go up, and a conversation the upstream no longer has
    (404, an unknown parent) is asked again afresh with the whole history, invisibly. A whole answer
    is kept as the session's next turn when the answer finishes, unless ``owned``: an agent turn
    keeps it itself.
    """
    settings = services.settings
    asked = chat.temporary or settings.temporary_chat.enabled
    history = history_choice(Turn(chat.model, entry.slug, system_hints), asked=asked,
                             hide=settings.delete_conversation, config=settings.temporary_chat)
    if asked and history.reason:
        log.debug("not a temporary chat: %s; hidden once answered", history.reason)
    start = partial(_start, services, chat, entry, creds, options, history, public_url=public_url,
                    started=started, keep_media_local=keep_media_local, system_hints=system_hints, owned=owned)
    if history.temporary:
        thread = None             # a temporary conversation cannot be continued: nothing to keep
    if thread is not None and thread.session is not None:
        try:
            return start(thread)
        except APIError as exc:
            if not continuity.lost(exc):
                raise
            log.info("conversation %s cannot be continued (%s); sending the whole history",
                     thread.session.conversation_id, exc.upstream_status)
            thread = thread.afresh()
    return start(thread)


def open_thread(services: Services, chat: ChatRequest, entry: ModelEntry, creds: Credentials) -> Thread | None:
    """The request's place among the sessions (None with ``continuity.enabled`` off)."""
    config = services.settings.continuity
    sessions = continuity.Sessions(services.store, config.ttl) if config.enabled else None
    return continuity.open_thread(sessions, chat.messages, chat.tools, entry, creds, services.settings.tools.enabled)


def _start(services: Services, chat: ChatRequest, entry: ModelEntry, creds: Credentials, options: RenderOptions,
           history: HistoryChoice, thread: Thread | None, *, public_url: str, started: float | None,
           keep_media_local: bool, system_hints: tuple[str, ...], owned: bool) -> "Answer":
    settings = services.settings
    session = thread.session if thread is not None else None
    messages = continuity.tail(chat.messages) if session else chat.messages
    uploaded = services.uploader.upload_all(messages, creds, entry.accepts_images)
    hosted = chat.hosted
    # Only a slug that reasons gets an effort: the upstream refuses the whole body otherwise.
    effort = services.catalog.thinking_effort(entry, chat.effort, creds) if chat.effort else None
    payload = conversation_payload(messages, entry.slug, conversation_mode(entry),
                                   history_disabled=history.temporary,
                                   delta_encoding=settings.delta_encoding, uploaded=uploaded,
                                   system_hints=system_hints, force_search=hosted.force_search,
                                   thinking_effort=effort, instructions=hosted.instructions())
    if thread is not None and session is not None:    # the next turn of a conversation: only what is new
        payload["conversation_id"], payload["parent_message_id"] = session.conversation_id, session.parent_id
        if history.hide:  # hidden when the session ends: not before this turn does
            thread.sessions.hide_later(session.conversation_id, creds)
    if settings.continuity.big_paste_bytes:
        big_pastes(payload["messages"], settings.continuity.big_paste_bytes,
                   lambda text: services.uploader.big_paste(text, creds))
    token = None
    if settings.conversation_prepare:     # the web app's optional step on /f/conversation
        token = services.upstream.prepare_conversation(prepare_body(payload), creds)
        if token:
            payload["client_prepare_state"] = "success"
    try:
        upstream = services.upstream.start_conversation(payload, creds, conduit_token=token)
    except APIError as exc:
        if exc.status == 429:     # the account reached the model's limit: the status page shows it
            retry = exc.headers.get("Retry-After", "")
            upstream_limits.note(services.store, entry.slug, exc.message,
                                 time.time() + float(retry) if retry.strip().isdigit() else None)
        raise
    renderer = Renderer(options)
    # A replayed history is not the answer: what we sent, and a continued conversation's earlier answers.
    earlier = [upstream_message(m) for m in chat.messages if m.role == "assistant"] if session else []
    renderer.expect_history(payload["messages"] + earlier)
    renderer.media = services.media.for_request(creds, public_url, lambda: renderer.conversation_id,
                                                keep_local=keep_media_local)
    try:
        body = open_body(upstream, settings.read_timeout)
    except APIError:
        upstream.close()
        raise
    translation = Translation(body, settings.max_event_bytes, renderer,
                              settings.max_answer_chars, settings.max_answer_seconds,
                              continuation=Continuation(services.upstream, creds, settings.read_timeout),
                              continuation_settings=ContinuationSettings(settings.async_wait_seconds,
                                                                         settings.async_poll_seconds))
    translation.after = session.parent_id if session else None
    return Answer(services, chat, entry.slug, translation, creds, upstream.status, started, history,
                  thread=thread, owned=owned)


class Continuation:
    """Where the rest of a turn the stream left unfinished comes from, with this request's
    credentials (see translate/continuation.py)."""

    def __init__(self, upstream: UpstreamClient, creds: Credentials, read_timeout: float):
        self.upstream, self.creds, self.read_timeout = upstream, creds, read_timeout

    def resume(self, conversation_id: str, token: str) -> Body:
        response = self.upstream.resume_conversation(conversation_id, token, self.creds)
        try:
            return open_body(response, self.read_timeout)
        except APIError:
            response.close()
            raise

    def document(self, conversation_id: str) -> dict:
        return self.upstream.conversation_document(conversation_id, self.creds)


class Answer:
    """One upstream answer on its way to a client, and the clean-up after it.

    ``content`` and ``reasoning`` collect what was handed out (for usage and
    for a non-streamed body).
    """

    def __init__(self, services: Services, chat: ChatRequest, slug: str, translation: Translation,
                 creds: Credentials, upstream_status: int | None = None, started: float | None = None,
                 history: HistoryChoice | None = None, thread: Thread | None = None, owned: bool = False):
        self.services = services
        self.history = history or HistoryChoice(temporary=False, hide=services.settings.delete_conversation)
        self.chat = chat
        self.slug = slug
        self.translation = translation
        self.creds = creds
        self.upstream_status = upstream_status
        self.thread = thread           # the session this answer belongs to (continuity.py), if any
        self.owned = owned             # an agent turn keeps the session and hides for it
        self.stopped = False           # closed on purpose once the calls it made were complete (agent.py)
        self.kept: str | None = None   # the conversation kept as the session's next turn
        self.limit_answered = False    # the caller answers a tool's limit itself (and notes it)
        self._finished = False
        self._started = started or time.perf_counter()
        self._ttft = services.metrics.ttft.labels(chat.model)
        self._first = True
        self.content: list[str] = []
        self.reasoning: list[str] = []

    @property
    def renderer(self) -> Renderer:
        return self.translation.renderer

    @property
    def finish_reason(self) -> str:
        return self.translation.finish_reason

    @property
    def message_id(self) -> str | None:
        """The answer's message in the upstream conversation when the answer is whole: the one that
        ended the turn, or, closed on purpose after complete calls, the one that made them."""
        if self.renderer.answered:
            return self.renderer.answer_id
        return self.renderer.last_text_id if self.stopped else None

    def batches(self, keepalive: float | None = None) -> Iterator[list[Piece]]:
        """The pieces, a list per upstream read; an empty list when ``keepalive`` seconds
        passed without any (the encoder keeps its client's connection alive then)."""
        content, reasoning = self.content, self.reasoning
        for batch in self.translation.batches(keepalive):
            if batch:
                if self._first:
                    self._first = False
                    self._ttft.observe(time.perf_counter() - self._started)
                for kind, text in batch:
                    if kind == CONTENT:
                        content.append(text)
                    elif kind == REASONING:      # (hosted tool steps are neither)
                        reasoning.append(text)
            yield batch
        if not self.owned and self.finish_reason == "stop":
            # before the client's last event: a follow-up sent at once finds the session
            self.keep(continuity.answer_message("".join(content)))

    def keep(self, answer: ChatMessage, nonce: str | None = None) -> None:
        """The client has the whole of this answer (``answer``, as it will send it back): its
        conversation goes on with the next turn of the session."""
        conversation_id, message_id = self.translation.conversation_id, self.message_id
        if self.thread is None or not conversation_id or not message_id:
            return
        self.thread.keep(answer, Session(conversation_id, message_id, nonce))
        self.kept = conversation_id
        if self.history.hide:
            self.thread.sessions.hide_later(conversation_id, self.creds)

    def collect(self) -> tuple[str, str]:
        """The whole answer: (content, reasoning). Cleans up, also when it raises."""
        try:
            for _ in self.batches():
                pass
        finally:
            self.finish()
        return "".join(self.content), "".join(self.reasoning)

    def usage(self) -> dict:
        # The whole history as a fresh request renders it, however little of it went upstream.
        prompt = tokens.prompt_tokens(self.chat.messages, self.slug)
        thought = tokens.count("".join(self.reasoning), self.slug)
        return tokens.usage(prompt, tokens.count("".join(self.content), self.slug) + thought, thought)

    def finish(self, drain: float = 0.0) -> None:
        """Close the upstream and hide the conversation, once, off the request path."""
        if self._finished:
            return
        self._finished = True
        self.translation.body.close(drain if self.translation.complete else None)
        if not self.owned:
            hide_others(self.services, [self], self.kept)
        limited = [text for name, text in self.renderer.system_errors if "ratelimit" in name.lower()]
        if limited and not self.limit_answered:
            caller = ledger.current().caller
            threading.Thread(target=limits.note, name="feature-limits", daemon=True,
                             args=(self.services, self.creds, "image_gen", limited[0],
                                   caller.account if caller else "unknown")).start()


def account(answers: Iterable[Answer], input_tokens: int, output_tokens: int) -> None:
    """What the current request's client received, for its key's usage: the tokens of the usage
    it was sent (or counted anyway), the images it was shown, the searches the upstream ran."""
    answers = list(answers)
    ledger.current().answered(input_tokens, output_tokens,
                              images=sum(len(answer.renderer.images) for answer in answers),
                              searches=sum(answer.renderer.searches for answer in answers))


def hide_others(services: Services, answers: list[Answer], kept: str | None) -> None:
    """With hiding on, hide the conversations a turn used, off the request path: all but the session's
    (``kept``, or one a failed turn continued), which is hidden when the session ends."""
    sessions = {a.thread.session.conversation_id for a in answers if a.thread is not None and a.thread.session}
    done: set[str] = set()
    for answer in answers:
        conversation_id = answer.translation.conversation_id
        if not conversation_id or not answer.history.hide or conversation_id in done \
                or conversation_id == kept or conversation_id in sessions:
            continue
        done.add(conversation_id)
        threading.Thread(target=hide, args=(services, conversation_id, answer.creds),
                         name="hide-conversation", daemon=True).start()


def hide(services: Services, conversation_id: str, creds: Credentials) -> None:
    """Hide a conversation once it is answered; a failure is logged, never raised (clean-up)."""
    try:
        services.upstream.hide_conversation(conversation_id, creds)
    except APIError as exc:
        log.info("could not hide conversation %s: %s", conversation_id, exc.message)
    except Exception:  # noqa: BLE001 - clean-up must never take a worker down
        log.exception("hiding conversation %s failed", conversation_id)
