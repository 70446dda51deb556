"""POST /v1/images/generations: DALL·E through a conversation, in OpenAI's shape."""
from __future__ import annotations

import base64
import re
import time

from flask import Blueprint, g, jsonify, request

from ..answer import watch as client_watch
from ..answer.limits import limit_error
from ..answer.pipeline import start_answer
from ..answer.request import ChatRequest
from ..errors import APIError, bad_request
from ..services import current_services
from ..translate.render import RenderOptions
from ..translate.request import ChatMessage
from .common import read_json_body, request_credentials

bp = Blueprint("images", __name__)

_SIZE = re.compile(r"^\d{2,5}x\d{2,5}$")


def _options(body) -> tuple[str, str, int, str | None, str]:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise bad_request("'prompt' must be a non-empty string.", "prompt")
    model = body.get("model", "gpt-4o")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("'model' must be a non-empty string.", "model")
    n = body.get("n", 1)
    if n is None:
        n = 1
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10:
        raise bad_request("'n' must be an integer from 1 to 10.", "n")
    size = body.get("size")
    if size is not None and (not isinstance(size, str) or not _SIZE.match(size)):
        raise bad_request("'size' must look like 1024x1024.", "size")
    response_format = body.get("response_format") or "url"
    if response_format not in ("url", "b64_json"):
        raise bad_request("'response_format' must be 'url' or 'b64_json'.", "response_format")
    return prompt.strip(), model.strip(), n, size, response_format


@bp.post("/v1/images/generations")
def generate():
    services = current_services()
    prompt, model, n, size, response_format = _options(read_json_body())
    g.model = model
    creds = request_credentials()
    # Whether the model draws is the upstream's answer (no image back: content_policy_violation
    # below); ``accepts_images`` is about image *input* and says nothing about drawing.
    entry = services.models.resolve(model)
    text = f"{services.settings.dalle_prompt_prefix}{prompt}"
    if size:
        text += f"\n\n(Image size: {size}.)"
    chat = ChatRequest(model, (ChatMessage("user", text),))
    options = RenderOptions(show_code=False, image_style="markdown", collect_images=True)
    # picture_v2 asks today's upstream for its image tool; older ones ignore the hint.
    answer = start_answer(services, chat, entry, creds, options, public_url=request.host_url,
                          started=g.get("started"), keep_media_local=response_format == "b64_json",
                          system_hints=("picture_v2",))
    g.upstream_status = answer.upstream_status
    client_watch.watch(answer, request.environ, stream=False)
    reply, _ = answer.collect()
    images = answer.renderer.images[:n]
    if not images and answer.renderer.system_errors:
        # The image tool failed: its limit is a rate limit (with the reset), anything else a refusal.
        limit = limit_error(services, creds, answer.renderer.system_errors, "image_gen")
        if limit is not None:
            raise limit
        name, text = answer.renderer.system_errors[0]
        raise APIError(400, f"No image was generated: {text or name}", code="image_generation_failed",
                       param="prompt")
    if not images:
        raise APIError(400, "No image was generated. The upstream said: "
                            f"{reply.strip()[:500] or '(nothing)'}", code="content_policy_violation",
                       param="prompt")
    data = []
    for image in images:
        item = {"revised_prompt": image.revised_prompt or prompt}
        if response_format == "b64_json":
            item["b64_json"] = base64.b64encode(image.data).decode()
        else:
            item["url"] = image.url
        data.append(item)
    return jsonify({"created": int(time.time()), "data": data})
