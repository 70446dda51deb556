"""What one app instance owns (settings, clients, store, metrics), and how code reaches it.

``create_app`` builds one ``Services`` per app and ``install``s it; request
code asks ``services()`` for the current app's. Nothing else reads Flask's
``app.extensions`` by its key.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

if TYPE_CHECKING:   # types only: importing them here would run up the layers
    from .auth.exchange import CredentialService
    from .files.media import MediaStore
    from .files.uploads import Uploader
    from .metering.meter import Meter
    from .models.catalog import ModelCatalog
    from .models.gpts import GptCatalog
    from .models.registry import ModelRegistry
    from .runtime.config import Settings
    from .runtime.metrics import Metrics
    from .runtime.store import Store
    from .upstream.client import UpstreamClient

_KEY = "pandora_v1"


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
    meter: Meter                    # per-key usage and caps (metering/)
    catalog: ModelCatalog           # the upstream's own model list (per account, cached) and efforts
    scheduler: Any = None           # APScheduler, once jobs.start() ran in this worker


def install(app: Flask, services: Services) -> None:
    app.extensions[_KEY] = services


def current_services(app: Flask | None = None) -> Services:
    """The services of ``app``, or of the app handling the current request."""
    return (app if app is not None else current_app).extensions[_KEY]


def installed(app: Flask) -> Services | None:
    """The services of ``app`` if it has them (a WSGI object gunicorn hands over may not)."""
    return getattr(app, "extensions", {}).get(_KEY)
