"""Where things are: the upstream (base URL, prefixes, conversation path) and Redis."""
from __future__ import annotations

import json
import os
import urllib.parse

from .reader import Reader
from .settings import RedisSettings, Settings


def _prefixes(reader: Reader, key: str) -> tuple[str, ...] | None:
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


def upstream(reader: Reader) -> tuple[str, tuple[str, ...]]:
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


def conversation_path(reader: Reader) -> str:
    path = "/" + reader.string("conversation_path", Settings.conversation_path).strip("/")
    if not path.startswith("/backend-api/") or any(c in path for c in "?# ") or "/../" in path + "/":
        reader.problems.append(f"conversation_path: expected a path under /backend-api/ such as "
                               f"/backend-api/f/conversation, got {json.dumps(path)}")
        return Settings.conversation_path
    return path


def conversation_prepare(reader: Reader, path: str) -> bool:
    """The web app's prepare step, tried only on its own path (upstream-protocol.md, "/f/conversation/prepare")."""
    prepare = reader.boolean("conversation_prepare", False)
    if prepare and path != "/backend-api/f/conversation":
        reader.notes.append(f"conversation_prepare is true but conversation_path is {path}: the prepare step "
                            "belongs to /backend-api/f/conversation and is not sent")
        return False
    return prepare


def redis(reader: Reader) -> RedisSettings:
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
