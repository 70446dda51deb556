"""Images as the client asked for them: the bytes in ``output_format``, the body, the stream events, usage.

The upstream draws PNG or WebP; Pillow turns them into what ``output_format``
and ``output_compression`` ask (bytes already right go out untouched). The
body's ``size`` and ``background`` are those of the bytes themselves (an
alpha channel with a transparent pixel is a transparent background). Stream
events are ``event:`` + ``data:`` pairs with no ``[DONE]`` (platform spec 4.3).

``usage`` is an estimate in OpenAI's shape, every key the AI SDK reads
present: text tokens are the prompt's tiktoken count; input image tokens
follow OpenAI's tiling (65 + 129 per 512-pixel tile); output image tokens
OpenAI's published figures for gpt-image-1 by quality and shape.
"""
from __future__ import annotations

import base64
import io
import math
import time
from dataclasses import dataclass

import orjson

from ..errors import upstream_error
from ..runtime import loop
from ..usage import tokens
from .params import ImageRequest

PILLOW_FORMATS = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}
# quality -> output image tokens for (square, not square)
OUTPUT_TOKENS = {"low": (272, 408), "medium": (1056, 1584), "high": (4160, 6240)}
QUALITY_TIER = {"auto": "medium", "standard": "medium", "hd": "high", "xhigh": "high", "max": "high"}
RESOLVED_QUALITY = {"auto": "medium"}


@dataclass(frozen=True)
class Picture:
    """One finished image: its bytes in the asked format, what they are, where else it lives."""
    data: bytes
    size: str                       # of the bytes: "1536x1024"
    background: str                 # "transparent" | "opaque"
    revised_prompt: str | None = None
    upstream_url: str = ""          # the upstream's own download URL (a fallback link)
    converted: bool = False         # the bytes are not the upstream's

    def b64(self) -> str:
        return base64.b64encode(self.data).decode()


def picture(data: bytes, request: ImageRequest, revised_prompt: str | None = None, upstream_url: str = "") -> Picture:
    """The upstream's bytes in the format asked (in gevent's thread pool: Pillow releases the GIL)."""
    try:
        converted, size, background = loop.off_loop(lambda: _convert(data, request.output_format,
                                                                     request.output_compression))
    except (OSError, ValueError):      # (Pillow's UnidentifiedImageError is an OSError)
        raise upstream_error("The upstream's image could not be read.") from None
    return Picture(converted, size, background, revised_prompt, upstream_url, converted is not data)


def _convert(data: bytes, output_format: str, compression: int) -> tuple[bytes, str, str]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        image.load()
        size = f"{image.width}x{image.height}"
        transparent = _transparent(image)
        if PILLOW_FORMATS.get(image.format or "") == output_format and (compression == 100 or output_format == "png"):
            return data, size, "transparent" if transparent else "opaque"
        out = io.BytesIO()
        if output_format == "jpeg":
            flat = image.convert("RGBA")
            backdrop = Image.new("RGB", flat.size, (255, 255, 255))
            backdrop.paste(flat, mask=flat.getchannel("A"))
            backdrop.save(out, "JPEG", quality=max(1, min(compression, 95)))
            transparent = False
        elif output_format == "webp":
            image.save(out, "WEBP", quality=compression, lossless=compression == 100, exact=True)
        else:
            image.save(out, "PNG")
        return out.getvalue(), size, "transparent" if transparent else "opaque"


def _transparent(image) -> bool:
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        return image.convert("RGBA").getchannel("A").getextrema()[0] < 255
    return False


# ------------------------------------------------------------------ usage

def input_image_tokens(width: int, height: int) -> int:
    """OpenAI's tiling estimate of one input image: fit in 2048, shorter side 512, 512-pixel tiles."""
    fit = min(1.0, 2048 / max(width, height))
    wide, high = width * fit, height * fit
    scale = 512 / min(wide, high)
    tiles = math.ceil(wide * scale / 512) * math.ceil(high * scale / 512)
    return 65 + 129 * tiles


def usage(request: ImageRequest, prompt: str, pictures: list[Picture], input_images: int = 0) -> dict:
    text = tokens.count(prompt, "gpt-4o")
    tier = QUALITY_TIER.get(request.quality, request.quality)
    square, oblong = OUTPUT_TOKENS.get(tier, OUTPUT_TOKENS["medium"])
    output = sum(square if _is_square(p.size) else oblong for p in pictures)
    return {"input_tokens": text + input_images,
            "input_tokens_details": {"image_tokens": input_images, "text_tokens": text},
            "output_tokens": output, "total_tokens": text + input_images + output,
            "output_tokens_details": {"image_tokens": output, "text_tokens": 0}}


def _is_square(size: str) -> bool:
    width, _, height = size.partition("x")
    return width == height


# ------------------------------------------------------------------ wire

def body(request: ImageRequest, items: list[dict], pictures: list[Picture], usage_: dict) -> dict:
    """The images response (platform spec 4.2): resolved values, no ``auto``."""
    first = pictures[0]
    return {"created": int(time.time()),
            "background": "transparent" if any(p.background == "transparent" for p in pictures) else "opaque",
            "data": items, "output_format": request.output_format,
            "quality": RESOLVED_QUALITY.get(request.quality, request.quality), "size": first.size,
            "usage": usage_}


def item(request: ImageRequest, picture_: Picture, url: str | None) -> dict:
    """One ``data[]`` entry: b64_json unless only url was asked, url when asked (or a DALL·E name's default)."""
    entry: dict = {}
    if request.wants_b64 or url is None:
        entry["b64_json"] = picture_.b64()
    if url is not None:
        entry["url"] = url
    if picture_.revised_prompt or request.legacy:
        entry["revised_prompt"] = picture_.revised_prompt or request.prompt
    return entry


def partial_event(kind: str, request: ImageRequest, data: bytes, index: int) -> bytes:
    return _sse(f"{kind}.partial_image", {
        "type": f"{kind}.partial_image", "b64_json": base64.b64encode(data).decode(),
        "background": request.background, "created_at": int(time.time()), "output_format": request.output_format,
        "partial_image_index": index, "quality": request.quality, "size": request.size})


def completed_event(kind: str, request: ImageRequest, picture_: Picture, usage_: dict) -> bytes:
    return _sse(f"{kind}.completed", {
        "type": f"{kind}.completed", "b64_json": picture_.b64(), "background": picture_.background,
        "created_at": int(time.time()), "output_format": request.output_format,
        "quality": RESOLVED_QUALITY.get(request.quality, request.quality), "size": picture_.size,
        "usage": usage_})


def error_event(error: dict) -> bytes:
    return _sse("error", {"type": "error", **error})


def _sse(event: str, payload: dict) -> bytes:
    return b"event: %s\ndata: %s\n\n" % (event.encode(), orjson.dumps(payload))
