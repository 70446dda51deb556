"""OpenAI's type and range rules for chat parameters, through parse_chat_request."""
import base64
import struct
import zlib

import pytest

from pandora_v1.chat.request import parse_chat_request
from pandora_v1.errors import APIError


def png() -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def image_message(url: str) -> list:
    return [{"role": "user", "content": [{"type": "text", "text": "what is it?"},
                                         {"type": "image_url", "image_url": {"url": url}}]}]


def parse(messages=None, **params):
    return parse_chat_request({"model": "gpt-4o", **params,
                               "messages": messages or [{"role": "user", "content": "hi"}]})


@pytest.mark.parametrize("params, param, code", [
    ({"max_tokens": -5}, "max_tokens", "integer_below_min_value"),
    ({"max_tokens": 0}, "max_tokens", "integer_below_min_value"),
    ({"max_tokens": "ten"}, "max_tokens", "invalid_type"),
    ({"max_tokens": 1e308}, "max_tokens", "invalid_type"),
    ({"max_tokens": 2.5}, "max_tokens", "invalid_type"),
    ({"max_tokens": True}, "max_tokens", "invalid_type"),
    ({"max_completion_tokens": -1}, "max_completion_tokens", "integer_below_min_value"),
    ({"temperature": "hot"}, "temperature", "invalid_type"),
    ({"temperature": 99}, "temperature", "decimal_above_max_value"),
    ({"temperature": -0.1}, "temperature", "decimal_below_min_value"),
    ({"top_p": 1.5}, "top_p", "decimal_above_max_value"),
    ({"top_p": [1]}, "top_p", "invalid_type"),
    ({"presence_penalty": 2.5}, "presence_penalty", "decimal_above_max_value"),
    ({"presence_penalty": "x"}, "presence_penalty", "invalid_type"),
    ({"frequency_penalty": -3}, "frequency_penalty", "decimal_below_min_value"),
    ({"frequency_penalty": {}}, "frequency_penalty", "invalid_type"),
    ({"top_logprobs": 21}, "top_logprobs", "integer_above_max_value"),
    ({"seed": "abc"}, "seed", "invalid_type"),
    ({"logprobs": "yes"}, "logprobs", "invalid_type"),
    ({"user": 5}, "user", "invalid_type"),
    ({"stop": 5}, "stop", "invalid_type"),
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "array_above_max_length"),
    ({"logit_bias": {"50256": 200}}, "logit_bias", "invalid_value"),
    ({"logit_bias": []}, "logit_bias", "invalid_type"),
])
def test_malformed_parameters_are_400_naming_the_param(params, param, code):
    with pytest.raises(APIError) as info:
        parse(**params)
    error = info.value
    assert (error.status, error.param, error.code, error.type) == (400, param, code, "invalid_request_error")
    assert f"'{param}'" in error.message


@pytest.mark.parametrize("params", [
    {"max_tokens": 1}, {"max_tokens": 10**9}, {"max_tokens": 5.0}, {"max_tokens": None},
    {"temperature": 0}, {"temperature": 2}, {"temperature": 0.7}, {"top_p": 0}, {"top_p": 1},
    {"presence_penalty": -2}, {"frequency_penalty": 2}, {"seed": -1}, {"logprobs": False},
    {"top_logprobs": 0}, {"stop": "\n"}, {"stop": ["a", "b"]}, {"stop": None}, {"user": "u-1"},
    {"logit_bias": {"50256": -100}}, {"tools": []}, {"parallel_tool_calls": True},
    {"response_format": {"type": "text"}}, {"service_tier": "auto"},
])
def test_valid_parameters_we_cannot_honour_stay_accepted(params):
    assert parse(**params).model == "gpt-4o"


@pytest.mark.parametrize("role", ["user", "system", "developer"])
def test_a_message_without_content_is_400(role):
    for message in ({"role": role, "content": None}, {"role": role}):
        with pytest.raises(APIError) as info:
            parse([{"role": "user", "content": "hi"}, message])
        assert info.value.status == 400 and info.value.param == "messages[1].content"


def test_an_assistant_message_may_have_null_content():
    parse([{"role": "user", "content": "hi"}, {"role": "assistant", "content": None},
           {"role": "user", "content": "again"}])


def test_image_bytes_must_be_an_image():
    with pytest.raises(APIError) as info:
        parse(image_message(data_url("image/png", b"this is plain text, not a picture")))
    assert info.value.status == 400 and info.value.param == "messages[0].content[1]"
    assert info.value.code == "invalid_image" and "image/png" in info.value.message
    with pytest.raises(APIError) as info:   # unknown binary, in a file part declared as an image
        parse([{"role": "user", "content": [{"type": "file", "file": {
            "filename": "x.png", "file_data": data_url("image/png", b"\x00\x01\x02garbage")}}]}])
    assert info.value.param == "messages[0].content[0]"
    # Real images pass, whatever their declared type; bytes that name their own type (a PDF)
    # go up as that type (test_vision_e2e); a declared document stays a document.
    parse(image_message(data_url("image/png", png())))
    parse(image_message(data_url("image/jpeg", png())))
    parse(image_message(data_url("image/png", b"%PDF-1.4 a document")))
    parse([{"role": "user", "content": [{"type": "file", "file": {
        "filename": "a.txt", "file_data": data_url("text/plain", b"hello")}}]}])
