"""The web app's optional prepare step on /backend-api/f/conversation (conversation_prepare): tried
before the answer, its conduit token forwarded; a failing prepare never stops the answer."""
from __future__ import annotations

import openai
import pytest

from tests.conftest import ACCESS_TOKEN, SECRETS_USED

F_PATH = "/backend-api/f/conversation"


def prepares(fake):
    return [r for r in fake.requests if r.path == F_PATH + "/prepare"]


def writes(fake):
    return [r for r in fake.requests if r.method == "POST" and r.path in (F_PATH, "/backend-api/conversation")]


def ask(srv, prompt, stream=False):
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": prompt}]
    if not stream:
        return client.chat.completions.create(model="gpt-4o", messages=messages).choices[0].message.content
    return "".join(c.choices[0].delta.content or "" for c in
                   client.chat.completions.create(model="gpt-4o", messages=messages, stream=True) if c.choices)


@pytest.mark.parametrize("stream", [False, True])
def test_prepare_then_the_answer_with_its_conduit_token(make_server, fake, stream):
    srv = make_server(conversation_path=F_PATH, conversation_prepare=True)
    assert ask(srv, "!today\nPrepared.", stream) == "Prepared."
    SECRETS_USED.update(fake.conduit_tokens)          # a credential: never in a log
    (prepare,), (write,) = prepares(fake), writes(fake)
    assert fake.requests.index(prepare) < fake.requests.index(write)
    assert "messages" not in prepare.json and prepare.json["client_prepare_state"] == "none"
    assert prepare.json["partial_query"]["content"]["parts"] == ["!today\nPrepared."]
    assert prepare.json["model"] == "gpt-4o" and prepare.json["attachment_mime_types"] == []
    assert write.headers["x-conduit-token"] == fake.conduit_tokens[0]
    assert write.json["client_prepare_state"] == "success"


@pytest.mark.parametrize("status", [404, 500])
def test_a_failing_prepare_is_not_fatal(make_server, fake, status):
    srv = make_server(conversation_path=F_PATH, conversation_prepare=True)
    fake.prepare_status = status
    assert ask(srv, "!today\nAnyway.") == "Anyway."
    (write,) = writes(fake)
    assert len(prepares(fake)) == 1
    assert "x-conduit-token" not in write.headers and "client_prepare_state" not in write.json


def test_no_prepare_unless_configured_and_never_on_the_legacy_path(make_server, fake):
    for config in ({"conversation_path": F_PATH}, {"conversation_prepare": True}):
        srv = make_server(**config)
        assert ask(srv, "!today\nPlain.") == "Plain."
    assert prepares(fake) == [] and [r.path for r in writes(fake)] == [F_PATH, "/backend-api/conversation"]
    assert "conversation_prepare is true but conversation_path" in srv.log()
