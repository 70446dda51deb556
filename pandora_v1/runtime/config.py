"""Load and validate ``config.json`` / ``gpts.json`` into one immutable ``Settings``.

The files are the ones users of PandoraToV1Api / RefreshToV1Api already have:
booleans may be written as ``"true"``/``"false"``, ``upstream_api_prefix`` may
be a string or a list, and the older ``pandora_*`` keys still work. Every
problem is collected and reported at once, naming the key, so the service
never starts half-configured.

This module imports nothing heavy: gunicorn.conf.py uses it in the master
process before the workers patch sockets.
"""
from __future__ import annotations

import json
import logging
import os
import re
import urllib.parse
import zoneinfo
from dataclasses import dataclass, field
from datetime import timezone as _timezone
from pathlib import Path

from .masking import mask

log = logging.getLogger(__name__)

CONFIG_ENV = "PANDORA_V1_CONFIG"
GPTS_ENV = "PANDORA_V1_GPTS"

# Keys for features we deliberately do not build (captcha / Arkose fetching)
# or that no longer mean anything: read, ignored, named in one warning.
UNSUPPORTED_KEYS = ("custom_arkose_url", "arkose_urls", "use_pandora_file_server")

# The reference products' alias keys: config key -> (upstream slug, default aliases).
LEGACY_MODEL_KEYS = {
    "gpt_4_s_new_name": ("gpt-4", "gpt-4-s"),
    "gpt_4_mobile_new_name": ("gpt-4-mobile", "gpt-4-mobile"),
    "gpt_3_5_new_name": ("gpt-4o-mini", "gpt-3.5-turbo"),
    "gpt_4_o_new_name": ("gpt-4o", "gpt-4o"),
    "gpt_4_o_mini_new_name": ("gpt-4o-mini", "gpt-4o-mini"),
    "o1_preview_new_name": ("o1-preview", "o1-preview"),
    "o1_mini_new_name": ("o1-mini", "o1-mini"),
    "o1_new_name": ("o1", "o1"),
    "o3_mini_new_name": ("o3-mini", "o3-mini"),
}

# Upstream models known not to take image input; every other slug does.
TEXT_ONLY_SLUGS = frozenset({"gpt-4-mobile", "o1-mini", "o1-preview", "o3-mini",
                             "text-davinci-002-render-sha"})


class ConfigError(Exception):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class ModelEntry:
    alias: str
    slug: str
    accepts_images: bool = True
    gizmo_id: str | None = None


@dataclass(frozen=True)
class BotMode:
    enabled: bool = False
    markdown_image_output: bool = False
    plain_image_url_output: bool = False
    bing_reference_output: bool = False
    plugin_output: bool = False


@dataclass(frozen=True)
class ToolSettings:
    """Function calling by prompt (section ``tools``; agents-spec A.3.6)."""
    enabled: bool = True              # false: tools are ignored (history is still accepted)
    retry_attempts: int = 1           # upstream retries of an invalid call / invalid JSON answer
    max_catalog_chars: int = 200_000  # the injected tool instruction's limit (400 above it)
    early_close: bool = True          # close the upstream as soon as the calls are complete


@dataclass(frozen=True)
class RedisSettings:
    host: str = ""
    port: int = 6379
    password: str = ""
    db: int = 0
    url: str = ""                              # REDIS_URL; wins over the section

    @property
    def enabled(self) -> bool:
        return bool(self.url or self.host)


@dataclass(frozen=True)
class TokenExchange:
    """Where refresh tokens become access tokens (upstream-protocol.md, "Token refresh")."""
    style: str = ""                            # "" (not configured), "proxy" or "oauth"
    url: str = ""
    client_id: str = ""                        # oauth only


@dataclass(frozen=True)
class RefreshSchedule:
    """The daily job: re-exchange every known refresh token, refresh GPT info."""
    enabled: bool = True
    hour: int = 3
    minute: int = 0
    second: int = 0
    timezone: str = "UTC"

    def tzinfo(self):
        return _tzinfo(self.timezone)


@dataclass(frozen=True)
class UpstreamAccount:
    """An operator's upstream credentials, named; client keys point at them (gateway mode)."""
    name: str
    access_token: str = ""
    refresh_token: str = ""
    account_id: str = ""


@dataclass(frozen=True)
class Settings:
    upstream_base_url: str = "http://127.0.0.1:8181"
    upstream_prefixes: tuple[str, ...] = ("",)
    bind: str = "0.0.0.0:33333"
    api_prefix: str = ""                      # backend_container_api_prefix
    backend_container_url: str = ""
    log_level: str = "INFO"
    need_log_to_file: bool = True              # the reference products' default
    log_dir: str = "log"
    process_workers: int = 2
    process_threads: int = 8
    worker_class: str = "gevent"
    worker_connections: int = 1000
    graceful_timeout: int = 30
    delete_conversation: bool = False         # need_delete_conversation_after_response
    use_oaiusercontent_url: bool = False
    dalle_prompt_prefix: str = ""
    key_for_gpts_info: str = ""
    stream_sleep_time: float = 0.0
    delta_encoding: bool = True               # ask the upstream for format B
    conversation_path: str = "/backend-api/conversation"   # or the web app's /backend-api/f/conversation (upstream/paths.py)
    async_wait_seconds: float = 120.0         # polling for an async image or a handed-off answer, in all
    async_poll_seconds: float = 2.5           # between those polls
    keepalive_interval: float = 5.0
    connect_timeout: float = 10.0
    read_timeout: float = 300.0
    max_request_bytes: int = 32 * 1024 * 1024
    max_event_bytes: int = 16 * 1024 * 1024
    max_answer_chars: int = 2_000_000         # an answer longer than this is cut (finish_reason length)
    max_answer_seconds: float = 1800.0        # and one that runs longer than this
    proxy: str = ""
    images_dir: str = "images"
    files_dir: str = "files"
    media_retention_days: float = 7.0
    max_media_bytes: int = 64 * 1024 * 1024
    max_file_bytes: int = 20 * 1024 * 1024    # one image or document a client sends
    allow_private_urls: bool = False          # let image URLs point at private addresses
    url_fetch_timeout: float = 15.0
    bot_mode: BotMode = field(default_factory=BotMode)
    tools: ToolSettings = field(default_factory=ToolSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    models: tuple[ModelEntry, ...] = ()
    gpts: tuple[ModelEntry, ...] = ()
    ignored_keys: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()               # start-up warnings about the config
    token_exchange: TokenExchange = field(default_factory=TokenExchange)
    refresh_schedule: RefreshSchedule = field(default_factory=RefreshSchedule)
    data_dir: str = "data"                      # the embedded store's file lives here
    responses_store_ttl: float = 7 * 86400      # responses.store_ttl: how long stored responses live (s)
    upstream_accounts: tuple[UpstreamAccount, ...] = ()
    client_keys: tuple[tuple[str, str], ...] = ()  # (client key, account name)
    config_path: str = ""

    @property
    def api_path(self) -> str:
        """Where the API routes hang: "" or "/<backend_container_api_prefix>"."""
        return f"/{self.api_prefix}" if self.api_prefix else ""


class _Reader:
    """Typed access to the raw JSON that records every problem by key."""

    def __init__(self, raw: dict):
        self.raw = raw
        self.problems: list[str] = []
        self.notes: list[str] = []      # not errors, but worth one start-up warning

    def _get(self, key, default, source=None):
        source = self.raw if source is None else source
        value = source.get(key)
        return default if value is None or value == "" else value

    def string(self, key, default="", source=None, name=None, strip=True) -> str:
        value = self._get(key, default, source)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            self.problems.append(f"{name or key}: expected a string, got {json.dumps(value)}")
            return default
        return value.strip() if strip else value

    def boolean(self, key, default=False, source=None, name=None) -> bool:
        value = self._get(key, default, source)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.strip().lower() in ("true", "1", "yes")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        self.problems.append(f"{name or key}: expected true or false, got {json.dumps(value)}")
        return default

    def number(self, key, default, source=None, name=None, minimum=0.0, integer=False):
        value = self._get(key, default, source)
        try:
            number = (int(value) if integer else float(value)) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None or (integer and isinstance(value, float) and value != int(value)):
            kind = "an integer" if integer else "a number"
            self.problems.append(f"{name or key}: expected {kind}, got {json.dumps(value)}")
            return default
        if number < minimum:
            self.problems.append(f"{name or key}: must be at least {minimum}, got {number}")
            return default
        return number

    def section(self, key) -> dict:
        value = self.raw.get(key)
        if value is None or value == "":
            return {}
        if not isinstance(value, dict):
            self.problems.append(f"{key}: expected an object, got {json.dumps(value)}")
            return {}
        return value


def _prefixes(reader: _Reader, key: str) -> tuple[str, ...] | None:
    value = reader.raw.get(key)
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    prefixes = []
    for item in items:
        if not isinstance(item, str):
            reader.problems.append(f"{key}: expected a string or a list of strings, got {json.dumps(value)}")
            return None
        # Users write "", "abc", "/abc/" alike; the first two only in lists of one.
        prefixes.append(item.strip().strip("/"))
    return tuple(prefixes) or ("",)


def _upstream(reader: _Reader) -> tuple[str, tuple[str, ...]]:
    base = reader.string("upstream_base_url") or reader.string("pandora_base_url")
    if not base:
        base = Settings.upstream_base_url
    base = base.rstrip("/")
    if not base.startswith(("http://", "https://")):
        key = "upstream_base_url" if reader.raw.get("upstream_base_url") else "pandora_base_url"
        reader.problems.append(f"{key}: must start with http:// or https://, got {json.dumps(base)}")
    prefixes = _prefixes(reader, "upstream_api_prefix")
    if prefixes is None:
        prefixes = _prefixes(reader, "pandora_api_prefix") or ("",)
    return base, prefixes


def _conversation_path(reader: _Reader) -> str:
    path = "/" + reader.string("conversation_path", Settings.conversation_path).strip("/")
    if not path.startswith("/backend-api/") or any(c in path for c in "?# ") or "/../" in path + "/":
        reader.problems.append(f"conversation_path: expected a path under /backend-api/ such as "
                               f"/backend-api/f/conversation, got {json.dumps(path)}")
        return Settings.conversation_path
    return path


def _models(reader: _Reader) -> tuple[ModelEntry, ...]:
    entries: dict[str, ModelEntry] = {}

    def add(alias: str, slug: str, images: bool | None = None):
        alias = alias.strip()
        if alias:
            accepts = slug not in TEXT_ONLY_SLUGS if images is None else images
            entries[alias] = ModelEntry(alias, slug, accepts)

    for key, (slug, default_aliases) in LEGACY_MODEL_KEYS.items():
        value = reader.raw.get(key)
        names = default_aliases if value is None else value
        if not isinstance(names, str):
            reader.problems.append(f"{key}: expected comma-separated model names, got {json.dumps(value)}")
            continue
        for alias in names.split(","):
            add(alias, slug)

    models = reader.section("models")
    for alias, spec in models.items():
        name = f"models.{alias}"
        if isinstance(spec, str) and spec.strip():
            add(alias, spec.strip())
        elif isinstance(spec, dict) and isinstance(spec.get("slug"), str) and spec["slug"].strip():
            images = reader.boolean("images", None, source=spec, name=f"{name}.images") \
                if "images" in spec else None
            add(alias, spec["slug"].strip(), images)
        else:
            reader.problems.append(
                f"{name}: expected an upstream slug or {{\"slug\": ..., \"images\": true|false}}, "
                f"got {json.dumps(spec)}")
    return tuple(entries.values())


def load_gpts(path: Path) -> tuple[tuple[ModelEntry, ...], list[str]]:
    """gpts.json: ``{"model name": {"id": "g-..."}}``. A missing file is no GPTs."""
    if not path.is_file():
        return (), []
    try:
        raw = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError) as exc:
        return (), [f"{path.name}: not valid JSON ({exc})"]
    if not isinstance(raw, dict):
        return (), [f"{path.name}: expected an object of {{\"name\": {{\"id\": \"g-...\"}}}}"]
    entries, problems = [], []
    for name, spec in raw.items():
        gizmo = spec.get("id") if isinstance(spec, dict) else None
        if not isinstance(gizmo, str) or not gizmo.strip().startswith("g-"):
            problems.append(f"{path.name}: {name}.id must be a GPT id starting with g-, got {json.dumps(gizmo)}")
            continue
        entries.append(ModelEntry(name.strip(), "gpt-4-gizmo", True, gizmo.strip()))
    return tuple(entries), problems


def _tzinfo(name: str):
    if name.upper() == "UTC":
        return _timezone.utc      # works without a tz database
    return zoneinfo.ZoneInfo(name)


def _http_url(reader: _Reader, key: str, source: dict, name: str) -> str:
    url = reader.string(key, "", source, name)
    if url and not url.startswith(("http://", "https://")):
        reader.problems.append(f"{name}: must start with http:// or https://, got {json.dumps(url)}")
    return url


def _token_exchange(reader: _Reader, refresh: dict) -> TokenExchange:
    """enableOai -> OAuth2 at a configured token URL; else a proxy-style refresh URL, if any."""
    prefix = "refresh_ToAccess."
    oauth = reader.boolean("enableOai", False, refresh, prefix + "enableOai")
    token_url = _http_url(reader, "oai_token_url", refresh, prefix + "oai_token_url")
    client_id = reader.string("oai_client_id", "", refresh, prefix + "oai_client_id")
    proxy_url = (_http_url(reader, "oaifree_refreshToAccess_Url", refresh, prefix + "oaifree_refreshToAccess_Url")
                 or _http_url(reader, "xyhelper_refreshToAccess_Url", refresh,
                              prefix + "xyhelper_refreshToAccess_Url"))
    if oauth and token_url and client_id:
        return TokenExchange("oauth", token_url, client_id)
    if oauth:
        # The reference products' enableOai meant a vendor endpoint built in; we build none in.
        # An old config still starts: it says what is missing and uses the proxy URL, if any.
        reader.notes.append(f"{prefix}enableOai is true but {prefix}oai_token_url and {prefix}oai_client_id "
                            "are not both set (no OAuth2 endpoint is built in); "
                            + ("using the proxy-style refresh URL instead" if proxy_url
                               else "refresh tokens cannot be exchanged"))
    if proxy_url:
        return TokenExchange("proxy", proxy_url)
    return TokenExchange()


_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


def _refresh_schedule(reader: _Reader) -> RefreshSchedule:
    section = reader.section("refresh_schedule")
    enabled = reader.boolean("enabled", True, section, "refresh_schedule.enabled")
    when = reader.string("time", "03:00", section, "refresh_schedule.time")
    match = _TIME.match(when)
    if not match:
        reader.problems.append(f"refresh_schedule.time: expected HH:MM (24-hour), got {json.dumps(when)}")
        match = _TIME.match("03:00")
    assert match is not None
    zone = reader.string("timezone", "UTC", section, "refresh_schedule.timezone")
    try:
        _tzinfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        reader.problems.append(f"refresh_schedule.timezone: unknown time zone {json.dumps(zone)} "
                               "(use a name like UTC or Asia/Shanghai)")
        zone = "UTC"
    return RefreshSchedule(enabled, int(match.group(1)), int(match.group(2)), int(match.group(3) or 0), zone)


def _gateway(reader: _Reader, exchange: TokenExchange):
    """upstream_accounts + client_keys: clients hold our keys, never an upstream token."""
    accounts: dict[str, UpstreamAccount] = {}
    for name, spec in reader.section("upstream_accounts").items():
        key = f"upstream_accounts.{name}"
        if not isinstance(spec, dict):
            reader.problems.append(f"{key}: expected {{\"access_token\" or \"refresh_token\": ..., "
                                   f"\"account_id\": ...}}")
            continue
        access = reader.string("access_token", "", spec, f"{key}.access_token")
        refresh = reader.string("refresh_token", "", spec, f"{key}.refresh_token")
        account_id = reader.string("account_id", "", spec, f"{key}.account_id")
        if bool(access) == bool(refresh):
            reader.problems.append(f"{key}: give exactly one of access_token and refresh_token")
        elif refresh and not exchange.style:
            reader.problems.append(f"{key}.refresh_token: refresh tokens need refresh_ToAccess."
                                   "oaifree_refreshToAccess_Url (or xyhelper_refreshToAccess_Url, or "
                                   "enableOai with oai_token_url)")
        accounts[name] = UpstreamAccount(name, access, refresh, account_id)
    keys = []
    for client_key, name in reader.section("client_keys").items():
        key = f"client_keys[{mask(client_key)}]"
        if not client_key.strip() or "," in client_key or any(c.isspace() for c in client_key):
            reader.problems.append(f"{key}: a client key must be non-empty, without spaces or commas")
        elif not isinstance(name, str) or name not in accounts:
            reader.problems.append(f"{key}: names {json.dumps(name)}, which is not in upstream_accounts")
        else:
            keys.append((client_key, name))
    return tuple(accounts.values()), tuple(keys)


def _redis(reader: _Reader) -> RedisSettings:
    redis = reader.section("redis")
    url = os.environ.get("REDIS_URL", "").strip()
    if url and urllib.parse.urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        reader.problems.append("REDIS_URL: expected redis://[:password@]host:port/db (or rediss://, unix://)")
    return RedisSettings(
        host=reader.string("host", "", redis, "redis.host"),
        port=reader.number("port", 6379, redis, "redis.port", minimum=1, integer=True),
        password=reader.string("password", "", redis, "redis.password"),
        db=reader.number("db", 0, redis, "redis.db", integer=True),
        url=url,
    )


def parse(raw: dict, gpts: tuple[ModelEntry, ...] = (), config_path: str = "") -> Settings:
    """Turn the raw config object into Settings or raise ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(["config.json: expected a JSON object at the top level"])
    r = _Reader(raw)
    base, prefixes = _upstream(r)
    bot = r.section("bot_mode")
    tools = r.section("tools")
    refresh = r.section("refresh_ToAccess")
    exchange = _token_exchange(r, refresh)
    accounts, client_keys = _gateway(r, exchange)
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
        delete_conversation=r.boolean("need_delete_conversation_after_response", False),
        use_oaiusercontent_url=r.boolean("use_oaiusercontent_url", False),
        dalle_prompt_prefix=r.string("dalle_prompt_prefix", strip=False),
        key_for_gpts_info=r.string("key_for_gpts_info"),
        stream_sleep_time=r.number("stream_sleep_time", 0.0, source=refresh,
                                   name="refresh_ToAccess.stream_sleep_time"),
        delta_encoding=r.boolean("delta_encoding", True),
        conversation_path=_conversation_path(r),
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
        redis=_redis(r),
        models=_models(r),
        gpts=gpts,
        ignored_keys=tuple(k for k in UNSUPPORTED_KEYS if k in raw),
        notes=tuple(r.notes),
        token_exchange=exchange,
        refresh_schedule=_refresh_schedule(r),
        data_dir=r.string("data_dir", Settings.data_dir),
        responses_store_ttl=r.number("store_ttl", Settings.responses_store_ttl, r.section("responses"),
                                     "responses.store_ttl", minimum=1),
        upstream_accounts=accounts,
        client_keys=client_keys,
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
