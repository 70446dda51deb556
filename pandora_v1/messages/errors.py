"""Errors in Anthropic's shape and with its statuses (platform-spec.md §6.5):

    {"type": "error", "error": {"type": <type>, "message": <message>}, "request_id": "req_..."}

Every ``APIError`` is told by its status; a failure of the upstream (5xx, busy) is Anthropic's 529
``overloaded_error``, which the SDKs and Claude Code retry. The message is kept as it is (Claude Code's
recovery matches on wording); a parameter, when the error names one, goes first, as Anthropic writes it.
"""
from __future__ import annotations

from ..errors import APIError, bad_request
from .events import event, new_id

# our status -> (the status Anthropic answers, its error type)
SHAPES = {
    400: (400, "invalid_request_error"),
    401: (401, "authentication_error"),
    402: (402, "billing_error"),
    403: (403, "permission_error"),
    404: (404, "not_found_error"),
    413: (413, "request_too_large"),
    429: (429, "rate_limit_error"),
    500: (500, "api_error"),
    504: (504, "timeout_error"),
}
OVERLOADED = (529, "overloaded_error")     # every other 5xx: the upstream failed or is busy


def invalid(path: str, message: str) -> APIError:
    """A 400 as Anthropic words one: the path of what is wrong first (``messages.2.content.0: ...``)."""
    return bad_request(f"{path}: {message}" if path else message)


def shape(exc: APIError) -> tuple[int, str]:
    if exc.status in SHAPES:
        return SHAPES[exc.status]
    return OVERLOADED if exc.status >= 500 else (exc.status, "invalid_request_error")


def message_of(exc: APIError) -> str:
    return f"{exc.param}: {exc.message}" if exc.param and not exc.message.startswith(exc.param) else exc.message


def error_body(exc: APIError) -> tuple[int, dict]:
    status, kind = shape(exc)
    return status, {"type": "error", "error": {"type": kind, "message": message_of(exc)},
                    "request_id": new_id("req_")}


def error_event(exc: APIError) -> bytes:
    """A failure after the stream started: ``event: error``, the stream's last event."""
    return event("error", {"error": {"type": shape(exc)[1], "message": message_of(exc)}})
