"""End to end: function calls and structured output on /v1/responses (openai-python, raw SSE)."""
from __future__ import annotations

import json

import openai
import pytest
from pydantic import BaseModel

from tests.fake_sessions import model_texts
from tests.responses_checks import assert_wire_rules, codex_replay, stream_state
from tests.test_responses_e2e import conversations, raw_events, upstream_texts

WEATHER = {"type": "function", "name": "get_weather", "description": "Current weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"], "additionalProperties": False}, "strict": True}
TIME = {"type": "function", "name": "get_time", "description": "The time in a zone",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}}}
TEXT_THEN_CALL = 'Let me check.\n!call get_weather {"city": "Paris"}'
TWO_CALLS = '!call get_weather {"city": "Paris"}\n!call get_time {"zone": "CET"}'


def stream_final(client, **kwargs):
    with client.responses.stream(model="gpt-4o", **kwargs) as stream:
        events = list(stream)
        return events, stream.get_final_response()


@pytest.mark.parametrize("stream", [True, False])
def test_text_then_call(client, fake, stream):
    if stream:
        events, resp = stream_final(client, input=TEXT_THEN_CALL, tools=[WEATHER])
        done = [e.arguments for e in events if e.type == "response.function_call_arguments.done"]
        assert [json.loads(a) for a in done] == [{"city": "Paris"}]
    else:
        resp = client.responses.create(model="gpt-4o", input=TEXT_THEN_CALL, tools=[WEATHER])
    assert [item.type for item in resp.output] == ["message", "function_call"]
    assert resp.output_text == "Let me check.\n"
    call = resp.output[1]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id.startswith("call_") and call.id.startswith("fc_")
    assert resp.status == "completed" and resp.tools[0].name == "get_weather"
    assert resp.usage.output_tokens > 0


@pytest.mark.parametrize("stream", [True, False])
def test_two_calls(client, fake, stream):
    if stream:
        _, resp = stream_final(client, input=TWO_CALLS, tools=[WEATHER, TIME])
    else:
        resp = client.responses.create(model="gpt-4o", input=TWO_CALLS, tools=[WEATHER, TIME])
    assert [(i.type, i.name) for i in resp.output] == [("function_call", "get_weather"),
                                                      ("function_call", "get_time")]
    assert len({i.call_id for i in resp.output}) == 2


def test_raw_sse_of_calls(server, fake):
    for prompt, tools in ((TEXT_THEN_CALL, [WEATHER]), (TWO_CALLS, [WEATHER, TIME])):
        events = raw_events(server, input=prompt, tools=tools)
        assert_wire_rules(events)
        assert stream_state(events) is not None
        items = codex_replay(events)["items"]
        assert [i["type"] for i in items] == (["message", "function_call"] if prompt == TEXT_THEN_CALL
                                              else ["function_call", "function_call"])
        for item in items:
            if item["type"] == "function_call":
                added = next(d["item"] for n, d in events
                             if n == "response.output_item.added" and d["item"]["id"] == item["id"])
                assert added["arguments"] == "" and added["status"] == "in_progress"
                assert added["call_id"] == item["call_id"] and added["name"] == item["name"]


def test_tool_loop_by_input_replay(client, fake):
    first = client.responses.create(model="gpt-4o", input="!call get_weather {\"city\": \"Paris\"}",
                                    tools=[WEATHER], store=False)
    call = first.output[0]
    final = client.responses.create(model="gpt-4o", tools=[WEATHER], store=False, input=[
        {"role": "user", "content": "!call get_weather {\"city\": \"Paris\"}"},
        *[item.model_dump(exclude_none=True) for item in first.output],
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21°C"}])
    assert final.output_text == "Result: sunny, 21°C"
    sent = upstream_texts(conversations(fake)[-1])
    assert any(f'id="{call.call_id}"' in text and "sunny, 21°C" in text for role, text in sent if role == "user")


def test_tool_loop_by_previous_response_id(client, fake):
    with client.responses.stream(model="gpt-4o", input=TEXT_THEN_CALL, tools=[WEATHER]) as stream:
        first = stream.get_final_response()
    call = first.output[1]
    with client.responses.stream(model="gpt-4o", tools=[WEATHER], previous_response_id=first.id, input=[
            {"type": "function_call_output", "call_id": call.call_id, "output": "cloudy"}]) as stream:
        final = stream.get_final_response()
    assert final.output_text == "Result: cloudy" and final.previous_response_id == first.id
    # the model answers the whole loop; only the result goes up, into the first turn's conversation
    sent = model_texts(fake, conversations(fake)[-1])
    assert sent[-2][0] == "assistant" and sent[-2][1].startswith("Let me check.")
    assert "get_weather" in sent[-2][1] and "cloudy" in sent[-1][1]
    assert [role for role, _ in upstream_texts(conversations(fake)[-1])] == ["user"]


def test_parse_text_format(client, fake):
    class Weather(BaseModel):
        city: str
        degrees: int

    answer = '```json\n{"city": "Paris", "degrees": 21}\n```'
    parsed = client.responses.parse(model="gpt-4o", input=answer, text_format=Weather)
    assert parsed.output_parsed == Weather(city="Paris", degrees=21)
    system = upstream_texts(conversations(fake)[-1])[0]
    assert system[0] == "system" and "JSON Schema" in system[1]
    with client.responses.stream(model="gpt-4o", input=answer, text_format=Weather) as stream:
        assert stream.get_final_response().output_parsed == Weather(city="Paris", degrees=21)


def test_json_schema_raw_and_json_object(client, fake):
    resp = client.responses.create(model="gpt-4o", input='```\n{"a": 1}\n```',
                                   text={"format": {"type": "json_object"}})
    assert json.loads(resp.output_text) == {"a": 1}
    assert resp.text.format.type == "json_object"


def test_tool_choice_none_and_errors(client, fake):
    resp = client.responses.create(model="gpt-4o", input="hi", tools=[WEATHER], tool_choice="none")
    system = [t for r, t in upstream_texts(conversations(fake)[-1]) if r == "system"]
    assert not any("⟦call" in t for t in system) and resp.output_text
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-4o", input="hi", tools=[WEATHER],
                                tool_choice={"type": "function", "name": "nope"})
    assert info.value.body["param"] == "tool_choice"
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-4o", input="hi", tools=[{**WEATHER, "name": "bad name!"}])
    assert info.value.body["param"] == "tools[0].name"
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-4o", input="hi", text={"format": {"type": "json_schema",
                                                                              "schema": {}}})
    assert info.value.body["param"] == "text.format.name"
