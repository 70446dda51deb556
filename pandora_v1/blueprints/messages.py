"""POST /v1/messages and /v1/messages/count_tokens: parse, start the run (or count), respond in
Anthropic's wire format (see messages/). The query string (``?beta=true``) is not read; any
``anthropic-version`` / ``anthropic-beta`` is accepted."""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from ..answer import watch as client_watch
from ..answer.sse import SSE_HEADERS
from ..errors import APIError
from ..messages.errors import error_body
from ..messages.prompt import input_tokens, plan_prompt
from ..messages.request import parse_messages_request
from ..messages.run import MessageRun
from ..services import current_services
from .common import model_entry, read_json_body, request_credentials

bp = Blueprint("messages", __name__)
PATH = "/v1/messages"


def owns(path: str) -> bool:
    """Whether ``path`` is one of ours, whose errors Anthropic's clients read (404s and 405s too)."""
    base = current_services().settings.api_path + PATH
    return path == base or path.startswith(base + "/")


def error_response(exc: APIError) -> Response:
    status, body = error_body(exc)
    response = jsonify(body)
    response.status_code = status
    response.headers.update(exc.headers)
    response.headers["request-id"] = body["request_id"]
    return response


def _credentials():
    """The key from ``x-api-key`` (the SDKs, Claude Code with ANTHROPIC_API_KEY) or ``Authorization:
    Bearer`` (newer SDKs, Claude Code with ANTHROPIC_AUTH_TOKEN), under the usual credential rules."""
    key = request.headers.get("x-api-key")
    if key is not None:
        return request_credentials(f"Bearer {key}")
    if request.headers.get("Authorization") is None:
        raise APIError(401, "x-api-key header is required (or Authorization: Bearer <key>).")
    return request_credentials()


@bp.post(PATH)
def create_message():
    services = current_services()
    creds = _credentials()
    req = parse_messages_request(read_json_body())
    g.model, g.stream = req.chat.model, req.stream
    entry = model_entry(services, req.chat.model, creds)
    environ = request.environ   # read now: a retry starts its answer after the request context ended
    run = MessageRun.start(services, req, entry, creds, public_url=request.host_url, started=g.get("started"),
                           watch=lambda answer: client_watch.watch(answer, environ, req.stream))
    g.upstream_status = run.upstream_status
    if req.stream:
        response = Response(run.events(services.settings.keepalive_interval), mimetype="text/event-stream",
                            headers=SSE_HEADERS)
        response.call_on_close(run.finish)   # also for a body that never started (no finally runs)
        return response
    return jsonify(run.message())


@bp.post(PATH + "/count_tokens")
def count_tokens():
    """The input tokens as ``usage.input_tokens`` counts them: local, no upstream call (Claude Code's
    editors send dozens at start)."""
    services = current_services()
    creds = _credentials()
    req = parse_messages_request(read_json_body(), counting=True)
    g.model = req.chat.model
    entry = model_entry(services, req.chat.model, creds)
    return jsonify({"input_tokens": input_tokens(plan_prompt(services, req.chat), entry.slug)})
