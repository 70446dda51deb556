"""POST /v1/audio/transcriptions and /v1/audio/speech."""
from __future__ import annotations

from flask import Blueprint, Response, g

from ..answer.sse import SSE_HEADERS
from ..audio import formats, speech, transcribe
from ..errors import APIError
from ..services import current_services
from .common import read_form, read_json_body, request_credentials

bp = Blueprint("audio", __name__)


@bp.post("/v1/audio/transcriptions")
def transcriptions():
    services = current_services()
    form, files = read_form()
    asked = transcribe.parse(form, files)
    g.model, g.stream = asked.model, asked.stream
    text = transcribe.transcribe(services.upstream, request_credentials(), asked)
    if asked.stream:
        return Response(formats.stream_events(asked, text), mimetype="text/event-stream", headers=SSE_HEADERS)
    data, mimetype = formats.body(asked, text)
    return Response(data, mimetype=mimetype)


@bp.post("/v1/audio/speech")
def speak():
    services = current_services()
    body = read_json_body()
    asked = speech.parse(body)
    speech.check_options(body)
    g.model = body.get("model")
    if not services.settings.speech:
        raise APIError(501, "Text to speech is switched off on this server (config: speech).", type="server_error",
                       code="not_implemented")
    data, content_type = speech.read_aloud(services, request_credentials(), asked)
    return Response(data, content_type=content_type)
