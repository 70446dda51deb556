"""Load and validate ``config.json`` / ``gpts.json`` into one immutable ``Settings``.

The files are the ones users of PandoraToV1Api / RefreshToV1Api already have:
booleans may be written as ``"true"``/``"false"``, ``upstream_api_prefix`` may
be a string or a list, and the older ``pandora_*`` keys still work. Every
problem is collected and reported at once, naming the key, so the service
never starts half-configured.

One module per seam: settings.py (the dataclasses and their defaults),
reader.py (typed reads that collect problems), connections.py (upstream,
Redis), models.py (aliases, gpts.json), turns.py (temporary chats, continuity), access.py
(token exchange, upstream accounts, client keys), caps.py (per-key names and caps,
the admin key), schedule.py (the daily job); this file puts them together
(``parse``, ``load``).

Nothing heavy is imported here: the gunicorn config reads it in the master
process before the workers patch sockets.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .access import gateway, token_exchange
from .caps import admin_key, key_policies
from .connections import conversation_path, conversation_prepare, redis, upstream
from .models import LEGACY_MODEL_KEYS, TEXT_ONLY_SLUGS, anthropic, load_gpts, model_settings, models
from .reader import Reader
from .schedule import refresh_schedule
from .settings import (
    AnthropicSettings,
    BotMode,
    ConfigError,
    Continuity,
    KeyPolicy,
    ModelEntry,
    ModelSettings,
    RedisSettings,
    RefreshSchedule,
    Settings,
    TemporaryChat,
    TokenExchange,
    ToolSettings,
    UpstreamAccount,
)
from .turns import continuity, temporary_chat

__all__ = ["AnthropicSettings", "BotMode", "ConfigError", "Continuity", "KeyPolicy", "LEGACY_MODEL_KEYS",
           "ModelEntry", "ModelSettings", "RedisSettings", "RefreshSchedule", "Settings", "TEXT_ONLY_SLUGS",
           "TemporaryChat", "TokenExchange", "ToolSettings", "UpstreamAccount", "load", "load_gpts", "parse",
           "startup_warnings"]

CONFIG_ENV = "PANDORA_V1_CONFIG"
GPTS_ENV = "PANDORA_V1_GPTS"

# Keys for features we deliberately do not build (captcha / Arkose fetching)
# or that no longer mean anything: read, ignored, named in one warning.
UNSUPPORTED_KEYS = ("custom_arkose_url", "arkose_urls", "use_pandora_file_server")


def parse(raw: dict, gpts: tuple[ModelEntry, ...] = (), config_path: str = "") -> Settings:
    """Turn the raw config object into Settings or raise ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(["config.json: expected a JSON object at the top level"])
    r = Reader(raw)
    base, prefixes = upstream(r)
    path = conversation_path(r)
    bot = r.section("bot_mode")
    tools = r.section("tools")
    refresh = r.section("refresh_ToAccess")
    exchange = token_exchange(r, refresh)
    accounts, client_keys = gateway(r, exchange)
    aliases = models(r)
    admin = admin_key(r)
    policies = key_policies(r, client_keys, [entry.alias for entry in aliases + gpts], admin)
    timeouts = r.section("upstream_timeout")
    log_level = r.string("log_level", "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        r.problems.append(f"log_level: expected DEBUG, INFO, WARNING or ERROR, got {json.dumps(log_level)}")
    worker_class = r.string("worker_class", "gevent")
    if worker_class not in ("gevent", "gthread", "sync"):
        r.problems.append(f"worker_class: expected gevent, gthread or sync, got {json.dumps(worker_class)}")
    settings = Settings(
        upstream_base_url=base,
        upstream_prefixes=prefixes,
        bind=r.string("bind", Settings.bind),
        api_prefix=r.string("backend_container_api_prefix").strip("/"),
        backend_container_url=r.string("backend_container_url").rstrip("/"),
        log_level=log_level,
        need_log_to_file=r.boolean("need_log_to_file", True),
        log_dir=r.string("log_dir", Settings.log_dir),
        process_workers=r.number("process_workers", Settings.process_workers, minimum=1, integer=True),
        process_threads=r.number("process_threads", Settings.process_threads, minimum=1, integer=True),
        worker_class=worker_class,
        worker_connections=r.number("worker_connections", Settings.worker_connections, minimum=1, integer=True),
        graceful_timeout=r.number("graceful_timeout", Settings.graceful_timeout, minimum=1, integer=True),
        token_server=r.boolean("token_server", Settings.token_server),
        delete_conversation=r.boolean("need_delete_conversation_after_response", False),
        temporary_chat=temporary_chat(r),
        continuity=continuity(r),
        use_oaiusercontent_url=r.boolean("use_oaiusercontent_url", False),
        dalle_prompt_prefix=r.string("dalle_prompt_prefix", strip=False),
        images_model=r.string("images_model", Settings.images_model) or Settings.images_model,
        images_concurrency=r.number("images_concurrency", Settings.images_concurrency, minimum=1, integer=True),
        speech=r.boolean("speech", True),
        speech_model=r.string("speech_model", Settings.speech_model) or Settings.speech_model,
        upload_processing_seconds=r.number("upload_processing_seconds", Settings.upload_processing_seconds,
                                           minimum=0.0),
        key_for_gpts_info=r.string("key_for_gpts_info"),
        stream_sleep_time=r.number("stream_sleep_time", 0.0, source=refresh,
                                   name="refresh_ToAccess.stream_sleep_time"),
        delta_encoding=r.boolean("delta_encoding", True),
        conversation_path=path,
        conversation_prepare=conversation_prepare(r, path),
        async_wait_seconds=r.number("async_wait_seconds", Settings.async_wait_seconds, minimum=0.0),
        async_poll_seconds=r.number("async_poll_seconds", Settings.async_poll_seconds, minimum=0.01),
        keepalive_interval=r.number("keepalive_interval", Settings.keepalive_interval, minimum=0.05),
        connect_timeout=r.number("connect", Settings.connect_timeout, source=timeouts,
                                 name="upstream_timeout.connect", minimum=0.01),
        read_timeout=r.number("read", Settings.read_timeout, source=timeouts,
                              name="upstream_timeout.read", minimum=0.01),
        max_request_bytes=r.number("max_request_bytes", Settings.max_request_bytes, minimum=1024, integer=True),
        max_event_bytes=r.number("max_event_bytes", Settings.max_event_bytes, minimum=1024, integer=True),
        max_answer_chars=r.number("max_answer_chars", Settings.max_answer_chars, minimum=1, integer=True),
        max_answer_seconds=r.number("max_answer_seconds", Settings.max_answer_seconds, minimum=1),
        proxy=r.string("proxy"),
        images_dir=r.string("images_dir", Settings.images_dir),
        files_dir=r.string("files_dir", Settings.files_dir),
        media_retention_days=r.number("media_retention_days", Settings.media_retention_days, minimum=0.001),
        max_media_bytes=r.number("max_media_bytes", Settings.max_media_bytes, minimum=1024, integer=True),
        max_file_bytes=r.number("max_file_bytes", Settings.max_file_bytes, minimum=1, integer=True),
        allow_private_urls=r.boolean("allow_private_urls", False),
        url_fetch_timeout=r.number("url_fetch_timeout", Settings.url_fetch_timeout, minimum=0.1),
        bot_mode=BotMode(
            enabled=r.boolean("enabled", False, bot, "bot_mode.enabled"),
            markdown_image_output=r.boolean("enabled_markdown_image_output", False, bot,
                                            "bot_mode.enabled_markdown_image_output"),
            plain_image_url_output=r.boolean("enabled_plain_image_url_output", False, bot,
                                             "bot_mode.enabled_plain_image_url_output"),
            bing_reference_output=r.boolean("enabled_bing_reference_output", False, bot,
                                            "bot_mode.enabled_bing_reference_output"),
            plugin_output=r.boolean("enabled_plugin_output", False, bot, "bot_mode.enabled_plugin_output"),
        ),
        tools=ToolSettings(
            enabled=r.boolean("enabled", True, tools, "tools.enabled"),
            retry_attempts=r.number("retry_attempts", ToolSettings.retry_attempts, tools,
                                    "tools.retry_attempts", integer=True),
            max_catalog_chars=r.number("max_catalog_chars", ToolSettings.max_catalog_chars, tools,
                                       "tools.max_catalog_chars", minimum=1000, integer=True),
            early_close=r.boolean("early_close", True, tools, "tools.early_close"),
        ),
        anthropic=anthropic(r),
        redis=redis(r),
        models=aliases,
        model_settings=model_settings(r),
        gpts=gpts,
        ignored_keys=tuple(k for k in UNSUPPORTED_KEYS if k in raw),
        notes=tuple(r.notes),
        token_exchange=exchange,
        refresh_schedule=refresh_schedule(r),
        data_dir=r.string("data_dir", Settings.data_dir),
        responses_store_ttl=r.number("store_ttl", Settings.responses_store_ttl, r.section("responses"),
                                     "responses.store_ttl", minimum=1),
        upstream_accounts=accounts,
        client_keys=client_keys,
        key_policies=policies,
        admin_key=admin,
        config_path=config_path,
    )
    if r.problems:
        raise ConfigError(r.problems)
    return settings


def startup_warnings(settings: Settings) -> list[str]:
    """What to say once at start-up about keys read but not acted on."""
    lines = list(settings.notes)
    if settings.ignored_keys:
        lines.append(f"ignoring config keys {', '.join(settings.ignored_keys)}: pandora_v1 does not fetch "
                     "captcha/Arkose tokens and always uses the upstream's own file service")
    return lines


def config_path_from_env() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or "config.json")


def load(path: str | os.PathLike | None = None) -> Settings:
    """Read config.json (and gpts.json beside it) from disk."""
    path = Path(path) if path else config_path_from_env()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the config file ({exc.strerror or exc})"]) from None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ConfigError([f"{path}: not valid JSON ({exc})"]) from None
    gpts_path = Path(os.environ.get(GPTS_ENV) or path.with_name("gpts.json"))
    gpts, problems = load_gpts(gpts_path)
    try:
        settings = parse(raw, gpts, str(path))
    except ConfigError as exc:
        raise ConfigError(exc.problems + problems) from None
    if problems:
        raise ConfigError(problems)
    return settings
