"""Validation of the OpenAI request body and the upstream payload built from it."""
import pytest

from pandora_v1.chat.request import parse_chat_request
from pandora_v1.errors import APIError
from pandora_v1.translate.request import conversation_payload


def parse(**body):
    return parse_chat_request({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], **body})


@pytest.mark.parametrize("body, param", [
    ({"messages": [{"role": "user", "content": "x"}]}, "model"),
    ({"model": 3, "messages": [{"role": "user", "content": "x"}]}, "model"),
    ({"model": "m"}, "messages"),
    ({"model": "m", "messages": []}, "messages"),
    ({"model": "m", "messages": "hi"}, "messages"),
    ({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
    ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
     "messages[0].content[0].image_url.url"),
    ({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@@"}}]}]},
     "messages[0].content[0].image_url.url"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "file", "file": {"file_data": "%%"}}]}]},
     "messages[0].content[0].file.file_data"),
    ({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
     "messages[0].content[0].type"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
])
def test_bad_bodies_name_the_param(body, param):
    with pytest.raises(APIError) as info:
        parse_chat_request(body)
    assert info.value.status == 400 and info.value.param == param


def test_text_parts_and_roles_map_to_upstream_messages():
    req = parse_chat_request({"model": "gpt-4o", "stream": True, "stream_options": {"include_usage": True},
                              "messages": [{"role": "developer", "content": "be brief"},
                                           {"role": "user", "content": [{"type": "text", "text": "a"},
                                                                        {"type": "text", "text": "b"}]},
                                           {"role": "assistant", "content": None}]})
    assert req.include_usage and req.stream
    payload = conversation_payload(req.messages, "gpt-4o", {"kind": "primary_assistant"},
                                   history_disabled=True, delta_encoding=True)
    assert [m["author"]["role"] for m in payload["messages"]] == ["system", "user", "assistant"]
    assert payload["messages"][1]["content"] == {"content_type": "text", "parts": ["a\nb"]}
    assert payload["history_and_training_disabled"] is True
    assert payload["supported_encodings"] == ["v1"]
    assert payload["action"] == "next" and payload["model"] == "gpt-4o"


def test_usage_option_without_stream_is_ignored_not_refused():
    assert parse(stream_options={"include_usage": True}).include_usage is False
