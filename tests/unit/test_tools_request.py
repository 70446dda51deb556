"""Tool fields and tool history in the chat request; the injected instruction; history rendering."""
import re
import uuid

import orjson
import pytest

from pandora_v1.chat.request import parse_chat_request
from pandora_v1.errors import APIError
from pandora_v1.tools.definitions import NO_TOOLS
from pandora_v1.tools.prompt import plan_turn, render_history
from pandora_v1.translate.request import ChatMessage, HistoryCall, conversation_payload

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                            "parameters": {"type": "object",
                                                           "properties": {"city": {"type": "string"}}}}}
TIME = {"type": "function", "function": {"name": "get_time"}}


def parse(messages=None, **body):
    return parse_chat_request({"model": "gpt-4o", "messages": messages or [{"role": "user", "content": "hi"}],
                               **body})


def turn_of(chat):
    f = chat.tools
    return plan_turn(chat.messages, f.tools, f.choice, f.parallel, f.legacy, f.response_format)


LOOP = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": ""},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": ""}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "21C"},
    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "12:00"}]},
    {"role": "tool", "tool_call_id": "call_zz", "content": "?"},
]


# --------------------------------------------------------------- validation

@pytest.mark.parametrize("body, param, code", [
    ({"tools": {}}, "tools", None),
    ({"tools": ["x"]}, "tools[0]", None),
    ({"tools": [{"type": "web_search"}]}, "tools[0].type", "unsupported_tool_type"),
    ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type", "unsupported_tool_type"),
    ({"tools": [{"type": "function"}]}, "tools[0].function", None),
    ({"tools": [WEATHER, {"type": "function", "function": {"name": "bad name"}}]}, "tools[1].function.name", None),
    ({"tools": [{"type": "function", "function": {"name": "x" * 65}}]}, "tools[0].function.name", None),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]},
     "tools[0].function.parameters", None),
    ({"tools": [{"type": "function", "function": {"name": "f", "strict": "yes"}}]}, "tools[0].function.strict", None),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "bogus"}}}]},
     "tools[0].function.parameters", None),
    ({"tools": [WEATHER, WEATHER]}, "tools[1].name", None),
    ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice", None),
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice", None),
    ({"tools": [WEATHER], "tool_choice": {"type": "function"}}, "tool_choice", None),
    ({"tools": [WEATHER], "tool_choice": {"type": "allowed_tools", "allowed_tools": {
        "mode": "auto", "tools": [{"type": "function", "function": {"name": "nope"}}]}}}, "tool_choice", None),
    ({"tools": [WEATHER], "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "x", "tools": []}}},
     "tool_choice", None),
    ({"tool_choice": "required"}, "tool_choice", None),
    ({"tools": [WEATHER], "parallel_tool_calls": "no"}, "parallel_tool_calls", None),
    ({"functions": "x"}, "functions", None),
    ({"functions": [{"name": "a b"}]}, "functions[0].name", None),
    ({"functions": [{"name": "f"}], "function_call": {"name": "g"}}, "function_call", None),
    ({"functions": [{"name": "f"}], "function_call": 3}, "function_call", None),
    ({"function_call": "auto"}, "function_call", None),
    ({"tools": [WEATHER], "functions": [{"name": "f"}]}, "functions", None),
    ({"response_format": "json"}, "response_format", None),
    ({"response_format": {"type": "yaml"}}, "response_format.type", None),
    ({"response_format": {"type": "json_schema"}}, "response_format.json_schema", None),
    ({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
     "response_format.json_schema.name", None),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": 3}}},
     "response_format.json_schema.schema", None),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id", None),
    ({"messages": [{"role": "function", "content": "x"}]}, "messages[0].name", None),
    ({"messages": [{"role": "assistant", "tool_calls": "x"}]}, "messages[0].tool_calls", None),
    ({"messages": [{"role": "assistant", "tool_calls": [{"id": "c"}]}]}, "messages[0].tool_calls[0].function", None),
    ({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}]},
     "messages[0].tool_calls[0].function.name", None),
    ({"messages": [{"role": "assistant", "function_call": {"name": "f", "arguments": 5}}]},
     "messages[0].function_call.arguments", None),
])
def test_bad_tool_fields_name_the_param(body, param, code):
    with pytest.raises(APIError) as info:
        parse(**body)
    assert info.value.status == 400 and info.value.param == param, info.value.message
    assert info.value.code == code


def test_tool_choice_shapes():
    assert parse(tools=[WEATHER]).tools.choice.mode == "auto"
    assert parse(tools=[WEATHER], tool_choice="none").tools.choice.mode == "none"
    assert parse(tools=[WEATHER], tool_choice="required").tools.choice.mode == "required"
    named = parse(tools=[WEATHER, TIME], tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert (named.tools.choice.mode, named.tools.choice.named, named.tools.choice.allowed) == \
        ("required", "get_time", ("get_time",))
    allowed = parse(tools=[WEATHER, TIME], tool_choice={"type": "allowed_tools", "allowed_tools": {
        "mode": "auto", "tools": [{"type": "function", "function": {"name": "get_weather"}}]}})
    assert (allowed.tools.choice.mode, allowed.tools.choice.allowed) == ("auto", ("get_weather",))
    assert parse(tools=[WEATHER], parallel_tool_calls=False).tools.parallel is False
    legacy = parse(functions=[{"name": "f", "parameters": {"type": "object"}}], function_call={"name": "f"})
    assert legacy.tools.legacy and legacy.tools.choice.named == "f"
    # "auto" without tools is harmless (some clients always send it)
    assert parse(tool_choice="auto").tools == NO_TOOLS


def test_tool_history_is_accepted_without_tools_and_kept_structured():
    chat = parse(LOOP + [{"role": "function", "name": "legacy_fn", "content": "old"}])
    calls = chat.messages[3].tool_calls
    assert calls == (HistoryCall("call_1", "get_weather", '{"city": "Paris"}'), HistoryCall("call_2", "get_time", ""))
    assert chat.messages[3].text == "" and chat.messages[4].role == "tool"
    assert chat.messages[4].tool_call_id == "call_1" and chat.messages[5].text == "12:00"
    assert chat.messages[7].name == "legacy_fn"
    legacy = parse([{"role": "assistant", "function_call": {"name": "f", "arguments": {"a": 1}}}])
    assert legacy.messages[0].tool_calls == (HistoryCall("", "f", '{"a":1}'),)


# ------------------------------------------------------------ upstream payload

def test_without_tools_the_upstream_payload_is_unchanged(monkeypatch):
    ids = iter(range(100))
    monkeypatch.setattr(uuid, "uuid4", lambda: f"id-{next(ids)}")
    chat = parse([{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}])
    turn = turn_of(chat)
    assert turn.messages is chat.messages and turn.protocol is None
    payload = conversation_payload(chat.messages, "gpt-4o", {"kind": "primary_assistant"},
                                   history_disabled=True, delta_encoding=True)
    assert orjson.dumps(payload) == orjson.dumps({
        "action": "next",
        "messages": [{"id": "id-0", "author": {"role": "system"},
                      "content": {"content_type": "text", "parts": ["S"]}, "metadata": {}},
                     {"id": "id-1", "author": {"role": "user"},
                      "content": {"content_type": "text", "parts": ["hi"]}, "metadata": {}}],
        "parent_message_id": "id-2", "model": "gpt-4o", "conversation_mode": {"kind": "primary_assistant"},
        "history_and_training_disabled": True, "timezone_offset_min": -480, "suggestions": [],
        "force_paragen": False, "force_rate_limit": False, "paragen_cot_summary_display_override": "allow",
        "supported_encodings": ["v1"]})
    # tool_choice none: no protocol, no nonce, nothing injected
    none = turn_of(parse(tools=[WEATHER], tool_choice="none"))
    assert none.protocol is None and none.messages == chat.messages[1:]


def test_instruction_goes_after_the_client_system_prompt_with_a_fresh_nonce():
    chat = parse([{"role": "system", "content": "S"}, {"role": "user", "content": "hi"}], tools=[WEATHER, TIME])
    first, second = turn_of(chat), turn_of(chat)
    assert first.protocol.nonce != second.protocol.nonce and re.fullmatch(r"[A-Z2-7]{8}", first.protocol.nonce)
    roles = [m.role for m in first.messages]
    assert roles == ["system", "system", "user"] and first.messages[0].text == "S"
    text = first.messages[1].text
    assert f"⟦call {first.protocol.nonce}⟧" in text and f"⟦/call {first.protocol.nonce}⟧" in text
    assert '{"name":"get_weather","description":"Weather in a city","parameters":' in text
    assert "Call a function only when it is needed" in text


def test_choice_directives_and_allowed_tools_limit_the_catalog():
    named = turn_of(parse(tools=[WEATHER, TIME], tool_choice={"type": "function", "function": {"name": "get_time"}}))
    assert "You must call `get_time` now." in named.messages[0].text
    assert list(named.protocol.tools) == ["get_time"] and '"name":"get_weather"' not in named.messages[0].text
    required = turn_of(parse(tools=[WEATHER], tool_choice="required"))
    assert "You must call at least one function now." in required.messages[0].text and required.protocol.required
    single = turn_of(parse(tools=[WEATHER], parallel_tool_calls=False))
    assert "Write at most one block." in single.messages[0].text and not single.protocol.parallel


def test_history_renders_calls_and_results_statelessly():
    chat = parse(LOOP, tools=[WEATHER, TIME])
    turn = turn_of(chat)
    n = turn.protocol.nonce
    texts = [(m.role, m.text) for m in turn.messages]
    assert texts[0] == ("system", "Be brief.") and texts[1][0] == "system"
    assert texts[4] == ("assistant",
                        f'⟦call {n}⟧\n{{"name":"get_weather","arguments":{{"city":"Paris"}}}}\n⟦/call {n}⟧\n'
                        f'⟦call {n}⟧\n{{"name":"get_time","arguments":{{}}}}\n⟦/call {n}⟧')
    assert texts[5] == ("user",
                        f'⟦result {n} name="get_weather" id="call_1"⟧\n21C\n⟦/result {n}⟧\n'
                        f'⟦result {n} name="get_time" id="call_2"⟧\n12:00\n⟦/result {n}⟧\n'
                        f'⟦result {n} name="unknown" id="call_zz"⟧\n?\n⟦/result {n}⟧\n'
                        "Use these results to continue; call more functions or answer the user.")
    assert len(texts) == 6 and all(m.role in ("system", "user", "assistant") for m in turn.messages)


def test_history_without_tools_uses_neutral_tags():
    messages = render_history(parse(LOOP).messages, None)
    assert messages[3].text.startswith('[tool call get_weather] {"name":"get_weather"')
    assert messages[4].text.startswith('[tool result name="get_weather" id="call_1"]\n21C\n[/tool result]')
    assert "⟦" not in "".join(m.text for m in messages)


def test_response_format_instruction():
    turn = turn_of(parse(response_format={"type": "json_schema", "json_schema": {
        "name": "Person", "schema": {"type": "object", "properties": {"age": {"type": "integer"}}}}}))
    assert turn.protocol is None and turn.messages[0].role == "system"
    assert "Reply with one valid JSON object" in turn.messages[0].text
    assert '{"type":"object","properties":{"age":{"type":"integer"}}}' in turn.messages[0].text


def test_catalog_limit_is_a_400():
    with pytest.raises(APIError) as info:
        chat = parse(tools=[WEATHER])
        f = chat.tools
        plan_turn(chat.messages, f.tools, f.choice, max_catalog_chars=100)
    assert info.value.status == 400 and info.value.code == "context_length_exceeded"


def test_messages_keep_their_shape():
    assert ChatMessage("user", "x").tool_calls == ()
