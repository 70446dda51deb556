"""The Responses event encoder: wire rules, openai-python's stream state, Codex's rules."""
from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from pandora_v1.answer.request import ChatRequest
from pandora_v1.responses import objects
from pandora_v1.responses.events import ResponseEncoder
from pandora_v1.responses.request import ResponsesRequest
from pandora_v1.translate.request import ChatMessage
from tests.responses_checks import assert_wire_rules, codex_replay, parse_sse, stream_state

USAGE = objects.usage(10, 5, 2)


def encoder(summary=False, stream=True, **echo) -> ResponseEncoder:
    request = ResponsesRequest(ChatRequest("gpt-4o", (ChatMessage("user", "hi"),)), (), echo)
    return ResponseEncoder(objects.response(request), summary=summary, stream=stream)


def run(enc: ResponseEncoder, parts, ending="completed") -> tuple[dict, list]:
    out = enc.started()
    for kind, *args in parts:
        out += getattr(enc, kind)(*args)
    if ending == "completed":
        final, tail = enc.completed(USAGE)
    elif ending == "incomplete":
        final, tail = enc.incomplete(USAGE)
    else:
        final, tail = enc.failed("server_error", "The upstream failed mid-answer.")
    return final, parse_sse(out + tail)


TEXT = [("text", "Hel"), ("text", "lo "), ("text", "wörld \"q\"")]
TEXT_CALL = [("text", "Let me check."), ("call", "call_1", "get_weather", '{"city":"Paris"}')]
TWO_CALLS = [("call", "call_1", "get_weather", '{"city":"Paris"}'),
             ("call", "call_2", "get_time", '{"tz":"CET"}')]
REASONING = [("reasoning", "I should "), ("reasoning", "greet."), ("text", "Hi!")]


@pytest.mark.parametrize("parts,summary", [(TEXT, False), (TEXT_CALL, False), (TWO_CALLS, False),
                                           (REASONING, True)])
def test_streams_pass_the_wire_rules_the_sdk_and_codex(parts, summary):
    final, events = run(encoder(summary), parts)
    assert_wire_rules(events)
    response = stream_state(events)
    assert response is not None and response.id == final["id"] and response.status == "completed"
    assert [item.type for item in response.output] == [item["type"] for item in final["output"]]
    text = "".join(p[1] for p in parts if p[0] == "text")
    assert response.output_text == text
    assert "".join(d["delta"] for n, d in events if n == "response.output_text.delta") == text
    replay = codex_replay(events)
    assert replay["id"] == final["id"] and replay["text"] == text
    assert [i["call_id"] for i in replay["items"] if i["type"] == "function_call"] == \
        [p[1] for p in parts if p[0] == "call"]


def test_text_then_call_closes_the_message_before_the_call():
    _, events = run(encoder(), TEXT_CALL)
    names = [n for n, _ in events]
    assert names == ["response.created", "response.in_progress",
                     "response.output_item.added", "response.content_part.added",
                     "response.output_text.delta", "response.output_text.done",
                     "response.content_part.done", "response.output_item.done",
                     "response.output_item.added", "response.function_call_arguments.delta",
                     "response.function_call_arguments.done", "response.output_item.done",
                     "response.completed"]
    call_added = events[8][1]
    assert call_added["output_index"] == 1
    assert call_added["item"] == {"id": call_added["item"]["id"], "type": "function_call",
                                  "status": "in_progress", "arguments": "", "call_id": "call_1",
                                  "name": "get_weather"}
    assert call_added["item"]["id"].startswith("fc_")
    assert "name" not in events[10][1]        # .done carries no name, as the live API
    assert events[10][1]["arguments"] == '{"city":"Paris"}'


def test_a_call_only_answer_starts_at_index_zero():
    final, events = run(encoder(), TWO_CALLS)
    assert [d["output_index"] for n, d in events if n == "response.output_item.added"] == [0, 1]
    assert [i["type"] for i in final["output"]] == ["function_call", "function_call"]


def test_reasoning_item_only_when_a_summary_is_asked():
    final, events = run(encoder(summary=True), REASONING)
    assert [i["type"] for i in final["output"]] == ["reasoning", "message"]
    assert final["output"][0]["summary"] == [{"type": "summary_text", "text": "I should greet."}]
    assert final["output"][0]["id"].startswith("rs_")
    names = [n for n, _ in events][2:8]
    assert names == ["response.output_item.added", "response.reasoning_summary_part.added",
                     "response.reasoning_summary_text.delta", "response.reasoning_summary_text.delta",
                     "response.reasoning_summary_text.done", "response.reasoning_summary_part.done"]
    final, events = run(encoder(summary=False), REASONING)
    assert [i["type"] for i in final["output"]] == ["message"]
    assert not any(n.startswith("response.reasoning") for n, _ in events)


def test_non_stream_builds_the_same_items_without_events():
    enc = encoder(stream=False)
    assert enc.started() == b""
    for kind, *args in TEXT_CALL:
        assert getattr(enc, kind)(*args) == b""
    final, tail = enc.completed(USAGE)
    assert tail == b""
    assert final["status"] == "completed" and final["usage"] == USAGE
    assert final["output"][0]["content"][0]["text"] == "Let me check."
    assert final["output"][1]["arguments"] == '{"city":"Paris"}'
    assert final["id"].startswith("resp_") and final["output"][0]["id"].startswith("msg_")
    assert isinstance(final["completed_at"], int)
    from openai.types.responses import Response

    Response.model_validate(final)      # the SDK's model, strictly


def test_incomplete_and_failed_endings():
    final, events = run(encoder(), TEXT, ending="incomplete")
    assert_wire_rules(events)
    assert events[-1][0] == "response.incomplete"
    assert final["status"] == "incomplete" and final["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["output"][0]["status"] == "incomplete"
    assert stream_state(events) is None      # no response.completed: the SDK raises on get_final_response
    final, events = run(encoder(), TEXT[:1], ending="failed")
    assert_wire_rules(events)
    assert events[-1][0] == "response.failed"
    assert final["error"] == {"code": "server_error", "message": "The upstream failed mid-answer."}
    assert final["output"][0]["content"][0]["text"] == "Hel"
    with pytest.raises(AssertionError, match="response failed"):
        codex_replay(events)


def test_parsed_output_through_the_sdk():
    class Weather(BaseModel):
        city: str
        degrees: int

    text = json.dumps({"city": "Paris", "degrees": 21})
    _, events = run(encoder(text={"format": {"type": "json_schema", "name": "Weather", "schema": {}}}),
                    [("text", text[:9]), ("text", text[9:])])
    response = stream_state(events, text_format=Weather)
    assert response.output_parsed == Weather(city="Paris", degrees=21)


def test_echoed_fields_are_in_every_lifecycle_event():
    _, events = run(encoder(instructions="Be brief.", metadata={"k": "v"}, temperature=0.2), TEXT)
    for name, data in events:
        if name.startswith("response.") and "response" in data:
            response = data["response"]
            assert response["instructions"] == "Be brief." and response["metadata"] == {"k": "v"}
            assert response["temperature"] == 0.2 and response["model"] == "gpt-4o"
    assert events[0][1]["response"]["status"] == "in_progress" and events[0][1]["response"]["usage"] is None
