"""Malformed parameters get OpenAI's 400 naming the param, from the real SDK."""
from __future__ import annotations

import base64

import openai
import pytest


@pytest.mark.parametrize("params, param", [
    ({"max_tokens": -5}, "max_tokens"), ({"max_tokens": "ten"}, "max_tokens"),
    ({"max_tokens": 1e308}, "max_tokens"), ({"temperature": "hot"}, "temperature"),
    ({"temperature": 99}, "temperature"), ({"top_p": 7}, "top_p"),
    ({"presence_penalty": -9}, "presence_penalty"), ({"frequency_penalty": "x"}, "frequency_penalty"),
    ({"tools": "x"}, "tools"),
])
def test_malformed_parameters_are_400(client, fake, params, param):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                       **params)
    assert info.value.status_code == 400 and info.value.param == param
    assert not [r for r in fake.requests if r.path.endswith("/conversation")]


def test_null_user_content_and_fake_image_are_400(client, fake):
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": None}])
    assert info.value.param == "messages[0].content"
    fake_png = "data:image/png;base64," + base64.b64encode(b"definitely not a png").decode()
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": fake_png}}]}])
    assert info.value.param == "messages[0].content[0]"
    assert not [r for r in fake.requests if r.path.endswith("/conversation")]


def test_valid_parameters_we_cannot_honour_are_served(client, fake):
    answer = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], temperature=0.2, top_p=1,
        max_tokens=100, presence_penalty=0.5, frequency_penalty=-0.5, seed=7, stop=["\n\n"], user="u1")
    assert answer.choices[0].message.content
