"""Per-key usage and caps on /v1/messages with the anthropic SDK: the counts equal the ``usage`` the
client received, and the refusals come in Anthropic's shape with ``retry-after`` and the
``anthropic-ratelimit-*`` headers (usage-spec.md, 4). The shaping itself is tested as a unit in
tests/unit/test_metering.py (test_the_anthropic_shape_on_the_messages_route)."""
from __future__ import annotations

import anthropic
import pytest

from tests.test_usage_e2e import ACCOUNTS, ADMIN, ALICE, BOT, conversations, settle

MODEL = "claude-usage-test"          # an alias of the config below, whatever the Claude names map to


@pytest.fixture
def messages_server(make_server):
    def start(alice: dict | None = None):
        return make_server(upstream_accounts=ACCOUNTS, admin_key=ADMIN, models={MODEL: "gpt-4o"},
                           client_keys={ALICE: {"account": "main", "name": "alice", **(alice or {})}, BOT: "team"})
    return start


def claude(srv, key) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=srv.url, api_key=key, max_retries=0, timeout=30)


def ask(client, text="hi", **kwargs):
    return client.messages.create(model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": text}],
                                  **kwargs)


def test_the_counts_are_the_usage_the_anthropic_client_received(messages_server, fake):
    srv = messages_server()
    alice = claude(srv, ALICE)
    whole = ask(alice, "!tokens 30")
    received = [whole.usage.input_tokens, whole.usage.output_tokens]
    with alice.messages.stream(model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": "!tokens 20"}]) \
            as stream:
        final = stream.get_final_message()
    received[0] += final.usage.input_tokens
    received[1] += final.usage.output_tokens
    totals = settle(srv, ALICE, 2)["totals"]
    assert (totals["requests"], totals["input_tokens"], totals["output_tokens"]) == (2, *received)


@pytest.mark.parametrize("stream", [False, True])
def test_the_rpm_cap_answers_in_anthropics_shape(messages_server, fake, stream):
    srv = messages_server({"rpm": 2})
    alice = claude(srv, ALICE)
    for _ in range(2):
        raw = alice.messages.with_raw_response.create(model=MODEL, max_tokens=64,
                                                      messages=[{"role": "user", "content": "hi"}])
        assert raw.headers["anthropic-ratelimit-requests-limit"] == "2"
        raw.parse()
    sent = len(conversations(fake))
    with pytest.raises(anthropic.RateLimitError) as info:       # before any event: HTTP 429, no SSE
        ask(alice, stream=stream)
    error = info.value
    assert error.status_code == 429 and error.body["type"] == "error"
    assert error.body["error"]["type"] == "rate_limit_error" and "`alice`" in error.body["error"]["message"]
    headers = error.response.headers
    assert headers["anthropic-ratelimit-requests-limit"] == "2"
    assert headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert headers["anthropic-ratelimit-requests-reset"].endswith("Z") and int(headers["retry-after"]) > 0
    assert "x-ratelimit-limit-requests" not in headers
    assert len(conversations(fake)) == sent


def test_a_model_outside_the_allow_list_is_anthropics_not_found(messages_server, fake):
    srv = messages_server({"models": ["gpt-4o"]})
    with pytest.raises(anthropic.NotFoundError) as info:
        ask(claude(srv, ALICE))
    assert info.value.body["error"]["type"] == "not_found_error"
    assert conversations(fake) == []


def test_each_web_search_counts_for_the_key(messages_server, fake):
    srv = messages_server()
    alice = claude(srv, ALICE)
    searched = ask(alice, "Otters hold hands.", tools=[{"type": "web_search_20250305", "name": "web_search"}])
    plain = ask(alice, "!search\nOtters hold hands.")       # the upstream searched, the client did not ask
    assert searched.usage.server_tool_use.web_search_requests == 1 and plain.usage.server_tool_use is None
    totals = settle(srv, ALICE, 2)["totals"]
    assert (totals["requests"], totals["searches"]) == (2, 2)
    assert totals["input_tokens"] == searched.usage.input_tokens + plain.usage.input_tokens
