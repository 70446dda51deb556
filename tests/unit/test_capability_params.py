"""Chat's capability switches (reasoning_effort, web_search_options, search models) and the upstream body
keys they become (upstream-protocol "Capabilities on request")."""
from __future__ import annotations

import pytest

from pandora_v1.answer.request import Hosted
from pandora_v1.chat.request import parse_chat_request
from pandora_v1.errors import APIError
from pandora_v1.translate.request import ChatMessage, conversation_payload

MESSAGES = [{"role": "user", "content": "hi"}]


def parse(**body):
    return parse_chat_request({"model": "gpt-4o", "messages": MESSAGES, **body})


@pytest.mark.parametrize("body, param, code", [
    ({"reasoning_effort": "extreme"}, "reasoning_effort", "invalid_value"),
    ({"reasoning_effort": 3}, "reasoning_effort", "invalid_type"),
    ({"web_search_options": "on"}, "web_search_options", "invalid_type"),
    ({"web_search_options": {"search_context_size": "huge"}}, "web_search_options.search_context_size",
     "invalid_value"),
    ({"web_search_options": {"user_location": {"approximate": {"city": "London"}}}},
     "web_search_options.user_location.type", "missing_required_parameter"),
    ({"web_search_options": {"user_location": {"type": "exact", "approximate": {}}}},
     "web_search_options.user_location.type", "invalid_value"),
    ({"web_search_options": {"user_location": {"type": "approximate"}}},
     "web_search_options.user_location.approximate", "missing_required_parameter"),
    ({"web_search_options": {"user_location": {"type": "approximate", "approximate": {"country": 44}}}},
     "web_search_options.user_location.approximate.country", "invalid_type"),
])
def test_bad_values_are_openais_400_naming_the_param(body, param, code):
    with pytest.raises(APIError) as caught:
        parse(**body)
    assert (caught.value.status, caught.value.param, caught.value.code) == (400, param, code), caught.value.message


def test_the_enum_message_is_openais():
    with pytest.raises(APIError) as caught:
        parse(reasoning_effort="ultra")
    assert caught.value.message == ("Invalid value: 'ultra'. Supported values are: 'none', 'minimal', 'low', "
                                    "'medium', 'high', 'xhigh', and 'max'.")


def test_every_effort_of_the_enum_is_accepted():
    for effort in ("none", "minimal", "low", "medium", "high", "xhigh", "max"):
        assert parse(reasoning_effort=effort).effort == effort
    assert parse().effort is None


def test_web_search_options_ask_for_search_with_a_location_line():
    assert parse(web_search_options={}).hosted == Hosted(search=True, force_search=True)
    hosted = parse(web_search_options={"search_context_size": "low", "user_location": {
        "type": "approximate", "approximate": {"country": "GB", "city": "London", "timezone": "Europe/London"}}}).hosted
    assert hosted.notes == ("The user's approximate location: London, GB (time zone Europe/London).",)
    assert hosted.system_hints() == ("search",) and parse().hosted == Hosted()


def test_search_models_search_and_ignore_the_sampling_knobs():
    chat = parse_chat_request({"model": "gpt-4o-search-preview-2025-03-11", "messages": MESSAGES,
                               "temperature": 9, "top_p": -1, "frequency_penalty": 5, "presence_penalty": "x"})
    assert chat.hosted.search and chat.hosted.force_search
    with pytest.raises(APIError):      # any other model keeps OpenAI's range rules
        parse(temperature=9)


def test_the_payload_carries_the_switches_only_when_asked():
    messages = (ChatMessage("system", "Be brief."), ChatMessage("user", "hi"))
    plain = conversation_payload(messages, "gpt-4o", {"kind": "primary_assistant"}, history_disabled=False,
                                 delta_encoding=True)
    assert not {"system_hints", "force_use_search", "client_reported_search_source", "thinking_effort"} & set(plain)
    assert plain["messages"][-1]["metadata"] == {}
    asked = conversation_payload(messages, "gpt-5-thinking", {"kind": "primary_assistant"}, history_disabled=False,
                                 delta_encoding=True, system_hints=("search",), force_search=True,
                                 thinking_effort="extended", instructions="Use python.")
    assert asked["system_hints"] == ["search"] and asked["force_use_search"] is True
    assert asked["client_reported_search_source"] == "conversation_composer_web_icon"
    assert asked["thinking_effort"] == "extended"
    assert asked["messages"][-1]["metadata"]["system_hints"] == ["search"]
    assert [(m["author"]["role"], m["content"]["parts"]) for m in asked["messages"]] == [
        ("system", ["Be brief."]), ("system", ["Use python."]), ("user", ["hi"])]
