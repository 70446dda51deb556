"""The shared store against a real redis-server: the backend-agnostic tests of
tests/unit/test_store.py run again here with a Redis ``store``, then what only Redis has
(picking the backend, Redis unreachable at start or going down mid-run, the master's check)."""
from __future__ import annotations

import time

import pytest

from pandora_v1.runtime import config
from pandora_v1.runtime.store import RedisStore, SQLiteStore, StoreUnavailable, open_store
from tests.unit.test_store import (  # noqa: F401  (collected here again, with the Redis store below)
    test_a_window_holds_at_most_its_limit_and_forgets_old_members,
    test_a_window_limit_and_counters_hold_across_processes,
    test_add_is_set_if_absent,
    test_counters_add_up_and_expire,
    test_delete_if_only_deletes_its_own_value,
    test_get_set_delete,
    test_keys_by_prefix,
    test_lock_helpers,
    test_namespaces_keep_stores_apart,
    test_recent_lists_keep_the_newest,
    test_set_if_absent_has_one_winner_across_processes,
    test_ttl_expires,
    test_values_are_text_and_json,
)


@pytest.fixture
def store(redis_db):
    backend = RedisStore(url=redis_db.url)
    yield backend
    backend.close()


def test_open_store_picks_the_backend(tmp_path, redis_db, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    embedded = open_store(config.parse({"data_dir": str(tmp_path / "d")}))
    assert isinstance(embedded, SQLiteStore) and embedded.path == tmp_path / "d" / "store.sqlite3"
    embedded.close()
    port = redis_db.port
    shared = open_store(config.parse({"redis": {"host": "127.0.0.1", "port": port, "db": 3}}))
    assert isinstance(shared, RedisStore)
    shared.set("k", "v")
    import redis

    assert redis.Redis(port=port, db=3, decode_responses=True).get("pandora_v1:k") == "v"
    shared.close()
    monkeypatch.setenv("REDIS_URL", redis_db.url)
    assert isinstance(open_store(config.parse({})), RedisStore)


def test_unreachable_redis_at_start_names_host_and_port(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    from tests.conftest import free_port

    port = free_port()
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as info:
        open_store(config.parse({"redis": {"host": "127.0.0.1", "port": port, "password": "s3cret-pw"}}))
    assert f"127.0.0.1:{port}" in str(info.value) and "Redis" in str(info.value)
    assert "s3cret-pw" not in str(info.value)
    assert time.monotonic() - started < 5


def test_redis_down_mid_run_is_unavailable_and_recovers(own_redis):
    store = RedisStore(url=own_redis.url, timeout=1)
    store.set("k", "v")
    own_redis.stop()
    for call in (lambda: store.get("k"), lambda: store.set("k", "v"), lambda: store.add("k", "v", 1),
                 lambda: store.delete_if("k", "v"), lambda: store.keys(""),
                 lambda: store.add_counts("c", {"n": 1}), lambda: store.window_take("w", "m", 1.0, 0.0, 1),
                 lambda: store.push_recent("l", "v", 5)):
        with pytest.raises(StoreUnavailable) as info:
            call()
        error = info.value.api_error()
        assert (error.status, error.code) == (503, "store_unavailable")
        assert f"127.0.0.1:{own_redis.port}" in error.message
    own_redis.start()                     # same port: the pooled client reconnects by itself
    store.set("k", "back")
    assert store.get("k") == "back"
    store.close()


def test_master_check_speaks_to_redis_without_redis_py(redis_db, own_redis, monkeypatch):
    from pandora_v1.runtime.store import check_redis

    monkeypatch.delenv("REDIS_URL", raising=False)
    check_redis(config.parse({"redis": {"host": "127.0.0.1", "port": redis_db.port, "db": 2}}))
    check_redis(config.parse({}))                      # no Redis configured: nothing to check
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{redis_db.port}/1")
    check_redis(config.parse({}))
    # A password the server does not expect is a clear failure, without the password.
    monkeypatch.setenv("REDIS_URL", f"redis://:wrong-pw@127.0.0.1:{redis_db.port}/0")
    with pytest.raises(StoreUnavailable) as info:
        check_redis(config.parse({}))
    assert "AUTH" in str(info.value) and "wrong-pw" not in str(info.value)
    own_redis.stop()
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{own_redis.port}")
    with pytest.raises(StoreUnavailable, match=f"Redis at 127.0.0.1:{own_redis.port} is unreachable"):
        check_redis(config.parse({}))
