"""The application factory: settings -> services -> blueprints and HTTP behaviour."""
from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from .errors import APIError
from .runtime import config as config_module
from .runtime.store import StoreUnavailable

PACKAGE = Path(__file__).resolve().parent   # templates/ and static/ in it (links in a checkout)
log = logging.getLogger("pandora_v1")

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, OpenAI-Organization, "
                                    "OpenAI-Project, X-Requested-With, X-Api-Key, Anthropic-Version, "
                                    "Anthropic-Beta, Anthropic-Dangerous-Direct-Browser-Access, X-Stainless-Lang, "
                                    "X-Stainless-Package-Version, X-Stainless-OS, X-Stainless-Arch, "
                                    "X-Stainless-Runtime, X-Stainless-Runtime-Version, "
                                    "X-Stainless-Retry-Count, X-Stainless-Timeout",
    "Access-Control-Max-Age": "86400",
}


def create_app(config_path: str | os.PathLike | None = None,
               settings: config_module.Settings | None = None) -> Flask:
    """The application factory. Settings come from ``settings`` or the config file."""
    from .auth.exchange import CredentialService
    from .blueprints import accounts, chat, images, media, messages, models, ops, pages, responses
    from .files.fetch import SafeFetcher
    from .files.media import MediaStore
    from .files.uploads import Uploader
    from .models.gpts import GptCatalog
    from .models.registry import ModelRegistry
    from .runtime import metrics as observe
    from .runtime.store import open_store
    from .services import Services, install
    from .upstream.client import UpstreamClient

    settings = settings or config_module.load(config_path)
    warn_ignored_keys(settings)

    app = Flask(__name__, template_folder=str(PACKAGE / "templates"),
                static_folder=str(PACKAGE / "static"))
    app.json.sort_keys = False    # type: ignore[attr-defined]  # Flask's default provider has them
    app.json.ensure_ascii = False    # type: ignore[attr-defined]
    metrics = observe.Metrics()
    upstream = UpstreamClient(settings)
    upstream.on_error = lambda status: metrics.upstream_errors.labels(status).inc()
    # Redis unreachable stops the start here, naming host and port (StoreUnavailable).
    store = open_store(settings)
    creds = CredentialService(settings, store, transport=upstream)
    creds.on_exchange = lambda outcome: metrics.refresh_exchanges.labels(outcome).inc()
    fetcher = SafeFetcher(settings.max_file_bytes, settings.url_fetch_timeout, settings.allow_private_urls)
    install(app, Services(
        settings, ModelRegistry(settings), upstream, MediaStore(settings, upstream),
        Uploader(upstream, fetcher, store, settings.max_file_bytes), metrics,
        store=store, credentials=creds, gpts=GptCatalog(settings, store, upstream, creds)))
    observe.install(app, metrics)

    prefix = settings.api_path or None
    for api in (accounts, chat, images, messages, models, responses):
        app.register_blueprint(api.bp, url_prefix=prefix)
    for site in (media, ops, pages):
        app.register_blueprint(site.bp)
    _install_http_behaviour(app)
    return app


def _collapse_slashes(wsgi_app):
    """"//v1/chat/completions" (a base URL ending in "/") is served, not redirected: a 308
    on a POST loses the body with some clients."""
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if "//" in path:
            environ["PATH_INFO"] = re.sub("/{2,}", "/", path)
        return wsgi_app(environ, start_response)
    return app


def _error_response(error: APIError):
    """``error`` in the shape of the API asked: Anthropic's on /v1/messages, OpenAI's everywhere else."""
    from .blueprints import messages

    if messages.owns(request.path):
        return messages.error_response(error)
    return jsonify(error.body()), error.status, error.headers


def _install_http_behaviour(app: Flask) -> None:
    app.wsgi_app = _collapse_slashes(app.wsgi_app)    # type: ignore[method-assign]  # Flask's documented way
    @app.before_request
    def answer_preflight():
        if request.method == "OPTIONS":
            return Response(status=204)
        return None

    @app.after_request
    def add_cors(response: Response) -> Response:
        response.headers.update(CORS_HEADERS)
        return response

    @app.errorhandler(APIError)
    def api_error(exc: APIError):
        if exc.upstream_status is not None:
            g.upstream_status = exc.upstream_status
        return _error_response(exc)

    @app.errorhandler(StoreUnavailable)
    def store_unavailable(exc: StoreUnavailable):
        log.warning("%s", exc)
        return api_error(exc.api_error())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        messages = {404: f"Unknown request URL: {request.method} {request.path}. "
                         "Please check the URL for typos.",
                    405: f"Method {request.method} is not allowed for {request.path}.",
                    413: "The request body is too large."}
        error = APIError(status, messages.get(status, exc.description or exc.name),
                         code={404: "unknown_url", 405: "method_not_allowed"}.get(status))
        return _error_response(error)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error_response(APIError(500, "The server had an error while processing your request."))


def warn_ignored_keys(settings: config_module.Settings) -> None:
    """One start-up warning per key we read and deliberately ignore (once: gunicorn's master says it)."""
    if not os.environ.get("PANDORA_V1_WARNED"):
        for line in config_module.startup_warnings(settings):
            log.warning("%s", line)
