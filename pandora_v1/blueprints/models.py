"""GET /v1/models: every alias and GPT the configuration knows, the search models, and (with a key,
``upstream_models.list``) what the upstream offers that account."""
from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..errors import APIError
from ..models.catalog import UpstreamModel
from ..services import current_services
from .common import request_credentials

bp = Blueprint("models", __name__)


@bp.get("/v1/models")
def list_models():
    services = current_services()
    names = services.models.names()
    listing = model_list(names)
    listing["data"] += [upstream_model(m) for m in _upstream(services) or () if m.slug not in names]
    return jsonify(listing)


@bp.get("/v1/models/<path:name>")
def get_model(name: str):
    services = current_services()
    try:
        entry = services.models.resolve(name)
    except APIError:
        found = next((m for m in _upstream(services) or () if m.slug == name), None)
        if found is None:
            raise
        return jsonify(upstream_model(found))
    return jsonify(model_list([entry.alias])["data"][0])


def _upstream(services) -> list[UpstreamModel] | None:
    """The caller's upstream models, when listing them is on and the request has a usable key."""
    if not services.settings.model_settings.list_upstream or not request.headers.get("Authorization"):
        return None
    try:
        return services.catalog.listed(request_credentials())
    except APIError:
        return None     # a bad key still gets the configured list, as without one


def model_list(names: list[str], owner: str = "pandora_v1", created: int = 0) -> dict:
    return {"object": "list",
            "data": [{"id": n, "object": "model", "created": created, "owned_by": owner}
                     for n in names]}


def upstream_model(model: UpstreamModel) -> dict:
    """An upstream slug as a model, with its title and the efforts it takes (the upstream's words)
    when the list says; clients ignore fields they do not know."""
    entry: dict = {"id": model.slug, "object": "model", "created": 0, "owned_by": "upstream"}
    if model.title:
        entry["title"] = model.title
    if model.efforts is not None:
        entry["thinking_efforts"] = list(model.efforts)
    return entry
