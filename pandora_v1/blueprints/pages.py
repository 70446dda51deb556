"""The human-facing pages: the status page, the playground, and their JSON.

Nothing here shows the upstream prefixes: a PandoraNext prefix is a secret,
so the pages and /status.json only say how many there are.
"""
from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, current_app, jsonify, render_template, request

from .. import __version__
from ..errors import APIError
from .common import services

bp = Blueprint("pages", __name__)

HEALTH_TTL = 5.0                                     # seconds a worker reuses its last check
NO_ANSWER = {"upstream_unreachable", "upstream_timeout"}
# Only our own files run; pictures may come from anywhere (the upstream's image links).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: http: https:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def overview() -> dict:
    """What this server offers and where its upstream is."""
    app, settings = services(), services().settings
    api_path = f"/{settings.api_prefix}" if settings.api_prefix else ""
    base = (settings.backend_container_url or request.host_url).rstrip("/") + api_path
    gpts = [entry.alias for entry in settings.gpts]
    store = getattr(app, "store", None)
    return {
        "version": __version__,
        "base_url": base,
        "api_path": api_path,
        "endpoints": {"chat": f"{base}/v1/chat/completions",
                      "images": f"{base}/v1/images/generations",
                      "models": f"{base}/v1/models"},
        "models": [name for name in app.models.names() if name not in gpts],
        "gpts": gpts,
        "store": type(store).__name__ if store is not None else "embedded",
        "upstream": {"base_url": without_userinfo(settings.upstream_base_url),
                     "prefixes": sum(1 for prefix in settings.upstream_prefixes if prefix)},
    }


def without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def upstream_health() -> dict:
    """This worker's last check of the upstream, made again when older than HEALTH_TTL.

    One check at a time: requests arriving meanwhile wait for it and share it."""
    cache = current_app.extensions.setdefault("pandora_v1.health", {"lock": threading.Lock()})
    with cache["lock"]:
        if time.monotonic() - cache.get("at", float("-inf")) >= HEALTH_TTL:
            cache.update(check_upstream(), at=time.monotonic())
        return {key: value for key, value in cache.items() if key not in ("lock", "at")}


def check_upstream() -> dict:
    """GET backend-api/models without credentials: any HTTP answer means reachable."""
    started, status, error = time.perf_counter(), None, None
    try:
        response = services().upstream.request("GET", "/backend-api/models", None)
        status = response.status_code
        response.close()
    except APIError as exc:            # a 401 is the usual answer; only its status is kept
        if exc.code in NO_ANSWER:
            error = exc.message        # our own words: no upstream text, no URL
        else:
            status = exc.status
    return {"reachable": error is None, "status": status, "error": error,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            "checked_at": int(time.time())}


@bp.after_request
def protect(response):
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CSP
    return response


@bp.get("/")
def index():
    return render_template("index.html", info=overview())


@bp.get("/playground")
def playground():
    return render_template("playground.html", info=overview())


@bp.get("/status.json")
def status():
    info = overview()
    info["upstream"].update(upstream_health())
    return jsonify(info)


@bp.get("/healthz")
def healthz():
    """Alive: the process answers HTTP."""
    return jsonify({"status": "ok", "version": __version__})
