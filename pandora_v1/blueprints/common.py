"""What the API routes share: strict JSON and form body readers, the caller's credentials, the caps of the
caller's key (``admit``), the model a request names."""
from __future__ import annotations

import orjson
from flask import request

from ..errors import APIError, bad_request
from ..runtime import loop
from ..runtime.config import ModelEntry
from ..services import current_services

BODY_PIECE = 256 * 1024   # gunicorn takes ~10 ms per 256 KB of a body that is all there


def read_json_body():
    """The request body as JSON, whatever Content-Type the client claimed."""
    limit = current_services().settings.max_request_bytes
    if request.content_length is not None and request.content_length > limit:
        raise APIError(413, f"The request body is larger than {limit} bytes.",
                       code="request_too_large")
    data = _read_body(limit)
    if len(data) > limit:
        raise APIError(413, f"The request body is larger than {limit} bytes.",
                       code="request_too_large")
    if not data or data.isspace():   # (isspace stops at the first other byte; strip would copy)
        raise bad_request("The request body is empty; send a JSON object.", code="invalid_json")
    big = len(data) > BODY_PIECE
    if big:
        loop.pause()
    try:
        # orjson holds the GIL (~2 ms per MB; the body cap bounds it), so a thread would not help
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"We could not parse the JSON body of your request ({exc}).",
                          code="invalid_json") from None
    if big:
        loop.pause()                 # the other streams run between parsing and what follows
    return body


def read_form():
    """A multipart/form-data body as (form, files), within the same size cap as JSON bodies (413 above it,
    also for a chunked body: werkzeug stops reading there)."""
    limit = current_services().settings.max_request_bytes
    if request.content_length is not None and request.content_length > limit:
        raise APIError(413, f"The request body is larger than {limit} bytes.", code="request_too_large")
    if request.mimetype != "multipart/form-data":
        raise bad_request("This endpoint takes multipart/form-data (the file as a form field).",
                          code="invalid_content_type")
    request.max_content_length = limit
    return request.form, request.files


def _read_body(limit: int) -> bytes | bytearray:
    """Up to ``limit + 1`` bytes of the body; a big one in pieces, letting the loop's other
    greenlets run between them (gunicorn reads a body that is all there without yielding),
    into one buffer (no 30 MB join at the end)."""
    length = request.content_length
    if length is not None and length <= BODY_PIECE:
        return request.stream.read(limit + 1)
    buffer = bytearray()
    while len(buffer) <= limit:
        piece = request.stream.read(min(BODY_PIECE, limit + 1 - len(buffer)))
        if not piece:
            break
        buffer += piece
        loop.pause()
    return buffer


def model_entry(services, name: str, creds):
    """The configured model ``name`` names, or a slug the upstream's list (as ``/v1/models``
    showed it, still cached: ``upstream_models``) has for this account; for a GPT its info is
    fetched (or cached) first, so a GPT that can't be had is a 404 model_not_found before
    anything goes upstream."""
    try:
        entry = services.models.resolve(name)
    except APIError as exc:
        if exc.status != 404 or not services.settings.model_settings.list_upstream \
                or services.catalog.find(name, creds, fetch=False) is None:
            raise
        return ModelEntry(name, name)
    if entry.gizmo_id:
        services.gpts.info(entry, creds)
    return entry


def request_credentials(header: str | None = None):
    """The upstream credentials of the current request (its Authorization header, or ``header``)."""
    if header is None:
        header = request.headers.get("Authorization")
    return current_services().credentials.resolve(header)


def admit(model: str, *, images: bool = False) -> None:
    """The caps of the caller's key, checked before anything of the request reaches the upstream
    (after its credentials and body: a refusal names the model); ``images``: it asks for images."""
    current_services().meter.admit(model, images=images)
