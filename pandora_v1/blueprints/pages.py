"""The human-facing pages: the status page, the playground, and their JSON.

Nothing here shows the upstream prefixes: a PandoraNext prefix is a secret,
so the pages and /status.json only say how many there are.
"""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, jsonify, render_template, request

from ..runtime import live
from ..serve import jobs
from ..services import current_services
from ..version import __version__

bp = Blueprint("pages", __name__)

STORE_NAMES = {"SQLiteStore": "embedded (SQLite)", "RedisStore": "Redis"}
# Only our own files run; pictures may come from anywhere (the upstream's image links).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: https:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def overview() -> dict:
    """What this server offers and where its upstream is."""
    services = current_services()
    settings = services.settings
    api_path = settings.api_path
    base = (settings.backend_container_url or request.host_url).rstrip("/") + api_path
    gpts = [entry.alias for entry in settings.gpts]
    store = services.store
    return {
        "version": __version__,
        "base_url": base,
        "api_path": api_path,
        "endpoints": {"chat": f"{base}/v1/chat/completions",
                      "responses": f"{base}/v1/responses",
                      "messages": f"{base}/v1/messages",
                      "images": f"{base}/v1/images/generations",
                      "models": f"{base}/v1/models"},
        "models": [name for name in services.models.names() if name not in gpts],
        "gpts": gpts,
        "store": STORE_NAMES.get(type(store).__name__, type(store).__name__),
        "upstream": {"base_url": without_userinfo(settings.upstream_base_url),
                     "prefixes": sum(1 for prefix in settings.upstream_prefixes if prefix)},
    }


def without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


@bp.after_request
def protect(response):
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CSP
    return response


def claude_model(settings) -> str:
    """A Claude name the Anthropic snippets can use: the first of the table that is not a pattern."""
    return next((name for name, _ in settings.anthropic.models if "*" not in name), "claude-sonnet-4-6")


@bp.get("/")
def index():
    services = current_services()
    return render_template("index.html", info=overview(), jobs=jobs.next_runs(services),
                           admin=bool(services.settings.admin_key), claude=claude_model(services.settings))


@bp.get("/playground")
def playground():
    return render_template("playground.html", info=overview())


@bp.get("/status.json")
def status():
    info = overview()
    services = current_services()
    info["upstream"].update(services.upstream.health())
    info["jobs"] = jobs.next_runs(services)
    info["live"] = live.history_for(services.metrics).minutes()
    return jsonify(info)

