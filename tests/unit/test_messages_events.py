"""The Anthropic message and its event stream (messages/events.py), stop sequences, the output budget,
the prompt's merge and count, errors in Anthropic's shape."""
from __future__ import annotations

import base64

import orjson
import pytest

from pandora_v1.answer.budget import OutputBudget
from pandora_v1.errors import APIError, upstream_error
from pandora_v1.messages.errors import error_body, error_event
from pandora_v1.messages.events import PING, SIGNATURE_PREFIX, MessageEncoder, usage
from pandora_v1.messages.prompt import COUNTED_NONCE, check_window, input_tokens, merge_turns
from pandora_v1.messages.stops import StopSequences
from pandora_v1.tools.definitions import AUTO, Tool
from pandora_v1.tools.prompt import plan_turn
from pandora_v1.translate.request import ChatMessage
from pandora_v1.usage import tokens


def frames(data: bytes) -> list[tuple[str, dict]]:
    out = []
    for frame in data.decode().split("\n\n"):
        if frame:
            name, payload = frame.split("\n")
            assert name.startswith("event: ") and payload.startswith("data: ")
            out.append((name[7:], orjson.loads(payload[6:])))
    return out


def test_the_worked_example_order_thinking_text_tool_use():
    encoder = MessageEncoder("claude-sonnet-4-5", stream=True, thinking="shown")
    data = encoder.start(472) + encoder.thought("The user wants the weather") + PING \
        + encoder.thought(" in Paris; call get_weather.") + encoder.text("I'll check the weather") \
        + encoder.text(" in Paris.") \
        + encoder.tool_use("toolu_01A09q90qw90lq917835lq9", "get_weather", '{"city":"Paris"}', ['{"city":"Pa', 'ris"}']) \
        + encoder.finish("tool_use", None, usage(472, 89))
    events = frames(data)
    assert [name for name, _ in events] == [
        "message_start", "content_block_start", "content_block_delta", "ping", "content_block_delta",
        "content_block_delta", "content_block_stop", "content_block_start", "content_block_delta",
        "content_block_delta", "content_block_stop", "content_block_start", "content_block_delta",
        "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    assert all(payload["type"] == name for name, payload in events)       # every event says its type twice
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["input_tokens"] == 472
    assert start["id"].startswith("msg_") and len(start["id"]) == 28
    indexes = [p["index"] for n, p in events if n.startswith("content_block")]
    assert indexes == [0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2]
    signature = events[5][1]["delta"]
    assert signature["type"] == "signature_delta" and base64.b64decode(signature["signature"]).startswith(SIGNATURE_PREFIX)
    assert events[11][1]["content_block"] == {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9",
                                              "name": "get_weather", "input": {}}
    assert [p["delta"]["partial_json"] for _, p in events[12:15]] == ["", '{"city":"Pa', 'ris"}']
    assert events[16][1] == {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                             "usage": usage(472, 89)}
    message = encoder.message("tool_use", None, usage(472, 89))
    assert message["content"] == [
        {"type": "thinking", "thinking": "The user wants the weather in Paris; call get_weather.",
         "signature": signature["signature"]},
        {"type": "text", "text": "I'll check the weather in Paris."},
        {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"city": "Paris"}}]


def test_thinking_omitted_is_a_block_without_its_text_and_off_is_no_block():
    omitted = MessageEncoder("m", stream=True, thinking="omitted")
    events = frames(omitted.thought("secret plan") + omitted.text("Hi") + omitted.finish("end_turn", None, usage(1, 2)))
    assert "secret plan" not in str(events)
    assert [(n, p.get("delta", {}).get("type")) for n, p in events[:3]] == [
        ("content_block_start", None), ("content_block_delta", "signature_delta"), ("content_block_stop", None)]
    off = MessageEncoder("m", stream=False, thinking="off")
    off.thought("secret plan")
    off.text("Hi")
    assert off.message("end_turn", None, usage(1, 2))["content"] == [{"type": "text", "text": "Hi"}]


def test_a_tool_without_arguments_streams_only_the_empty_fragment():
    encoder = MessageEncoder("m")
    events = frames(encoder.tool_use("toolu_x", "list_files", "{}", ["{}"]))
    assert [p["delta"]["partial_json"] for n, p in events if n == "content_block_delta"] == ["", "{}"]


def test_non_stream_encoders_write_nothing():
    encoder = MessageEncoder("m", stream=False)
    assert encoder.start(3) + encoder.text("a") + encoder.tool_use("toolu_1", "f", "{}", ["{}"]) == b""


@pytest.mark.parametrize("pieces, sequences, shown, matched", [
    (["Hello ", "wor", "ld END here"], ("END",), "Hello world ", "END"),
    (["a<st", "op>b"], ("<stop>",), "a", "<stop>"),
    (["a<st", "ay>b"], ("<stop>",), "a<stay>b", None),
    (["xx", "y", "zz"], ("yz", "xyz"), "x", "xyz"),
])
def test_stop_sequences_hold_back_only_what_may_become_one(pieces, sequences, shown, matched):
    stops = StopSequences(sequences)
    out = ""
    for piece in pieces:
        out += stops.feed(piece)
        if stops.matched:
            break
    if not stops.matched:
        out += stops.flush()
    assert (out, stops.matched) == (shown, matched)


def test_the_budget_cuts_at_the_limit_and_counts_only_when_it_could_be_reached():
    budget = OutputBudget(5, "gpt-4o")
    assert budget.take("content", "one two") == "one two" and not budget.reached      # 7 bytes: no count needed
    kept = budget.take("content", " three four five six")
    assert budget.reached and tokens.count("one two" + kept, "gpt-4o") == 5
    assert OutputBudget(None, "gpt-4o").take("content", "x" * 1000) == "x" * 1000


def test_consecutive_user_turns_merge_and_system_messages_do_not():
    messages = (ChatMessage("system", "a"), ChatMessage("system", "b"), ChatMessage("user", "results"),
                ChatMessage("user", "and a note"), ChatMessage("assistant", "ok"))
    merged = merge_turns(messages)
    assert [(m.role, m.text) for m in merged] == [("system", "a"), ("system", "b"),
                                                  ("user", "results\n\nand a note"), ("assistant", "ok")]
    plain = (ChatMessage("user", "x"), ChatMessage("assistant", "y"))
    assert merge_turns(plain) is plain


def test_input_tokens_do_not_depend_on_the_nonce():
    tool = Tool("get_weather", "Weather", {"type": "object", "properties": {"city": {"type": "string"}}})
    messages = (ChatMessage("user", "Weather in Paris?"),)
    counts = {input_tokens(plan_turn(messages, (tool,), AUTO), "gpt-4o") for _ in range(20)}
    assert len(counts) == 1
    turn = plan_turn(messages, (tool,), AUTO)
    canonical = tuple(ChatMessage(m.role, m.text.replace(turn.protocol.nonce, COUNTED_NONCE)) for m in turn.messages)
    assert counts == {tokens.prompt_tokens(canonical, "gpt-4o")}


def test_the_window_is_counted_only_when_the_bytes_could_be_over_it():
    turn = plan_turn((ChatMessage("user", "word " * 400),), (), AUTO)
    assert check_window(turn, "gpt-4o", 10_000) is None           # 2,000 bytes: no count
    counted = check_window(turn, "gpt-4o", 1_500)
    assert counted == input_tokens(turn, "gpt-4o") < 1_500
    with pytest.raises(APIError) as caught:
        check_window(turn, "gpt-4o", 300)
    assert caught.value.message == f"prompt is too long: {counted} tokens > 300 maximum"


@pytest.mark.parametrize("error, status, kind", [
    (APIError(400, "bad", param="messages.0"), 400, "invalid_request_error"),
    (APIError(401, "no key"), 401, "authentication_error"),
    (APIError(403, "no"), 403, "permission_error"),
    (APIError(404, "gone"), 404, "not_found_error"),
    (APIError(413, "big"), 413, "request_too_large"),
    (APIError(429, "slow down", headers={"Retry-After": "42"}), 429, "rate_limit_error"),
    (APIError(500, "ours"), 500, "api_error"),
    (upstream_error("The upstream failed (500, Internal error).", 500), 529, "overloaded_error"),
    (APIError(503, "store"), 529, "overloaded_error"),
    (APIError(504, "slow"), 504, "timeout_error"),
])
def test_errors_take_anthropics_shape_and_statuses(error, status, kind):
    answered, body = error_body(error)
    assert answered == status and body["type"] == "error" and body["request_id"].startswith("req_")
    assert body["error"]["type"] == kind and set(body["error"]) == {"type", "message"}
    assert body["error"]["message"] == ("messages.0: bad" if error.param else error.message)
    [(name, payload)] = frames(error_event(error))
    assert name == "error" and payload == {"type": "error", "error": body["error"]}
