"""An images request as OpenAI takes it: the gpt-image parameter set, checked with OpenAI's wording.

Generations come as JSON, edits as multipart/form-data whose values are all
strings (``n=2``, ``stream=true``): ``form_values`` types them first, so both
go through the same rules. Legacy model names (``dall-e-2``, ``dall-e-3``,
``gpt-image-1``) keep their own limits (sizes, ``n``, prompt length); any
other name (a configured alias, a newer gpt-image) gets gpt-image's.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..errors import bad_request, missing_parameter, out_of_range, unsupported_value, wrong_type

QUALITIES = ("auto", "low", "medium", "high", "xhigh", "max", "standard", "hd")
# name -> (kind, enum values or (min, max)); anything else a client sends is accepted and ignored
FIELDS: dict[str, tuple[str, tuple]] = {
    "prompt": ("string", ()), "model": ("string", ()), "size": ("string", ()),
    "user": ("string", ()), "safety_identifier": ("string", ()),
    "n": ("integer", (1, 10)), "output_compression": ("integer", (0, 100)), "partial_images": ("integer", (0, 3)),
    "stream": ("boolean", ()),
    "quality": ("enum", QUALITIES),
    "background": ("enum", ("transparent", "opaque", "auto")),
    "output_format": ("enum", ("png", "jpeg", "webp")),
    "moderation": ("enum", ("low", "auto")),
    "response_format": ("enum", ("url", "b64_json")),
    "style": ("enum", ("vivid", "natural")),
    "input_fidelity": ("enum", ("high", "low")),
}
# Legacy families and their limits; "gpt-image-1" covers -mini, 1.5 and chatgpt-image-*.
SIZES = {"dall-e-2": ("256x256", "512x512", "1024x1024"),
         "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
         "gpt-image-1": ("1024x1024", "1536x1024", "1024x1536", "auto")}
MAX_N = {"dall-e-3": 1}
MAX_PROMPT = {"dall-e-2": 1000, "dall-e-3": 4000}
PROMPT_LIMIT = 32000
_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")
_TRUE, _FALSE = ("true", "1"), ("false", "0")


def family(model: str) -> str:
    """``dall-e-2`` | ``dall-e-3`` | ``gpt-image-1`` (its fixed sizes) | ``gpt-image`` (the rest)."""
    name = model.lower()
    if name.startswith("dall-e-2") or name.startswith("dall-e-3"):
        return name[:8]
    if name.startswith(("gpt-image-1", "chatgpt-image")):
        return "gpt-image-1"
    return "gpt-image"


@dataclass(frozen=True)
class ImageRequest:
    prompt: str
    model: str = ""
    n: int = 1
    size: str = "auto"
    quality: str = "auto"
    background: str = "auto"
    output_format: str = "png"
    output_compression: int = 100
    partial_images: int = 0
    stream: bool = False
    response_format: str | None = None        # None: the client did not say
    style: str | None = None
    input_fidelity: str | None = None

    @property
    def family(self) -> str:
        return family(self.model)

    @property
    def legacy(self) -> bool:
        """A name from before gpt-image (or an alias): OpenAI's url default, revised_prompt."""
        name = self.model.lower()
        return not name.startswith(("gpt-image", "chatgpt-image"))

    @property
    def wants_b64(self) -> bool:
        """Always, unless url alone was asked (the AI SDK fails on a body without b64_json)."""
        return self.response_format != "url"

    @property
    def wants_url(self) -> bool:
        """Asked for, or the default of the DALL·E names OpenAI gave it for (old clients read it)."""
        return self.response_format == "url" or (self.response_format is None and self.legacy)


def form_values(form) -> dict:
    """A multipart form's strings, typed as the JSON body would have them (the rest stay strings,
    for the type check to name)."""
    values: dict = {}
    for name, (kind, _) in FIELDS.items():
        if name not in form:
            continue
        value = form[name]
        if kind == "integer" and re.fullmatch(r"-?\d{1,9}", value.strip()):
            values[name] = int(value)
        elif kind == "boolean" and value.strip().lower() in _TRUE + _FALSE:
            values[name] = value.strip().lower() in _TRUE
        else:
            values[name] = value
    return values


def parse(body) -> ImageRequest:
    """Raise OpenAI's 400 for the first parameter it would refuse, else the request."""
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    values = {name: _checked(name, body[name]) for name in FIELDS if body.get(name) is not None}
    if "prompt" not in values:
        raise missing_parameter("prompt")
    model = values.get("model", "").strip()
    kind = family(model)
    prompt = values["prompt"]
    if not prompt.strip():
        raise bad_request("Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an "
                          "empty string instead.", "prompt", code="empty_string")
    limit = MAX_PROMPT.get(kind, PROMPT_LIMIT)
    if len(prompt) > limit:
        raise bad_request(f"Invalid 'prompt': string too long. Expected a string with maximum length {limit}, "
                          f"but got a string with length {len(prompt)} instead.", "prompt",
                          code="string_above_max_length")
    n = values.get("n", 1)
    if n > MAX_N.get(kind, 10):
        raise out_of_range("n", "integer", n, high=MAX_N[kind])
    size = values.get("size", "auto")
    _check_size(size, kind)
    output_format = values.get("output_format", "png")
    if values.get("background") == "transparent" and output_format == "jpeg":
        raise bad_request("Invalid value: 'transparent'. A transparent background needs output_format 'png' "
                          "or 'webp'.", "background", code="invalid_value")
    return ImageRequest(prompt.strip(), model, n, size, values.get("quality", "auto"),
                        values.get("background", "auto"), output_format, values.get("output_compression", 100),
                        values.get("partial_images", 0), values.get("stream", False),
                        values.get("response_format"), values.get("style"), values.get("input_fidelity"))


def _checked(name: str, value):
    kind, rule = FIELDS[name]
    if kind in ("string", "enum"):
        if not isinstance(value, str):
            raise wrong_type(name, "a string", value)
        if kind == "enum" and value not in rule:
            raise unsupported_value(name, value, rule)
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise wrong_type(name, "a boolean", value)
        return value
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)          # 2.0 is an integer in JSON; 2.5 is not
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(name, "an integer", value)
    low, high = rule
    if value < low:
        raise out_of_range(name, "integer", value, low=low)
    if value > high:
        raise out_of_range(name, "integer", value, high=high)
    return value


def _check_size(size: str, kind: str) -> None:
    if kind in SIZES:
        if size != "auto" and size not in SIZES[kind]:     # auto: the default when none is given
            raise unsupported_value("size", size, SIZES[kind])
        return
    if size == "auto":
        return
    match = _SIZE.match(size)
    width, height = (int(match[1]), int(match[2])) if match else (0, 0)
    if not match or width % 16 or height % 16 or not 256 <= min(width, height) <= max(width, height) <= 3840 \
            or max(width, height) > 3 * min(width, height) or width * height > 3840 * 2160:
        raise bad_request(f"Invalid value: '{size}'. A size is 'auto' or WIDTHxHEIGHT (e.g. '1536x1024'): both "
                          "multiples of 16, from 256 to 3840, at most 3840x2160 pixels, with an aspect ratio "
                          "between 1:3 and 3:1.", "size", code="invalid_value")


def aspect(size: str) -> tuple[int, int, str] | None:
    """(w, h, "landscape" | "portrait" | "square") of a WxH size reduced to its ratio; None for auto."""
    match = _SIZE.match(size)
    if not match:
        return None
    width, height = int(match[1]), int(match[2])
    divisor = math.gcd(width, height)
    shape = "square" if width == height else "landscape" if width > height else "portrait"
    return width // divisor, height // divisor, shape
