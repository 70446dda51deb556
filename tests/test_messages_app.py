"""/v1/messages and /v1/messages/count_tokens against the app in this process (Flask's test client) and
the fake upstream: the wire (event order, blocks, usage), the tool loop, thinking, the context window,
max_tokens and stop sequences, the model table, and every error in Anthropic's shape."""
from __future__ import annotations

import json

import orjson
import pytest

from tests.conftest import ACCESS_TOKEN
from tests.fake_upstream import DEFAULT_ANSWER, answer_text, lorem

KEY = {"x-api-key": ACCESS_TOKEN, "anthropic-version": "2023-06-01"}
WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
REASONING = "**Planning**\n\nI should greet the user.\n\n**Checking**\n\nKeep it short."


def body(prompt="hi", **fields) -> dict:
    return {"model": "claude-opus-5-5", "max_tokens": 1024, "messages": [{"role": "user", "content": prompt}],
            **fields}


def post(web, payload, headers=KEY, path="/v1/messages"):
    data = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return web.post(path, data=data, headers={"Content-Type": "application/json", **headers})


def events(response) -> list[tuple[str, dict]]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/event-stream")
    out = []
    for frame in response.get_data(as_text=True).split("\n\n"):
        if frame:
            name, data = frame.split("\n")
            assert name.startswith("event: ") and data.startswith("data: "), frame
            payload = orjson.loads(data[6:])
            assert payload["type"] == name[7:]
            out.append((name[7:], payload))
    return out


def assert_stream_rules(stream: list[tuple[str, dict]]) -> None:
    """message_start first, blocks 0..n-1 opened and closed in order, message_delta then message_stop."""
    names = [n for n, _ in stream if n != "ping"]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    started, stopped = [], []
    for name, payload in stream:
        if name == "content_block_start":
            assert payload["index"] == len(started) and stopped == started
            started.append(payload["index"])
        elif name == "content_block_delta":
            assert payload["index"] == started[-1] and stopped != started
        elif name == "content_block_stop":
            assert payload["index"] == started[-1]
            stopped.append(payload["index"])
    assert started == stopped


def text_of(stream) -> str:
    return "".join(p["delta"].get("text", "") for n, p in stream if n == "content_block_delta")


def assert_anthropic_error(response, status, kind, message=None) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("application/json")
    payload = response.get_json()
    assert set(payload) == {"type", "error", "request_id"} and payload["type"] == "error"
    assert set(payload["error"]) == {"type", "message"} and payload["error"]["type"] == kind
    assert response.headers["request-id"] == payload["request_id"]
    if message is not None:
        assert payload["error"]["message"] == message
    return payload["error"]["message"]


def conversations(fake):
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/backend-api/conversation")]


# ----------------------------------------------------------------- answers

@pytest.mark.parametrize("headers, path", [
    (KEY, "/v1/messages"),
    ({"Authorization": f"Bearer {ACCESS_TOKEN}", "anthropic-version": "2026-10-21",
      "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14"}, "/v1/messages?beta=true"),
    ({"x-api-key": ACCESS_TOKEN}, "/v1/messages?beta=true&foo=1"),
])
def test_a_plain_message_whatever_the_key_header_version_and_query(web, fake, headers, path):
    message = post(web, body(), headers=headers, path=path).get_json()
    assert message["type"] == "message" and message["role"] == "assistant" and message["model"] == "claude-opus-5-5"
    assert message["id"].startswith("msg_") and message["content"] == [{"type": "text", "text": DEFAULT_ANSWER}]
    assert (message["stop_reason"], message["stop_sequence"]) == ("end_turn", None)
    assert message["usage"] == {"input_tokens": 8, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                                "output_tokens": 9}           # chat's accounting: "hi" is 8, the answer 9
    assert conversations(fake)[-1].json["model"] == "auto"   # every claude-* name: the upstream's default


def test_the_stream_follows_anthropics_order(web, fake):
    prompt = "!pieces 2\nGrüße, 世界! 🎉"
    stream = events(post(web, body(prompt, stream=True)))
    assert_stream_rules(stream)
    assert stream[0][1]["message"]["usage"]["input_tokens"] > 0
    assert stream[1][1]["content_block"] == {"type": "text", "text": ""}
    assert text_of(stream) == answer_text(prompt) and len([n for n, _ in stream if n == "content_block_delta"]) > 3
    delta = stream[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] > 0
    assert delta["usage"]["input_tokens"] == stream[0][1]["message"]["usage"]["input_tokens"]


def test_pings_while_the_upstream_is_silent(make_app, fake):
    web = make_app(keepalive_interval=0.2).test_client()
    stream = events(post(web, body("!stall_mid 1.2\nOne two three four.", stream=True)))
    assert [n for n, _ in stream].count("ping") >= 3 and stream[0][0] == "message_start"
    assert_stream_rules(stream)
    assert text_of(stream) == "One two three four."


def test_a_tool_loop_over_two_turns(web, fake):
    first = body('Let me check.\n!call get_weather {"city": "Paris"}', tools=[WEATHER])
    stream = events(post(web, {**first, "stream": True}))
    assert_stream_rules(stream)
    blocks = [p["content_block"] for n, p in stream if n == "content_block_start"]
    assert [b["type"] for b in blocks] == ["text", "tool_use"]
    call = blocks[1]
    assert call["name"] == "get_weather" and call["input"] == {} and call["id"].startswith("toolu_")
    assert len(call["id"]) == len("toolu_") + 24
    fragments = [p["delta"]["partial_json"] for n, p in stream if n == "content_block_delta" and p["index"] == 1]
    assert fragments[0] == "" and json.loads("".join(fragments)) == {"city": "Paris"}
    assert stream[-2][1]["delta"]["stop_reason"] == "tool_use"

    message = post(web, first).get_json()
    text, tool_use = message["content"]
    assert text == {"type": "text", "text": "Let me check.\n"} and message["stop_reason"] == "tool_use"
    assert tool_use["type"] == "tool_use" and tool_use["input"] == {"city": "Paris"}
    follow_up = {**first, "messages": first["messages"] + [
        {"role": "assistant", "content": message["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use["id"], "content": "18 °C"},
                                     {"type": "text", "text": "Thanks."}]}]}
    answer = post(web, follow_up).get_json()
    assert answer["content"] == [{"type": "text", "text": "Result: 18 °C"}] and answer["stop_reason"] == "end_turn"
    last = conversations(fake)[-1].json["messages"][-1]
    assert last["author"]["role"] == "user"        # the results and the text beside them: one turn upstream
    assert f'id="{tool_use["id"]}"' in last["content"]["parts"][0] and "Thanks." in last["content"]["parts"][0]


def test_count_tokens_says_what_usage_says(web, fake):
    loop = body('!call get_weather {"city": "Paris"}', tools=[WEATHER], system="Be brief.")
    counted = post(web, {k: v for k, v in loop.items() if k != "max_tokens"}, path="/v1/messages/count_tokens")
    assert counted.status_code == 200 and set(counted.get_json()) == {"input_tokens"}
    before = len(fake.requests)
    for _ in range(3):       # the nonce differs per request; the count does not
        assert post(web, loop, path="/v1/messages/count_tokens").get_json() == counted.get_json()
    assert len(fake.requests) == before                  # local: nothing went upstream
    assert post(web, loop).get_json()["usage"]["input_tokens"] == counted.get_json()["input_tokens"]
    stream = events(post(web, {**loop, "stream": True}))
    assert stream[0][1]["message"]["usage"]["input_tokens"] == counted.get_json()["input_tokens"]
    plain = post(web, body("Hello"), path="/v1/messages/count_tokens").get_json()["input_tokens"]
    assert counted.get_json()["input_tokens"] > plain + 100   # the injected tool instruction counts


@pytest.mark.parametrize("thinking, expected", [
    ({"type": "enabled", "budget_tokens": 2048}, REASONING),
    ({"type": "adaptive"}, REASONING),
    ({"type": "adaptive", "display": "omitted"}, ""),
])
def test_thinking_blocks_from_the_upstreams_reasoning(web, fake, make_app, thinking, expected):
    payload = body("!reasoning\nDone thinking.", thinking=thinking, max_tokens=4096)
    message = post(web, payload).get_json()
    thought, text = message["content"]
    assert thought["type"] == "thinking" and thought["thinking"] == expected and thought["signature"]
    assert text == {"type": "text", "text": "Done thinking."}
    stream = events(post(web, {**payload, "stream": True}))
    assert_stream_rules(stream)
    deltas = [p["delta"] for n, p in stream if n == "content_block_delta" and p["index"] == 0]
    assert "".join(d.get("thinking", "") for d in deltas) == expected
    assert deltas[-1]["type"] == "signature_delta" and [d["type"] for d in deltas].count("signature_delta") == 1
    # The client replays the block with its signature: accepted, and dropped before the upstream.
    replay = {**payload, "messages": payload["messages"] + [
        {"role": "assistant", "content": message["content"]}, {"role": "user", "content": "And now?"}]}
    assert post(web, replay).get_json()["content"][-1]["text"] == "And now?"
    # The conversation goes on upstream (answer/continuity.py): only the new message goes up.
    continued = conversations(fake)[-1].json
    assert continued.get("conversation_id") and [m["content"]["parts"] for m in continued["messages"]] == [["And now?"]]
    # Sent whole (continuity off), the history carries the answer's text and not its thinking.
    post(make_app(continuity={"enabled": False}).test_client(), replay)
    sent = [m["content"]["parts"][0] for m in conversations(fake)[-1].json["messages"]]
    assert "Done thinking." in sent and not any(REASONING in part for part in sent)


def test_without_thinking_the_reasoning_is_not_shown_but_counted(web, fake):
    plain = post(web, body("Done thinking.")).get_json()
    message = post(web, body("!reasoning\nDone thinking.")).get_json()
    assert message["content"] == [{"type": "text", "text": "Done thinking."}]
    assert message["usage"]["output_tokens"] > plain["usage"]["output_tokens"]


def test_max_tokens_is_a_cut(web, fake):
    message = post(web, body("!tokens 200", max_tokens=10)).get_json()
    assert message["stop_reason"] == "max_tokens" and message["usage"]["output_tokens"] == 10
    assert lorem(200).startswith(message["content"][0]["text"])
    stream = events(post(web, body("!tokens 200", max_tokens=10, stream=True)))
    assert stream[-2][1]["delta"]["stop_reason"] == "max_tokens" and text_of(stream) == message["content"][0]["text"]


def test_stop_sequences_end_the_text_before_them(web, fake):
    payload = body("!pieces 1\nFirst part. STOP and more", stop_sequences=["STOP", "never"])
    message = post(web, payload).get_json()
    assert message["content"] == [{"type": "text", "text": "First part. "}]
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "STOP")
    stream = events(post(web, {**payload, "stream": True}))
    assert text_of(stream) == "First part. " and stream[-2][1]["delta"] == {"stop_reason": "stop_sequence",
                                                                            "stop_sequence": "STOP"}


def test_the_context_window(make_app, fake):
    web = make_app(anthropic={"context_window": 2000}).test_client()
    long = body("word " * 3000)
    counted = post(web, long, path="/v1/messages/count_tokens").get_json()["input_tokens"]
    before = len(fake.requests)
    assert_anthropic_error(post(web, long), 400, "invalid_request_error",
                           f"prompt is too long: {counted} tokens > 2000 maximum")
    assert_anthropic_error(post(web, {**long, "stream": True}), 400, "invalid_request_error",
                           f"prompt is too long: {counted} tokens > 2000 maximum")
    assert len(fake.requests) == before                   # refused before anything went upstream
    # Claude Code asks 128,000 on every call: capped to what the window leaves, never refused.
    capped = post(web, body("!tokens 3000", max_tokens=128000)).get_json()
    assert capped["stop_reason"] == "max_tokens"
    assert capped["usage"]["input_tokens"] + capped["usage"]["output_tokens"] == 2000


def test_the_default_window_serves_claude_codes_max_tokens(web, fake):
    message = post(web, body(max_tokens=128000)).get_json()
    assert message["content"][0]["text"] == DEFAULT_ANSWER and message["stop_reason"] == "end_turn"


def test_claude_names_map_through_the_table_and_are_listed(make_app, fake):
    web = make_app(anthropic={"models": {"claude-haiku-*": "gpt-4o-mini", "claude-opus-5-5": "reasoner",
                                         "claude-special": "gpt-5-thinking"}}).test_client()
    for model, slug in (("claude-haiku-4-5-20251001", "gpt-4o-mini"), ("claude-opus-5-5", "o1"),
                        ("claude-special", "gpt-5-thinking"), ("claude-sonnet-4-6", "auto"), ("gpt-4o", "gpt-4o")):
        assert post(web, body(model=model)).status_code == 200
        assert conversations(fake)[-1].json["model"] == slug, model
    names = [m["id"] for m in web.get("/v1/models", headers=KEY).get_json()["data"]]
    assert {"claude-opus-5-5", "claude-special", "claude-sonnet-5-5", "claude-haiku-4-5", "gpt-4o"} <= set(names)
    assert not any("*" in name for name in names)


# ----------------------------------------------------------------- errors

def test_bad_requests_are_anthropics_400(web, fake):
    assert_anthropic_error(post(web, {k: v for k, v in body().items() if k != "max_tokens"}), 400,
                           "invalid_request_error", "max_tokens: Field required")
    assert_anthropic_error(post(web, body(messages=[{"role": "user", "content": [{"type": "bogus"}]}])), 400,
                           "invalid_request_error")
    dangling = body(messages=[{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x",
                                                             "content": "x"}]}])
    message = assert_anthropic_error(post(web, dangling), 400, "invalid_request_error")
    assert message.startswith("messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks")
    server_tool = body(tools=[{"type": "bash_20250124", "name": "bash"}])
    assert "'bash'" in assert_anthropic_error(post(web, server_tool), 400, "invalid_request_error")
    assert fake.requests == []


@pytest.mark.parametrize("payload", [b"{not json", b"", b"[1, 2]", b"\xff\xfe"])
def test_unreadable_bodies_are_anthropics_400(web, fake, payload):
    for path in ("/v1/messages", "/v1/messages/count_tokens"):
        assert_anthropic_error(post(web, payload, path=path), 400, "invalid_request_error")


def test_flask_level_errors_on_these_routes_are_anthropic_shaped(make_app, fake):
    web = make_app(max_request_bytes=4096).test_client()
    assert_anthropic_error(web.get("/v1/messages", headers=KEY), 405, "invalid_request_error")
    assert_anthropic_error(post(web, body(), path="/v1/messages/nope"), 404, "not_found_error")
    assert_anthropic_error(post(web, body("x" * 10_000)), 413, "request_too_large")
    # Everywhere else the shape stays OpenAI's.
    assert set(post(web, body(), path="/v1/nope").get_json()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("headers, fragment", [
    ({}, "x-api-key header is required"),
    ({"x-api-key": "not-a-token"}, "refresh tokens are not configured"),
    ({"Authorization": "Basic abc"}, "Bearer"),
])
def test_bad_keys_are_authentication_errors(web, fake, headers, fragment):
    for path in ("/v1/messages", "/v1/messages/count_tokens"):
        assert fragment in assert_anthropic_error(post(web, body(), headers=headers, path=path), 401,
                                                  "authentication_error")
    assert fake.requests == []


def test_an_unknown_model_is_not_found(web, fake):
    message = assert_anthropic_error(post(web, body(model="gpt-9")), 404, "not_found_error")
    assert message.startswith("model: ") and "gpt-9" in message


@pytest.mark.parametrize("status, answered, kind", [
    (401, 401, "authentication_error"), (403, 403, "permission_error"), (429, 429, "rate_limit_error"),
    (500, 529, "overloaded_error"), (502, 529, "overloaded_error")])
def test_upstream_errors_before_the_stream(web, fake, status, answered, kind):
    response = post(web, body(f"!status {status}", stream=True))
    assert_anthropic_error(response, answered, kind)
    if status == 429:
        assert response.headers["Retry-After"] == "42"


def test_an_upstream_413_is_the_wording_claude_code_compacts_on(web, fake):
    counted = post(web, body("!status 413"), path="/v1/messages/count_tokens").get_json()["input_tokens"]
    assert_anthropic_error(post(web, body("!status 413")), 400, "invalid_request_error",
                           f"prompt is too long: {counted} tokens > {counted - 1} maximum")


def test_a_failure_mid_stream_is_an_error_event(web, fake):
    stream = events(post(web, body("!error_midstream\n" + "word " * 40, stream=True)))
    assert stream[0][0] == "message_start" and stream[-1][0] == "error"
    assert stream[-1][1]["error"]["type"] == "overloaded_error" and "message_stop" not in [n for n, _ in stream]


def test_the_key_rules_are_the_usual_ones(make_app, fake):
    """An access token with its account (``key,account``), a refresh token (exchanged once), a gateway
    client key naming an operator's account: in x-api-key as in Authorization: Bearer."""
    web = make_app().test_client()
    assert post(web, body(), headers={"x-api-key": f"{ACCESS_TOKEN},acc-team"}).status_code == 200
    assert conversations(fake)[-1].headers["chatgpt-account-id"] == "acc-team"
    refreshing = make_app(refresh_ToAccess={"oaifree_refreshToAccess_Url": fake.url + "/api/auth/refresh"})
    for headers in ({"x-api-key": "rt-messages-client"}, {"Authorization": "Bearer rt-messages-client"}):
        assert post(refreshing.test_client(), body(), headers=headers).status_code == 200
    assert len(fake.exchanges) == 1 and conversations(fake)[-1].headers["authorization"][7:] in fake.issued
    gateway = make_app(upstream_accounts={"main": {"access_token": ACCESS_TOKEN, "account_id": "acc-main"}},
                       client_keys={"sk-claude-aaaaaaaaaaaa": "main"}).test_client()
    assert post(gateway, body(), headers={"x-api-key": "sk-claude-aaaaaaaaaaaa"}).status_code == 200
    assert conversations(fake)[-1].headers["chatgpt-account-id"] == "acc-main"
    for key in ("sk-claude-aaaaaaaaaaaa,acc-other", ACCESS_TOKEN):     # the operator decides accounts
        message = assert_anthropic_error(post(gateway, body(), headers={"x-api-key": key}), 401,
                                         "authentication_error")
        assert "Incorrect API key" in message and key not in message


def test_the_api_prefix_moves_these_routes_and_their_error_shape(make_app, fake):
    web = make_app(backend_container_api_prefix="666").test_client()
    assert post(web, body(), path="/666/v1/messages").get_json()["content"][0]["text"] == DEFAULT_ANSWER
    assert post(web, body(), path="/666/v1/messages/count_tokens").get_json()["input_tokens"] == 8
    assert_anthropic_error(post(web, body(), path="/666/v1/messages/nope"), 404, "not_found_error")
    assert set(post(web, body(), path="/v1/messages").get_json()["error"]) == {"message", "type", "param", "code"}
