"""End to end: the openai SDK -> pandora_v1 under gunicorn -> the fake upstream."""
from __future__ import annotations

import asyncio

import openai
import pytest
import requests

from tests.conftest import ACCESS_TOKEN
from tests.fake_upstream import answer_text

UGLY = "!split 1\n!crlf\n!ping\n!noise\n!nodone\n!pieces 2\n"
TEXT = "Grüße, 世界! 🎉 Ünïcödé — ok."


def ask(client, prompt, model="gpt-4o", **kwargs):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}],
                                          **kwargs)


def streamed(client, prompt, **kwargs):
    chunks = list(ask(client, prompt, stream=True, **kwargs))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return chunks, text


def conversation_requests(fake):
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/backend-api/conversation")]


def test_non_streaming_answer_with_real_usage(client, fake):
    result = ask(client, "hi")
    assert result.object == "chat.completion"
    assert result.model == "gpt-4o"
    assert result.id.startswith("chatcmpl-")
    assert result.choices[0].message.role == "assistant"
    assert result.choices[0].message.content == "Hello! How can I help you today?"
    assert result.choices[0].finish_reason == "stop"
    # tiktoken o200k_base: "Hello! How can I help you today?" is 9 tokens; "hi" as one
    # user message is 3 + (3 + 1 + 1) = 8 prompt tokens, as OpenAI reports.
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.total_tokens) == (8, 9, 17)


@pytest.mark.parametrize("fmt", ["A", "B"])
def test_streaming_both_formats(client, fake, fmt):
    prompt = f"!format {fmt}\n{TEXT}"
    chunks, text = streamed(client, prompt)
    assert text == TEXT == answer_text(prompt)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert {c.id for c in chunks} == {chunks[0].id}
    assert all(c.model == "gpt-4o" and c.object == "chat.completion.chunk" for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


@pytest.mark.parametrize("fmt", ["A", "B"])
@pytest.mark.parametrize("stream", [True, False])
def test_ugly_upstream_streams_lose_nothing(client, fake, fmt, stream):
    prompt = f"{UGLY}!format {fmt}\n{TEXT}\nsecond line 第二行"
    if stream:
        _, text = streamed(client, prompt)
    else:
        text = ask(client, prompt).choices[0].message.content
    assert text == answer_text(prompt)


def test_format_b_is_requested_by_default(client, fake):
    ask(client, "hi")
    payload = conversation_requests(fake)[-1].json
    assert payload["supported_encodings"] == ["v1"]
    assert payload["model"] == "gpt-4o"
    assert payload["conversation_mode"] == {"kind": "primary_assistant"}
    assert payload["history_and_training_disabled"] is False
    assert payload["messages"][-1]["content"]["parts"] == ["hi"]


def test_long_answer_in_both_formats(client, fake):
    for fmt in "AB":
        prompt = f"!format {fmt}\n!tokens 1500"
        assert ask(client, prompt).choices[0].message.content == answer_text(prompt)


def test_reasoning_streams_as_reasoning_content(client, fake):
    chunks = list(ask(client, "!reasoning\nDone thinking.", model="reasoner", stream=True))
    reasoning = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices)
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert reasoning == "**Planning**\n\nI should greet the user.\n\n**Checking**\n\nKeep it short."
    assert content == "Done thinking."
    assert "Thought for" not in content + reasoning
    full = ask(client, "!reasoning\nDone thinking.", model="reasoner")
    assert full.choices[0].message.content == "Done thinking."
    assert full.choices[0].message.model_extra["reasoning_content"] == reasoning


def test_code_interpreter_turn_renders_as_closed_blocks(client, fake):
    result = ask(client, "!tool\nThe result is 2.")
    assert result.choices[0].message.content == "```python\nprint(1+1)\n```\n\n```\n2\n```\n\nThe result is 2."


def test_include_usage_adds_openais_usage_chunk(client, fake):
    chunks = list(ask(client, "hi", stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 9 and chunks[-1].usage.prompt_tokens == 8
    assert all(c.usage is None for c in chunks[:-1])


@pytest.mark.parametrize("directive, reason", [("!max_tokens", "length"), ("!moderation", "content_filter")])
def test_finish_reasons(client, fake, directive, reason):
    chunks, _ = streamed(client, f"{directive}\nSome answer text here.")
    assert chunks[-1].choices[0].finish_reason == reason
    assert ask(client, f"{directive}\nSome answer text here.").choices[0].finish_reason == reason


@pytest.mark.parametrize("status, error, code", [
    (401, openai.AuthenticationError, None),
    (403, openai.PermissionDeniedError, None),
    (404, openai.NotFoundError, None),
    (413, openai.BadRequestError, None),
    (422, openai.BadRequestError, None),
    (500, openai.APIStatusError, 502),
    (502, openai.APIStatusError, 502),
    (503, openai.APIStatusError, 502),
])
def test_upstream_errors_before_the_answer(client, fake, status, error, code):
    with pytest.raises(error) as info:
        ask(client, f"!status {status}", stream=True)
    assert info.value.status_code == (code or (400 if status in (413, 422) else status))
    body = info.value.body
    assert set(body) >= {"message", "type", "param", "code"}
    assert "<html" not in body["message"].lower()


def test_rate_limit_passes_retry_after_and_is_not_retried(make_server, fake):
    srv = make_server(upstream_api_prefix=["a", "b"])
    response = requests.post(srv.url + "/v1/chat/completions",
                             headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
                             json={"model": "gpt-4o", "messages": [{"role": "user", "content": "!status 429"}]})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "42"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert "limit of messages" in response.json()["error"]["message"]
    assert len(conversation_requests(fake)) == 1


def test_prefixes_fail_over_and_take_turns(make_server, fake):
    srv = make_server(upstream_api_prefix=["down", "up"])
    fake.prefix_status["down"] = 503
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    for _ in range(4):
        assert ask(client, "hi").choices[0].message.content == "Hello! How can I help you today?"
    prefixes = [r.prefix for r in conversation_requests(fake)]
    assert prefixes.count("up") == 4 and prefixes.count("down") == 2   # every other request starts at "down"
    fake.prefix_status.clear()
    fake.requests.clear()
    ask(client, "hi"), ask(client, "hi")
    assert sorted(r.prefix for r in conversation_requests(fake)) == ["down", "up"]


def test_error_in_the_middle_of_the_answer(client, fake):
    with pytest.raises(openai.APIError) as info:
        streamed(client, "!error_midstream\n" + "word " * 40)
    assert "Something went wrong" in str(info.value)
    with pytest.raises(openai.APIStatusError) as info:
        ask(client, "!error_midstream\n" + "word " * 40)
    assert info.value.status_code == 502


def test_connection_reset_mid_stream_ends_the_stream_cleanly(server, fake):
    response = requests.post(server.url + "/v1/chat/completions", stream=True,
                             headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
                             json={"model": "gpt-4o", "stream": True,
                                   "messages": [{"role": "user", "content": "!reset\n" + "word " * 40}]})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.endswith('data: [DONE]\n\n')
    assert '"code":"upstream_error"' in body


def test_raw_stream_framing(server, fake):
    response = requests.post(server.url + "/v1/chat/completions", stream=True,
                             headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
                             json={"model": "gpt-4o", "stream": True,
                                   "messages": [{"role": "user", "content": "hi"}]})
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = response.content.decode()
    events = body.split("\n\n")
    assert events[-1] == "" and events[-2] == "data: [DONE]"
    assert all(e.startswith("data: {") for e in events[:-2])


def test_keepalive_while_the_upstream_is_silent(make_server, fake):
    srv = make_server(keepalive_interval=0.2)
    response = requests.post(srv.url + "/v1/chat/completions", stream=True,
                             headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
                             json={"model": "gpt-4o", "stream": True,
                                   "messages": [{"role": "user", "content": "!stall_mid 1.2\nOne two three four."}]})
    body = response.content.decode()
    assert body.count(": keep-alive\n\n") >= 3
    text = "".join(__import__("json").loads(e[6:])["choices"][0]["delta"].get("content") or ""
                   for e in body.split("\n\n") if e.startswith("data: {"))
    assert text == "One two three four."


def test_stall_past_the_read_timeout(make_server, fake):
    srv = make_server(upstream_timeout={"read": 0.5})
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    with pytest.raises(openai.APIStatusError) as info:
        ask(client, "!stall_first 2")
    assert info.value.status_code == 504
    with pytest.raises(openai.APIError, match="read timeout"):
        streamed(client, "!stall_mid 2\n" + "word " * 20)


def test_delete_conversation_after_answer_and_after_client_leaves(make_server, fake):
    # Continuity off: each answer ends its conversation (with it on, a kept one is hidden when its session
    # ends: tests/test_continuity_e2e.py).
    srv = make_server(need_delete_conversation_after_response="true", continuity={"enabled": False})
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    ask(client, "hi")
    # hidden afterwards, not a temporary chat: gpt-4o may draw or hand off (answer/temporary.py)
    assert conversation_requests(fake)[-1].json["history_and_training_disabled"] is False
    patch = fake.wait_for(lambda r: r.method == "PATCH")
    assert patch.json == {"is_visible": False}
    assert patch.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    fake.requests.clear()
    # The client reads two chunks and hangs up: the upstream is closed and the clean-up still runs.
    stream = ask(client, "!delay 0.05\n!pieces 1\n" + "x" * 200, stream=True)
    next(iter(stream)), next(iter(stream))
    stream.close()
    fake.wait_for(lambda r: r.method == "PATCH")
    conv = fake.wait_for(lambda r: r.method == "POST" and r.stream_outcome is not None)
    assert conv.stream_outcome == "client_gone"


def test_account_id_after_comma_goes_upstream(server, fake):
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=f"{ACCESS_TOKEN},acc-123", max_retries=0)
    ask(client, "hi")
    headers = conversation_requests(fake)[-1].headers
    assert headers["chatgpt-account-id"] == "acc-123"
    assert headers["authorization"] == f"Bearer {ACCESS_TOKEN}"


def test_async_client_streams(server, fake):
    async def run():
        client = openai.AsyncOpenAI(base_url=server.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
        stream = await client.chat.completions.create(
            model="gpt-4o", stream=True, messages=[{"role": "user", "content": TEXT}])
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    assert asyncio.run(run()) == TEXT


def test_stream_sleep_time_paces_chunks(make_server, fake):
    srv = make_server(refresh_ToAccess={"stream_sleep_time": 0.1})
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    import time

    started = time.monotonic()
    _, text = streamed(client, "!pieces 4\nabcdefghijklmnop")   # 4 content chunks
    assert text == "abcdefghijklmnop"
    assert time.monotonic() - started >= 0.4


def test_unreachable_upstream_is_502(make_server):
    from tests.conftest import free_port

    srv = make_server(upstream_base_url=f"http://127.0.0.1:{free_port()}")
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    for stream in (False, True):
        with pytest.raises(openai.APIStatusError) as info:
            ask(client, "hi", stream=stream)
        assert info.value.status_code == 502
        assert info.value.body["code"] == "upstream_unreachable"
