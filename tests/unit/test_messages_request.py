"""An Anthropic Messages body -> ChatRequest (messages/request.py): blocks, tools, thinking, errors in
Anthropic's words (platform-spec.md §6.2, §6.8)."""
from __future__ import annotations

import base64

import orjson
import pytest

from pandora_v1.answer.request import NO_HOSTED
from pandora_v1.errors import APIError
from pandora_v1.files.parts import InputFile
from pandora_v1.messages import search
from pandora_v1.messages.request import effort_of, parse_messages_request
from pandora_v1.models.effort import thinking_effort
from tests.fake_upstream import png_bytes

PNG = base64.b64encode(png_bytes("msg", 4, 3)).decode()


def body(*messages, **fields) -> dict:
    return {"model": "claude-opus-5-5", "max_tokens": 1024,
            "messages": list(messages) or [{"role": "user", "content": "Hi"}], **fields}


def user(*content):
    return {"role": "user", "content": list(content)}


def assistant(*content):
    return {"role": "assistant", "content": list(content)}


def text(value: str) -> dict:
    return {"type": "text", "text": value, "cache_control": {"type": "ephemeral"}}


def tool_use(call_id: str, name: str = "get_weather", **arguments) -> dict:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def tool_result(call_id: str, content, **extra) -> dict:
    return {"type": "tool_result", "tool_use_id": call_id, "content": content, **extra}


def error_of(payload, **kwargs) -> str:
    with pytest.raises(APIError) as caught:
        parse_messages_request(payload, **kwargs)
    assert caught.value.status == 400
    return caught.value.message


WEATHER = {"name": "get_weather", "description": "Weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
           "cache_control": {"type": "ephemeral"}}


def test_system_blocks_and_a_trailing_system_message_become_one_leading_system_message():
    req = parse_messages_request(body(
        {"role": "user", "content": "Hi"}, {"role": "system", "content": [text("Environment: linux")]},
        system=[text("You are a coding agent."), text("Be brief.")], metadata={"user_id": "u"},
        context_management={"edits": []}, temperature=1, top_k=5))
    assert [(m.role, m.text) for m in req.chat.messages] == [
        ("system", "You are a coding agent.\n\nBe brief.\n\nEnvironment: linux"), ("user", "Hi")]
    assert req.max_tokens == 1024 and not req.stream and req.thinking == "off" and req.chat.effort is None
    assert req.chat.hosted == NO_HOSTED


def test_blocks_become_the_pipelines_parts():
    req = parse_messages_request(body(user(
        text("Look:"),
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Plain notes"}})))
    [message] = req.chat.messages
    files = message.files
    assert message.text == "Look:\nPlain notes"
    assert files[0].data == base64.b64decode(PNG) and files[0].declared_type == "image/png"
    assert files[1] == InputFile("messages[0].content[2]", url="https://example.com/cat.png")
    # Later errors about a file (an upload, a fetch) name the block the client sent.
    exc = req.rename(APIError(400, "The file is empty.", param=files[1].param + ".image_url.url"))
    assert exc.param == "messages.0.content.2.source"


def test_a_pdf_document_is_a_file_and_integral_floats_are_integers():
    pdf = base64.b64encode(b"%PDF-1.4 tiny").decode()
    req = parse_messages_request(body(user(
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": pdf},
         "title": "Spec"}, text("Summarise it.")), max_tokens=4096.0,
        thinking={"type": "enabled", "budget_tokens": 2048.0}))
    [file] = req.chat.messages[0].files
    assert (file.data, file.declared_type, file.param) == (b"%PDF-1.4 tiny", "application/pdf", "messages[0].content[0]")
    assert req.max_tokens == 4096 and thinking_effort(req.chat.effort) == "standard"
    assert error_of(body(max_tokens=10.5)) == "max_tokens: Input should be a valid integer"


def test_a_tool_loop_becomes_tool_calls_and_results():
    req = parse_messages_request(body(
        user(text("Weather in Paris?")),
        assistant({"type": "thinking", "thinking": "Call it.", "signature": "c2ln"}, text("Checking."),
                  tool_use("toolu_01", city="Paris"), tool_use("toolu_02", city="Lyon")),
        user(tool_result("toolu_01", "18 °C"), tool_result("toolu_02", [text("Rain"), text("12 °C")], is_error=True),
             text("Thanks")),
        tools=[WEATHER], tool_choice={"type": "any", "disable_parallel_tool_use": True}))
    question, answer, first, second, after = req.chat.messages
    assert (question.role, question.text) == ("user", "Weather in Paris?")
    assert (answer.role, answer.text) == ("assistant", "Checking.")   # the thinking block is dropped
    assert [(c.id, c.name, orjson.loads(c.arguments)) for c in answer.tool_calls] == [
        ("toolu_01", "get_weather", {"city": "Paris"}), ("toolu_02", "get_weather", {"city": "Lyon"})]
    assert (first.role, first.tool_call_id, first.text) == ("tool", "toolu_01", "18 °C")
    assert (second.tool_call_id, second.text) == ("toolu_02", "(the tool reported an error)\nRain\n12 °C")
    assert (after.role, after.text) == ("user", "Thanks")
    tools = req.chat.tools
    assert [t.name for t in tools.tools] == ["get_weather"] and tools.tools[0].parameters == WEATHER["input_schema"]
    assert (tools.choice.mode, tools.parallel) == ("required", False)


def test_images_in_a_tool_result_go_to_the_users_turn():
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    req = parse_messages_request(body(user(text("Shot?")), assistant(tool_use("toolu_1", "screenshot")),
                                      user(tool_result("toolu_1", [text("Here it is"), image]))))
    *_, result, turn = req.chat.messages
    assert (result.role, result.text) == ("tool", "Here it is")
    assert turn.role == "user" and turn.text == "(images from the result of toolu_1)"
    assert turn.files[0].data == base64.b64decode(PNG)
    assert req.rename(APIError(400, "x", param=turn.files[0].param)).param == "messages.2.content.0.content.1"


@pytest.mark.parametrize("choice, mode, named", [
    ({"type": "auto"}, "auto", None), ({"type": "none"}, "none", None),
    ({"type": "tool", "name": "get_weather"}, "required", "get_weather")])
def test_tool_choice(choice, mode, named):
    tools = parse_messages_request(body(tools=[WEATHER], tool_choice=choice)).chat.tools
    assert (tools.choice.mode, tools.choice.named, tools.parallel) == (mode, named, True)


SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5, "allowed_domains": ["example.com"],
          "cache_control": {"type": "ephemeral"}}


def test_the_web_search_tool_asks_for_the_upstreams_search_and_other_server_tools_are_a_400():
    req = parse_messages_request(body(tools=[WEATHER, SEARCH]))
    assert [t.name for t in req.chat.tools.tools] == ["get_weather"] and req.chat.tools.choice.mode == "auto"
    assert (req.chat.hosted.search, req.chat.hosted.force_search, req.chat.hosted.notes) == (True, False, ())
    later = parse_messages_request(body(tools=[{"type": "web_search_20261201", "name": "web_search"}]))
    assert later.chat.hosted.search and later.chat.tools.tools == ()        # a later version is web search too
    message = error_of(body(tools=[WEATHER, {"type": "code_execution_20250825", "name": "code_execution"}]))
    assert message.startswith("tools.1: ") and "'code_execution'" in message and "code_execution_20250825" in message


@pytest.mark.parametrize("tools, choice, forced, mode", [
    ([SEARCH], {"type": "tool", "name": "web_search"}, True, "none"),    # named: the upstream must search
    ([SEARCH], {"type": "any"}, True, "none"),                           # any tool, and it is the only one
    ([WEATHER, SEARCH], {"type": "tool", "name": "web_search"}, True, "auto"),
    ([WEATHER, SEARCH], {"type": "any"}, False, "required"),             # any: a custom tool will do
    ([WEATHER, SEARCH], {"type": "tool", "name": "get_weather"}, False, "required"),
    ([SEARCH], {"type": "auto"}, False, "none"),
])
def test_a_tool_choice_that_names_the_search_forces_it(tools, choice, forced, mode):
    req = parse_messages_request(body(tools=tools, tool_choice=choice))
    assert (req.chat.hosted.search, req.chat.hosted.force_search, req.chat.tools.choice.mode) == (True, forced, mode)


def test_tool_choice_none_uses_no_tool_not_even_the_search():
    assert parse_messages_request(body(tools=[WEATHER, SEARCH], tool_choice={"type": "none"})).chat.hosted == NO_HOSTED


def test_the_searchs_user_location_is_a_prompt_line():
    place = {"type": "approximate", "city": "Lisbon", "region": "Lisboa", "country": "PT", "timezone": "Europe/Lisbon"}
    req = parse_messages_request(body(tools=[{**SEARCH, "user_location": place}]))
    assert req.chat.hosted.notes == ("The user's approximate location: Lisbon, Lisboa, PT (time zone Europe/Lisbon).",)
    assert "Lisbon, Lisboa, PT" in req.chat.hosted.instructions()


@pytest.mark.parametrize("tool, message", [
    ({"type": "web_search_20250305"}, "tools.0.web_search_20250305.name: Field required"),
    ({"type": "web_search_20250305", "name": "search"}, "tools.0.web_search_20250305.name: Input should be 'web_search'"),
    ({**SEARCH, "max_uses": 0}, "tools.0.web_search_20250305.max_uses: Input should be greater than 0"),
    ({**SEARCH, "max_uses": "5"}, "tools.0.web_search_20250305.max_uses: Input should be a valid integer"),
    ({**SEARCH, "blocked_domains": "x.com"}, "tools.0.web_search_20250305.blocked_domains: Input should be a valid "
                                             "list of strings"),
    ({**SEARCH, "user_location": {"city": "Lisbon"}}, "tools.0.web_search_20250305.user_location.type: Input "
                                                      "should be 'approximate'"),
    ({**SEARCH, "user_location": {"type": "approximate", "city": 5}},
     "tools.0.web_search_20250305.user_location.city: Input should be a valid string"),
])
def test_a_bad_web_search_tool_is_anthropics_400(tool, message):
    assert error_of(body(tools=[tool])) == message


def test_replayed_search_blocks_are_text_for_the_upstream_never_a_search():
    results = [{"type": "web_search_result", "url": "https://example.com/otters", "title": "Otters",
                "encrypted_content": search.sealed("Otters hold hands while they sleep."), "page_age": None},
               {"type": "web_search_result", "url": "https://other.example/x", "title": "Theirs",
                "encrypted_content": "EqgfCioIARgBIiQ3YTAw", "page_age": "April 30, 2025"}]
    req = parse_messages_request(body(
        user(text("Do otters hold hands?")),
        assistant(text("Let me look."),
                  {"type": "server_tool_use", "id": "srvtoolu_01", "name": "web_search", "input": {"query": "otters"}},
                  {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_01", "content": results},
                  text("They do, "), {"type": "text", "text": "while sleeping.", "citations": [
                      {"type": "web_search_result_location", "url": "https://example.com/otters", "title": "Otters",
                       "encrypted_index": "x", "cited_text": "Otters hold hands"}]},
                  {"type": "server_tool_use", "id": "srvtoolu_02", "name": "web_search", "input": {"query": "seals"}},
                  {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_02",
                   "content": {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"}}),
        user(text("Thanks")), tools=[SEARCH]))
    _, answer, _ = req.chat.messages
    assert answer.text == ("Let me look.\n\n[searched: otters]\n\n[search results]\n"
                           "- Otters (https://example.com/otters): Otters hold hands while they sleep.\n"
                           "- Theirs (https://other.example/x)\n\nThey do, while sleeping.\n\n[searched: seals]\n\n"
                           "[the search failed: max_uses_exceeded]")
    assert answer.tool_calls == ()
    bad = assistant({"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [{"url": "x"}]})
    assert error_of(body(user(text("Hi")), bad)) == "messages.1.content.0.content.0.type: Input should be " \
                                                    "'web_search_result'"


@pytest.mark.parametrize("thinking, max_tokens, output, shown, effort", [
    ({"type": "adaptive", "display": "omitted"}, 128000, {"effort": "medium"}, "omitted", "standard"),
    ({"type": "adaptive"}, 128000, None, "shown", "standard"),
    ({"type": "enabled", "budget_tokens": 2048}, 4096, None, "shown", "standard"),
    ({"type": "enabled", "budget_tokens": 8000}, 9000, None, "shown", "extended"),
    ({"type": "enabled", "budget_tokens": 32000}, 64000, None, "shown", "max"),
    ({"type": "enabled", "budget_tokens": 32000}, 64000, {"effort": "low"}, "shown", "standard"),
    ({"type": "disabled"}, 1024, None, "off", None),
    (None, 1024, {"effort": "xhigh"}, "off", "max"),
])
def test_thinking_and_effort(thinking, max_tokens, output, shown, effort):
    req = parse_messages_request(body(thinking=thinking, max_tokens=max_tokens, output_config=output))
    # The request carries OpenAI's word; the one table every API shares makes it the upstream's.
    assert (req.thinking, thinking_effort(req.chat.effort)) == (shown, effort)


def test_the_effort_asked_is_in_openais_words():
    assert effort_of({"type": "enabled", "budget_tokens": 7999}, None) == "medium"
    assert effort_of({"type": "enabled", "budget_tokens": 31999}, None) == "high"
    assert effort_of({"type": "adaptive"}, None) == "medium"
    assert effort_of({"type": "disabled"}, "max") == "max"         # output_config.effort wins
    assert effort_of(None, "high") == "high" and effort_of(None, None) is None


def test_output_config_format_is_a_strict_json_schema():
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    fmt = parse_messages_request(body(output_config={"format": {"type": "json_schema", "schema": schema}})) \
        .chat.tools.response_format
    assert (fmt.type, fmt.schema, fmt.strict) == ("json_schema", schema, True)


def test_count_tokens_needs_no_max_tokens():
    payload = body()
    del payload["max_tokens"]
    assert parse_messages_request(payload, counting=True).max_tokens is None
    assert error_of(payload) == "max_tokens: Field required"


@pytest.mark.parametrize("payload, message", [
    ([], "The request body must be a JSON object."),
    ({"max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}, "model: Field required"),
    (body(max_tokens="many"), "max_tokens: Input should be a valid integer"),
    (body(max_tokens=0), "max_tokens: Input should be greater than or equal to 1"),
    (body(messages=[]), "messages: At least one message is required."),
    (body({"role": "tool", "content": "x"}), "messages.0.role: Input should be 'user' or 'assistant'"),
    (body({"role": "user", "content": []}), "messages.0: all messages must have non-empty content except for "
                                            "the optional final assistant message"),
    (body(user({"type": "video", "url": "x"})), "messages.0.content.0.type: Input tag 'video' found using 'type' "
                                                "does not match any of the expected tags: 'text', 'image', "
                                                "'document', 'tool_result', 'thinking', 'redacted_thinking', "
                                                "'search_result'"),
    (body(assistant({"type": "image", "source": {}})), "messages.0.content.0.type: Input tag 'image' found using "
                                                       "'type' does not match any of the expected tags: 'text', "
                                                       "'tool_use', 'thinking', 'redacted_thinking', "
                                                       "'server_tool_use', 'web_search_tool_result'"),
    (body(user(text("Hi")), assistant(text("Hello")), user(tool_result("toolu_9", "x"))),
     "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_9. Each `tool_result` "
     "block must have a corresponding `tool_use` block in the previous message."),
    (body(user(text("Hi")), assistant(tool_use("toolu_1")), user(text("Go on"))),
     "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_1. Each "
     "`tool_use` block must have a corresponding `tool_result` block in the next message."),
    (body(user({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "%%%"}})),
     "messages.0.content.0.source: The data URL's base64 is not valid."),
    (body(user({"type": "image", "source": {"type": "file", "file_id": "file_1"}})),
     "messages.0.content.0.source.type: Files by file_id are not supported; send the file as base64 or a URL"),
    (body(tools=[{"name": "x"}]), "tools.0.input_schema: Field required"),
    (body(tools=[{**WEATHER, "name": "bad name"}]),
     "tools.0.name: A function name must be 1-64 characters of a-z, A-Z, 0-9, underscores and dashes."),
    (body(tools=[WEATHER], tool_choice={"type": "tool", "name": "nope"}),
     "tool_choice: Tool choice names 'nope', which is not in the tools of this request."),
    (body(tool_choice={"type": "sometimes"}), "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'"),
    (body(thinking={"type": "enabled", "budget_tokens": 100}),
     "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"),
    (body(thinking={"type": "enabled", "budget_tokens": 2048}, max_tokens=2048),
     "`max_tokens` must be greater than `thinking.budget_tokens`."),
    (body(temperature=1.5), "temperature: Input should be less than or equal to 1"),
    (body(stop_sequences=["ok", 3]), "stop_sequences.1: Input should be a valid string"),
    (body(output_config={"effort": "extreme"}),
     "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"),
])
def test_bad_input_is_anthropics_400_with_the_path_first(payload, message):
    assert error_of(payload) == message
