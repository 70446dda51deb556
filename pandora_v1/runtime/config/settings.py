"""The settings pandora_v1 runs with: one immutable ``Settings`` and its parts, with defaults."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timezone as _timezone


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
    reasoning: bool | None = None      # takes a thinking_effort; None: by the upstream's list or reasoning_slugs


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
class ModelSettings:
    """What models can do beyond their aliases: reasoning, search, the upstream's own list."""
    # Slugs (glob patterns) that take a thinking_effort when neither the alias nor the upstream's list says.
    reasoning_slugs: tuple[str, ...] = ("*-thinking*", "gpt-*-pro", "*-t-mini")
    search_slug: str = "gpt-4o"               # what the *-search* model names run on
    list_upstream: bool = True                # /v1/models adds the upstream's own models (with a key)
    upstream_ttl: float = 3600.0              # seconds the upstream's list is kept (per account)


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
        return tzinfo_of(self.timezone)


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
    model_settings: ModelSettings = field(default_factory=ModelSettings)
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


def tzinfo_of(name: str):
    if name.upper() == "UTC":
        return _timezone.utc      # works without a tz database
    import zoneinfo

    return zoneinfo.ZoneInfo(name)
