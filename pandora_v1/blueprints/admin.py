"""/admin/*: what only the admin key may read (usage-spec.md, 5). GET /admin/usage.json: every key's
usage (``/v1/usage``'s shape), each key's caps and today, the last requests, the upstream limits per
account. Without the admin key: 401, and nothing else."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, jsonify, request

from ..errors import APIError
from ..metering import book
from ..metering import limits as upstream_limits
from ..services import current_services

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def admin_only():
    services = current_services()
    if not services.credentials.is_admin(request.headers.get("Authorization")):
        reason = "send the admin key as 'Authorization: Bearer <admin key>'" if services.settings.admin_key \
            else "no admin_key is configured"
        raise APIError(401, f"The admin API needs the admin key ({reason}).", code="invalid_api_key")


@bp.get("/usage.json")
def usage():
    services = current_services()
    meter = services.meter
    start, end = book.date_range(request.args.get("start_date"), request.args.get("end_date"),
                                 datetime.fromtimestamp(meter.clock(), timezone.utc).date())
    report = meter.admin_report(start, end)
    report["upstream_limits"] = upstream_limits.current(services.store)
    return jsonify(report)


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str):
    raise APIError(404, f"Unknown admin URL: /admin/{rest}.", code="unknown_url")
