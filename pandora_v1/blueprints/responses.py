"""POST /v1/responses, GET and DELETE /v1/responses/{id}, GET /v1/responses/{id}/input_items: parse, start
the run, respond (see responses/)."""
from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from ..answer import watch as client_watch
from ..answer.sse import SSE_HEADERS
from ..errors import APIError
from ..responses.input_items import page
from ..responses.request import parse_responses_request
from ..responses.run import ResponseRun
from ..responses.state import ResponseStore, owner_of
from ..services import current_services
from .common import admit, model_entry, read_json_body, request_credentials

bp = Blueprint("responses", __name__)


def _states(creds) -> ResponseStore:
    """The stored responses of the account behind ``creds`` (nobody else's)."""
    services = current_services()
    return ResponseStore(services.store, services.settings.responses_store_ttl, owner_of(creds))


@bp.post("/v1/responses")
def create_response():
    services = current_services()
    # Credentials before the body: parsing reads stored responses, which only callers may see.
    creds = request_credentials()
    states = _states(creds)
    req = parse_responses_request(read_json_body(), states)
    g.model, g.stream = req.chat.model, req.stream
    admit(req.chat.model)
    entry = model_entry(services, req.chat.model, creds)
    environ = request.environ   # read now: a retry starts its answer after the request context ended
    run = ResponseRun.start(services, req, entry, creds, states, public_url=request.host_url, started=g.get("started"),
                            watch=lambda answer: client_watch.watch(answer, environ, req.stream))
    g.upstream_status = run.upstream_status
    if req.stream:
        response = Response(run.events(services.settings.keepalive_interval), mimetype="text/event-stream",
                            headers=SSE_HEADERS)
        response.call_on_close(run.agent.finish)   # also for a body that never started (no finally runs)
        return response
    return jsonify(run.response())


@bp.get("/v1/responses/<response_id>")
def get_response(response_id: str):
    return jsonify(_stored(response_id)["response"])


@bp.get("/v1/responses/<response_id>/input_items")
def list_input_items(response_id: str):
    return jsonify(page(_stored(response_id)["request_items"], request.args))


def _stored(response_id: str) -> dict:
    """The caller's stored record of ``response_id``; 404 when there is none (or it is another's)."""
    creds = request_credentials()
    record = _states(creds).record(response_id)
    if record is None:
        raise _not_found(response_id)
    return record


@bp.delete("/v1/responses/<response_id>")
def delete_response(response_id: str):
    creds = request_credentials()
    if not _states(creds).delete(response_id):
        raise _not_found(response_id)
    return jsonify({"id": response_id, "object": "response", "deleted": True})


def _not_found(response_id: str) -> APIError:
    return APIError(404, f"Response with id '{response_id}' not found.", param="response_id",
                    code="not_found")
