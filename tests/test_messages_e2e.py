"""End to end: /v1/messages through the anthropic Python SDK (create, stream helpers, a tool loop over two
turns, images, thinking, count_tokens, each error class) against a real server and the fake upstream."""
from __future__ import annotations

import base64
import json

import anthropic
import pytest
import requests

from tests.conftest import ACCESS_TOKEN
from tests.fake_upstream import DEFAULT_ANSWER, answer_text, png_bytes, source_url

MODEL = "claude-sonnet-4-6"
WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
REASONING = "**Planning**\n\nI should greet the user.\n\n**Checking**\n\nKeep it short."


def sdk(url: str, key: str = ACCESS_TOKEN) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=url, api_key=key, max_retries=0, timeout=30)


@pytest.fixture
def claude(server, fake):
    return sdk(server.url)


def conversations(fake):
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/backend-api/conversation")]


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_create(claude, fake):
    message = claude.messages.create(model=MODEL, max_tokens=1024, messages=user("hi"))
    assert message.type == "message" and message.role == "assistant" and message.model == MODEL
    assert [(b.type, b.text) for b in message.content] == [("text", DEFAULT_ANSWER)]
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert (message.usage.input_tokens, message.usage.output_tokens) == (8, 9)


@pytest.mark.parametrize("prompt", ["hi", "!format A\n!split 1\n!crlf\n!ping\n!noise\n!nodone\nGrüße, 世界! 🎉"])
def test_stream_helper_and_its_final_message(claude, fake, prompt):
    with claude.messages.stream(model=MODEL, max_tokens=1024, messages=user(prompt)) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(texts) == final.content[0].text == answer_text(prompt)
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0 and final.usage.input_tokens > 0


def test_a_tool_loop_over_two_turns(claude, fake):
    messages = user('Let me check.\n!call get_weather {"city": "Paris"}')
    with claude.messages.stream(model=MODEL, max_tokens=1024, messages=messages, tools=[WEATHER]) as stream:
        events = [event.type for event in stream]
        first = stream.get_final_message()
    assert "input_json" in events and first.stop_reason == "tool_use"
    text, call = first.content
    assert text.text == "Let me check.\n" and call.type == "tool_use" and call.name == "get_weather"
    assert call.input == {"city": "Paris"} and call.id.startswith("toolu_")
    result = f"sunny in {call.input['city']}"     # the client runs its tool
    final = claude.messages.create(model=MODEL, max_tokens=1024, tools=[WEATHER], messages=messages + [
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": result}]}])
    assert final.content[0].text == "Result: sunny in Paris" and final.stop_reason == "end_turn"
    sent = json.loads(conversations(fake)[-1].body)["messages"]
    assert f'id="{call.id}"' in sent[-1]["content"]["parts"][0]


def test_images_base64_and_in_a_tool_result(claude, fake):
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": base64.b64encode(png_bytes("ant", 8, 6)).decode()}}
    message = claude.messages.create(model=MODEL, max_tokens=1024, messages=[
        {"role": "user", "content": [{"type": "text", "text": "What is it?"}, image]}])
    assert message.content[0].text == "What is it?"
    sent = json.loads(conversations(fake)[-1].body)["messages"][-1]
    assert sent["content"]["content_type"] == "multimodal_text"
    assert sent["content"]["parts"][1]["asset_pointer"].startswith("file-service://")
    assert sent["metadata"]["attachments"][0]["width"] == 8
    shot = claude.messages.create(model=MODEL, max_tokens=1024, tools=[WEATHER], messages=[
        {"role": "user", "content": "Take a screenshot."},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                           "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": [{"type": "text", "text": "the map"}, image]}]}])
    assert shot.content[0].text.startswith("Result: the map")
    sent = json.loads(conversations(fake)[-1].body)["messages"][-1]
    assert sent["content"]["content_type"] == "multimodal_text"   # the result's image reached the upstream


def test_thinking_streamed_and_replayed(claude, fake):
    kwargs = dict(model=MODEL, max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048})
    with claude.messages.stream(messages=user("!reasoning\nDone thinking."), **kwargs) as stream:
        thoughts = [event.thinking for event in stream if event.type == "thinking"]
        final = stream.get_final_message()
    thinking, text = final.content
    assert thinking.type == "thinking" and thinking.thinking == "".join(thoughts) == REASONING
    assert thinking.signature and text.text == "Done thinking."
    follow_up = claude.messages.create(messages=user("!reasoning\nDone thinking.") + [
        {"role": "assistant", "content": final.content}, {"role": "user", "content": "Again?"}], **kwargs)
    assert follow_up.content[-1].text == "Again?"


def test_count_tokens(claude, fake):
    kwargs = dict(model=MODEL, messages=user('!call get_weather {"city": "Paris"}'), tools=[WEATHER],
                  system="Be brief.")
    counted = claude.messages.count_tokens(**kwargs)
    assert counted.input_tokens > 100
    assert claude.beta.messages.count_tokens(**kwargs).input_tokens == counted.input_tokens
    assert claude.messages.create(max_tokens=1024, **kwargs).usage.input_tokens == counted.input_tokens


def test_structured_output(claude, fake):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    message = claude.messages.create(model=MODEL, max_tokens=1024, messages=user('```json\n{"city": "Paris"}\n```'),
                                     output_config={"format": {"type": "json_schema", "schema": schema}})
    assert json.loads(message.content[0].text) == {"city": "Paris"}


@pytest.mark.parametrize("prompt, key, error", [
    ("!status 403", ACCESS_TOKEN, anthropic.PermissionDeniedError),
    ("!status 429", ACCESS_TOKEN, anthropic.RateLimitError),
    ("!status 500", ACCESS_TOKEN, anthropic.OverloadedError),
    ("hi", "not-a-token", anthropic.AuthenticationError),
])
def test_each_error_class(server, fake, prompt, key, error):
    with pytest.raises(error) as caught:
        sdk(server.url, key).messages.create(model=MODEL, max_tokens=1024, messages=user(prompt))
    assert caught.value.body["type"] == "error" and caught.value.body["error"]["message"]
    with pytest.raises(error):
        with sdk(server.url, key).messages.stream(model=MODEL, max_tokens=1024, messages=user(prompt)) as stream:
            stream.get_final_message()


def test_bad_requests_and_unknown_models(claude, fake):
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(model=MODEL, max_tokens=1024, messages=[{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_x", "content": "x"}]}])
    assert caught.value.body["error"]["type"] == "invalid_request_error"
    assert "unexpected `tool_use_id`" in caught.value.body["error"]["message"]
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.create(model="gpt-9", max_tokens=1024, messages=user("hi"))
    assert caught.value.body["error"]["type"] == "not_found_error"


def test_a_body_over_the_limit(make_server, fake):
    srv = make_server(max_request_bytes=10_000)
    with pytest.raises(anthropic.ContentTooLargeError) as caught:
        sdk(srv.url).messages.create(model=MODEL, max_tokens=1024, messages=user("x" * 20_000))
    assert caught.value.body["error"]["type"] == "request_too_large"


def test_prompt_too_long(make_server, fake):
    srv = make_server(anthropic={"context_window": 2000})
    with pytest.raises(anthropic.BadRequestError) as caught:
        sdk(srv.url).messages.create(model=MODEL, max_tokens=128000, messages=user("word " * 3000))
    assert caught.value.body["error"]["message"].startswith("prompt is too long: ")
    assert caught.value.body["error"]["message"].endswith(" tokens > 2000 maximum")


def test_a_failure_mid_stream_reaches_the_sdk(claude, fake):
    with pytest.raises(anthropic.APIStatusError) as caught:
        with claude.messages.stream(model=MODEL, max_tokens=1024,
                                    messages=user("!error_midstream\n" + "word " * 40)) as stream:
            for _ in stream:
                pass
    assert caught.value.body["error"]["type"] == "overloaded_error"


def test_raw_stream_through_a_real_socket_has_event_lines(server, fake):
    response = requests.post(server.url + "/v1/messages?beta=true", timeout=30, stream=True,
                             headers={"x-api-key": ACCESS_TOKEN, "anthropic-version": "2023-06-01"},
                             json={"model": MODEL, "max_tokens": 100, "stream": True, "messages": user("hi")})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    frames = [f for f in response.content.decode().split("\n\n") if f]
    assert frames[0].startswith("event: message_start\ndata: ") and frames[-1].startswith("event: message_stop\n")
    assert all(f.startswith("event: ") for f in frames)


# ----------------------------------------------------------------- web search and effort

CITED = "\ue200cite\ue202turn0search0\ue201"
SEARCHED = f"!pieces 3\nBased on the results:\nLisbon opened a solar library today {CITED}. It runs on sun."
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3,
              "user_location": {"type": "approximate", "city": "Lisbon", "country": "PT"}}


def test_web_search_through_create_the_stream_helper_and_a_second_turn(claude, fake):
    message = claude.messages.create(model=MODEL, max_tokens=1024, messages=user(SEARCHED), tools=[WEB_SEARCH])
    call, result, before, claim, after = message.content
    assert isinstance(call, anthropic.types.ServerToolUseBlock) and call.name == "web_search"
    assert call.input == {"query": "do otters hold hands"} and call.id.startswith("srvtoolu_")
    assert isinstance(result, anthropic.types.WebSearchToolResultBlock) and result.tool_use_id == call.id
    [page] = result.content
    assert isinstance(page, anthropic.types.WebSearchResultBlock)
    assert (page.url, page.title, page.page_age) == (source_url("turn0search0"), "Otters", None)
    assert (before.text, before.citations) == ("Based on the results:\n", None)
    assert claim.text == "Lisbon opened a solar library today." and after.text == " It runs on sun."
    [cited] = claim.citations
    assert isinstance(cited, anthropic.types.CitationsWebSearchResultLocation)
    assert (cited.url, cited.title) == (source_url("turn0search0"), "Source 0search0")
    assert message.usage.server_tool_use.web_search_requests == 1

    with claude.messages.stream(model=MODEL, max_tokens=1024, messages=user(SEARCHED), tools=[WEB_SEARCH]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    assert {"citation", "input_json", "text"} <= set(kinds)
    assert [b.type for b in final.content] == [b.type for b in message.content]
    assert final.content[0].input == call.input and final.content[3].citations[0].url == cited.url
    assert [b.text for b in final.content[2:]] == [b.text for b in message.content[2:]]
    assert final.usage.server_tool_use.web_search_requests == 1
    sent = conversations(fake)[-1].json
    assert sent["messages"][-1]["metadata"]["system_hints"] == ["search"]
    assert any("Lisbon, PT" in m["content"]["parts"][0] for m in sent["messages"] if m["author"]["role"] == "system")

    again = claude.messages.create(model=MODEL, max_tokens=1024, tools=[WEB_SEARCH], messages=user(SEARCHED) + [
        {"role": "assistant", "content": final.content}, {"role": "user", "content": "Thanks!"}])
    assert again.content[-1].text == "Thanks!"
    history = [m["content"]["parts"][0] for m in conversations(fake)[-1].json["messages"]
               if m["author"]["role"] == "assistant"]
    assert history[0].startswith("[searched: do otters hold hands]\n\n[search results]\n- Otters (")


def test_thinking_and_effort_through_the_sdk(make_server, fake):
    srv = make_server(anthropic={"models": {"claude-opus-5-5": "gpt-5-6-thinking"}})
    client = sdk(srv.url)
    message = client.messages.create(model="claude-opus-5-5", max_tokens=40000, messages=user("hi"),
                                     thinking={"type": "enabled", "budget_tokens": 32000})
    assert message.content[-1].text == DEFAULT_ANSWER       # the fake refuses an effort it cannot take
    with client.messages.stream(model="claude-opus-5-5", max_tokens=1024, messages=user("hi"),
                                output_config={"effort": "high"}) as stream:
        assert stream.get_final_message().content[-1].text == DEFAULT_ANSWER
    assert [r.json.get("thinking_effort") for r in conversations(fake)] == ["max", "extended"]
