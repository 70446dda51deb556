"""POST /v1/responses, GET and DELETE /v1/responses/{id}: the Responses API (see responses/)."""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from .. import credentials
from ..errors import APIError
from ..responses.request import parse_responses_request
from ..responses.run import start_run
from ..responses.state import ResponseStore
from ..translate.render import RenderOptions
from .chat import start_answer
from .common import read_json_body, services

bp = Blueprint("responses", __name__)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _states() -> ResponseStore:
    app = services()
    return ResponseStore(app.store, app.settings.responses_store_ttl)


@bp.post("/v1/responses")
def create_response():
    app = services()
    states = _states()
    # Credentials before the body: parsing reads stored responses, which only callers may see.
    creds = credentials.resolve(request.headers.get("Authorization"))
    req = parse_responses_request(read_json_body(), states)
    g.model, g.stream = req.chat.model, req.stream
    entry = app.models.resolve(req.chat.model)
    if entry.gizmo_id:
        app.gpts.info(entry, creds)
    # Programs call this API: answers render as for a program, whatever bot mode says.
    run = start_run(req, entry.slug, lambda chat: start_answer(chat, entry, creds, RenderOptions()),
                    states, getattr(app.settings, "tools", None))
    if req.stream:
        return Response(run.events(app.settings.keepalive_interval), mimetype="text/event-stream",
                        headers=SSE_HEADERS)
    return jsonify(run.response())


@bp.get("/v1/responses/<response_id>")
def get_response(response_id: str):
    credentials.resolve(request.headers.get("Authorization"))
    stored = _states().response(response_id)
    if stored is None:
        raise _not_found(response_id)
    return jsonify(stored)


@bp.delete("/v1/responses/<response_id>")
def delete_response(response_id: str):
    credentials.resolve(request.headers.get("Authorization"))
    if not _states().delete(response_id):
        raise _not_found(response_id)
    return jsonify({"id": response_id, "object": "response", "deleted": True})


def _not_found(response_id: str) -> APIError:
    return APIError(404, f"Response with id '{response_id}' not found.", param="response_id",
                    code="not_found")
