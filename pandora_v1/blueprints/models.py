"""GET /v1/models: every alias and GPT the configuration knows."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..services import current_services

bp = Blueprint("models", __name__)


@bp.get("/v1/models")
def list_models():
    return jsonify(model_list(current_services().models.names()))


@bp.get("/v1/models/<path:name>")
def get_model(name: str):
    entry = current_services().models.resolve(name)
    return jsonify(model_list([entry.alias])["data"][0])


def model_list(names: list[str], owner: str = "pandora_v1", created: int = 0) -> dict:
    return {"object": "list",
            "data": [{"id": n, "object": "model", "created": created, "owned_by": owner}
                     for n in names]}
