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
class ModelSettings:
    """What models can do beyond their aliases: reasoning, search, the upstream's own list."""
    # Slugs (glob patterns) that take a thinking_effort when neither the alias nor the upstream's list says.
    reasoning_slugs: tuple[str, ...] = ("*-thinking*", "gpt-*-pro", "*-t-mini")
    search_slug: str = "gpt-4o"               # what the *-search* model names run on
    list_upstream: bool = True                # /v1/models adds the upstream's own models (with a key)
    upstream_ttl: float = 3600.0              # seconds the upstream's list is kept (per account)


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
class KeyPolicy:
    """A client key's name and caps (the object form of ``client_keys``, usage-spec.md 1); a key of
    the string form has its masked id as name and no caps. None: no cap."""
    key: str
    name: str
    account: str
    rpm: int | None = None                     # requests per rolling 60 s
    concurrent: int | None = None              # requests in flight (a stream until it ends)
    tokens_per_day: int | None = None          # input + output tokens per UTC day
    images_per_day: int | None = None          # images returned per UTC day
    models: tuple[str, ...] | None = None      # allowed client-facing names, globs; None: all
    expires: str | None = None                 # as configured
    expires_at: float | None = None            # ... as a time: after it the key is refused

    @property
    def capped(self) -> bool:
        return any(v is not None for v in (self.rpm, self.concurrent, self.tokens_per_day,
                                            self.images_per_day, self.models, self.expires_at))


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
    token_server: bool = False                # tiktoken's tables in a process of their own (usage/server.py), or
                                              # built in the master and shared: less memory at 2 workers (bench/RESULTS.md)
    delete_conversation: bool = False         # need_delete_conversation_after_response: hide once answered
    temporary_chat: TemporaryChat = field(default_factory=TemporaryChat)
    continuity: Continuity = field(default_factory=Continuity)
    use_oaiusercontent_url: bool = False
    dalle_prompt_prefix: str = ""
    images_model: str = "auto"                # the slug that draws for image model names no alias names
    images_concurrency: int = 4               # n > 1: this many image turns at once
    speech: bool = True                       # /v1/audio/speech by read-aloud; false: 501
    speech_model: str = "auto"                # the slug of the read-aloud conversation
    upload_processing_seconds: float = 60.0   # the wait for a document's processing (process_upload_stream)
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
    key_policies: tuple[KeyPolicy, ...] = ()       # one per client key: its name and caps
    admin_key: str = ""                            # the admin view's key; never a client key
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
