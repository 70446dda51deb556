"""What every route uses to read a request: a strict JSON body reader."""
from __future__ import annotations

import orjson
from flask import request

from ..errors import APIError, bad_request
from ..services import current_services


def read_json_body():
    """The request body as JSON, whatever Content-Type the client claimed."""
    limit = current_services().settings.max_request_bytes
    if request.content_length is not None and request.content_length > limit:
        raise APIError(413, f"The request body is larger than {limit} bytes.",
                       code="request_too_large")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise APIError(413, f"The request body is larger than {limit} bytes.",
                       code="request_too_large")
    if not data.strip():
        raise bad_request("The request body is empty; send a JSON object.", code="invalid_json")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"We could not parse the JSON body of your request ({exc}).",
                          code="invalid_json") from None
