"""What the upstream's failures become: the client's ``APIError`` (status, wording, code), and the
two transport outcomes the client's failover tells apart."""
from __future__ import annotations

import orjson

from ..errors import APIError, upstream_error


class Unreachable(Exception):
    """No answer started. ``why`` is for the log. ``sent``: the request may have reached the
    upstream (written, then no usable answer), so it goes to no other prefix: sending it again
    could start the conversation twice (RFC 9110 §9.2.2)."""

    def __init__(self, why: str, sent: bool = False):
        self.why = why
        self.sent = sent


class TimedOut(Exception):
    """The upstream took the request but sent no head within the read timeout."""


KEPT_STATUSES = {401, 403, 404, 429}


def _detail_text(detail) -> str:
    if isinstance(detail, str):
        return detail
    if isinstance(detail, dict):
        return str(detail.get("message") or detail.get("detail") or detail.get("code") or "")
    if isinstance(detail, list):
        return "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    return ""


def error_from_response(status: int, headers, body: bytes) -> APIError:
    """An upstream answer that is not a 200 event stream -> the client's error."""
    message, code = "", None
    is_html = body.lstrip()[:1] == b"<" or "html" in headers.get("Content-Type", "")
    if not is_html:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            detail = parsed.get("detail", parsed.get("error", parsed.get("message")))
            message = _detail_text(detail)
            if isinstance(detail, dict) and isinstance(detail.get("code"), str):
                code = detail["code"]
    message = message[:500]
    if status in KEPT_STATUSES:
        kept = {}
        if status == 429:
            code = code or "rate_limit_exceeded"
            if headers.get("Retry-After"):
                kept["Retry-After"] = headers["Retry-After"]
        default = {401: "The upstream refused the access token.",
                   403: "The upstream refused the request (forbidden).",
                   404: "The upstream did not find what was asked for.",
                   429: "The upstream's rate limit was reached; try again later."}[status]
        code = code or {401: "invalid_api_key", 403: "forbidden", 404: "not_found"}.get(status)
        return APIError(status, f"Upstream: {message}" if message else default, code=code,
                        headers=kept, upstream_status=status)
    if 400 <= status < 500:
        return APIError(400, f"The upstream rejected the request ({status}): {message or 'no detail'}",
                        code="upstream_bad_request", upstream_status=status)
    what = "an HTML error page" if is_html else (message or "no detail")
    return upstream_error(f"The upstream failed ({status}, {what}).", status)
