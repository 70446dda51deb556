"""Per-key usage and caps against the app in this process (Flask's test client): /v1/usage and
/admin/* with and without their keys, refusals that send nothing upstream, what is counted for a
request that fails, direct mode's masked ids, upstream limits noted per account. The SDKs and
several servers are in test_usage_e2e.py."""
from __future__ import annotations

import hashlib
import time
from datetime import datetime

import pytest

from tests import fake_refusals
from tests.conftest import ACCESS_TOKEN

ALICE, BOT, ADMIN = "sk-alice-0123456789abcdef", "sk-qqbot-0123456789abcdef", "sk-admin-0123456789abcdef"
HI = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def masked(key: str) -> str:
    return "k-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def gateway(make_app, alice=None, **extra):
    return make_app(upstream_accounts={"main": {"access_token": ACCESS_TOKEN}},
                    client_keys={ALICE: {"account": "main", "name": "alice", **(alice or {})}, BOT: "main"},
                    admin_key=ADMIN, **extra).test_client()


def chat(web, key, body=HI, path="/v1/chat/completions"):
    return web.post(path, json=body, headers=bearer(key), buffered=True)


def conversations(fake):
    return [r for r in fake.requests if r.path.endswith("/conversation")]


def test_admin_routes_answer_only_the_admin_key(make_app, fake):
    web = gateway(make_app)
    for headers in ({}, bearer("sk-wrong-0123456789abcdef"), bearer(ALICE), {"Authorization": f"Basic {ADMIN}"}):
        for path in ("/admin/usage.json", "/admin/anything"):
            response = web.get(path, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert set(response.get_json()["error"]) == {"message", "type", "param", "code"}
            assert "recent" not in response.get_data(as_text=True)
    assert web.get("/admin/anything", headers=bearer(ADMIN)).status_code == 404
    report = web.get("/admin/usage.json", headers=bearer(ADMIN)).get_json()
    assert set(report) == {"object", "data", "totals", "keys", "recent", "upstream_limits"}
    assert [k["key"] for k in report["keys"]] == ["alice", masked(BOT)]
    # Without an admin key in the config nobody gets in.
    closed = make_app(upstream_accounts={"main": {"access_token": ACCESS_TOKEN}}, client_keys={ALICE: "main"})
    response = closed.test_client().get("/admin/usage.json", headers=bearer(ADMIN))
    assert response.status_code == 401 and "no admin_key is configured" in response.get_json()["error"]["message"]


def test_the_admin_key_is_never_a_client_key(make_app, fake):
    web = gateway(make_app)
    response = chat(web, ADMIN)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_api_key"
    assert ADMIN not in response.get_data(as_text=True) and conversations(fake) == []
    # Nor in direct mode, where any other token passes through.
    direct = make_app(admin_key=ADMIN).test_client()
    assert chat(direct, ADMIN).status_code == 401 and conversations(fake) == []
    assert chat(direct, ACCESS_TOKEN).status_code == 200


def test_usage_is_each_keys_own_and_the_admin_sees_all(make_app, fake):
    web = gateway(make_app)
    assert chat(web, ALICE).status_code == 200
    assert chat(web, BOT).status_code == 200
    assert chat(web, BOT).status_code == 200
    own = web.get("/v1/usage", headers=bearer(BOT)).get_json()
    assert [(row["key"], row["requests"]) for row in own["data"]] == [(masked(BOT), 2)]
    assert own["limits"] == {"rpm": None, "concurrent": None, "tokens_per_day": None,
                             "tokens_today": own["totals"]["input_tokens"] + own["totals"]["output_tokens"],
                             "images_per_day": None, "images_today": 0, "models": None, "expires": None}
    assert web.get("/v1/usage?key=alice", headers=bearer(BOT)).status_code == 403
    everyone = web.get("/v1/usage", headers=bearer(ADMIN)).get_json()
    assert [(row["key"], row["requests"]) for row in everyone["data"]] == [("alice", 1), (masked(BOT), 2)]
    assert "limits" not in everyone and everyone["totals"]["requests"] == 3
    one = web.get("/v1/usage?key=alice", headers=bearer(ADMIN)).get_json()
    assert [row["key"] for row in one["data"]] == ["alice"] and one["limits"]["rpm"] is None
    assert web.get("/v1/usage").status_code == 401
    assert web.get("/v1/usage", headers=bearer("sk-nobody-0123456789abcdef")).status_code == 401
    for query in ("start_date=2026-02-30", "end_date=tomorrow", "start_date=2024-01-01&end_date=2025-01-01",
                  "start_date=2026-12-02&end_date=2026-12-01"):
        response = web.get(f"/v1/usage?{query}", headers=bearer(ALICE))
        assert response.status_code == 400 and response.get_json()["error"]["param"] in ("start_date", "end_date")
    assert web.get("/v1/usage?start_date=2000-01-01&end_date=2000-12-31", headers=bearer(ALICE)).get_json()["data"] == []


def test_direct_mode_counts_under_the_masked_id_of_the_credential(make_app, fake):
    web = make_app(admin_key=ADMIN).test_client()
    assert chat(web, ACCESS_TOKEN).status_code == 200
    report = web.get("/admin/usage.json", headers=bearer(ADMIN)).get_json()
    assert [row["key"] for row in report["data"]] == [masked(ACCESS_TOKEN)]
    assert report["recent"][0]["key"] == masked(ACCESS_TOKEN)
    own = web.get("/v1/usage", headers=bearer(ACCESS_TOKEN)).get_json()
    assert own["totals"]["requests"] == 1
    assert ACCESS_TOKEN not in str(report) + str(own)


def test_refusals_send_nothing_upstream_and_are_counted_as_rejected(make_app, fake):
    web = gateway(make_app, {"models": ["gpt-4o-*"], "images_per_day": 1})
    response = chat(web, ALICE)
    assert response.status_code == 404 and response.get_json()["error"] == {
        "message": "The model `gpt-4o` does not exist or you do not have access to it. "
                   "Key `alice` may use gpt-4o-* (models).",
        "type": "invalid_request_error", "param": "model", "code": "model_not_found"}
    assert chat(web, ALICE, {**HI, "model": "gpt-4o-mini"}).status_code == 200
    drawn = web.post("/v1/images/generations", json={"model": "gpt-4o-mini", "prompt": "!dalle 2\notters"},
                     headers=bearer(ALICE), buffered=True)
    assert drawn.status_code == 200 and len(drawn.get_json()["data"]) == 1     # n defaults to 1
    sent = len(conversations(fake))
    over = web.post("/v1/images/generations", json={"model": "gpt-4o-mini", "prompt": "!dalle 1\notters"},
                    headers=bearer(ALICE), buffered=True)
    assert over.status_code == 429 and over.get_json()["error"]["code"] == "insufficient_quota"
    assert "images_per_day" in over.get_json()["error"]["message"] and int(over.headers["retry-after"]) > 0
    assert len(conversations(fake)) == sent                                   # nothing reached the upstream
    assert chat(web, ALICE, {**HI, "model": "gpt-4o-mini"}).status_code == 200   # text still goes
    rows = {row["model"]: row for row in web.get("/v1/usage", headers=bearer(ALICE)).get_json()["data"]}
    assert (rows["gpt-4o"]["rejected"], rows["gpt-4o"]["requests"]) == (1, 0)
    assert (rows["gpt-4o-mini"]["requests"], rows["gpt-4o-mini"]["images"], rows["gpt-4o-mini"]["rejected"]) == (3, 1, 1)


def test_an_expired_key_is_refused_everywhere(make_app, fake):
    web = gateway(make_app, {"expires": "2020-01-31"})
    for response in (chat(web, ALICE), web.get("/v1/usage", headers=bearer(ALICE))):
        error = response.get_json()["error"]
        assert response.status_code == 401 and error["code"] == "invalid_api_key"
        assert "`alice` expired at 2020-01-31" in error["message"]
    assert conversations(fake) == [] and chat(web, BOT).status_code == 200


def test_a_failed_request_is_an_error_and_still_carries_the_rate_headers(make_app, fake):
    web = gateway(make_app, {"rpm": 10, "tokens_per_day": 1000})
    # /v1/responses reads the credentials first (stored responses are the caller's): a bad body after auth
    bad = web.post("/v1/responses", json={"model": "gpt-4o", "input": 3}, headers=bearer(ALICE), buffered=True)
    assert bad.status_code == 400
    assert (bad.headers["x-ratelimit-limit-requests"], bad.headers["x-ratelimit-remaining-requests"]) == ("10", "10")
    assert bad.headers["x-ratelimit-limit-tokens"] == "1000"
    upstream_failed = chat(web, ALICE, {**HI, "messages": [{"role": "user", "content": "!status 500"}]})
    assert upstream_failed.status_code == 502 and upstream_failed.headers["x-ratelimit-remaining-requests"] == "9"
    made_up = chat(web, ALICE, {**HI, "model": "gpt-made-up"})
    assert made_up.status_code == 404
    rows = {row["model"]: row for row in web.get("/v1/usage", headers=bearer(ALICE)).get_json()["data"]}
    # requests: past auth, validation and the caps (a model that then is not found too); errors: >= 400
    assert {m: (r["requests"], r["errors"]) for m, r in rows.items()} == {"gpt-4o": (1, 1), "-": (1, 2)}
    assert chat(web, BOT).headers.get("x-ratelimit-limit-requests") is None     # no cap, no headers


def test_upstream_limits_are_noted_per_account(make_app, fake):
    web = make_app(upstream_accounts={"main": {"access_token": ACCESS_TOKEN}, "team": {"access_token": ACCESS_TOKEN,
                                                                                       "account_id": "acc-team"}},
                   client_keys={ALICE: "main", BOT: "team"}, admin_key=ADMIN).test_client()
    limited = chat(web, ALICE, {**HI, "messages": [{"role": "user", "content": "!status 429"}]})
    assert limited.status_code == 429
    answer = chat(web, BOT, {**HI, "messages": [{"role": "user", "content": "!image_limit\nNo picture today."}]})
    assert answer.status_code == 200 and "free plan limit" in answer.get_json()["choices"][0]["message"]["content"]
    deadline = time.monotonic() + 5
    while True:   # the image limit's reset is read from conversation/init off the request path
        found = web.get("/admin/usage.json", headers=bearer(ADMIN)).get_json()["upstream_limits"]
        if len(found) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    by_account = {entry["account"]: entry for entry in found}
    assert by_account["main"]["feature"] == "gpt-4o" and "limit of messages" in by_account["main"]["message"]
    assert by_account["main"]["reset_at"] is not None                        # the upstream's Retry-After: 42
    assert by_account["team"]["feature"] == "image_gen" and "free plan limit" in by_account["team"]["message"]
    # conversation/init gave the reset the limit's text names (fake_refusals.IMAGE_RESET_SECONDS from then)
    reset = datetime.fromisoformat(by_account["team"]["reset_at"].replace("Z", "+00:00")).timestamp()
    assert abs(reset - (time.time() + fake_refusals.IMAGE_RESET_SECONDS)) < 30
    init = [r for r in fake.requests if r.path.endswith("/conversation/init")]
    assert len(init) == 1 and init[0].headers.get("chatgpt-account-id") == "acc-team"   # the account's own


@pytest.mark.parametrize("stream", [False, True])
def test_the_status_page_holds_no_usage_without_the_admin_key(make_app, fake, stream):
    web = gateway(make_app)
    chat(web, ALICE, {**HI, "stream": stream})
    page = web.get("/").get_data(as_text=True)
    assert 'id="usage"' in page and "alice" not in page and ALICE not in page and ADMIN not in page
    assert "alice" not in web.get("/status.json").get_data(as_text=True)


def test_direct_mode_counts_a_credential_only_once_it_went_upstream(make_app, fake):
    """Any JWT-shaped string passes as an access token until the upstream says otherwise: one that
    never reached it (a 404 of ours, a bad body) gets no bucket, nor one the upstream refused (401)."""
    from tests.conftest import make_jwt

    web = make_app(admin_key=ADMIN).test_client()
    made_up = [make_jwt(sub=f"nobody-{n}") for n in range(3)]
    assert web.get("/v1/responses/resp_nothing", headers=bearer(made_up[0])).status_code == 404
    assert web.post("/v1/responses", json={"model": "gpt-4o", "input": 3}, headers=bearer(made_up[1]),
                    buffered=True).status_code == 400
    assert web.get("/v1/usage?start_date=bad", headers=bearer(made_up[2])).status_code == 400
    fake.require_issued = True                     # the upstream refuses tokens it did not issue
    assert chat(web, made_up[0]).status_code == 401
    assert web.get("/admin/usage.json", headers=bearer(ADMIN)).get_json()["data"] == []
