"""OpenAI's type and range rules for the chat parameters, checked as OpenAI does.

The upstream honours few of these, but a malformed value is the client's bug,
and OpenAI answers it with a 400 naming the ``param``: so do we, in OpenAI's
wording. Valid values we cannot honour stay accepted. Also here: a user or
system message must have content, and bytes declared as an image must be one.
"""
from __future__ import annotations

from collections.abc import Sequence

from ..errors import bad_request, out_of_range, unsupported_value, wrong_type
from ..files.parts import InputFile
from ..files.sniff import sniff_type
from ..models.effort import EFFORTS
from ..models.registry import is_search_model

# name -> (minimum, maximum) for numbers ("decimal" in OpenAI's messages)
DECIMALS = {"temperature": (0, 2), "top_p": (0, 1),
            "presence_penalty": (-2, 2), "frequency_penalty": (-2, 2)}
# name -> minimum for integers (None: any)
INTEGERS = {"max_tokens": 1, "max_completion_tokens": 1, "top_logprobs": 0, "seed": None}
INTEGER_MAXIMUMS = {"top_logprobs": 20}
BOOLEANS = ("logprobs", "store")   # tools, tool_choice, parallel_tool_calls: tooldefs.py
STRINGS = ("user",)
CONTENT_REQUIRED = ("user", "system", "developer")
SEARCH_CONTEXT_SIZES = ("low", "medium", "high")
LOCATION_FIELDS = ("city", "country", "region", "timezone")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def _check_decimal(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise wrong_type(name, "a decimal", value)
    low, high = DECIMALS[name]
    if value < low:
        raise out_of_range(name, "decimal", _number(value), low=low)
    if value > high:
        raise out_of_range(name, "decimal", _number(value), high=high)


def _check_integer(name: str, value) -> None:
    check_integer(name, value, INTEGERS[name], INTEGER_MAXIMUMS.get(name))


def check_integer(name: str, value, low: int | None, high: int | None = None) -> int:
    """An integer within [low, high], in OpenAI's words when not."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)   # 5.0 is an integer in JSON; 1e308 and 2.5 are not
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(name, "an integer", value)
    if low is not None and value < low:
        raise out_of_range(name, "integer", value, low=low)
    if high is not None and value > high:
        raise out_of_range(name, "integer", value, high=high)
    return value


def check_enum(name: str, value, allowed: tuple[str, ...]) -> None:
    """A string out of ``allowed``: OpenAI's invalid_type / invalid_value 400 naming ``name``."""
    if not isinstance(value, str):
        raise wrong_type(name, "a string", value)
    if value not in allowed:
        raise unsupported_value(name, value, allowed)


def check_object(name: str, value) -> dict:
    if not isinstance(value, dict):
        raise wrong_type(name, "an object", value)
    return value


def check_location(name: str, value: dict) -> dict:
    """city / country / region / timezone: optional strings (or null)."""
    for field in LOCATION_FIELDS:
        if value.get(field) is not None and not isinstance(value[field], str):
            raise wrong_type(f"{name}.{field}", "a string", value[field])
    return value


def _check_web_search_options(value) -> None:
    """``{}`` asks for search with the defaults; the location is nested under ``approximate``."""
    options = check_object("web_search_options", value)
    if options.get("search_context_size") is not None:
        check_enum("web_search_options.search_context_size", options["search_context_size"],
                   SEARCH_CONTEXT_SIZES)
    location = options.get("user_location")
    if location is None:
        return
    check_object("web_search_options.user_location", location)
    if location.get("type") is None:
        raise bad_request("Missing required parameter: 'web_search_options.user_location.type'.",
                          "web_search_options.user_location.type", code="missing_required_parameter")
    check_enum("web_search_options.user_location.type", location["type"], ("approximate",))
    if location.get("approximate") is None:
        raise bad_request("Missing required parameter: 'web_search_options.user_location.approximate'.",
                          "web_search_options.user_location.approximate", code="missing_required_parameter")
    check_location("web_search_options.user_location.approximate",
                   check_object("web_search_options.user_location.approximate", location["approximate"]))


def _check_stop(value) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise wrong_type("stop", "a string or an array of strings", value)
    if len(value) > 4:
        raise bad_request(f"Invalid 'stop': array too long. Expected an array with maximum length 4, "
                          f"but got an array with length {len(value)} instead.", "stop",
                          code="array_above_max_length")


def _check_logit_bias(value) -> None:
    if not isinstance(value, dict):
        raise wrong_type("logit_bias", "an object", value)
    for token, bias in value.items():
        if not token.lstrip("-").isdigit():
            raise bad_request(f"Invalid key in 'logit_bias': {token!r} is not a token id.",
                              "logit_bias", code="invalid_key")
        if isinstance(bias, bool) or not isinstance(bias, (int, float)) or not -100 <= bias <= 100:
            raise bad_request(f"Invalid value for 'logit_bias': the bias of token {token} must be a "
                              f"number from -100 to 100.", "logit_bias", code="invalid_value")


def _check_messages(messages: list, parsed: Sequence) -> None:
    for index, message in enumerate(messages):
        if message.get("role") in CONTENT_REQUIRED and message.get("content") is None:
            raise bad_request(f"Invalid value for 'content': expected a string or an array of content "
                              f"parts, got null. A {message['role']} message needs content.",
                              f"messages[{index}].content", code="invalid_value")
    for message in parsed:
        for segment in message.segments:
            if isinstance(segment, InputFile) and segment.data is not None:
                _check_image(segment)


def _check_image(file: InputFile) -> None:
    """Bytes declared as an image must be one, or at least a file the bytes name.

    The bytes decide the type (a PDF sent as image/png goes up as the PDF it
    is, as the reference products do); bytes that show no type at all, or
    are plain text, under an image/* claim are a client's mistake.
    """
    if not (file.declared_type or "").startswith("image/") or not file.data:
        return   # (empty data has its own error, empty_file, where the file is read)
    if sniff_type(file.data) not in (None, "text/plain"):
        return
    # Named like a broken image found later (uploads.py): the part, code invalid_image.
    raise bad_request(f"The data declared {file.declared_type} is not an image (PNG, JPEG, GIF or "
                      f"WebP expected).", file.param, code="invalid_image")


def check_parameters(body: dict, parsed: Sequence) -> None:
    """Raise a 400 APIError naming the first parameter OpenAI would refuse.

    ``body`` is the request (model and messages already checked by the
    caller), ``parsed`` its messages as ``ChatMessage``s. Search models take
    no sampling knobs and ignore them (platform-spec §2.1: never a 400).
    """
    for name in () if is_search_model(body["model"]) else DECIMALS:
        if body.get(name) is not None:
            _check_decimal(name, body[name])
    for name in INTEGERS:
        if body.get(name) is not None:
            _check_integer(name, body[name])
    for name in BOOLEANS:
        if body.get(name) is not None and not isinstance(body[name], bool):
            raise wrong_type(name, "a boolean", body[name])
    for name in STRINGS:
        if body.get(name) is not None and not isinstance(body[name], str):
            raise wrong_type(name, "a string", body[name])
    if body.get("stop") is not None:
        _check_stop(body["stop"])
    if body.get("logit_bias") is not None:
        _check_logit_bias(body["logit_bias"])
    if body.get("reasoning_effort") is not None:
        check_enum("reasoning_effort", body["reasoning_effort"], EFFORTS)
    if body.get("web_search_options") is not None:
        _check_web_search_options(body["web_search_options"])
    _check_messages(body["messages"], parsed)
