"""The shared store, embedded backend (SQLite). The tests taking ``store`` run against a real
redis-server too: tests/test_store_redis.py collects them again with a Redis ``store``."""
from __future__ import annotations

import multiprocessing
import os
import sqlite3
import time

import pytest

from pandora_v1.runtime.store import (
    RedisStore,
    SQLiteStore,
    StoreUnavailable,
    Window,
    acquire,
    redis_address,
    release,
)


@pytest.fixture
def store(tmp_path):
    """SQLite here (no network in tests/unit); the Redis run is in tests/test_store_redis.py."""
    backend = SQLiteStore(tmp_path / "data" / "store.sqlite3")
    yield backend
    backend.close()


def test_get_set_delete(store):
    assert store.get("a") is None
    store.set("a", "1")
    store.set("a", "2")
    assert store.get("a") == "2"
    store.delete("a")
    store.delete("a")
    assert store.get("a") is None


def test_values_are_text_and_json(store):
    store.set("text", "Grüße 世界 🎉")
    assert store.get("text") == "Grüße 世界 🎉"
    store.set_json("obj", {"n": 1, "s": ["x"]})
    assert store.get_json("obj") == {"n": 1, "s": ["x"]}
    store.set("broken", "{not json")
    assert store.get_json("broken") is None and store.get("broken") is None
    assert store.get_json("missing") is None


def test_ttl_expires(store):
    store.set("short", "v", ttl=0.2)
    store.set("long", "v", ttl=60)
    store.set("forever", "v")
    assert store.get("short") == "v"
    time.sleep(0.3)
    assert store.get("short") is None
    assert store.get("long") == store.get("forever") == "v"
    with pytest.raises(ValueError):
        store.set("bad", "v", ttl=0)


def test_add_is_set_if_absent(store):
    assert store.add("lock", "one", ttl=0.3) is True
    assert store.add("lock", "two", ttl=0.3) is False
    assert store.get("lock") == "one"
    time.sleep(0.4)                        # an expired holder no longer counts
    assert store.add("lock", "three", ttl=5) is True
    assert store.get("lock") == "three"
    store.set("kept", "x")
    assert store.add("kept", "y") is False


def test_delete_if_only_deletes_its_own_value(store):
    store.set("k", "mine")
    assert store.delete_if("k", "theirs") is False
    assert store.get("k") == "mine"
    assert store.delete_if("k", "mine") is True
    assert store.get("k") is None
    assert store.delete_if("k", "mine") is False


def test_keys_by_prefix(store):
    for key in ("rt:aa", "rt:bb", "rtx:cc", "at:aa", "rt:%_*?"):
        store.set(key, "v")
    store.set("rt:gone", "v", ttl=0.1)
    time.sleep(0.2)
    assert sorted(store.keys("rt:")) == ["rt:%_*?", "rt:aa", "rt:bb"]
    assert store.keys("nothing:") == []


def test_namespaces_keep_stores_apart(store, tmp_path, request):
    if isinstance(store, SQLiteStore):
        other = SQLiteStore(store.path, namespace="other:")
    else:
        other = RedisStore(url=request.getfixturevalue("redis_db").url, namespace="other:")
    store.set("k", "mine")
    assert other.get("k") is None and other.keys("") == []
    other.close()


def test_lock_helpers(store):
    owner = acquire(store, "job", 5)
    assert owner and acquire(store, "job", 5) is None
    release(store, "job", "not-the-owner")
    assert acquire(store, "job", 5) is None
    release(store, "job", owner)
    assert acquire(store, "job", 5)


def test_counters_add_up_and_expire(store):
    assert store.counts("day") == {}
    assert store.add_counts("day", {"requests": 1, "input_tokens": 30}, ttl=60) == {"requests": 1, "input_tokens": 30}
    assert store.add_counts("day", {"requests": 1, "output_tokens": 7}, ttl=60) == {"requests": 2, "output_tokens": 7}
    assert store.counts("day") == {"requests": 2, "input_tokens": 30, "output_tokens": 7}
    store.add_counts("short", {"n": 5}, ttl=0.2)
    time.sleep(0.3)
    assert store.counts("short") == {}
    assert store.add_counts("short", {"n": 1}, ttl=5) == {"n": 1}     # starts again after its time
    assert "day" in store.keys("da")
    store.delete("day")
    assert store.counts("day") == {}


def test_a_window_holds_at_most_its_limit_and_forgets_old_members(store):
    first = store.window_take("rpm", "a", now=100.0, since=40.0, limit=2, ttl=60)
    assert (first.taken, first.count, first.oldest) == (True, 1, 100.0)
    assert store.window_take("rpm", "b", now=101.5, since=41.5, limit=2, ttl=60).count == 2
    full = store.window_take("rpm", "c", now=102.0, since=42.0, limit=2, ttl=60)
    assert (full.taken, full.count, full.oldest) == (False, 2, 100.0)
    again = store.window_take("rpm", "a", now=103.0, since=43.0, limit=2, ttl=60)   # a member already in stays in
    assert (again.taken, again.count, again.oldest) == (True, 2, 101.5)
    later = store.window_take("rpm", "c", now=162.0, since=102.0, limit=2, ttl=60)  # b's time is up
    assert (later.taken, later.count, later.oldest) == (True, 2, 103.0)
    look = store.window_take("rpm", None, now=162.0, since=102.0, limit=2)
    assert (look.taken, look.count) == (False, 2)
    store.window_drop("rpm", "a")
    assert store.window_take("rpm", None, now=162.0, since=102.0, limit=2).count == 1
    assert store.window_take("empty", None, now=1.0, since=0.0, limit=1) == Window(False, 0, None)
    store.window_take("brief", "x", now=time.time(), since=float("-inf"), limit=5, ttl=0.2)
    time.sleep(0.3)                               # the whole window's time ran out
    assert store.window_take("brief", None, now=time.time(), since=float("-inf"), limit=5).count == 0


def test_recent_lists_keep_the_newest(store):
    for n in range(7):
        store.push_recent("last", f"v{n}", keep=5, ttl=60)
    assert store.recent("last", 100) == ["v6", "v5", "v4", "v3", "v2"]
    assert store.recent("last", 2) == ["v6", "v5"]
    assert store.recent("none", 10) == []


def _take(args):
    kind, where, barrier = args
    backend = SQLiteStore(where) if kind == "sqlite" else RedisStore(url=where)
    barrier.wait()
    now = time.time()
    taken = [backend.window_take("shared", f"{os.getpid()}-{i}", now, now - 60, 10, 60).taken for i in range(5)]
    backend.add_counts("sum", {"n": 5}, 60)
    backend.close()
    return taken.count(True)


def test_a_window_limit_and_counters_hold_across_processes(store):
    """Six workers race for ten places: exactly ten get one, and every count adds up."""
    kind, where = ("sqlite", str(store.path)) if isinstance(store, SQLiteStore) else ("redis", _url(store))
    ctx = multiprocessing.get_context("fork")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(6)
        with ctx.Pool(6) as pool:
            results = pool.map(_take, [(kind, where, barrier)] * 6)
    assert sum(results) == 10
    assert store.counts("sum") == {"n": 30}


def _race(args):
    kind, where, barrier = args
    backend = SQLiteStore(where) if kind == "sqlite" else RedisStore(url=where)
    barrier.wait()
    won = backend.add("race", "x", ttl=30)
    backend.close()
    return won


def test_set_if_absent_has_one_winner_across_processes(store):
    """Gunicorn workers are processes: exactly one of them gets the lock."""
    kind, where = ("sqlite", str(store.path)) if isinstance(store, SQLiteStore) else ("redis", _url(store))
    ctx = multiprocessing.get_context("fork")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(6)
        with ctx.Pool(6) as pool:
            results = pool.map(_race, [(kind, where, barrier)] * 6)
    assert sorted(results) == [False] * 5 + [True]


def _url(store: RedisStore) -> str:
    kwargs = store.client.connection_pool.connection_kwargs
    return f"redis://{kwargs['host']}:{kwargs['port']}/{kwargs.get('db', 0)}"


def test_sqlite_survives_a_restart_in_wal_mode(tmp_path):
    path = tmp_path / "data" / "store.sqlite3"
    first = SQLiteStore(path)
    first.set("token", "kept")
    first.set("short", "gone", ttl=0.1)
    first.close()
    time.sleep(0.2)
    second = SQLiteStore(path)
    assert second.get("token") == "kept" and second.get("short") is None
    second.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert path.stat().st_mode & 0o077 == 0        # it holds tokens: owner only


def test_sqlite_purges_expired_rows(tmp_path):
    store = SQLiteStore(tmp_path / "s.sqlite3")
    store.PURGE_EVERY = 3
    store.set("a", "1", ttl=0.05)
    time.sleep(0.1)
    store.set("b", "1")
    store.set("c", "1")           # third write: the sweep runs
    with sqlite3.connect(store.path) as conn:
        assert [row[0] for row in conn.execute("SELECT key FROM kv ORDER BY key")] == \
            ["pandora_v1:b", "pandora_v1:c"]
    store.add_counts("n", {"x": 1}, ttl=0.05)
    store.window_take("w", "m", time.time(), 0, 5, ttl=0.05)
    store.push_recent("l", "v", 5, ttl=0.05)
    time.sleep(0.1)
    store.purge()
    with sqlite3.connect(store.path) as conn:
        assert [conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("counters", "windows", "lists")] == [0, 0, 0]
    store.close()


def test_sqlite_that_cannot_be_opened_is_unavailable(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreUnavailable) as info:
        SQLiteStore(tmp_path / "file" / "store.sqlite3")
    error = info.value.api_error()
    assert error.status == 503 and error.code == "store_unavailable"


def test_redis_address_never_shows_the_password():
    assert redis_address(url="redis://:pw@cache.local:6390/2") == "cache.local:6390"
    assert redis_address(url="rediss://user:pw@cache") == "cache:6379"
    assert redis_address("h", 1) == "h:1"
