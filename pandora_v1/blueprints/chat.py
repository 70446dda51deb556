"""POST /v1/chat/completions, and ``Answer``: one upstream answer on its way to a client."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from itertools import groupby
from operator import itemgetter

from flask import Blueprint, Response, current_app, g, jsonify, request

from .. import credentials, openai_format, tokens
from ..config import ModelEntry
from ..credentials import Credentials
from ..errors import APIError
from ..models import conversation_mode
from ..openai_format import SSE_DONE, SSE_KEEPALIVE, ChunkEncoder, sse
from ..translate.render import CONTENT, Piece, Renderer, RenderOptions
from ..translate.request import ChatRequest, conversation_payload, parse_chat_request
from ..translate.stream import Translation
from ..upstream_body import UpstreamBody
from .common import read_json_body, services

log = logging.getLogger(__name__)

bp = Blueprint("chat", __name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@bp.post("/v1/chat/completions")
def chat_completions():
    app = services()
    chat = parse_chat_request(read_json_body())
    g.model, g.stream = chat.model, chat.stream
    creds = credentials.resolve(request.headers.get("Authorization"))
    entry = app.models.resolve(chat.model)
    if entry.gizmo_id:
        app.gpts.info(entry, creds)   # 404 model_not_found when the GPT can't be fetched
    settings = app.settings
    answer = start_answer(chat, entry, creds, RenderOptions.from_bot_mode(settings.bot_mode))
    if chat.stream:
        body = answer.sse(settings.keepalive_interval, pause=settings.stream_sleep_time)
        return Response(body, mimetype="text/event-stream", headers=SSE_HEADERS)
    return jsonify(answer.completion())


def start_answer(chat: ChatRequest, entry: ModelEntry, creds: Credentials, options: RenderOptions,
                 keep_media_local: bool = False) -> "Answer":
    """Send the conversation upstream; upstream errors before the answer raise APIError."""
    app = services()
    settings = app.settings
    uploaded = app.uploader.upload_all(chat.messages, creds, entry.accepts_images)
    payload = conversation_payload(chat, entry.slug, conversation_mode(entry),
                                   history_disabled=settings.delete_conversation,
                                   delta_encoding=settings.delta_encoding, uploaded=uploaded)
    upstream = app.upstream.start_conversation(payload, creds)
    g.upstream_status = upstream.status
    renderer = Renderer(options)
    renderer.media = app.media.for_request(creds, request.host_url, lambda: renderer.conversation_id,
                                           keep_local=keep_media_local)
    try:
        body = UpstreamBody(upstream, settings.read_timeout)
    except APIError:
        upstream.close()
        raise
    translation = Translation(body, settings.max_event_bytes, renderer,
                              settings.max_answer_chars, settings.max_answer_seconds)
    return Answer(chat, entry.slug, translation, creds, errors_as_text=settings.bot_mode.enabled)


class Answer:
    """One upstream answer on its way to the client, and the clean-up after it."""

    def __init__(self, chat: ChatRequest, slug: str, translation: Translation,
                 creds: Credentials, errors_as_text: bool = False):
        self.chat = chat
        self.slug = slug
        self.translation = translation
        self.creds = creds
        self.errors_as_text = errors_as_text   # bot mode: a bot shows text, not error events
        self._app = current_app._get_current_object()
        self._finished = False
        self._started = g.get("started") or time.perf_counter()
        self._ttft = services().metrics.ttft.labels(chat.model)
        self.content: list[str] = []
        self.reasoning: list[str] = []

    @property
    def renderer(self) -> Renderer:
        return self.translation.renderer

    def completion(self) -> dict:
        try:
            for kind, text in self.translation:
                if not self.content and not self.reasoning:
                    self._first_token()
                (self.content if kind == CONTENT else self.reasoning).append(text)
        except APIError as exc:
            if not self.errors_as_text:
                raise
            self.content.append(_error_text(exc, bool(self.content)))
        finally:
            self.finish()
        content, reasoning = "".join(self.content), "".join(self.reasoning)
        return openai_format.completion(self.chat.model, content, reasoning,
                                        self.translation.finish_reason,
                                        self._usage(content, reasoning), self.renderer.annotations)

    def sse(self, keepalive: float, pause: float = 0.0) -> Iterator[bytes]:
        """The stream, a write per upstream read; ``pause`` (bots) paces it a piece per write."""
        try:
            yield from self._chunks(keepalive, pause)
            yield SSE_DONE
        finally:
            # After [DONE] went out, so waiting for the upstream's last bytes costs the client nothing.
            self.finish(drain=0.05)

    def _chunks(self, keepalive: float, pause: float) -> Iterator[bytes]:
        encoder = ChunkEncoder(self.chat.model, self.chat.include_usage)
        try:
            yield encoder.role()
            try:
                for batch in self.translation.batches(keepalive):
                    if not batch:
                        yield SSE_KEEPALIVE
                    elif not pause:
                        yield self._encoded(batch, encoder)
                    else:
                        for piece in batch:
                            yield self._encoded([piece], encoder)
                            time.sleep(pause)
            except APIError as exc:
                if not self.errors_as_text:
                    raise
                yield encoder.content(_error_text(exc, bool(self.content)))
            yield encoder.finish(self.translation.finish_reason)
            if self.chat.include_usage:
                yield encoder.usage(self._usage("".join(self.content), "".join(self.reasoning)))
        except APIError as exc:
            yield sse(exc.body())
        except Exception:  # noqa: BLE001 - the stream must end in OpenAI's shape, whatever broke
            log.exception("stream failed")
            yield sse(APIError(500, "The server failed while streaming the answer.").body())

    def _encoded(self, batch: list[Piece], encoder: ChunkEncoder) -> bytes:
        """One chunk per run of content or reasoning: a read's events become one write."""
        if not self.content and not self.reasoning:
            self._first_token()
        out = []
        for kind, run in groupby(batch, itemgetter(0)):
            text = "".join(piece[1] for piece in run)
            if kind == CONTENT:
                self.content.append(text)
                out.append(encoder.content(text))
            else:
                self.reasoning.append(text)
                out.append(encoder.reasoning(text))
        return out[0] if len(out) == 1 else b"".join(out)

    def _first_token(self) -> None:
        self._ttft.observe(time.perf_counter() - self._started)

    def _usage(self, content: str, reasoning: str) -> dict:
        prompt = tokens.prompt_tokens(self.chat.messages, self.slug)
        thought = tokens.count(reasoning, self.slug)
        return tokens.usage(prompt, tokens.count(content, self.slug) + thought, thought)

    def finish(self, drain: float = 0.0) -> None:
        """Close the upstream and hide the conversation, once, off the request path."""
        if self._finished:
            return
        self._finished = True
        self.translation.body.close(drain if self.translation.complete else None)
        app = self._app
        conversation_id = self.translation.conversation_id
        if conversation_id and app.extensions["pandora_v1"].settings.delete_conversation:
            threading.Thread(target=_hide, args=(app, conversation_id, self.creds),
                             name="hide-conversation", daemon=True).start()


def _error_text(exc: APIError, after_text: bool) -> str:
    return ("\n\n" if after_text else "") + f"[error] {exc.message}"


def _hide(app, conversation_id: str, creds) -> None:
    try:
        app.extensions["pandora_v1"].upstream.hide_conversation(conversation_id, creds)
    except APIError as exc:
        log.info("could not hide conversation %s: %s", conversation_id, exc.message)
    except Exception:  # noqa: BLE001 - clean-up must never take a worker down
        log.exception("hiding conversation %s failed", conversation_id)
