"""GET /v1/usage: a client key's own usage by day and model, and its caps; with the admin key every
key's (``?key=NAME`` for one). usage-spec.md, 3."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, jsonify, request

from ..errors import APIError
from ..metering import book
from ..services import current_services

bp = Blueprint("usage", __name__)


@bp.get("/v1/usage")
def usage():
    services = current_services()
    header = request.headers.get("Authorization")
    meter = services.meter
    start, end = book.date_range(request.args.get("start_date"), request.args.get("end_date"),
                                 datetime.fromtimestamp(meter.clock(), timezone.utc).date())
    if services.credentials.is_admin(header):
        return jsonify(meter.report(start, end, request.args.get("key") or None))
    caller = services.credentials.identify(header)
    if caller.policy is not None:
        meter.identify(caller)                # an expired key reads nothing either
    if request.args.get("key") not in (None, "", caller.name):
        raise APIError(403, "A client key reads its own usage only; the admin key reads every key's.",
                       param="key", code="forbidden")
    return jsonify(meter.report(start, end, caller.name))
