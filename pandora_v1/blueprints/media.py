"""GET /images/<name> and /files/<name>: what answers linked to, served from our folders."""
from __future__ import annotations

from flask import Blueprint, send_from_directory

from ..files.media import content_type_for
from ..services import current_services

bp = Blueprint("media", __name__)


def _serve(kind: str, name: str):
    # send_from_directory refuses names that escape the folder (404).
    return send_from_directory(current_services().media.folders[kind], name,
                               mimetype=content_type_for(name), max_age=86400)


@bp.get("/images/<path:name>")
def image(name: str):
    return _serve("images", name)


@bp.get("/files/<path:name>")
def file(name: str):
    return _serve("files", name)
