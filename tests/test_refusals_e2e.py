"""Today's refusals and limits end to end with the openai SDK: a message over the upstream's size
limit (413 message_length_exceeds_limit), a body it cannot take (422 "Invalid conversation body"),
the image quota (a system_error, its reset from conversation/init's limits_progress or its text) and
the message cap (429): each reaches the client as OpenAI's status and code, streamed or not."""
from __future__ import annotations

import openai
import pytest

from tests.conftest import ACCESS_TOKEN
from tests.fake_refusals import IMAGE_RESET_SECONDS
from tests.fake_upstream import IMAGE_LIMIT


def chat(client, prompt, stream, model="gpt-4o"):
    messages = [{"role": "user", "content": prompt}]
    if not stream:
        return client.chat.completions.create(model=model, messages=messages).choices[0].message.content
    return "".join(c.choices[0].delta.content or "" for c in
                   client.chat.completions.create(model=model, messages=messages, stream=True) if c.choices)


def respond(client, prompt, stream):
    if not stream:
        return client.responses.create(model="gpt-4o", input=prompt).output_text
    with client.responses.stream(model="gpt-4o", input=prompt) as events:
        return events.get_final_response().output_text


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("api", [chat, respond])
def test_too_long_is_context_length_exceeded(client, fake, api, stream):
    fake.message_limit = 1000
    with pytest.raises(openai.BadRequestError) as info:
        api(client, "!today\n" + "long " * 400, stream)
    assert info.value.status_code == 400
    assert info.value.body["code"] == "context_length_exceeded" and info.value.body["param"] == "messages"
    assert info.value.body["type"] == "invalid_request_error"
    assert "too long" in info.value.message
    assert chat(client, "!today\nshort", stream) == "short"        # under the limit: answered


@pytest.mark.parametrize("stream", [False, True])
def test_invalid_conversation_body_is_a_400_naming_what_was_sent(make_server, fake, stream):
    srv = make_server(models={"fast": "gpt-5-instant"}, conversation_path="/backend-api/f/conversation")
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        chat(client, "!invalid_body\nhello", stream, model="fast")
    body = info.value.body
    assert body["code"] == "invalid_conversation_body" and body["type"] == "invalid_request_error"
    for sent in ("Invalid conversation body", 'model="gpt-5-instant"', "/backend-api/f/conversation",
                 'conversation_mode="primary_assistant"'):
        assert sent in body["message"], sent


@pytest.mark.parametrize("stream", [False, True])
def test_the_message_cap_is_a_429_with_retry_after(client, fake, stream):
    with pytest.raises(openai.RateLimitError) as info:
        chat(client, "!status 429", stream)
    assert info.value.body["code"] == "rate_limit_exceeded"
    assert info.value.response.headers["retry-after"] == "42"


def test_image_quota_is_a_429_with_the_reset_from_limits_progress(client, fake):
    fake.limits["image_gen"] = (0, 600)      # what conversation/init says: the reset in 10 minutes
    with pytest.raises(openai.RateLimitError) as info:
        client.images.generate(model="gpt-4o", prompt="!image_limit\nSorry.")
    assert info.value.body["code"] == "rate_limit_exceeded" and IMAGE_LIMIT in info.value.message
    assert 590 <= int(info.value.response.headers["retry-after"]) <= 600
    assert [r.method for r in fake.requests if r.path == "/backend-api/conversation/init"] == ["GET"]


@pytest.mark.parametrize("init", [404, 500])
def test_image_quota_reset_from_its_text_when_init_is_not_there(client, fake, init):
    fake.init_status = init           # 404: the POST form is tried next (and fails too); 500: given up
    with pytest.raises(openai.RateLimitError) as info:
        client.images.generate(model="gpt-4o", prompt="!image_limit\nSorry.")
    assert info.value.response.headers["retry-after"] == str(IMAGE_RESET_SECONDS)   # "23 hours and 5 minutes"
    methods = [r.method for r in fake.requests if r.path == "/backend-api/conversation/init"]
    assert methods == (["GET", "POST"] if init == 404 else ["GET"])


@pytest.mark.parametrize("stream", [False, True])
def test_image_quota_in_a_chat_answer_is_readable_text(client, fake, stream):
    assert chat(client, "!image_limit\nI couldn't draw it.", stream) == f"{IMAGE_LIMIT}\n\nI couldn't draw it."
    assert not [r for r in fake.requests if r.path == "/backend-api/conversation/init"]
