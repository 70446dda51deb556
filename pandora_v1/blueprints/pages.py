"""The human-facing pages."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from .. import __version__
from .common import services

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    app = services()
    prefix = f"/{app.settings.api_prefix}" if app.settings.api_prefix else ""
    base = request.host_url.rstrip("/") + prefix
    return render_template("index.html", version=__version__, base=base,
                           models=app.models.names())

