"""Today's turns that the event stream leaves unfinished, end to end: gpt-image's sediment://
images (finished in the stream, or only in the conversation document after polls), hand-offs
(resumed, or polled), and the images endpoint. Image links are fetched and compared byte for
byte; the upstream calls are counted."""
from __future__ import annotations

import re

import openai
import pytest
import requests

from tests.conftest import ACCESS_TOKEN, SECRETS_USED, Server, base_config
from tests.fake_upstream import HANDOFF_POLLS, IMAGE_LIMIT, IMAGE_POLLS, RESUME_TOKEN, blob_bytes, sediment_file

SECRETS_USED.add(RESUME_TOKEN)      # the conduit token is a credential: never in a log
PRIVATE = {chr(c) for c in range(0xE200, 0xE207)}
POLL = 0.2


@pytest.fixture(scope="module")
def fast(upstream, tmp_path_factory):
    """A pandora_v1 that polls every 0.2 s for at most 3 s, keeps alive every 0.1 s and hides
    conversations after answering (a whole answer's when its session ends: after 1 s idle)."""
    srv = Server(tmp_path_factory.mktemp("fast"), base_config(
        upstream.url, async_poll_seconds=POLL, async_wait_seconds=3, keepalive_interval=0.1,
        need_delete_conversation_after_response=True, continuity={"ttl": 1})).wait_ready()
    yield srv
    srv.stop()


@pytest.fixture
def client(fast, fake):
    return openai.OpenAI(base_url=fast.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0, timeout=30)


def ask(client, prompt, stream):
    messages = [{"role": "user", "content": prompt}]
    if not stream:
        result = client.chat.completions.create(model="gpt-4o", messages=messages)
        assert not PRIVATE & set(result.model_dump_json())
        return result.choices[0].message.content
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=messages, stream=True))
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def image_text(out, fast, tail):
    urls = re.findall(re.escape(fast.url) + r"/images/[^)\s]+", out)
    assert out == f"![image]({urls[0]})\n\n[Download image]({urls[0]})\n\n{tail}"
    assert requests.get(urls[0]).content == blob_bytes(sediment_file())
    return urls[0]


def calls(fake, method, pattern):
    return [r for r in fake.requests if r.method == method and re.fullmatch(pattern, r.path)]


@pytest.mark.parametrize("fmt", ["!format A", "!format B\n!split 9"])
@pytest.mark.parametrize("stream", [False, True])
def test_gpt_image_in_the_stream(client, fast, fake, fmt, stream):
    image_text(ask(client, f"{fmt}\n!gpt_image\nHere is your otter.", stream), fast, "Here is your otter.")
    attachment = calls(fake, "GET", rf"/backend-api/conversation/[^/]+/attachment/{sediment_file()}/download")
    content = calls(fake, "GET", "/backend-api/estuary/content")
    assert len(attachment) == 1 and len(content) == 1
    assert content[0].headers["authorization"] == f"Bearer {ACCESS_TOKEN}"    # relative URL: our credentials
    assert not [r for r in fake.requests if sediment_file(partial=True) in r.path + str(r.query)]
    assert calls(fake, "GET", r"/backend-api/conversation/[^/]+") == []       # nothing to poll


@pytest.mark.parametrize("stream", [False, True])
def test_async_image_is_polled_from_the_document_then_the_conversation_hidden(client, fast, fake, stream):
    image_text(ask(client, "!image_async\nHere is your otter.", stream), fast, "Here is your otter.")
    polls = calls(fake, "GET", r"/backend-api/conversation/[^/]+")
    assert len(polls) == IMAGE_POLLS
    # (an earlier test's session may be hidden meanwhile: this conversation's PATCH)
    hide = fake.wait_for(lambda r: r.method == "PATCH" and r.path == polls[-1].path)
    assert fake.requests.index(hide) > fake.requests.index(polls[-1])      # hidden only after the poll
    assert not [r for r in fake.requests if sediment_file(partial=True) in r.path + str(r.query)]


def test_keep_alives_while_polling(fast, fake):
    response = requests.post(fast.url + "/v1/chat/completions", stream=True, timeout=30,
                             headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
                             json={"model": "gpt-4o", "stream": True,
                                   "messages": [{"role": "user", "content": "!image_async\nDone."}]})
    lines = [line for line in response.iter_lines() if line]
    assert lines.count(b": keep-alive") >= 3 and lines[-1] == b"data: [DONE]"


def test_attachment_route_missing_falls_back_to_the_files_route(client, fast, fake):
    fake.missing_attachments.add(sediment_file())
    image_text(ask(client, "!gpt_image\nHere.", False), fast, "Here.")
    fallback = calls(fake, "GET", rf"/backend-api/files/download/{sediment_file()}")
    assert len(fallback) == 1 and fallback[0].query["conversation_id"]


def test_image_never_finished_is_a_note_within_the_bound(client, fast, fake, monkeypatch):
    import tests.fake_upstream as fu

    monkeypatch.setattr(fu, "IMAGE_POLLS", 10_000)
    out = ask(client, "!image_async\nHere.", False)
    assert out == "(the image was not finished in time)\n\n"
    assert len(calls(fake, "GET", r"/backend-api/conversation/[^/]+")) <= 3 / POLL + 1


@pytest.mark.parametrize("fmt", ["!format A", "!format B"])
@pytest.mark.parametrize("stream", [False, True])
def test_handoff_is_resumed(client, fake, fmt, stream):
    assert ask(client, f"{fmt}\n!handoff\n!memory\nThe resumed answer.", stream) == "The resumed answer."
    resume = calls(fake, "POST", "/backend-api/f/conversation/resume")
    assert len(resume) == 1 and resume[0].headers["x-conduit-token"] == RESUME_TOKEN
    assert resume[0].json["offset"] == 0 and resume[0].json["conversation_id"]
    assert calls(fake, "GET", r"/backend-api/conversation/[^/]+") == []


@pytest.mark.parametrize("stream", [False, True])
def test_handoff_polls_the_document_when_resume_fails(client, fake, stream):
    fake.resume_status = 404
    assert ask(client, "!handoff\nFrom the document.", stream) == "From the document."
    assert len(calls(fake, "POST", "/backend-api/f/conversation/resume")) == 1
    assert len(calls(fake, "GET", r"/backend-api/conversation/[^/]+")) == HANDOFF_POLLS


def test_handoff_with_both_failing_is_an_error_not_an_empty_answer(client, fake):
    fake.resume_status = 500
    fake.document_errors.extend([404])
    with pytest.raises(openai.APIStatusError) as info:
        ask(client, "!handoff\nNever.", False)
    assert info.value.status_code == 502 and "handed the answer off" in info.value.message
    conversation = list(fake.conversations)[-1]               # the conversation is still cleaned up
    hidden = fake.wait_for(lambda r: r.method == "PATCH" and r.path.endswith(conversation))
    assert hidden.json == {"is_visible": False}
    with pytest.raises(openai.APIError) as info:
        fake.resume_status = 500
        fake.document_errors.extend([404])
        ask(client, "!handoff\nNever.", True)
    assert "handed the answer off" in str(info.value)


# ------------------------------------------------------------- images endpoint

@pytest.mark.parametrize("directive", ["!gpt_image", "!image_async"])
def test_images_endpoint_with_gpt_image(client, fake, directive):
    result = client.images.generate(model="gpt-4o", prompt=f"{directive}\nAn otter", response_format="b64_json")
    import base64

    assert base64.b64decode(result.data[0].b64_json) == blob_bytes(sediment_file())
    sent = fake.wait_for(lambda r: r.method == "POST" and r.path.endswith("/conversation")).json
    assert sent["system_hints"] == ["picture_v2"]


def test_images_endpoint_image_limit_is_a_rate_limit(client, fake):
    with pytest.raises(openai.RateLimitError) as info:
        client.images.generate(model="gpt-4o", prompt="!image_limit\nSorry.")
    assert info.value.body["code"] == "rate_limit_exceeded" and IMAGE_LIMIT in info.value.message
