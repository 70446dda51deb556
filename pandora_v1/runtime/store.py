"""The shared store: a small key-value interface with two backends.

Everything that must survive a restart or be shared between Gunicorn workers
and between instances lives here: exchanged access tokens, known refresh
tokens, GPT info, scheduler locks, per-key usage and caps (metering/).

- ``SQLiteStore``: the embedded default. One file under ``data_dir`` in WAL
  mode; every operation is one statement (atomic), so any number of worker
  processes can share it, and it outlives restarts.
- ``RedisStore``: when the config's ``redis`` section or ``REDIS_URL`` names a
  server. Several instances on one Redis share everything.

Values are strings (callers store JSON through ``get_json``/``set_json``).
Three more shapes, each changed atomically (the usage counts of two instances
add up, a cap holds across them): counters (integer fields added to), timed
windows (a bounded set of members with a time each: a rolling 60 s, the
requests in flight) and recent lists (the newest N values).
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
from dataclasses import dataclass
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

    # Counters: integer fields under one key (Redis: a hash). ``ttl`` is the whole key's, renewed
    # by every addition.
    def add_counts(self, key: str, amounts: dict[str, int], ttl: float | None = None) -> dict[str, int]:
        """Add ``amounts`` to the fields of ``key`` in one atomic step; the fields' new values."""
        raise NotImplementedError

    def counts(self, key: str) -> dict[str, int]:
        """Every field of the counter ``key`` ({} when there is none)."""
        raise NotImplementedError

    # Timed windows: members with a time each (Redis: a sorted set), at most ``limit`` of them.
    def window_take(self, key: str, member: str | None, now: float, since: float, limit: int,
                    ttl: float | None = None) -> Window:
        """In one atomic step: forget members timed at or before ``since``; then put ``member`` in at
        ``now`` if it is there already or fewer than ``limit`` are; say how it went. ``member`` None
        only looks. ``ttl`` is the whole key's, renewed when a member goes in."""
        raise NotImplementedError

    def window_drop(self, key: str, member: str) -> None:
        raise NotImplementedError

    # Recent lists: the newest values first, at most ``keep``.
    def push_recent(self, key: str, value: str, keep: int, ttl: float | None = None) -> None:
        raise NotImplementedError

    def recent(self, key: str, count: int) -> list[str]:
        """The newest ``count`` values of the list ``key``, newest first."""
        raise NotImplementedError

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


@dataclass(frozen=True)
class Window:
    """What ``window_take`` found: whether the member is in, how many are, the oldest one's time."""
    taken: bool
    count: int
    oldest: float | None


def _check_ttl(ttl: float | None) -> None:
    if ttl is not None and ttl <= 0:
        raise ValueError(f"ttl must be positive, got {ttl}")


# ------------------------------------------------------------------ SQLite

_TABLES = (
    "CREATE TABLE IF NOT EXISTS counters (key TEXT NOT NULL, field TEXT NOT NULL, value INTEGER NOT NULL, "
    "expires REAL, PRIMARY KEY (key, field))",
    "CREATE TABLE IF NOT EXISTS windows (key TEXT NOT NULL, member TEXT NOT NULL, score REAL NOT NULL, "
    "expires REAL, PRIMARY KEY (key, member))",
    "CREATE TABLE IF NOT EXISTS lists (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, "
    "value TEXT NOT NULL, expires REAL)",
    "CREATE INDEX IF NOT EXISTS lists_by_key ON lists (key, id)",
)

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
            for table in _TABLES:
                conn.execute(table)
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

    def _atomic(self, work):
        """``work(connection)`` in one write transaction: atomic across threads and processes."""
        with self._lock:
            try:
                conn = self._connect()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = work(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreUnavailable(self.where, str(exc)) from None
        self._written()
        return result

    def _written(self) -> None:
        self._writes += 1
        if self._writes % self.PURGE_EVERY == 0:
            self.purge()

    def purge(self) -> None:
        for table in ("kv", "counters", "windows", "lists"):
            self._run(f"DELETE FROM {table} WHERE expires IS NOT NULL AND expires <= ?", (time.time(),))

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
        for table in ("kv", "counters", "windows", "lists"):
            self._run(f"DELETE FROM {table} WHERE key = ?", (self.namespace + key,))

    def delete_if(self, key: str, value: str) -> bool:
        return self._run("DELETE FROM kv WHERE key = ? AND value = ?",
                         (self.namespace + key, value)).rowcount == 1

    def keys(self, prefix: str) -> list[str]:
        start = self.namespace + prefix
        # A range instead of LIKE: no escaping of % and _ in keys.
        live = "key >= ? AND key < ? AND (expires IS NULL OR expires > ?)"
        bounds = (start, start + "\U0010ffff", time.time())
        rows = self._run(" UNION ".join(f"SELECT key FROM {table} WHERE {live}"
                                        for table in ("kv", "counters", "windows", "lists")), bounds * 4).fetchall()
        return [row[0][len(self.namespace):] for row in rows]

    def add_counts(self, key: str, amounts: dict[str, int], ttl: float | None = None) -> dict[str, int]:
        key, expires, now = self.namespace + key, self._expires(ttl), time.time()

        def work(conn):
            # A row whose time is up starts again from the amount.
            values = {field: conn.execute(
                "INSERT INTO counters (key, field, value, expires) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(key, field) DO UPDATE SET value = CASE WHEN counters.expires IS NOT NULL "
                "AND counters.expires <= ? THEN excluded.value ELSE counters.value + excluded.value END, "
                "expires = excluded.expires RETURNING value", (key, field, int(amount), expires, now)).fetchone()[0]
                for field, amount in amounts.items()}
            conn.execute("UPDATE counters SET expires = ? WHERE key = ?", (expires, key))
            return values
        return self._atomic(work)

    def counts(self, key: str) -> dict[str, int]:
        rows = self._run("SELECT field, value FROM counters WHERE key = ? AND (expires IS NULL OR expires > ?)",
                         (self.namespace + key, time.time())).fetchall()
        return dict(rows)

    def window_take(self, key: str, member: str | None, now: float, since: float, limit: int,
                    ttl: float | None = None) -> Window:
        key, expires = self.namespace + key, self._expires(ttl)

        def work(conn):
            conn.execute("DELETE FROM windows WHERE key = ? AND (score <= ? OR (expires IS NOT NULL AND "
                         "expires <= ?))", (key, since, time.time()))
            count, oldest = conn.execute("SELECT COUNT(*), MIN(score) FROM windows WHERE key = ?", (key,)).fetchone()
            if member is None:
                return Window(False, count, oldest)
            there = conn.execute("SELECT 1 FROM windows WHERE key = ? AND member = ?", (key, member)).fetchone()
            if not there and count >= limit:
                return Window(False, count, oldest)
            conn.execute("INSERT INTO windows (key, member, score, expires) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT(key, member) DO UPDATE SET score = excluded.score", (key, member, now, expires))
            conn.execute("UPDATE windows SET expires = ? WHERE key = ?", (expires, key))
            count, oldest = conn.execute("SELECT COUNT(*), MIN(score) FROM windows WHERE key = ?", (key,)).fetchone()
            return Window(True, count, oldest)
        return self._atomic(work)

    def window_drop(self, key: str, member: str) -> None:
        self._run("DELETE FROM windows WHERE key = ? AND member = ?", (self.namespace + key, member))

    def push_recent(self, key: str, value: str, keep: int, ttl: float | None = None) -> None:
        key, expires = self.namespace + key, self._expires(ttl)

        def work(conn):
            conn.execute("INSERT INTO lists (key, value, expires) VALUES (?, ?, ?)", (key, value, expires))
            conn.execute("DELETE FROM lists WHERE key = ? AND id NOT IN (SELECT id FROM lists WHERE key = ? "
                         "ORDER BY id DESC LIMIT ?)", (key, key, keep))
            conn.execute("UPDATE lists SET expires = ? WHERE key = ?", (expires, key))
        self._atomic(work)

    def recent(self, key: str, count: int) -> list[str]:
        rows = self._run("SELECT value FROM lists WHERE key = ? AND (expires IS NULL OR expires > ?) "
                         "ORDER BY id DESC LIMIT ?", (self.namespace + key, time.time(), count)).fetchall()
        return [row[0] for row in rows]

    def ping(self) -> None:
        self._run("SELECT 1")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


# ------------------------------------------------------------------- Redis

_DELETE_IF = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
# KEYS[1]; ARGV: member ("" only looks), now, since, limit, ttl in ms ("" none) -> {taken, count, oldest}
_WINDOW_TAKE = """
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[3])
local taken = 0
if ARGV[1] ~= '' then
  if redis.call('zscore', KEYS[1], ARGV[1]) or redis.call('zcard', KEYS[1]) < tonumber(ARGV[4]) then
    redis.call('zadd', KEYS[1], ARGV[2], ARGV[1])
    if ARGV[5] ~= '' then redis.call('pexpire', KEYS[1], ARGV[5]) end
    taken = 1
  end
end
local oldest = redis.call('zrange', KEYS[1], 0, 0, 'WITHSCORES')[2] or ''
return {taken, redis.call('zcard', KEYS[1]), oldest}
"""


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
        self._window_take = self.client.register_script(_WINDOW_TAKE)

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

    def _transaction(self, build) -> list:
        """Commands queued by ``build(pipeline)``, run as one MULTI/EXEC."""
        try:
            pipe = self.client.pipeline(transaction=True)
            build(pipe)
            return pipe.execute()
        except self._errors as exc:
            raise StoreUnavailable(self.where, str(exc) or type(exc).__name__) from None

    def add_counts(self, key: str, amounts: dict[str, int], ttl: float | None = None) -> dict[str, int]:
        key, px, fields = self.namespace + key, self._px(ttl), list(amounts)

        def build(pipe):
            for field in fields:
                pipe.hincrby(key, field, int(amounts[field]))
            if px is not None:
                pipe.pexpire(key, px)
        return dict(zip(fields, self._transaction(build), strict=False))

    def counts(self, key: str) -> dict[str, int]:
        return {field: int(value) for field, value in self._call("hgetall", self.namespace + key).items()}

    def window_take(self, key: str, member: str | None, now: float, since: float, limit: int,
                    ttl: float | None = None) -> Window:
        px = self._px(ttl)
        try:
            taken, count, oldest = self._window_take(keys=[self.namespace + key], args=[
                member or "", repr(now), repr(since), limit, "" if px is None else px])
        except self._errors as exc:
            raise StoreUnavailable(self.where, str(exc) or type(exc).__name__) from None
        return Window(bool(taken), int(count), float(oldest) if oldest else None)

    def window_drop(self, key: str, member: str) -> None:
        self._call("zrem", self.namespace + key, member)

    def push_recent(self, key: str, value: str, keep: int, ttl: float | None = None) -> None:
        key, px = self.namespace + key, self._px(ttl)

        def build(pipe):
            pipe.lpush(key, value)
            pipe.ltrim(key, 0, keep - 1)
            if px is not None:
                pipe.pexpire(key, px)
        self._transaction(build)

    def recent(self, key: str, count: int) -> list[str]:
        return self._call("lrange", self.namespace + key, 0, count - 1)


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
