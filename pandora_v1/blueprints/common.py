"""Helpers every route uses: the app's services and a strict JSON body reader."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from flask import current_app, request

from ..config import Settings
from ..credentials import CredentialService
from ..errors import APIError, bad_request
from ..gpts import GptCatalog
from ..media import MediaStore
from ..models import ModelRegistry
from ..observe import Metrics
from ..store import Store
from ..upstream import UpstreamClient
from ..uploads import Uploader


@dataclass
class Services:
    settings: Settings
    models: ModelRegistry
    upstream: UpstreamClient
    media: MediaStore
    uploader: Uploader
    metrics: Metrics
    store: Store                    # shared between workers and instances (store.py)
    credentials: CredentialService  # keys -> upstream credentials, refresh tokens exchanged
    gpts: GptCatalog                # GPT info, cached in the store
    scheduler: Any = None           # APScheduler, once jobs.start() ran in this worker


def services() -> Services:
    return current_app.extensions["pandora_v1"]


def read_json_body():
    """The request body as JSON, whatever Content-Type the client claimed."""
    limit = services().settings.max_request_bytes
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
