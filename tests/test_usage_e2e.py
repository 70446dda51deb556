"""Per-key usage and caps end to end: the openai SDK through two client keys -> pandora_v1 under
gunicorn -> the fake upstream. The counts are the ``usage`` the clients received; each cap trips at
the right request with OpenAI's 429 and headers, streamed and not, and nothing of a refused request
reaches the upstream; in-flight streams count across workers; /metrics has per-key series; a bad
config stops the start naming the key. Two instances on one Redis: test_usage_redis_e2e.py; the
Anthropic shape on /v1/messages: test_usage_anthropic_e2e.py."""
from __future__ import annotations

import hashlib
import threading
import time

import openai
import pytest
import requests

from tests.conftest import ACCESS_TOKEN, Server, base_config
from tests.test_ops_e2e import metric

ALICE, BOT, ADMIN = "sk-alice-0123456789abcdef", "sk-qqbot-0123456789abcdef", "sk-admin-0123456789abcdef"
ACCOUNTS = {"main": {"access_token": ACCESS_TOKEN}, "team": {"access_token": ACCESS_TOKEN, "account_id": "acc-team"}}


def masked(key: str) -> str:
    return "k-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def gateway(make_server, alice: dict | None = None, **extra):
    return make_server(upstream_accounts=ACCOUNTS, admin_key=ADMIN,
                       client_keys={ALICE: {"account": "main", "name": "alice", **(alice or {})}, BOT: "team"},
                       **extra)


def sdk(srv, key) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.url + "/v1", api_key=key, max_retries=0, timeout=30)


def usage_of(srv, key) -> dict:
    response = requests.get(srv.url + "/v1/usage", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def conversations(fake):
    return [r for r in fake.requests if r.path.endswith("/conversation")]


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def settle(srv, key, requests_expected: int) -> dict:
    """The key's usage once every request so far is written down (a stream's, after its last byte)."""
    deadline = time.monotonic() + 10
    while True:
        found = usage_of(srv, key)
        counted = found["totals"]["requests"] + found["totals"]["rejected"]
        if counted >= requests_expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_the_counts_are_the_usage_the_clients_received(make_server, fake):
    srv = gateway(make_server)
    alice, bot = sdk(srv, ALICE), sdk(srv, BOT)
    received = {"alice": [0, 0], "bot": [0, 0]}

    def add(who, input_tokens, output_tokens):
        received[who][0] += input_tokens
        received[who][1] += output_tokens

    answer = alice.chat.completions.create(model="gpt-4o", messages=user("!tokens 30"))
    add("alice", answer.usage.prompt_tokens, answer.usage.completion_tokens)
    chunks = list(alice.chat.completions.create(model="gpt-4o", messages=user("!tokens 45"), stream=True,
                                                stream_options={"include_usage": True}))
    add("alice", chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens)
    # A stream without include_usage: counted all the same, as the same stream with usage reports it.
    list(alice.chat.completions.create(model="gpt-4o-mini", messages=user("!tokens 12"), stream=True))
    same = list(bot.chat.completions.create(model="gpt-4o-mini", messages=user("!tokens 12"), stream=True,
                                            stream_options={"include_usage": True}))[-1].usage
    add("alice", same.prompt_tokens, same.completion_tokens)
    add("bot", same.prompt_tokens, same.completion_tokens)
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    called = alice.chat.completions.create(model="gpt-4o", messages=user('!call weather {"city": "Paris"}'),
                                           tools=tools)
    assert called.choices[0].finish_reason == "tool_calls"
    add("alice", called.usage.prompt_tokens, called.usage.completion_tokens)
    response = alice.responses.create(model="gpt-4o", input="!tokens 20")
    add("alice", response.usage.input_tokens, response.usage.output_tokens)
    with alice.responses.stream(model="gpt-4o", input="!tokens 25") as stream:
        final = stream.get_final_response()
    add("alice", final.usage.input_tokens, final.usage.output_tokens)
    searched = bot.chat.completions.create(model="gpt-4o", messages=user("!today\n!search\nOtters hold hands."))
    add("bot", searched.usage.prompt_tokens, searched.usage.completion_tokens)
    drawn = bot.images.generate(model="gpt-4o", prompt="!dalle 2\notters", n=2)
    assert len(drawn.data) == 2
    add("bot", drawn.usage.input_tokens, drawn.usage.output_tokens)     # the images API's usage counts too

    mine = settle(srv, ALICE, 6)
    assert [(row["key"], row["model"]) for row in mine["data"]] == [("alice", "gpt-4o"), ("alice", "gpt-4o-mini")]
    totals = mine["totals"]
    assert (totals["input_tokens"], totals["output_tokens"]) == tuple(received["alice"])
    assert (totals["requests"], totals["errors"], totals["rejected"], totals["images"]) == (6, 0, 0, 0)
    theirs = settle(srv, BOT, 3)["totals"]
    assert (theirs["input_tokens"], theirs["output_tokens"]) == tuple(received["bot"])
    assert (theirs["requests"], theirs["images"], theirs["searches"]) == (3, 2, 1)
    # Every key's figures add up in the admin's view and in /metrics (per key and model).
    everyone = usage_of(srv, ADMIN)["totals"]
    assert everyone["input_tokens"] == received["alice"][0] + received["bot"][0]
    text = requests.get(srv.url + "/metrics", timeout=10).text
    assert metric(text, "pandora_v1_key_tokens_total", key="alice", kind="input") == received["alice"][0]
    assert metric(text, "pandora_v1_key_tokens_total", key="alice", kind="output") == received["alice"][1]
    assert metric(text, "pandora_v1_key_tokens_total", key=masked(BOT), kind="output") == received["bot"][1]
    assert metric(text, "pandora_v1_key_requests_total", key="alice", model="gpt-4o-mini", status="200") == 1
    assert ALICE not in text and BOT not in text


def raw_chat(client, stream: bool, text: str = "hi"):
    """(status, headers, body) of one chat request, through the SDK's raw response."""
    try:
        raw = client.chat.completions.with_raw_response.create(model="gpt-4o", messages=user(text), stream=stream)
    except openai.APIStatusError as exc:
        return exc.status_code, exc.response.headers, exc.body
    body = raw.parse()
    if stream:
        body = list(body)
    return raw.status_code, raw.headers, body


@pytest.mark.parametrize("stream", [False, True])
def test_the_rpm_cap_trips_at_the_right_request(make_server, fake, stream):
    srv = gateway(make_server, {"rpm": 3})
    alice = sdk(srv, ALICE)
    for n in range(3):
        status, headers, _ = raw_chat(alice, stream)
        assert status == 200
        assert (headers["x-ratelimit-limit-requests"], headers["x-ratelimit-remaining-requests"]) == ("3", str(2 - n))
        assert headers["x-ratelimit-reset-requests"].endswith("s")
    sent = len(conversations(fake))
    with pytest.raises(openai.RateLimitError) as info:      # the SDK's own class, before any SSE
        alice.chat.completions.create(model="gpt-4o", messages=user("hi"), stream=stream)
    error = info.value
    assert error.body["code"] == "rate_limit_exceeded" and error.body["type"] == "requests"
    assert "`alice`" in error.body["message"] and "rpm" in error.body["message"]
    headers = error.response.headers
    assert headers["x-ratelimit-limit-requests"] == "3" and headers["x-ratelimit-remaining-requests"] == "0"
    assert 0 < int(headers["retry-after"]) <= 60 and headers["x-ratelimit-reset-requests"].endswith("s")
    assert len(conversations(fake)) == sent                      # nothing reached the upstream
    assert raw_chat(sdk(srv, BOT), stream)[0] == 200            # the other key has no cap
    found = settle(srv, ALICE, 4)["totals"]
    assert (found["requests"], found["rejected"]) == (3, 1)
    text = requests.get(srv.url + "/metrics", timeout=10).text
    assert metric(text, "pandora_v1_key_rejected_total", key="alice", reason="rpm") == 1


@pytest.mark.parametrize("stream", [False, True])
def test_the_token_cap_lets_the_crossing_request_complete_and_refuses_the_next(make_server, fake, stream):
    srv = gateway(make_server, {"tokens_per_day": 60})
    alice = sdk(srv, ALICE)
    status, headers, _ = raw_chat(alice, stream, "!tokens 40")      # 55 tokens in all: under 60
    assert status == 200 and headers["x-ratelimit-remaining-tokens"] == "60"
    first = settle(srv, ALICE, 1)["limits"]["tokens_today"]
    assert 0 < first < 60
    status, headers, body = raw_chat(alice, stream, "!tokens 40")   # crosses the cap: completes
    assert status == 200 and headers["x-ratelimit-remaining-tokens"] == str(60 - first)
    text = "".join(c.choices[0].delta.content or "" for c in body if c.choices) if stream \
        else body.choices[0].message.content
    assert len(text.split()) == 40
    both = settle(srv, ALICE, 2)["limits"]["tokens_today"]
    assert both == 2 * first and both > 60
    sent = len(conversations(fake))
    status, headers, error = raw_chat(alice, stream)
    assert status == 429 and error["code"] == "insufficient_quota" and error["type"] == "insufficient_quota"
    assert "tokens_per_day" in error["message"] and "`alice`" in error["message"]
    assert headers["x-ratelimit-limit-tokens"] == "60" and headers["x-ratelimit-remaining-tokens"] == "0"
    assert 0 < int(headers["retry-after"]) <= 86400 and headers["x-ratelimit-reset-tokens"].endswith("s")
    assert len(conversations(fake)) == sent
    assert usage_of(srv, ALICE)["limits"]["tokens_today"] == both


def test_the_concurrent_cap_counts_streams_until_they_end_across_workers(make_server, fake):
    srv = gateway(make_server, {"concurrent": 2}, process_workers=2)
    slow = "!delay 0.05\n!tokens 40"                    # about two seconds each
    opened, results = threading.Barrier(3), []

    def stream_one():
        client = sdk(srv, ALICE)
        chunks = client.chat.completions.create(model="gpt-4o", messages=user(slow), stream=True)
        first = next(chunks)
        opened.wait()
        results.append((first, list(chunks)))

    threads = [threading.Thread(target=stream_one) for _ in range(2)]
    for thread in threads:
        thread.start()
    opened.wait()                                      # both streams are running
    for attempt in range(3):                           # parallel clients: any worker, same answer
        with pytest.raises(openai.RateLimitError) as info:
            sdk(srv, ALICE).chat.completions.create(model="gpt-4o", messages=user("hi"), stream=bool(attempt % 2))
        assert info.value.body["code"] == "rate_limit_exceeded" and "concurrent" in info.value.body["message"]
        assert info.value.response.headers["retry-after"] == "1"
    assert sdk(srv, BOT).chat.completions.create(model="gpt-4o", messages=user("hi"))  # not capped
    for thread in threads:
        thread.join()
    assert len(results) == 2
    time.sleep(0.3)                                    # a place is given back when the stream's body ended
    assert sdk(srv, ALICE).chat.completions.create(model="gpt-4o", messages=user("hi")).usage.total_tokens == 17
    found = settle(srv, ALICE, 6)["totals"]
    assert (found["requests"], found["rejected"]) == (3, 3)


def test_a_model_allow_list_and_the_admin_key(make_server, fake):
    srv = gateway(make_server, {"models": ["gpt-4o-*"]})
    alice = sdk(srv, ALICE)
    with pytest.raises(openai.NotFoundError) as info:
        alice.chat.completions.create(model="gpt-4o", messages=user("hi"))
    assert info.value.body["code"] == "model_not_found"
    assert info.value.body["message"].startswith("The model `gpt-4o` does not exist or you do not have access to it.")
    assert alice.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))
    with pytest.raises(openai.AuthenticationError):
        sdk(srv, ADMIN).chat.completions.create(model="gpt-4o", messages=user("hi"))
    assert len(conversations(fake)) == 1
    assert requests.get(srv.url + "/admin/usage.json", timeout=10).status_code == 401
    report = requests.get(srv.url + "/admin/usage.json", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)
    assert report.status_code == 200 and [k["key"] for k in report.json()["keys"]] == ["alice", masked(BOT)]


@pytest.mark.parametrize("entry, field", [
    ({"account": "main", "rpm": "10"}, "rpm"),
    ({"account": "main", "concurrent": 1.5}, "concurrent"),
    ({"account": "main", "models": ["gpt-4o", "gpt-9-ultra"]}, "models"),
    ({"account": "main", "expires": "someday"}, "expires"),
    ({"account": "main", "rate": 5}, "rate"),
])
def test_a_bad_key_config_stops_the_start_naming_the_key(tmp_path, upstream, entry, field):
    srv = Server(tmp_path, base_config(upstream.url, upstream_accounts=ACCOUNTS,
                                       client_keys={ALICE: entry, BOT: "team"}))
    assert srv.process.wait(timeout=30) != 0
    log = srv.log()
    lines = [line for line in log.splitlines() if "client_keys[" in line]
    assert len(lines) == 1 and f"client_keys[{masked(ALICE)}].{field}:" in lines[0], log
    assert ALICE not in log and "Traceback" not in log


def test_a_stream_the_client_left_counts_what_it_was_sent(make_server, fake):
    """No way around a token cap by hanging up before the end: what was sent counts."""
    srv = gateway(make_server)
    prompt = "!delay 0.01\n!tokens 200"
    whole = sdk(srv, BOT).chat.completions.create(model="gpt-4o", messages=user(prompt)).usage
    with requests.post(srv.url + "/v1/chat/completions", stream=True, timeout=30,
                       headers={"Authorization": f"Bearer {ALICE}"},
                       json={"model": "gpt-4o", "stream": True, "messages": user(prompt)}) as response:
        chunks = response.iter_content(None)
        for _ in range(5):
            next(chunks)                                # a few words, then hang up
    totals = settle(srv, ALICE, 1)["totals"]
    assert totals["requests"] == 1 and totals["input_tokens"] == whole.prompt_tokens
    assert 0 < totals["output_tokens"] < whole.completion_tokens
