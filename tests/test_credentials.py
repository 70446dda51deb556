"""Keys -> credentials: refresh-token exchange, the shared cache, gateway mode."""
from __future__ import annotations

import hashlib
import logging
import multiprocessing
import sqlite3
import threading
import time

import pytest

from pandora_v1.auth import credentials, exchange
from pandora_v1.auth.credentials import Credentials, token_hash
from pandora_v1.auth.exchange import CredentialService
from pandora_v1.errors import APIError
from pandora_v1.runtime import config
from pandora_v1.runtime.store import RedisStore, SQLiteStore
from tests.conftest import ACCESS_TOKEN, free_port
from tests.fake_upstream import OAUTH_CLIENT_ID


def settings_for(fake, style="proxy", url=None, **extra):
    if style == "proxy":
        refresh = {"oaifree_refreshToAccess_Url": url or fake.url + "/api/auth/refresh"}
    elif style == "oauth":
        refresh = {"enableOai": "true", "oai_token_url": url or fake.url + "/oauth/token",
                   "oai_client_id": OAUTH_CLIENT_ID}
    else:
        refresh = {}
    return config.parse({"upstream_base_url": fake.url, "refresh_ToAccess": refresh,
                         "upstream_timeout": {"connect": 2, "read": 5}, **extra})


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_access_tokens_pass_through_with_the_account(fake, store):
    service = CredentialService(settings_for(fake), store)
    assert service.resolve(bearer(ACCESS_TOKEN)) == Credentials(ACCESS_TOKEN)
    assert service.resolve(bearer(f"{ACCESS_TOKEN},acc-1")) == Credentials(ACCESS_TOKEN, "acc-1")
    assert fake.exchanges == []


def test_refresh_tokens_without_an_endpoint_are_401(fake, store):
    service = CredentialService(settings_for(fake, style=None), store)
    with pytest.raises(APIError) as info:
        service.resolve(bearer("rt-plain"))
    assert info.value.status == 401 and "refresh tokens are not configured" in info.value.message


def test_proxy_exchange_is_cached_under_a_hash(fake, store):
    service = CredentialService(settings_for(fake), store)
    creds = service.resolve(bearer("rt-proxy-1,acc-team"))
    assert creds.access_token in fake.issued and creds.account_id == "acc-team"
    assert [(e.style, e.refresh_token) for e in fake.exchanges] == [("proxy", "rt-proxy-1")]
    # Again, and from another worker (a second service on the same store): no exchange.
    other = CredentialService(settings_for(fake), store)
    assert service.resolve(bearer("rt-proxy-1")).access_token == creds.access_token
    assert other.resolve(bearer("rt-proxy-1")).access_token == creds.access_token
    assert len(fake.exchanges) == 1
    keys = store.keys("")
    digest = hashlib.sha256(b"rt-proxy-1").hexdigest()
    assert f"at:{digest}" in keys and f"rt:{digest}" in keys
    assert not any("rt-proxy-1" in key for key in keys)


def test_cache_lives_until_shortly_before_exp(fake, tmp_path):
    store = SQLiteStore(tmp_path / "s.sqlite3")
    service = CredentialService(settings_for(fake), store)
    token = service.access_token("rt-long")
    exp = credentials.jwt_claims(token)["exp"]
    with sqlite3.connect(store.path) as conn:
        (expires,) = conn.execute("SELECT expires FROM kv WHERE key = ?",
                                  (f"pandora_v1:at:{token_hash('rt-long')}",)).fetchone()
    assert exp - exchange.REFRESH_MARGIN - 2 < expires < exp - exchange.REFRESH_MARGIN + 2
    # A short-lived token: used while valid, exchanged again once it is nearly expired.
    fake.token_lifetime = 3
    first = service.access_token("rt-short")
    assert service.access_token("rt-short") == first
    time.sleep(3)
    assert service.access_token("rt-short") != first
    assert [e.refresh_token for e in fake.exchanges] == ["rt-long", "rt-short", "rt-short"]
    store.close()


def test_oauth_exchange_keeps_the_rotated_refresh_token(fake, store):
    fake.rotate = True
    service = CredentialService(settings_for(fake, "oauth"), store)
    first = service.resolve(bearer("rt-oauth-0")).access_token
    rotated = fake.exchanges[0].rotated_to
    assert rotated and "rt-oauth-0" in fake.revoked
    # The daily job exchanges again: with the rotated token (the old one is spent).
    report = service.refresh_all()
    assert (report.renewed, report.failed) == (1, 0)
    assert [(e.refresh_token, e.status) for e in fake.exchanges] == [("rt-oauth-0", 200), (rotated, 200)]
    # Clients keep sending their original token and get the new access token.
    renewed = service.resolve(bearer("rt-oauth-0")).access_token
    assert renewed != first and renewed == fake.exchanges[1].access_token
    assert len(fake.exchanges) == 2
    assert not any(t in key for key in store.keys("") for t in ("rt-oauth-0", rotated))


def test_refused_refresh_token_is_401_and_logs_no_secret(fake, store, caplog):
    fake.revoked.add("rt-refused-secret")
    service = CredentialService(settings_for(fake), store)
    caplog.set_level(logging.DEBUG)
    for _ in range(2):
        with pytest.raises(APIError) as info:
            service.resolve(bearer("rt-refused-secret"))
        assert (info.value.status, info.value.code) == (401, "invalid_api_key")
        assert "refresh token was refused" in info.value.message
        assert "rt-refused-secret" not in info.value.message
    assert len(fake.exchanges) == 1            # the refusal is remembered briefly
    assert "refused" in caplog.text and "HTTP 401" in caplog.text
    assert "rt-refused-secret" not in caplog.text


def test_unreachable_or_failing_endpoint_is_502(fake, store):
    dead = CredentialService(settings_for(fake, url=f"http://127.0.0.1:{free_port()}/api/auth/refresh"), store)
    with pytest.raises(APIError) as info:
        dead.access_token("rt-x")
    assert (info.value.status, info.value.code) == (502, "token_endpoint_unavailable")
    fake.refresh_status = 503
    with pytest.raises(APIError) as info:
        CredentialService(settings_for(fake), store).access_token("rt-y")
    assert info.value.status == 502 and "HTTP 503" in info.value.message


def _exchange_in_a_worker(args):
    kind, where, fake_url, barrier = args
    backend = SQLiteStore(where) if kind == "sqlite" else RedisStore(url=where)
    settings = config.parse({"upstream_base_url": fake_url, "refresh_ToAccess": {
        "oaifree_refreshToAccess_Url": fake_url + "/api/auth/refresh"}})
    service = CredentialService(settings, backend)
    barrier.wait()
    token = service.access_token("rt-crowd")
    backend.close()
    return token


def test_concurrent_first_requests_exchange_once_across_processes(fake, store):
    fake.refresh_delay = 0.3
    if isinstance(store, SQLiteStore):
        kind, where = "sqlite", str(store.path)
    else:
        kwargs = store.client.connection_pool.connection_kwargs
        kind, where = "redis", f"redis://{kwargs['host']}:{kwargs['port']}/0"
    ctx = multiprocessing.get_context("fork")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(4)
        with ctx.Pool(4) as pool:
            tokens = pool.map(_exchange_in_a_worker, [(kind, where, fake.url, barrier)] * 4)
    assert len(set(tokens)) == 1
    assert len(fake.exchanges) == 1


def test_concurrent_threads_share_one_exchange(fake, store):
    fake.refresh_delay = 0.2
    service = CredentialService(settings_for(fake), store)
    results = []
    threads = [threading.Thread(target=lambda: results.append(service.access_token("rt-threads")))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and len(set(results)) == 1 and len(fake.exchanges) == 1


def test_waiters_share_a_failure_too(fake, store):
    fake.refresh_delay, fake.refresh_status = 0.2, 401
    service = CredentialService(settings_for(fake), store)
    errors = []

    def call():
        try:
            service.access_token("rt-bad-crowd")
        except APIError as exc:
            errors.append(exc.status)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [401] * 5 and len(fake.exchanges) == 1


GATEWAY = {
    "upstream_accounts": {"main": {"access_token": ACCESS_TOKEN, "account_id": "acc-main"},
                          "spare": {"refresh_token": "rt-operator"}},
    "client_keys": {"sk-nextweb-aaaaaaaaaaaa": "main", "sk-bot-bbbbbbbbbbbb": "spare"},
}


def test_gateway_maps_client_keys_to_operator_accounts(fake, store):
    service = CredentialService(settings_for(fake, **GATEWAY), store)
    assert service.resolve(bearer("sk-nextweb-aaaaaaaaaaaa")) == Credentials(ACCESS_TOKEN, "acc-main")
    spare = service.resolve(bearer("sk-bot-bbbbbbbbbbbb"))
    assert spare.access_token in fake.issued and fake.exchanges[0].refresh_token == "rt-operator"
    for key in ("sk-unknown-cccccccccccc", ACCESS_TOKEN, "rt-operator"):   # upstream tokens are no keys
        with pytest.raises(APIError) as info:
            service.resolve(bearer(key))
        assert info.value.status == 401 and "Incorrect API key" in info.value.message
        assert key not in info.value.message


def test_gateway_compares_every_key_in_constant_time(fake, store, monkeypatch):
    service = CredentialService(settings_for(fake, **GATEWAY), store)
    compared = []
    real = exchange.hmac.compare_digest

    def counting(a, b):
        compared.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(exchange.hmac, "compare_digest", counting)
    service.resolve(bearer("sk-nextweb-aaaaaaaaaaaa"))     # the first key matches ...
    assert compared == [(32, 32), (32, 32)]                # ... and the second is compared all the same


def test_refresh_all_renews_known_and_configured_tokens_and_forgets_idle_ones(fake, store):
    service = CredentialService(settings_for(fake, key_for_gpts_info="rt-gpts", **GATEWAY), store)
    service.access_token("rt-client-a")
    service.access_token("rt-client-b")
    service.access_token("rt-client-idle")
    store.delete(f"seen:{token_hash('rt-client-idle')}")      # as if unused for 30 days
    fake.revoked.add("rt-client-b")
    before = len(fake.exchanges)
    report = service.refresh_all()
    assert (report.renewed, report.failed, report.forgotten) == (3, 1, 1)
    renewed = sorted(e.refresh_token for e in fake.exchanges[before:])
    assert renewed == ["rt-client-a", "rt-client-b", "rt-gpts", "rt-operator"]
    assert store.get(f"rt:{token_hash('rt-client-idle')}") is None
    assert store.get(f"rt:{token_hash('rt-client-b')}") is None   # refused: no longer known


def test_a_header_alone_gives_an_access_token_and_nothing_else():
    assert credentials.from_header(bearer(ACCESS_TOKEN)) == Credentials(ACCESS_TOKEN)
    with pytest.raises(APIError, match="not configured"):
        credentials.from_header(bearer("rt-anything"))


def test_every_exchange_is_counted_by_its_outcome(fake, tmp_path):
    outcomes = []
    service = CredentialService(settings_for(fake), SQLiteStore(tmp_path / "s.sqlite3"))
    service.on_exchange = outcomes.append
    service.access_token("rt-counted")
    service.access_token("rt-counted")             # cached: no exchange, nothing counted
    fake.revoked.add("rt-refused")
    with pytest.raises(APIError):
        service.access_token("rt-refused")
    dead = CredentialService(settings_for(fake, url=f"http://127.0.0.1:{free_port()}/api/auth/refresh"),
                             SQLiteStore(tmp_path / "d.sqlite3"))
    dead.on_exchange = outcomes.append
    with pytest.raises(APIError):
        dead.access_token("rt-nowhere")
    assert outcomes == ["ok", "refused", "unavailable"]


@pytest.mark.parametrize("suffix", [",acc-client-chosen", ",", " , acc-client-chosen", ",acc-main"])
def test_gateway_accepts_only_an_exact_client_key(fake, store, suffix):
    """In gateway mode the operator picks the workspace, never the client."""
    service = CredentialService(settings_for(fake, **GATEWAY), store)
    for key in ("sk-nextweb-aaaaaaaaaaaa", "sk-bot-bbbbbbbbbbbb"):
        with pytest.raises(APIError) as info:
            service.resolve(bearer(key + suffix))
        assert info.value.status == 401 and info.value.code == "invalid_api_key"
        assert "acc-client-chosen" not in info.value.message and key not in info.value.message
    # The exact key still works, and the spare account (no account id) sends none.
    assert service.resolve(bearer("sk-bot-bbbbbbbbbbbb")).account_id is None
