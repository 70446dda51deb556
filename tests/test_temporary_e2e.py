"""Temporary chats end to end with the openai SDK, in the default configuration with the hide
setting on (need_delete_conversation_after_response): turns that may need the conversation
document (an async image, a hand-off's poll, the images API) go with history on and are hidden
afterwards, because the fake upstream, like chatgpt.com, keeps no document of a temporary chat
and draws nothing in one. A proxy that forces temporary chats on gets clean answers or a clean
error, quickly (one poll, no wait to the bound)."""
from __future__ import annotations

import base64
import re

import openai
import pytest
import requests

from tests.conftest import ACCESS_TOKEN, Server, base_config
from tests.fake_refusals import TEMPORARY_IMAGE_REFUSAL
from tests.fake_upstream import HANDOFF_POLLS, IMAGE_POLLS, blob_bytes, sediment_file

POLL = 0.2


@pytest.fixture(scope="module")
def hiding(upstream, tmp_path_factory):
    """The default configuration plus the hide setting; polling fast, within a 3 s bound. A whole answer
    is kept as a session (answer/continuity.py) and hidden when that ends: here after 1 s idle."""
    srv = Server(tmp_path_factory.mktemp("hiding"), base_config(
        upstream.url, async_poll_seconds=POLL, async_wait_seconds=3, keepalive_interval=0.1,
        need_delete_conversation_after_response=True, continuity={"ttl": 1})).wait_ready()
    yield srv
    srv.stop()


@pytest.fixture
def client(hiding, fake):
    return openai.OpenAI(base_url=hiding.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0, timeout=30)


def ask(client, prompt, stream, model="gpt-4o"):
    messages = [{"role": "user", "content": prompt}]
    if not stream:
        return client.chat.completions.create(model=model, messages=messages).choices[0].message.content
    return "".join(c.choices[0].delta.content or "" for c in
                   client.chat.completions.create(model=model, messages=messages, stream=True) if c.choices)


def posts(fake):
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/conversation")]


def polls(fake):
    return [r for r in fake.requests if r.method == "GET" and re.fullmatch(r"/backend-api/conversation/[^/]+", r.path)
            and not r.path.endswith("/init")]


def hidden(fake, conversation_id):
    """The PATCH that hides ``conversation_id`` (an earlier test's session may be hidden meanwhile)."""
    patch = fake.wait_for(lambda r: r.method == "PATCH" and r.path.endswith(f"/conversation/{conversation_id}"))
    assert patch.json == {"is_visible": False}
    return patch


def hidden_after_the_last_poll(fake):
    patch = hidden(fake, polls(fake)[-1].path.rsplit("/", 1)[1])
    assert all(fake.requests.index(patch) > fake.requests.index(poll) for poll in polls(fake))


@pytest.mark.parametrize("stream", [False, True])
def test_an_async_image_arrives_and_the_conversation_is_hidden_afterwards(client, hiding, fake, stream):
    out = ask(client, "!image_async\nHere is your otter.", stream)
    (url,) = set(re.findall(re.escape(hiding.url) + r"/images/[^)\s]+", out))
    assert out.endswith("Here is your otter.") and requests.get(url).content == blob_bytes(sediment_file())
    assert posts(fake)[0].json["history_and_training_disabled"] is False
    assert len(polls(fake)) == IMAGE_POLLS
    hidden_after_the_last_poll(fake)


@pytest.mark.parametrize("stream", [False, True])
def test_a_user_who_types_draw_a_cat_gets_the_picture(client, fake, stream):
    out = ask(client, "!gpt_image\nHere is your cat.", stream)
    assert out.startswith("![image](") and TEMPORARY_IMAGE_REFUSAL not in out
    assert posts(fake)[0].json["history_and_training_disabled"] is False


@pytest.mark.parametrize("stream", [False, True])
def test_a_handoff_resolves_from_the_document_when_resume_fails(client, fake, stream):
    fake.resume_status = 404
    assert ask(client, "!handoff\nFrom the document.", stream) == "From the document."
    assert posts(fake)[0].json["history_and_training_disabled"] is False
    assert len(polls(fake)) == HANDOFF_POLLS
    hidden_after_the_last_poll(fake)


def test_images_endpoint_goes_with_history_and_is_hidden(client, fake):
    result = client.images.generate(model="gpt-4o", prompt="!image_async\nAn otter", response_format="b64_json")
    assert base64.b64decode(result.data[0].b64_json) == blob_bytes(sediment_file())
    assert posts(fake)[0].json["history_and_training_disabled"] is False
    hidden_after_the_last_poll(fake)


# ----------------------------------------------------- a proxy that forces temporary chats

@pytest.mark.parametrize("stream", [False, True])
def test_forced_temporary_handoff_is_a_clean_error_after_one_poll(client, fake, stream):
    fake.force_no_history, fake.temporary_resume = True, False   # the doc: whether resume works is unknown
    with pytest.raises(openai.APIError) as info:
        ask(client, "!handoff\nNever seen.", stream)
    assert "handed the answer off" in str(info.value) and "temporary chat" in str(info.value)
    if not stream:
        assert info.value.status_code == 502 and info.value.body["code"] == "conversation_unavailable"
    assert len(polls(fake)) == 1                      # a 404 is final: no polling to the bound


@pytest.mark.parametrize("stream", [False, True])
def test_forced_temporary_handoff_resumes_where_the_resume_stream_works(client, fake, stream):
    fake.force_no_history = True
    assert ask(client, "!handoff\nThe resumed answer.", stream) == "The resumed answer."
    assert polls(fake) == []


@pytest.mark.parametrize("stream", [False, True])
def test_forced_temporary_image_turn_is_the_refusal_never_an_empty_answer(client, fake, stream):
    fake.force_no_history = True
    assert ask(client, "!image_async\nHere is your otter.", stream) == TEMPORARY_IMAGE_REFUSAL
    assert polls(fake) == []


def test_forced_temporary_images_endpoint_is_a_clean_400(client, fake):
    fake.force_no_history = True
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="gpt-4o", prompt="!gpt_image\nAn otter")
    assert info.value.body["code"] == "moderation_blocked" and TEMPORARY_IMAGE_REFUSAL in info.value.message


def test_forced_temporary_plain_answer_is_answered_though_it_cannot_be_hidden(client, fake):
    fake.force_no_history = True
    assert ask(client, "!today\nJust text.", False) == "Just text."
    hidden(fake, next(iter(fake.temporary)))          # tried (a 404: nothing to hide), never an error


# ------------------------------------------------------------ asked for: store false, config

def test_responses_store_false_is_a_temporary_chat_only_where_nothing_can_poll(make_server, fake):
    srv = make_server(continuity={"ttl": 1})    # the hide setting off; sessions end after 1 s idle
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    assert client.responses.create(model="text-only", input="!today\nPlain.", store=False).output_text == "Plain."
    assert posts(fake)[-1].json["history_and_training_disabled"] is True
    fake.requests.clear()
    # gpt-4o may draw or hand off: history on, and hidden although the hide setting is off
    assert client.responses.create(model="gpt-4o", input="!today\nPlain.", store=False).output_text == "Plain."
    assert posts(fake)[-1].json["history_and_training_disabled"] is False
    hidden(fake, list(fake.conversations)[-1])
    fake.requests.clear()
    client.responses.create(model="text-only", input="!today\nKept.")
    assert posts(fake)[-1].json["history_and_training_disabled"] is False
    assert not [r for r in fake.requests if r.method == "PATCH"]


def test_configured_temporary_chats(make_server, fake):
    srv = make_server(temporary_chat={"enabled": True}, continuity={"ttl": 1})
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    assert ask(client, "!today\nPlain.", False, model="text-only") == "Plain."
    assert posts(fake)[-1].json["history_and_training_disabled"] is True
    out = ask(client, "!gpt_image\nHere.", False)         # gpt-4o may draw: history on, the picture comes
    assert out.startswith("![image](") and posts(fake)[-1].json["history_and_training_disabled"] is False
    hidden(fake, list(fake.conversations)[-1])
