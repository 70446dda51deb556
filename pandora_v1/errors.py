"""The one exception type every layer raises when a client must see an error.

It carries everything needed to answer in OpenAI's shape
(``{"error": {"message", "type", "param", "code"}}``) with a fitting status.
"""
from __future__ import annotations


class APIError(Exception):
    def __init__(self, status: int, message: str, *, type: str | None = None,
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None, upstream_status: int | str | None = None):
        super().__init__(message)
        self.upstream_status = upstream_status   # what the upstream answered, for logs and metrics
        self.status = status
        self.message = message
        self.type = type or _default_type(status)
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type,
                          "param": self.param, "code": self.code}}


def _default_type(status: int) -> str:
    if status == 429:
        return "requests"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


class ClientGone(APIError):
    """The client closed its connection before the answer was complete (client_watch.py)."""

    def __init__(self):
        # 499: nginx's "client closed request"; nobody reads it but the access log.
        super().__init__(499, "The client closed the connection.", code="client_closed_request")


def bad_request(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(400, message, param=param, code=code)


def upstream_error(message: str, upstream_status: int | str | None = None) -> APIError:
    """The upstream failed or answered something we cannot use: a 502 naming what went wrong."""
    return APIError(502, message, code="upstream_error", upstream_status=upstream_status)


# OpenAI's wordings for a bad parameter (the form APIs: images, audio).

def json_type(value) -> str:
    """A value's type as OpenAI's messages name it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "decimal"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def wrong_type(name: str, expected: str, value) -> APIError:
    """``expected`` with its article: "an integer", "a string"."""
    kind = json_type(value)
    article = "an" if kind[0] in "aeiou" else "a"
    return bad_request(f"Invalid type for '{name}': expected {expected}, but got {article} {kind} instead.",
                       name, code="invalid_type")


def unsupported_value(name: str, value, supported) -> APIError:
    listed = [f"'{v}'" for v in supported]
    choices = listed[0] if len(listed) == 1 else f"{', '.join(listed[:-1])}, and {listed[-1]}"
    return bad_request(f"Invalid value: '{value}'. Supported values are: {choices}.", name, code="invalid_value")


def missing_parameter(name: str) -> APIError:
    return bad_request(f"Missing required parameter: '{name}'.", name, code="missing_required_parameter")


def out_of_range(name: str, kind: str, value, low=None, high=None) -> APIError:
    """``kind`` is "integer" or "decimal"; one of ``low`` / ``high`` is the bound broken."""
    if low is not None:
        return bad_request(f"Invalid '{name}': {kind} below minimum value. Expected a value >= {low}, "
                           f"but got {value} instead.", name, code=f"{kind}_below_min_value")
    return bad_request(f"Invalid '{name}': {kind} above maximum value. Expected a value <= {high}, "
                       f"but got {value} instead.", name, code=f"{kind}_above_max_value")
