"""/v1/images/generations with the seeds' aliases: whether a model draws is the
upstream's answer; whether it takes image *input* is a separate notion."""
from __future__ import annotations

import base64

import openai
import pytest
import requests

from tests.conftest import ACCESS_TOKEN
from tests.fake_upstream import blob_bytes, dalle_file

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()


@pytest.fixture
def seeds_server(make_server):
    # The seeds' own config: dall-e-3 is an alias of gpt-4-mobile, a text-only slug.
    return make_server(gpt_4_mobile_new_name="gpt-4-mobile,dall-e-3")


@pytest.mark.parametrize("model", ["dall-e-3", "text-only"])
def test_an_alias_of_a_text_only_model_draws(seeds_server, fake, model):
    client = openai.OpenAI(base_url=seeds_server.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    result = client.images.generate(model=model, prompt="!dalle 1\na lighthouse at dusk")
    assert requests.get(result.data[0].url).content == blob_bytes(dalle_file(0))
    sent = fake.wait_for(lambda r: r.path.endswith("/conversation")).json
    assert sent["model"] == ("gpt-4-mobile" if model == "dall-e-3" else "o1-mini")


def test_no_image_back_is_a_moderation_block(seeds_server, fake):
    # platform-spec 4.4: an upstream answer in words instead of an image is OpenAI's moderation_blocked
    # (it was content_policy_violation before issue 20).
    client = openai.OpenAI(base_url=seeds_server.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="dall-e-3", prompt="I only talk, I never draw.")
    assert info.value.body["code"] == "moderation_blocked"
    assert info.value.body["type"] == "image_generation_user_error"
    assert info.value.body["message"].startswith("Your request was rejected by the safety system.")
    assert "I only talk, I never draw." in info.value.body["message"]


def test_image_input_is_still_refused_by_a_text_only_alias(seeds_server, fake):
    response = requests.post(seeds_server.url + "/v1/chat/completions", timeout=30,
                             headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
                             json={"model": "dall-e-3", "messages": [{"role": "user", "content": [
                                 {"type": "text", "text": "what is this?"},
                                 {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}]})
    assert response.status_code == 400 and response.json()["error"]["code"] == "model_not_multimodal"
    assert not [r for r in fake.requests if r.path.endswith("/conversation")]
