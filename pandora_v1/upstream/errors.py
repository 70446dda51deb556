"""What the upstream's failures become: the client's ``APIError`` (status, wording, code), and the
two transport outcomes the client's failover tells apart."""
from __future__ import annotations

import orjson

from ..errors import APIError, upstream_error
from .limits import reset_in_text


class Unreachable(Exception):
    """No answer started: the next prefix may be tried. ``why`` is for the log."""

    def __init__(self, why: str):
        self.why = why


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


def _field_of(detail) -> str | None:
    """The body field a FastAPI-style 422 names (``{"loc": ["body", "model"], …}``)."""
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        loc = detail[0].get("loc")
        if isinstance(loc, list) and loc and isinstance(loc[-1], str) and loc[-1] != "body":
            return loc[-1]
    return None


def error_from_response(status: int, headers, body: bytes) -> APIError:
    """An upstream answer that is not a 200 event stream -> the client's error."""
    message, code, field = "", None, None
    is_html = body.lstrip()[:1] == b"<" or "html" in headers.get("Content-Type", "")
    if not is_html:
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            detail = parsed.get("detail", parsed.get("error", parsed.get("message")))
            message = _detail_text(detail)
            field = _field_of(detail)
            if isinstance(detail, dict) and isinstance(detail.get("code"), str):
                code = detail["code"]
    message = message[:500]
    if code == "message_length_exceeds_limit":
        return too_long(message, status)
    if status in KEPT_STATUSES:
        kept = {}
        if status == 429:
            code = code or "rate_limit_exceeded"
            reset = headers.get("Retry-After") or reset_in_text(message)     # a limit text may name it
            if reset:
                kept["Retry-After"] = str(reset)
        default = {401: "The upstream refused the access token.",
                   403: "The upstream refused the request (forbidden).",
                   404: "The upstream did not find what was asked for.",
                   429: "The upstream's rate limit was reached; try again later."}[status]
        code = code or {401: "invalid_api_key", 403: "forbidden", 404: "not_found"}.get(status)
        return APIError(status, f"Upstream: {message}" if message else default, code=code,
                        headers=kept, upstream_status=status)
    if 400 <= status < 500:
        return APIError(400, f"The upstream rejected the request ({status}): {message or 'no detail'}",
                        param=field, code="upstream_bad_request", upstream_status=status)
    what = "an HTML error page" if is_html else (message or "no detail")
    return upstream_error(f"The upstream failed ({status}, {what}).", status)


def too_long(message: str, status: int | str | None = 413) -> APIError:
    """The upstream's 413 ``message_length_exceeds_limit``: OpenAI's 400 ``context_length_exceeded``, so
    clients that shorten their history on it do (/v1/messages rewords it by the code)."""
    return APIError(400, "The conversation is too long for the upstream model "
                         f"({message or 'request too large'}). Please reduce the length of the messages.",
                    param="messages", code="context_length_exceeded", upstream_status=status)


# What a rejected conversation body is described by: the keys that decide how the upstream reads it.
_SENT_KEYS = ("model", "thinking_effort", "system_hints", "conversation_mode", "history_and_training_disabled",
              "force_use_search")


def rejected_body(error: APIError, payload: dict, path: str) -> APIError:
    """A 422 on the conversation POST ("Invalid conversation body"): a 400 naming what we sent."""
    sent = []
    for key in _SENT_KEYS:
        if key in payload:
            value = payload[key]
            if key == "conversation_mode" and isinstance(value, dict):
                value = value.get("kind")
            sent.append(f"{key}={orjson.dumps(value).decode()}")
    messages = payload.get("messages")
    sent.append(f"{len(messages) if isinstance(messages, list) else 0} message(s)")
    detail = error.message.split(": ", 1)[-1]
    return APIError(400, f"The upstream rejected the conversation body sent to {path} (422: {detail}). "
                         f"It had {', '.join(sent)}.", param=error.param,
                    code="invalid_conversation_body", upstream_status=422)
