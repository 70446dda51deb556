"""GET /v1/models: every alias and GPT the configuration knows."""
from __future__ import annotations

from flask import Blueprint, jsonify

from ..chat.chunks import model_list
from ..services import current_services

bp = Blueprint("models", __name__)


@bp.get("/v1/models")
def list_models():
    return jsonify(model_list(current_services().models.names()))


@bp.get("/v1/models/<path:name>")
def get_model(name: str):
    entry = current_services().models.resolve(name)
    return jsonify(model_list([entry.alias])["data"][0])
