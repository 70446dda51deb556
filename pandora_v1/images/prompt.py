"""What the upstream is asked to draw: the prompt, then in words what it has no field for.

The upstream's image tool takes a prompt only (upstream-protocol.md, "Image
generation and editing": no size, aspect, background, style or mask field);
the model picks the size of its tool call from what the prompt says. So the
size becomes an aspect and a resolution, a transparent background a request
for alpha, a mask the region it leaves transparent, said as a share of the
image.
"""
from __future__ import annotations

import io

from ..errors import bad_request
from .params import ImageRequest, aspect

BACKGROUNDS = {"transparent": "Use a transparent background (a PNG with alpha).",
               "opaque": "Use an opaque background, no transparency."}
STYLES = {"vivid": "Style: vivid, hyper-real and dramatic.", "natural": "Style: natural, realistic and understated."}
FIDELITY = {"high": "Keep the details of the input image faithfully (faces, logos, text)."}


def upstream_prompt(request: ImageRequest, prefix: str = "", mask_region: str | None = None) -> str:
    hints = []
    shape = aspect(request.size)
    if shape:
        width, height, kind = shape
        hints.append(f"Output a {width}:{height} {kind} composition, {request.size}.")
    hints += [table[value] for table, value in ((BACKGROUNDS, request.background), (STYLES, request.style),
                                                (FIDELITY, request.input_fidelity)) if value in table]
    if mask_region:
        hints.append(f"Change only {mask_region} of the first image (the region its mask leaves transparent); "
                     "keep everything else exactly as it is.")
    text = f"{prefix}{request.prompt}"
    return f"{text}\n\n{' '.join(hints)}" if hints else text


def mask_region(mask: bytes, image_size: tuple[int, int]) -> str | None:
    """Where a mask (a PNG whose transparent pixels mark what to change) lets the edit go, in words;
    None when it marks nothing. A mask that is no PNG with alpha, or not the image's size, is a 400."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(mask)) as image:
            if image.format != "PNG":
                raise ValueError
            if image.size != image_size:
                raise bad_request("Invalid mask image format - mask size does not match image size.", "mask",
                                  code="invalid_value")
            if image.mode not in ("RGBA", "LA", "PA") and "transparency" not in image.info:
                raise bad_request("Invalid mask image: the mask needs an alpha channel (transparent where the "
                                  "image should change).", "mask", code="invalid_image_format")
            alpha = image.convert("RGBA").getchannel("A")
    except (UnidentifiedImageError, OSError, ValueError):
        raise bad_request("Invalid mask image: the mask must be a PNG file with an alpha channel.", "mask",
                          code="invalid_image_format") from None
    box = alpha.point(lambda a: 255 if a == 0 else 0).getbbox()    # the transparent pixels
    if box is None:
        return None
    width, height = image_size
    left, top, right, bottom = box
    if box == (0, 0, width, height):
        return "the whole area"
    return (f"the area from {round(100 * left / width)}% to {round(100 * right / width)}% across and from "
            f"{round(100 * top / height)}% to {round(100 * bottom / height)}% down")
