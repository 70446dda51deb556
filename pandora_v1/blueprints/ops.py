"""Probes for operators: /healthz (alive), /readyz (can serve), /metrics (Prometheus)."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify

from .. import openapi
from ..runtime.store import StoreUnavailable
from ..services import current_services
from ..version import __version__

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz():
    """Alive: the process answers HTTP."""
    return jsonify({"status": "ok", "version": __version__})


@bp.get("/readyz")
def readyz():
    """Ready: the upstream answers (cached a few seconds) and the store is reachable."""
    services = current_services()
    checks = {"upstream": services.upstream.health(), "store": {"reachable": True, "backend": type(services.store).__name__}}
    try:
        services.store.ping()
    except StoreUnavailable:
        checks["store"]["reachable"] = False
    ready = all(check.get("reachable") for check in checks.values())
    return jsonify({"status": "ready" if ready else "not ready", "checks": checks}), 200 if ready else 503


@bp.get("/metrics")
def metrics():
    return Response(current_services().metrics.exposition(), mimetype="text/plain; version=0.0.4")


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.document(current_services().settings.api_path))
