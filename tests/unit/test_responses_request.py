"""Responses request parsing: items -> the chat pipeline's ChatRequest, history from the store."""
from __future__ import annotations

import base64
import logging

import pytest

from pandora_v1.errors import APIError
from pandora_v1.files.parts import InputFile
from pandora_v1.responses import objects
from pandora_v1.responses.request import parse_responses_request
from pandora_v1.responses.state import ResponseStore
from pandora_v1.runtime.store import SQLiteStore

PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 20).decode()


@pytest.fixture
def history(tmp_path):
    backend = SQLiteStore(tmp_path / "store.sqlite3")
    yield ResponseStore(backend, ttl=60)
    backend.close()


def parse(history, **body):
    return parse_responses_request({"model": "gpt-4o", **body}, history)


def error(history, **body) -> APIError:
    with pytest.raises(APIError) as caught:
        parse(history, **body)
    assert caught.value.status == 400
    return caught.value


def test_string_input_is_one_user_message(history):
    req = parse(history, input="hi", instructions="Be brief.", stream=True)
    assert [(m.role, m.text) for m in req.chat.messages] == [("system", "Be brief."), ("user", "hi")]
    assert req.stream and req.store and req.items == ({"type": "message", "role": "user", "content": "hi"},)
    assert req.echo["instructions"] == "Be brief." and req.echo["tool_choice"] == "auto"


def test_item_input_with_parts_images_and_files(history):
    pdf = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4 x").decode()
    req = parse(history, input=[
        {"role": "developer", "content": "Answer in French."},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": PNG, "detail": "auto"},
            {"type": "input_file", "file_data": pdf, "filename": "a.pdf"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Un PNG."}]},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "opaque"},
        {"role": "user", "content": "Merci"}])
    roles = [(m.role, m.text) for m in req.chat.messages]
    assert roles == [("system", "Answer in French."), ("user", "What is this?"), ("assistant", "Un PNG."),
                     ("user", "Merci")]
    files = req.chat.messages[1].files
    assert [type(f) for f in files] == [InputFile, InputFile]
    assert files[0].declared_type == "image/png" and files[0].data.startswith(b"\x89PNG")
    assert files[1].declared_type == "application/pdf" and files[1].data == b"%PDF-1.4 x"


@pytest.mark.parametrize("body,param,code", [
    ({"input": "hi", "background": True}, "background", "unsupported_parameter"),
    ({"input": "hi", "conversation": "conv_1"}, "conversation", "unsupported_parameter"),
    ({"input": "hi", "prompt": {"id": "pmpt_1"}}, "prompt", "unsupported_parameter"),
    # platform-spec §0.2 (superseding agents-spec B.2): web_search is served; a forced unserved tool is refused
    ({"input": "hi", "tools": [{"type": "file_search"}], "tool_choice": {"type": "file_search"}},
     "tools[0].type", "unsupported_value"),
    ({}, "input", None),
    ({"input": 3}, "input", None),
    ({"input": [{"type": "computer_call", "id": "x"}]}, "input[0].type", "unsupported_item_type"),
    ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role", None),
    ({"input": [{"role": "user", "content": [{"type": "input_text", "text": 5}]}]},
     "input[0].content[0].text", None),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "ftp://x"}]}]},
     "input[0].content[0].image_url", "invalid_url"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]},
     "input[0].content[0].file_id", "unsupported_parameter"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_url": "https://x/a.pdf"}]}]},
     "input[0].content[0].file_url", "unsupported_parameter"),
    ({"input": [{"type": "item_reference", "id": "msg_nope"}]}, "input[0]", "item_not_found"),
    ({"input": "hi", "previous_response_id": "resp_nope"}, "previous_response_id",
     "previous_response_not_found"),
    ({"input": "hi", "store": "yes"}, "store", None),
    ({"input": "hi", "max_output_tokens": 0}, "max_output_tokens", None),
    ({"input": "hi", "text": {"format": {"type": "yaml"}}}, "text.format.type", None),
    ({"input": [{"type": "function_call", "call_id": 1, "name": "f", "arguments": "{}"}]},
     "input[0].call_id", None),
])
def test_bad_input_is_a_400_naming_the_parameter(history, body, param, code):
    exc = error(history, **body)
    assert exc.param == param
    if code:
        assert exc.code == code


def test_unserved_hosted_tools_are_dropped_with_a_log_line(history, caplog):
    # platform-spec §0.2: file_search, mcp, computer_use, local_shell, shell stay "drop with a log line"
    with caplog.at_level(logging.INFO, logger="pandora_v1.responses.request"):
        req = parse(history, input="hi", tools=[
            {"type": "file_search"},
            {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}])
    assert "dropping a 'file_search' tool" in caplog.text
    assert [t["name"] for t in req.echo["tools"]] == ["get_weather"]


def test_previous_response_and_item_reference_come_from_the_store(history):
    first = parse(history, input="What is 2+2?")
    start = objects.response(first)
    message = objects.message_item(objects.new_id("msg"), "4", "completed")
    history.save(objects.finished(start, "completed", [message], objects.usage(1, 1)), first.items)

    follow = parse(history, input="And 3+3?", previous_response_id=start["id"], instructions="Short.")
    assert [(m.role, m.text) for m in follow.chat.messages] == [
        ("system", "Short."), ("user", "What is 2+2?"), ("assistant", "4"), ("user", "And 3+3?")]
    # The stored conversation is flattened: the next link needs one lookup only (the stored input
    # items carry the ids they were given for GET .../input_items).
    assert follow.items == (*history.record(start["id"])["request_items"], message,
                            {"type": "message", "role": "user", "content": "And 3+3?"})
    assert [{k: v for k, v in item.items() if k != "id"} for item in follow.items[:1]] == list(first.items)
    assert follow.echo["previous_response_id"] == start["id"]

    replay = parse(history, input=[{"role": "user", "content": "What is 2+2?"},
                                   {"type": "item_reference", "id": message["id"]},
                                   {"role": "user", "content": "Thanks"}])
    assert [m.text for m in replay.chat.messages] == ["What is 2+2?", "4", "Thanks"]
    assert replay.items[1] == message


def test_instructions_are_not_carried_over(history):
    first = parse(history, input="hi", instructions="Talk like a pirate.")
    start = objects.response(first)
    history.save(objects.finished(start, "completed", [], None), first.items)
    follow = parse(history, input="again", previous_response_id=start["id"])
    assert [m.role for m in follow.chat.messages] == ["user", "user"]


def test_echoed_fields_and_defaults(history):
    req = parse(history, input="hi", temperature=0.3, metadata={"a": "b"}, store=False,
                reasoning={"effort": "low", "summary": "auto"}, max_output_tokens=50,
                text={"format": {"type": "json_object"}, "verbosity": "low"})
    assert req.summary and not req.store and req.max_output_tokens == 50
    response = objects.response(req)
    assert response["temperature"] == 0.3 and response["top_p"] == 1.0
    assert response["metadata"] == {"a": "b"} and response["store"] is False
    assert response["reasoning"] == {"effort": "low", "summary": "auto"}
    assert response["text"] == {"format": {"type": "json_object"}, "verbosity": "low"}
    assert response["max_output_tokens"] == 50
    plain = objects.response(parse(history, input="hi"))
    assert plain["text"] == {"format": {"type": "text"}} and plain["tools"] == []
    assert plain["parallel_tool_calls"] is True and plain["reasoning"] == {"effort": None, "summary": None}


def test_tools_choice_and_format_reach_the_engines_types(history):
    weather = {"type": "function", "name": "get_weather", "strict": True,
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    clock = {"type": "function", "name": "get_time", "description": "The time"}
    req = parse(history, input="x", tools=[{"type": "file_search"}, weather, clock], parallel_tool_calls=False,
                tool_choice={"type": "allowed_tools", "mode": "required",
                             "tools": [{"type": "function", "name": "get_time"}]},
                text={"format": {"type": "json_schema", "name": "Out", "strict": True,
                                 "schema": {"type": "object"}}})
    fields = req.chat.tools
    assert [(t.name, t.strict) for t in fields.tools] == [("get_weather", True), ("get_time", False)]
    assert fields.tools[1].description == "The time" and fields.parallel is False
    assert (fields.choice.mode, fields.choice.allowed) == ("required", ("get_time",))
    assert (fields.response_format.type, fields.response_format.name, fields.response_format.strict) == \
        ("json_schema", "Out", True)
    named = parse(history, input="x", tools=[weather], tool_choice={"type": "function", "name": "get_weather"})
    assert named.chat.tools.choice.named == "get_weather"
    # A bad tool after a dropped hosted one is named by its own index.
    exc = error(history, input="x", tools=[{"type": "web_search"}, {"type": "function", "name": "a b"}])
    assert exc.param == "tools[1].name"


def test_a_tool_loop_in_items_becomes_chat_tool_turns(history):
    req = parse(history, input=[
        {"role": "user", "content": "Weather?"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Checking."}]},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call", "call_id": "call_2", "name": "get_time", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "noon"}]}])
    roles = [(m.role, m.text, [(c.id, c.name, c.arguments) for c in m.tool_calls], m.tool_call_id)
             for m in req.chat.messages]
    assert roles == [("user", "Weather?", [], None),
                     ("assistant", "Checking.", [("call_1", "get_weather", '{"city":"Paris"}'),
                                                 ("call_2", "get_time", "{}")], None),
                     ("tool", "sunny", [], "call_1"), ("tool", "noon", [], "call_2")]
