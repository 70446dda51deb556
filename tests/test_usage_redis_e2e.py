"""Two pandora_v1 instances on one redis-server share the per-key counts and the caps: usage read on
either is the sum of both, an rpm cap and a concurrent cap hold across them."""
from __future__ import annotations

import threading

import openai
import pytest

from tests.test_usage_e2e import ACCOUNTS, ADMIN, ALICE, BOT, sdk, settle, usage_of, user

pytestmark = pytest.mark.redis


@pytest.fixture
def two_instances(make_server, redis_db):
    def start(alice: dict):
        config = dict(upstream_accounts=ACCOUNTS, admin_key=ADMIN, redis={"host": "127.0.0.1", "port": redis_db.port},
                      client_keys={ALICE: {"account": "main", "name": "alice", **alice}, BOT: "team"})
        return make_server(**config), make_server(**config)
    return start


def test_two_instances_add_up_and_share_the_rpm_cap(two_instances, fake):
    first, second = two_instances({"rpm": 4})
    received = [0, 0]
    for srv, stream in ((first, False), (second, True), (first, True), (second, False)):
        if stream:
            chunk = list(sdk(srv, ALICE).chat.completions.create(
                model="gpt-4o", messages=user("!tokens 15"), stream=True, stream_options={"include_usage": True}))[-1]
            usage = chunk.usage
        else:
            usage = sdk(srv, ALICE).chat.completions.create(model="gpt-4o", messages=user("!tokens 15")).usage
        received[0] += usage.prompt_tokens
        received[1] += usage.completion_tokens
    with pytest.raises(openai.RateLimitError) as info:          # the fifth in the minute, on either
        sdk(first, ALICE).chat.completions.create(model="gpt-4o", messages=user("hi"))
    assert info.value.response.headers["x-ratelimit-remaining-requests"] == "0"
    with pytest.raises(openai.RateLimitError):
        sdk(second, ALICE).chat.completions.create(model="gpt-4o", messages=user("hi"))
    for srv in (first, second):
        totals = settle(srv, ALICE, 6)["totals"]
        assert (totals["requests"], totals["rejected"]) == (4, 2)
        assert [totals["input_tokens"], totals["output_tokens"]] == received
    everyone = usage_of(second, ADMIN)
    assert everyone["totals"]["requests"] == 4 and {row["key"] for row in everyone["data"]} == {"alice"}


def test_a_stream_on_one_instance_holds_the_place_on_the_other(two_instances, fake):
    first, second = two_instances({"concurrent": 1})
    started, done = threading.Event(), []

    def stream():
        chunks = sdk(first, ALICE).chat.completions.create(model="gpt-4o", messages=user("!delay 0.05\n!tokens 30"),
                                                          stream=True)
        next(chunks)
        started.set()
        done.append(list(chunks))

    thread = threading.Thread(target=stream)
    thread.start()
    assert started.wait(10)
    with pytest.raises(openai.RateLimitError) as info:
        sdk(second, ALICE).chat.completions.create(model="gpt-4o", messages=user("hi"))
    assert "concurrent" in info.value.body["message"]
    thread.join()
    assert done
    settle(first, ALICE, 2)                                    # the stream's place is given back at its end
    assert sdk(second, ALICE).chat.completions.create(model="gpt-4o", messages=user("hi"))
