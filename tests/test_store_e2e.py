"""End to end: refresh tokens, GPTs, accounts, client keys and the shared store,
through real pandora_v1 servers (gunicorn) and the openai SDK."""
from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime, timedelta, timezone

import openai
import pytest
import requests

from tests.conftest import ACCESS_TOKEN, Server, base_config, free_port
from tests.fake_upstream import OAUTH_CLIENT_ID, PLUS_ACCOUNT, TEAM_ACCOUNT

HI = [{"role": "user", "content": "hi"}]
ANSWER = "Hello! How can I help you today?"


def proxy_refresh(fake) -> dict:
    return {"refresh_ToAccess": {"oaifree_refreshToAccess_Url": fake.url + "/api/auth/refresh"}}


def sdk(srv, key, prefix=""):
    return openai.OpenAI(base_url=f"{srv.url}{prefix}/v1", api_key=key, max_retries=0, timeout=30)


def conversations(fake):
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/backend-api/conversation")]


def gizmo_fetches(fake):
    return [r for r in fake.requests if "/backend-api/gizmos/" in r.path]


def chat(srv, key, model="gpt-4o"):
    return requests.post(srv.url + "/v1/chat/completions", json={"model": model, "messages": HI},
                         headers={"Authorization": f"Bearer {key}"}, timeout=30)


def assert_openai_error(response, status, code):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == code
    return error


# ----------------------------------------------------------- refresh tokens

def test_a_refresh_token_works_as_the_api_key(make_server, fake):
    fake.require_issued = True          # the upstream takes only tokens the exchange handed out
    srv = make_server(**proxy_refresh(fake))
    client = sdk(srv, "rt-e2e-user")
    assert client.chat.completions.create(model="gpt-4o", messages=HI).choices[0].message.content == ANSWER
    text = "".join(c.choices[0].delta.content or "" for c in
                   client.chat.completions.create(model="gpt-4o", messages=HI, stream=True) if c.choices)
    assert text == ANSWER
    assert [(e.style, e.refresh_token) for e in fake.exchanges] == [("proxy", "rt-e2e-user")]
    issued = fake.exchanges[0].access_token
    assert [r.headers["authorization"] for r in conversations(fake)] == [f"Bearer {issued}"] * 2
    assert "rt-e2e-user" not in srv.log()


def test_oauth_style_exchange(make_server, fake):
    fake.require_issued = True
    srv = make_server(refresh_ToAccess={"enableOai": "true", "oai_token_url": fake.url + "/oauth/token",
                                        "oai_client_id": OAUTH_CLIENT_ID})
    assert sdk(srv, "rt-oauth-e2e").chat.completions.create(model="gpt-4o", messages=HI)
    oauth = fake.requests[0]
    assert oauth.path == "/oauth/token" and oauth.json == {
        "grant_type": "refresh_token", "client_id": OAUTH_CLIENT_ID, "refresh_token": "rt-oauth-e2e"}


def test_a_refused_refresh_token_is_401(make_server, fake):
    fake.revoked.add("rt-e2e-refused")
    srv = make_server(**proxy_refresh(fake))
    with pytest.raises(openai.AuthenticationError) as info:
        sdk(srv, "rt-e2e-refused").chat.completions.create(model="gpt-4o", messages=HI)
    assert "refresh token was refused" in info.value.body["message"]
    assert conversations(fake) == []
    log = srv.log()
    assert "refused" in log and "rt-e2e-refused" not in log


def test_concurrent_first_requests_exchange_once_across_workers(make_server, fake):
    fake.refresh_delay = 0.5
    srv = make_server(process_workers=2, **proxy_refresh(fake))
    statuses = []

    def one():
        statuses.append(chat(srv, "rt-e2e-crowd").status_code)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8
    assert len(fake.exchanges) == 1
    assert {r.headers["authorization"] for r in conversations(fake)} == {f"Bearer {fake.exchanges[0].access_token}"}


def test_the_exchanged_token_survives_a_restart(make_server, fake, tmp_path):
    data = tmp_path / "kept-data"
    first = make_server(data_dir=str(data), **proxy_refresh(fake))
    assert chat(first, "rt-e2e-restart").status_code == 200
    first.stop()
    second = make_server(data_dir=str(data), **proxy_refresh(fake))
    assert chat(second, "rt-e2e-restart").status_code == 200
    assert len(fake.exchanges) == 1
    assert (data / "store.sqlite3").is_file()


# --------------------------------------------------------------- accounts

@pytest.mark.parametrize("key", [ACCESS_TOKEN, "rt-e2e-accounts"])
def test_get_account_id(make_server, fake, key):
    srv = make_server(backend_container_api_prefix="666", **proxy_refresh(fake))
    response = requests.post(srv.url + "/666/getAccountID", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    assert response.json() == {"plus": [PLUS_ACCOUNT], "team": [TEAM_ACCOUNT]}
    check = [r for r in fake.requests if r.path == "/backend-api/accounts/check/v4-2023-04-27"]
    assert len(check) == 1 and is_jwt_header(check[0].headers["authorization"])
    assert_openai_error(requests.post(srv.url + "/666/getAccountID"), 401, "invalid_api_key")


def is_jwt_header(value: str) -> bool:
    return bool(re.fullmatch(r"Bearer eyJ[\w-]+\.[\w-]+\.[\w-]+", value))


# -------------------------------------------------------------------- GPTs

def test_gpts_are_fetched_with_key_for_gpts_info_and_listed(make_server, fake):
    fake.gizmo_names["g-YyyyMT9XH-chatgpt-classic"] = "ChatGPT Classic"
    srv = make_server(gpts={"classic": {"id": "g-YyyyMT9XH-chatgpt-classic"}},
                      key_for_gpts_info="rt-e2e-gpts", **proxy_refresh(fake))
    client = sdk(srv, ACCESS_TOKEN)
    assert "classic" in [m.id for m in client.models.list()]
    for model in ("classic", "gizmo-g-abc", "gpt-4-gizmo-g-abc"):
        assert client.chat.completions.create(model=model, messages=HI).choices[0].message.content == ANSWER
        payload = conversations(fake)[-1].json
        assert payload["model"] == "gpt-4-gizmo"
        assert payload["conversation_mode"]["kind"] == "gizmo_interaction"
    fetched = sorted(r.path.rsplit("/", 1)[1] for r in gizmo_fetches(fake))
    assert fetched == ["g-YyyyMT9XH-chatgpt-classic", "g-abc"]      # each once (warm-up or first use)
    rt_token = next(e.access_token for e in fake.exchanges if e.refresh_token == "rt-e2e-gpts")
    assert {r.headers["authorization"] for r in gizmo_fetches(fake)} == {f"Bearer {rt_token}"}


def test_a_gpt_that_cannot_be_fetched_is_404_naming_it(make_server, fake):
    fake.missing_gizmos.add("g-gone")
    srv = make_server()
    with pytest.raises(openai.NotFoundError) as info:
        sdk(srv, ACCESS_TOKEN).chat.completions.create(model="gizmo-g-gone", messages=HI)
    assert info.value.body["code"] == "model_not_found" and "gizmo-g-gone" in info.value.body["message"]
    assert conversations(fake) == []


def test_start_up_does_not_need_a_reachable_gpt(make_server, fake):
    dead = f"http://127.0.0.1:{free_port()}"
    srv = make_server(upstream_base_url=dead, key_for_gpts_info=ACCESS_TOKEN,
                      gpts={"classic": {"id": "g-classic"}})
    assert requests.get(srv.url + "/healthz").ok
    deadline = time.monotonic() + 10
    while "could not be fetched" not in srv.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "GPT g-classic could not be fetched (will retry later)" in srv.log()
    assert requests.get(srv.url + "/v1/models").ok


# ------------------------------------------------------------- client keys

def test_client_keys_hide_the_upstream_token(make_server, fake):
    srv = make_server(upstream_accounts={"ops": {"access_token": ACCESS_TOKEN, "account_id": TEAM_ACCOUNT}},
                      client_keys={"sk-nextweb-0123456789abcdef": "ops"})
    assert sdk(srv, "sk-nextweb-0123456789abcdef").chat.completions.create(model="gpt-4o", messages=HI)
    sent = conversations(fake)[-1].headers
    assert sent["authorization"] == f"Bearer {ACCESS_TOKEN}" and sent["chatgpt-account-id"] == TEAM_ACCOUNT
    for key in ("sk-guess-0123456789abcdef", ACCESS_TOKEN):
        error = assert_openai_error(chat(srv, key), 401, "invalid_api_key")
        assert "Incorrect API key" in error["message"]
    assert len(conversations(fake)) == 1


# ------------------------------------------------------------------- Redis

def redis_config(redis) -> dict:
    return {"redis": {"host": "127.0.0.1", "port": redis.port, "password": "", "db": 0}}


def test_unreachable_redis_stops_the_start_naming_host_and_port(tmp_path, upstream):
    port = free_port()
    srv = Server(tmp_path, base_config(upstream.url, redis={"host": "127.0.0.1", "port": port}))
    assert srv.process.wait(timeout=30) != 0
    log = srv.log()
    assert f"Redis at 127.0.0.1:{port} is unreachable" in log
    assert "Traceback" not in log
    srv.stop()


def test_redis_url_from_the_environment(make_server, fake, redis_db):
    srv = make_server(env={"REDIS_URL": redis_db.url}, **proxy_refresh(fake))
    assert chat(srv, "rt-e2e-redis-url").status_code == 200
    assert [k for k in redis_db.client().scan_iter("pandora_v1:at:*")]
    assert not (srv.directory / "data").exists()      # the embedded store is not used
    assert "MonkeyPatchWarning" not in srv.log()       # the master checked Redis without redis-py


def test_redis_down_mid_run_is_503_and_recovers(make_server, fake, own_redis):
    srv = make_server(**redis_config(own_redis), **proxy_refresh(fake))
    assert chat(srv, "rt-e2e-down").status_code == 200
    own_redis.stop()
    error = assert_openai_error(chat(srv, "rt-e2e-down"), 503, "store_unavailable")
    assert f"127.0.0.1:{own_redis.port}" in error["message"]
    assert_openai_error(chat(srv, ACCESS_TOKEN, model="gizmo-g-abc"), 503, "store_unavailable")
    assert chat(srv, ACCESS_TOKEN).status_code == 200         # access tokens need no store
    own_redis.start()
    assert chat(srv, "rt-e2e-down").status_code == 200       # back by itself (a fresh, empty Redis)
    assert len(fake.exchanges) == 2


def test_two_instances_share_one_redis(fake, redis_db, tmp_path):
    """A refresh by one is used by the other; a GPT cached by one is seen by the other;
    the daily job runs once over both instances' four workers."""
    fire = (datetime.now(timezone.utc) + timedelta(seconds=14)).replace(microsecond=0)
    config = base_config(fake.url, process_workers=2, key_for_gpts_info="rt-e2e-gpts-key",
                         refresh_schedule={"time": fire.strftime("%H:%M:%S"), "timezone": "UTC"},
                         **redis_config(redis_db), **proxy_refresh(fake))
    one, two = Server(tmp_path / "one", config), Server(tmp_path / "two", config)   # start together
    try:
        one.wait_ready(), two.wait_ready()
        if datetime.now(timezone.utc) > fire - timedelta(seconds=2):
            pytest.fail("the two servers took too long to start for the scheduled time (machine overloaded?)")
        _two_instances(fake, redis_db, one, two, fire)
    finally:
        one.stop(), two.stop()


def _two_instances(fake, redis_db, one, two, fire):
    assert chat(one, "rt-e2e-shared").status_code == 200
    assert chat(two, "rt-e2e-shared").status_code == 200
    assert [e.refresh_token for e in fake.exchanges] == ["rt-e2e-shared"]
    assert len({r.headers["authorization"] for r in conversations(fake)}) == 1

    assert chat(one, ACCESS_TOKEN, model="gizmo-g-shared").status_code == 200
    assert chat(two, ACCESS_TOKEN, model="gizmo-g-shared").status_code == 200
    assert len(gizmo_fetches(fake)) == 1

    deadline = time.monotonic() + (fire - datetime.now(timezone.utc)).total_seconds() + 15
    while "daily refresh:" not in one.log() + two.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)            # every worker's scheduler has fired by now
    logs = one.log() + two.log()
    assert logs.count("job daily_refresh started") == 1
    assert logs.count("daily refresh: 2 refresh tokens renewed, 0 failed, 0 idle forgotten; "
                      "GPT info: 1 updated, 0 failed") == 1
    renewed = sorted(e.refresh_token for e in fake.exchanges[2:])
    assert sorted(e.refresh_token for e in fake.exchanges) == \
        ["rt-e2e-gpts-key", "rt-e2e-gpts-key", "rt-e2e-shared", "rt-e2e-shared"], renewed
    assert len(gizmo_fetches(fake)) == 2
    # After the job both instances use the renewed access token.
    assert chat(two, "rt-e2e-shared").status_code == 200
    latest = [e for e in fake.exchanges if e.refresh_token == "rt-e2e-shared"][-1].access_token
    assert conversations(fake)[-1].headers["authorization"] == f"Bearer {latest}"
    assert json.loads(redis_db.client().get("pandora_v1:gizmo:g-shared"))["id"] == "g-shared"
