"""One answer: the conversation sent upstream, its events translated into pieces, the clean-up.

    upload -> payload -> upstream -> Translation (decode, fold, render) -> pieces

The pipeline does not know which API it answers. ``Answer`` hands out the
pieces (``batches`` while streaming, ``collect`` for one body), the usage and
the finish reason; an encoder turns them into one API's wire format
(``chat_output.py`` for chat completions). A stage that reworks pieces (tool
calls, structured output) sits between ``Answer.batches`` and the encoder.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

from ..auth.credentials import Credentials
from ..errors import APIError
from ..models.registry import conversation_mode
from ..runtime.config import ModelEntry
from ..services import Services
from ..translate.continuation import ContinuationSettings
from ..translate.render import CONTENT, Piece, Renderer, RenderOptions
from ..translate.request import conversation_payload, prepare_body
from ..translate.stream import Translation
from ..upstream.body import Body, open_body
from ..upstream.client import UpstreamClient
from ..usage import tokens
from .request import ChatRequest
from .temporary import HistoryChoice, Turn, history_choice

log = logging.getLogger(__name__)


def start_answer(services: Services, chat: ChatRequest, entry: ModelEntry, creds: Credentials,
                 options: RenderOptions, *, public_url: str, started: float | None = None,
                 keep_media_local: bool = False, system_hints: tuple[str, ...] = ()) -> "Answer":
    """Send the conversation upstream; upstream errors before the answer raise APIError.

    ``public_url`` is where clients reach us (links to saved media);
    ``started`` is when the request came in (time to first token);
    ``system_hints`` asks the upstream for a tool (``picture_v2``: draw); a turn with hints is
    never a temporary chat (temporary.py).
    """
    settings = services.settings
    asked = chat.temporary or settings.temporary_chat.enabled
    history = history_choice(Turn(chat.model, entry.slug, system_hints), asked=asked,
                             hide=settings.delete_conversation, config=settings.temporary_chat)
    if asked and history.reason:
        log.debug("not a temporary chat: %s; hidden once answered", history.reason)
    uploaded = services.uploader.upload_all(chat.messages, creds, entry.accepts_images)
    payload = conversation_payload(chat.messages, entry.slug, conversation_mode(entry),
                                   history_disabled=history.temporary,
                                   delta_encoding=settings.delta_encoding, uploaded=uploaded,
                                   system_hints=system_hints)
    token = None
    if settings.conversation_prepare:     # the web app's optional step on /f/conversation
        token = services.upstream.prepare_conversation(prepare_body(payload), creds)
        if token:
            payload["client_prepare_state"] = "success"
    upstream = services.upstream.start_conversation(payload, creds, conduit_token=token)
    renderer = Renderer(options)
    renderer.expect_history(payload["messages"])   # a replayed history is not the answer
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
    return Answer(services, chat, entry.slug, translation, creds, upstream.status, started, history)


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
                 history: HistoryChoice | None = None):
        self.services = services
        self.history = history or HistoryChoice(temporary=False, hide=services.settings.delete_conversation)
        self.chat = chat
        self.slug = slug
        self.translation = translation
        self.creds = creds
        self.upstream_status = upstream_status
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
                    (content if kind == CONTENT else reasoning).append(text)
            yield batch

    def collect(self) -> tuple[str, str]:
        """The whole answer: (content, reasoning). Cleans up, also when it raises."""
        try:
            for _ in self.batches():
                pass
        finally:
            self.finish()
        return "".join(self.content), "".join(self.reasoning)

    def usage(self) -> dict:
        prompt = tokens.prompt_tokens(self.chat.messages, self.slug)
        thought = tokens.count("".join(self.reasoning), self.slug)
        return tokens.usage(prompt, tokens.count("".join(self.content), self.slug) + thought, thought)

    def finish(self, drain: float = 0.0) -> None:
        """Close the upstream and hide the conversation, once, off the request path."""
        if self._finished:
            return
        self._finished = True
        self.translation.body.close(drain if self.translation.complete else None)
        conversation_id = self.translation.conversation_id
        if conversation_id and self.history.hide:
            threading.Thread(target=_hide, args=(self.services, conversation_id, self.creds),
                             name="hide-conversation", daemon=True).start()


def _hide(services: Services, conversation_id: str, creds: Credentials) -> None:
    try:
        services.upstream.hide_conversation(conversation_id, creds)
    except APIError as exc:
        log.info("could not hide conversation %s: %s", conversation_id, exc.message)
    except Exception:  # noqa: BLE001 - clean-up must never take a worker down
        log.exception("hiding conversation %s failed", conversation_id)
