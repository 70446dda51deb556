"""The shared store: a small key-value interface with two backends.

Everything that must survive a restart or be shared between Gunicorn workers
and between instances lives here: exchanged access tokens, known refresh
tokens, GPT info, scheduler locks.

- ``SQLiteStore``: the embedded default. One file under ``data_dir`` in WAL
  mode; every operation is one statement (atomic), so any number of worker
  processes can share it, and it outlives restarts.
- ``RedisStore``: when the config's ``redis`` section or ``REDIS_URL`` names a
  server. Several instances on one Redis share everything.

Values are strings (callers store JSON through ``get_json``/``set_json``).
Keys live under a namespace (``pandora_v1:``), so a shared Redis database is
fine. A backend that cannot be reached raises ``StoreUnavailable``, an
``APIError`` (503 ``store_unavailable``) that requests answer with as they are.
"""
from __future__ import annotations

import logging
import os
import socket
import sqlite3
import threading
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import orjson

from ..errors import APIError

log = logging.getLogger(__name__)

NAMESPACE = "pandora_v1:"
SQLITE_FILE = "store.sqlite3"


class StoreUnavailable(Exception):
    """The store could not be reached; a request that needs it gets a 503 (``create_app`` maps it)."""

    def __init__(self, where: str, reason: str):
        super().__init__(f"the shared store ({where}) is unavailable: {reason}")
        self.where = where
        self.reason = reason

    def api_error(self) -> APIError:
        return APIError(503, f"The shared store ({self.where}) is unavailable; try again shortly.",
                        code="store_unavailable")

    def __str__(self) -> str:
        return f"{self.where} is unreachable: {self.reason}"


class Store:
    """The interface both backends implement. ``ttl`` is in seconds; None keeps the value."""

    where = "store"

    def get(self, key: str) -> str | None:
        raise NotImplementedError

    def set(self, key: str, value: str, ttl: float | None = None) -> None:
        raise NotImplementedError

    def add(self, key: str, value: str, ttl: float | None = None) -> bool:
        """Set only if the key is absent (or expired); True if this call set it. Atomic."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def delete_if(self, key: str, value: str) -> bool:
        """Delete only while the key still holds ``value`` (releasing one's own lock). Atomic."""
        raise NotImplementedError

    def keys(self, prefix: str) -> list[str]:
        """Every live key starting with ``prefix`` (without the namespace)."""
        raise NotImplementedError

    def ping(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    # JSON helpers shared by both backends.
    def get_json(self, key: str) -> Any:
        raw = self.get(key)
        if raw is None:
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            log.warning("store: dropping unreadable value under %s", key)
            self.delete(key)
            return None

    def set_json(self, key: str, value: Any, ttl: float | None = None) -> None:
        self.set(key, orjson.dumps(value).decode(), ttl)


def _check_ttl(ttl: float | None) -> None:
    if ttl is not None and ttl <= 0:
        raise ValueError(f"ttl must be positive, got {ttl}")


# ------------------------------------------------------------------ SQLite

class SQLiteStore(Store):
    """One table ``kv(key, value, expires)`` in a WAL-mode SQLite file."""

    PURGE_EVERY = 256          # writes between sweeps of expired rows

    def __init__(self, path: str | os.PathLike, namespace: str = NAMESPACE, busy_timeout: float = 5.0):
        self.path = Path(path)
        self.where = f"SQLite at {self.path}"
        self.namespace = namespace
        self.busy_timeout = busy_timeout
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._writes = 0
        self._connect()

    def _connect(self) -> sqlite3.Connection:
        """The connection of this process (a forked child opens its own)."""
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            conn = sqlite3.connect(str(self.path), timeout=self.busy_timeout, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, "
                         "expires REAL)")
            os.chmod(self.path, 0o600)   # it holds tokens
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(self.where, str(exc)) from None
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _run(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            try:
                return self._connect().execute(sql, params)
            except sqlite3.Error as exc:
                raise StoreUnavailable(self.where, str(exc)) from None

    def _written(self) -> None:
        self._writes += 1
        if self._writes % self.PURGE_EVERY == 0:
            self.purge()

    def purge(self) -> None:
        self._run("DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?", (time.time(),))

    @staticmethod
    def _expires(ttl: float | None) -> float | None:
        _check_ttl(ttl)
        return None if ttl is None else time.time() + ttl

    def get(self, key: str) -> str | None:
        row = self._run("SELECT value FROM kv WHERE key = ? AND (expires IS NULL OR expires > ?)",
                        (self.namespace + key, time.time())).fetchone()
        return row[0] if row else None

    def set(self, key: str, value: str, ttl: float | None = None) -> None:
        self._run("INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE "
                  "SET value = excluded.value, expires = excluded.expires",
                  (self.namespace + key, value, self._expires(ttl)))
        self._written()

    def add(self, key: str, value: str, ttl: float | None = None) -> bool:
        # One statement: insert, or take over a row whose time is up; no row changed
        # means someone else holds the key.
        cursor = self._run(
            "INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE "
            "SET value = excluded.value, expires = excluded.expires "
            "WHERE kv.expires IS NOT NULL AND kv.expires <= ?",
            (self.namespace + key, value, self._expires(ttl), time.time()))
        self._written()
        return cursor.rowcount == 1

    def delete(self, key: str) -> None:
        self._run("DELETE FROM kv WHERE key = ?", (self.namespace + key,))

    def delete_if(self, key: str, value: str) -> bool:
        return self._run("DELETE FROM kv WHERE key = ? AND value = ?",
                         (self.namespace + key, value)).rowcount == 1

    def keys(self, prefix: str) -> list[str]:
        start = self.namespace + prefix
        # A range instead of LIKE: no escaping of % and _ in keys.
        rows = self._run("SELECT key FROM kv WHERE key >= ? AND key < ? AND (expires IS NULL OR expires > ?)",
                         (start, start + "\U0010ffff", time.time())).fetchall()
        return [row[0][len(self.namespace):] for row in rows]

    def ping(self) -> None:
        self._run("SELECT 1")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


# ------------------------------------------------------------------- Redis

_DELETE_IF = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def redis_address(host: str = "", port: int = 6379, url: str = "") -> str:
    """``host:port`` of the configured Redis (from the URL when there is one), never the password."""
    if url:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "unix":
            return f"unix:{parts.path}"
        return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
    return f"{host}:{port}"


class RedisStore(Store):
    """The same interface on Redis. Short socket timeouts: a dead Redis answers 503 quickly."""

    def __init__(self, host: str = "", port: int = 6379, password: str = "", db: int = 0, url: str = "",
                 namespace: str = NAMESPACE, timeout: float = 2.0):
        import redis  # here, not at import: the embedded default never needs it
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._errors = (redis.ConnectionError, redis.TimeoutError)
        self.where = f"Redis at {redis_address(host, port, url)}"
        self.namespace = namespace
        # One retry without waiting: after a Redis restart the first command meets a
        # dead pooled connection, and the retry reconnects; more would only delay the 503.
        options: dict[str, Any] = dict(socket_timeout=timeout, socket_connect_timeout=timeout,
                       retry=Retry(NoBackoff(), 1), decode_responses=True, health_check_interval=30)
        if url:
            self.client = redis.Redis.from_url(url, **options)
        else:
            self.client = redis.Redis(host=host, port=port, password=password or None, db=db, **options)
        self._delete_if = self.client.register_script(_DELETE_IF)

    def _call(self, method: str, *args, **kwargs):
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except self._errors as exc:
            raise StoreUnavailable(self.where, str(exc) or type(exc).__name__) from None

    @staticmethod
    def _px(ttl: float | None) -> int | None:
        _check_ttl(ttl)
        return None if ttl is None else max(1, int(ttl * 1000))

    def get(self, key: str) -> str | None:
        return self._call("get", self.namespace + key)

    def set(self, key: str, value: str, ttl: float | None = None) -> None:
        self._call("set", self.namespace + key, value, px=self._px(ttl))

    def add(self, key: str, value: str, ttl: float | None = None) -> bool:
        return bool(self._call("set", self.namespace + key, value, px=self._px(ttl), nx=True))

    def delete(self, key: str) -> None:
        self._call("delete", self.namespace + key)

    def delete_if(self, key: str, value: str) -> bool:
        try:
            return bool(self._delete_if(keys=[self.namespace + key], args=[value]))
        except self._errors as exc:
            raise StoreUnavailable(self.where, str(exc) or type(exc).__name__) from None

    def keys(self, prefix: str) -> list[str]:
        pattern = _glob_escape(self.namespace + prefix) + "*"
        found = self._call("scan_iter", match=pattern, count=500)
        try:
            return [key[len(self.namespace):] for key in found]
        except self._errors as exc:
            raise StoreUnavailable(self.where, str(exc) or type(exc).__name__) from None

    def ping(self) -> None:
        self._call("ping")

    def close(self) -> None:
        self.client.close()


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


# ----------------------------------------------------------------- factory

def open_store(settings) -> Store:
    """The store the settings name: Redis when configured (checked now), else SQLite.

    Raises StoreUnavailable naming the Redis host and port when it cannot be
    reached: a service that shares state must not start without it.
    """
    redis = settings.redis
    if redis.url or redis.host:
        store = RedisStore(redis.host, redis.port, redis.password, redis.db, redis.url)
        store.ping()
        return store
    return SQLiteStore(Path(settings.data_dir) / SQLITE_FILE)


def check_redis(settings, timeout: float = 3.0) -> None:
    """For the Gunicorn master: fail the start before any worker when Redis is down.

    Speaks just enough of the Redis protocol over a plain socket (AUTH, SELECT,
    PING) so that the master need not import redis-py before the gevent
    workers patch sockets.
    """
    redis = settings.redis
    if not redis.enabled:
        return
    host, port, password, db, username = redis.host, redis.port, redis.password, redis.db, None
    scheme, path = "redis", ""
    if redis.url:
        parts = urllib.parse.urlsplit(redis.url)
        scheme, path = parts.scheme, parts.path
        host, port = parts.hostname or "localhost", parts.port or 6379
        username = urllib.parse.unquote(parts.username) if parts.username else None
        password = urllib.parse.unquote(parts.password) if parts.password else ""
        query = dict(urllib.parse.parse_qsl(parts.query))
        db = int(query.get("db") or (path.strip("/") if scheme != "unix" else 0) or 0)
    where = f"Redis at {redis_address(redis.host, redis.port, redis.url)}"
    commands = []
    if password:
        commands.append(["AUTH", username, password] if username else ["AUTH", password])
    if db:
        commands.append(["SELECT", str(db)])
    commands.append(["PING"])
    try:
        if scheme == "unix":
            sock = socket.socket(socket.AF_UNIX)
            sock.settimeout(timeout)
            sock.connect(path)
        else:
            sock = socket.create_connection((host, port), timeout=timeout)
        if scheme == "rediss":
            import ssl

            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        with sock, sock.makefile("rb") as replies:
            for command in commands:
                words = [w.encode() for w in command]
                sock.sendall(b"*%d\r\n" % len(words)
                             + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words))
                reply = replies.readline().decode("utf-8", "replace").strip()
                if not reply.startswith("+"):
                    raise StoreUnavailable(where, f"{command[0]} answered {reply[:200] or 'nothing'}")
    except OSError as exc:
        raise StoreUnavailable(where, exc.strerror or str(exc) or type(exc).__name__) from None


# ------------------------------------------------------------------- locks

def acquire(store: Store, name: str, ttl: float) -> str | None:
    """Take the lock ``lock:<name>`` for ``ttl`` seconds; its owner token, or None if held."""
    token = uuid.uuid4().hex
    return token if store.add(f"lock:{name}", token, ttl) else None


def release(store: Store, name: str, token: str) -> None:
    """Give back a lock taken with ``acquire``, unless it expired and someone else took it."""
    store.delete_if(f"lock:{name}", token)
