"""POST /v1/images/generations and /v1/images/edits: the upstream's image tool in OpenAI's shape."""
from __future__ import annotations

import secrets
import time

from flask import Blueprint, Response, g, jsonify, request

from ..answer.request import ChatRequest
from ..answer.sse import SSE_HEADERS, SSE_KEEPALIVE
from ..errors import APIError, bad_request, missing_parameter
from ..files.parts import InputFile, ResolvedImage
from ..files.sniff import image_size, sniff_type
from ..images import output, params
from ..images.draw import Drawing, Order
from ..images.prompt import mask_region, upstream_prompt
from ..metering import ledger
from ..runtime.config import ModelEntry
from ..services import current_services
from ..translate.request import ChatMessage
from .common import admit, model_entry, read_form, read_json_body, request_credentials

bp = Blueprint("images", __name__)

MAX_EDIT_IMAGES = 16
EDIT_TYPES = ("image/png", "image/jpeg", "image/webp")


@bp.post("/v1/images/generations")
def generate():
    return _draw(params.parse(read_json_body()), "image_generation")


@bp.post("/v1/images/edits")
def edit():
    form, files = read_form()
    asked = params.parse(params.form_values(form))
    inputs = _edit_images(files.getlist("image") + files.getlist("image[]"))
    region = None
    if "mask" in files:
        region = mask_region(files["mask"].read(), image_size(inputs[0].data or b"", inputs[0].param))
    return _draw(asked, "image_edit", inputs, region)


def _edit_images(storages) -> list[InputFile]:
    """The multipart images (``image`` once or ``image[]`` repeated, any file name): 1 to 16 PNG, JPEG
    or WebP files; the bytes say which."""
    if not storages:
        raise missing_parameter("image")
    if len(storages) > MAX_EDIT_IMAGES:
        raise bad_request(f"Invalid 'image': array too long. Expected an array with maximum length "
                          f"{MAX_EDIT_IMAGES}, but got an array with length {len(storages)} instead.", "image",
                          code="array_above_max_length")
    inputs = []
    for index, storage in enumerate(storages):
        param = "image" if len(storages) == 1 else f"image[{index}]"
        data = storage.read()
        if sniff_type(data) not in EDIT_TYPES:
            raise bad_request(f"Invalid image file or mode for image {index + 1}: a PNG, JPEG or WebP file is "
                              f"expected.", param, code="invalid_image")
        inputs.append(InputFile(param, data=data, declared_type=storage.mimetype or None))
    return inputs


def _draw(asked: params.ImageRequest, kind: str, inputs: list[InputFile] | None = None, region: str | None = None):
    services = current_services()
    settings = services.settings
    g.model, g.stream = asked.model or "images", asked.stream
    creds = request_credentials()
    admit(asked.model or "images", images=True)
    entry = _entry(services, asked.model, creds)
    text = upstream_prompt(asked, settings.dalle_prompt_prefix, region)
    inputs = inputs or []
    input_tokens = 0
    for file in inputs:   # uploaded once here: a bad image is a 400 before anything is drawn; the turns reuse it
        uploaded = services.uploader.upload(file, creds, entry.accepts_images)
        input_tokens += output.input_image_tokens(uploaded.width or 1024, uploaded.height or 1024)
    # Edits: one multimodal message, the image pointers first, then the prompt.
    message = ChatMessage("user", text, (*inputs, text) if inputs else ())
    caller = ledger.current().caller
    order = Order(services, ChatRequest(asked.model or "images", (message,)), entry, creds, request.host_url,
                  g.get("started"), request.environ, asked.partial_images if asked.stream else 0,
                  caller.account if caller is not None else None)
    drawing = Drawing(order, asked.n, settings.images_concurrency)
    base_url = (settings.backend_container_url or request.host_url).rstrip("/")
    if asked.stream:
        refused = drawing.first_start()
        if refused is not None:
            drawing.stop()
            raise refused
        response = Response(_stream(drawing, asked, kind, text, input_tokens, settings.keepalive_interval),
                            mimetype="text/event-stream", headers=SSE_HEADERS)
        response.call_on_close(drawing.stop)
        return response
    drawn: list[tuple[int, list[ResolvedImage]]] = []
    errors: list[tuple[int, APIError]] = []
    try:
        for event in drawing.events():
            if event is None or event[0] == "partial":
                continue
            if event[0] == "failed":
                errors.append((event[1], event[2]))
            else:
                drawn.append((event[1], event[2]))
    finally:
        drawing.stop()
    g.upstream_status = next((t.answer.upstream_status for t in drawing.turns if t.answer), None)
    if not drawn:
        raise min(errors, key=lambda e: e[0])[1]
    images = [image for _, images in sorted(drawn, key=lambda d: d[0]) for image in images][:asked.n]
    finished = [output.picture(image.data or b"", asked, image.revised_prompt, image.url) for image in images]
    items = [output.item(asked, p, _link(services, p, asked, base_url) if asked.wants_url else None)
             for p in finished]
    usage = output.usage(asked, text, finished, input_tokens)
    ledger.current().answered(usage["input_tokens"], usage["output_tokens"], images=len(items))
    return jsonify(output.body(asked, items, finished, usage))


def _stream(drawing: Drawing, asked: params.ImageRequest, kind: str, text: str, input_tokens: int,
            keepalive: float):
    """Each image's partial previews, then its completed event; an error event after the images
    that came when one failed (no [DONE]: image streams have none)."""
    failed: list[tuple[int, APIError]] = []
    completed, used_in, used_out = 0, 0, 0
    try:
        for event in drawing.events(keepalive):
            if event is None:
                yield SSE_KEEPALIVE
            elif event[0] == "partial":
                preview = output.picture(event[3], asked)
                yield output.partial_event(kind, asked, preview.data, event[2])
            elif event[0] == "done":
                for image in event[2][:asked.n - completed]:
                    finished = output.picture(image.data or b"", asked, image.revised_prompt, image.url)
                    completed += 1
                    usage = output.usage(asked, text, [finished], input_tokens)
                    used_in, used_out = used_in + usage["input_tokens"], used_out + usage["output_tokens"]
                    yield output.completed_event(kind, asked, finished, usage)
            else:
                failed.append((event[1], event[2]))
        if failed and completed < asked.n:
            yield output.error_event(min(failed, key=lambda e: e[0])[1].body())
    except APIError as exc:
        yield output.error_event(exc.body())
    finally:
        drawing.stop()
        ledger.current().answered(used_in, used_out, images=completed)   # what the client received


def _entry(services, model: str, creds) -> ModelEntry:
    """A configured alias draws with its slug; any other name (dall-e-3, gpt-image-1, …) with images_model."""
    if model:
        try:
            return model_entry(services, model, creds)
        except APIError as exc:
            if exc.code != "model_not_found":
                raise
    return ModelEntry(model, services.settings.images_model)


def _link(services, picture: output.Picture, asked: params.ImageRequest, base_url: str) -> str | None:
    """A URL for ``response_format: url``: the image saved and served by us (the upstream's own link
    with ``use_oaiusercontent_url``, or when the disk refuses); None when there is no link to give."""
    upstream = picture.upstream_url if picture.upstream_url.startswith(("http://", "https://")) else None
    if services.settings.use_oaiusercontent_url and upstream and not picture.converted:
        return upstream
    name = f"image_{time.strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(6)}{output.EXTENSIONS[asked.output_format]}"
    if services.media.save("images", name, picture.data) is None:
        return None if picture.converted else upstream
    return f"{base_url}/images/{name}"
