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


# Claude model names -> a model this server serves (an alias, a GPT) or else an upstream slug; ``*`` patterns
# allowed. The names Claude Code sends today, listed by /v1/models, and a catch-all: "auto" is the upstream's
# own default model.
DEFAULT_CLAUDE_MODELS: tuple[tuple[str, str], ...] = (
    ("claude-opus-5-5", "auto"), ("claude-sonnet-5-5", "auto"), ("claude-haiku-5-5", "auto"),
    ("claude-sonnet-4-6", "auto"), ("claude-haiku-4-5", "auto"), ("claude-*", "auto"))


@dataclass(frozen=True)
class AnthropicSettings:
    """Anthropic's Messages API (section ``anthropic``; platform-spec.md §6)."""
    models: tuple[tuple[str, str], ...] = DEFAULT_CLAUDE_MODELS   # tried in order: the config's, then these
    context_window: int = 200_000     # input tokens; more is "prompt is too long", max_tokens is capped to the rest


# Slugs whose turns may hand off (thinking and pro models always do; auto may route to one).
HANDOFF_MODELS = ("*thinking*", "*-pro", "*-pro-*", "*-t-mini", "research", "auto")
# Upstream models known not to take image input, and with no tools: they neither draw nor hand off, the
# only ones a chat turn may be temporary on. Every other slug takes images.
TEXT_ONLY_SLUGS = frozenset({"gpt-4-mobile", "o1-mini", "o1-preview", "o3-mini", "text-davinci-002-render-sha"})


@dataclass(frozen=True)
class TemporaryChat:
    """Temporary chats (section ``temporary_chat``; answer/temporary.py decides per turn)."""
    enabled: bool = False                         # the configuration asks for temporary chats
    handoff_models: tuple[str, ...] = HANDOFF_MODELS     # fnmatch patterns of slugs
    text_only_models: tuple[str, ...] = tuple(sorted(TEXT_ONLY_SLUGS))


@dataclass(frozen=True)
class Continuity:
    """Long sessions (section ``continuity``; answer/continuity.py): a history that extends one answered
    before continues that upstream conversation instead of going up whole."""
    enabled: bool = True
    ttl: float = 3600.0            # seconds a session lives after its last turn (and then is hidden, if hidden)
    big_paste_bytes: int = 40_000  # a user, system or tool message this long goes up as a text attachment (0: never)


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
    delete_conversation: bool = False         # need_delete_conversation_after_response: hide once answered
    temporary_chat: TemporaryChat = field(default_factory=TemporaryChat)
    continuity: Continuity = field(default_factory=Continuity)
    use_oaiusercontent_url: bool = False
    dalle_prompt_prefix: str = ""
    key_for_gpts_info: str = ""
    stream_sleep_time: float = 0.0
    delta_encoding: bool = True               # ask the upstream for format B
    conversation_path: str = "/backend-api/conversation"   # or the web app's /backend-api/f/conversation (upstream/paths.py)
    conversation_prepare: bool = False        # on /f/conversation: POST .../prepare first, forward its conduit token
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
    anthropic: AnthropicSettings = field(default_factory=AnthropicSettings)
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
