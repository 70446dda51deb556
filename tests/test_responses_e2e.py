"""End to end: /v1/responses through openai-python, raw SSE, and the state store."""
from __future__ import annotations

import base64
import json
import time

import openai
import pytest
import requests

from pandora_v1.auth.credentials import Credentials
from pandora_v1.responses.state import owner_of
from tests.conftest import ACCESS_TOKEN, make_jwt
from tests.fake_sessions import model_texts
from tests.fake_upstream import DEFAULT_ANSWER, answer_text, png_bytes
from tests.responses_checks import assert_wire_rules, codex_replay, parse_sse, stream_state

REASONING = "**Planning**\n\nI should greet the user.\n\n**Checking**\n\nKeep it short."
AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}


def raw(server, **body) -> requests.Response:
    return requests.post(server.url + "/v1/responses", headers=AUTH, timeout=30,
                         json={"model": "gpt-4o", "stream": True, **body})


def raw_events(server, **body) -> list[tuple[str, dict]]:
    response = raw(server, **body)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return parse_sse(response.content)


def conversations(fake):
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/backend-api/conversation")]


def upstream_texts(record) -> list[tuple[str, str]]:
    body = json.loads(record.body)
    return [(m["author"]["role"], "".join(p for p in m["content"]["parts"] if isinstance(p, str)))
            for m in body["messages"]]


# ----------------------------------------------------------------- answers

def test_create_with_a_string(client, fake):
    resp = client.responses.create(model="gpt-4o", input="hi")
    assert resp.output_text == DEFAULT_ANSWER
    assert resp.status == "completed" and resp.object == "response" and resp.model == "gpt-4o"
    assert resp.id.startswith("resp_") and resp.output[0].id.startswith("msg_")
    # Same accounting as chat: "hi" is 8 prompt tokens, the answer 9.
    assert (resp.usage.input_tokens, resp.usage.output_tokens, resp.usage.total_tokens) == (8, 9, 17)
    assert resp.usage.output_tokens_details.reasoning_tokens == 0


def test_create_with_items_and_instructions(client, fake):
    resp = client.responses.create(model="gpt-4o", instructions="Be brief.", input=[
        {"role": "user", "content": [{"type": "input_text", "text": "Earlier question"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Earlier answer"}]},
        {"role": "user", "content": "Tell me something."}])
    assert resp.output_text == "Tell me something."
    assert resp.instructions == "Be brief."
    assert upstream_texts(conversations(fake)[-1]) == [
        ("system", "Be brief."), ("user", "Earlier question"), ("assistant", "Earlier answer"),
        ("user", "Tell me something.")]


@pytest.mark.parametrize("prompt", ["hi", "!format A\n!split 1\n!crlf\n!ping\n!noise\n!nodone\nGrüße, 世界! 🎉"])
def test_stream_through_the_sdks_stream_state(client, fake, prompt):
    deltas = []
    with client.responses.stream(model="gpt-4o", input=prompt) as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
        final = stream.get_final_response()
    assert final.output_text == "".join(deltas) == answer_text(prompt)
    assert final.status == "completed" and final.usage.total_tokens > 0


def test_reasoning_and_text(client, fake):
    with client.responses.stream(model="reasoner", input="!reasoning\nDone thinking.",
                                 reasoning={"summary": "auto"}) as stream:
        final = stream.get_final_response()
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.output[0].summary[0].text == REASONING
    assert final.output_text == "Done thinking."
    assert final.usage.output_tokens_details.reasoning_tokens > 0
    plain = client.responses.create(model="reasoner", input="!reasoning\nDone thinking.")
    assert [item.type for item in plain.output] == ["message"]
    assert plain.usage.output_tokens_details.reasoning_tokens == \
        final.usage.output_tokens_details.reasoning_tokens


def test_raw_sse_follows_every_rule(server, fake):
    events = raw_events(server, input="!reasoning\n!pieces 2\nDone thinking.", model="reasoner",
                        reasoning={"summary": "detailed"})
    assert_wire_rules(events)
    assert stream_state(events).output_text == "Done thinking."
    replay = codex_replay(events)
    assert replay["text"] == "Done thinking." and [i["type"] for i in replay["items"]] == ["reasoning", "message"]
    deltas = [d for n, d in events if n == "response.output_text.delta"]
    assert len(deltas) > 3 and "".join(d["delta"] for d in deltas) == "Done thinking."


def test_keepalive_comments_while_the_upstream_is_silent(make_server, fake):
    srv = make_server(keepalive_interval=0.2)
    response = raw(srv, input="!stall_mid 1.2\nOne two three four.")
    body = response.content.decode()
    assert body.count(": keep-alive\n\n") >= 3
    events = parse_sse(response.content)
    assert_wire_rules(events)
    assert stream_state(events).output_text == "One two three four."


# ----------------------------------------------------------------- endings and errors

def test_mid_stream_failure_is_response_failed(server, client, fake):
    prompt = "!error_midstream\n" + "word " * 40
    events = raw_events(server, input=prompt)
    assert_wire_rules(events)
    name, data = events[-1]
    assert name == "response.failed"
    assert data["response"]["status"] == "failed" and data["response"]["error"]["code"] == "server_error"
    assert "Something went wrong" in data["response"]["error"]["message"]
    assert data["response"]["output"][0]["content"][0]["text"] == answer_text(prompt)
    with client.responses.stream(model="gpt-4o", input=prompt) as stream:
        statuses = [e.response.status for e in stream if e.type == "response.failed"]
        assert statuses == ["failed"]
        with pytest.raises(RuntimeError, match="response.completed"):
            stream.get_final_response()
    with pytest.raises(openai.APIStatusError) as info:       # non-stream: chat's HTTP error
        client.responses.create(model="gpt-4o", input=prompt)
    assert info.value.status_code == 502


def test_connection_reset_is_response_failed(server, fake):
    events = raw_events(server, input="!reset\n" + "word " * 40)
    assert_wire_rules(events)
    assert events[-1][0] == "response.failed"


@pytest.mark.parametrize("status, error", [(401, openai.AuthenticationError), (429, openai.RateLimitError)])
def test_upstream_errors_before_the_start_are_http_json(server, client, fake, status, error):
    response = raw(server, input=f"!status {status}")
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    chat = requests.post(server.url + "/v1/chat/completions", headers=AUTH, timeout=30, json={
        "model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": f"!status {status}"}]})
    assert response.json() == chat.json()
    with pytest.raises(error):
        client.responses.create(model="gpt-4o", input=f"!status {status}", stream=True)


def test_cut_answers_are_incomplete(server, client, fake, make_server):
    events = raw_events(server, input="!max_tokens\nSome answer text here.")
    assert_wire_rules(events)
    name, data = events[-1]
    assert name == "response.incomplete"
    assert data["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert data["response"]["output"][0]["status"] == "incomplete"
    moderated = client.responses.create(model="gpt-4o", input="!moderation\nSome answer text here.")
    assert moderated.status == "incomplete" and moderated.incomplete_details.reason == "content_filter"
    srv = make_server(max_answer_chars=20)
    cut = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0).responses.create(
        model="gpt-4o", input="!tokens 200")
    assert cut.status == "incomplete" and cut.incomplete_details.reason == "max_output_tokens"


def test_max_output_tokens_cuts_the_answer(server, client, fake):
    resp = client.responses.create(model="gpt-4o", input="!tokens 200", max_output_tokens=16)
    assert resp.status == "incomplete" and resp.incomplete_details.reason == "max_output_tokens"
    assert resp.usage.output_tokens == 16 and resp.max_output_tokens == 16
    assert answer_text("!tokens 200").startswith(resp.output_text) and len(resp.output_text) > 20
    events = raw_events(server, input="!tokens 200", max_output_tokens=16)
    assert_wire_rules(events)
    assert events[-1][0] == "response.incomplete"
    assert events[-1][1]["response"]["output"][0]["content"][0]["text"] == resp.output_text


@pytest.mark.parametrize("body, param", [
    ({"input": "hi", "background": True}, "background"),
    ({"input": "hi", "conversation": {"id": "conv_1"}}, "conversation"),
    ({"input": "hi", "tool_choice": {"type": "file_search"}}, "tool_choice"),
    ({"input": [{"type": "item_reference", "id": "msg_unknown"}]}, "input[0]"),
    ({"input": "hi", "previous_response_id": "resp_unknown"}, "previous_response_id"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "ftp://x"}]}]},
     "input[0].content[0].image_url"),
])
def test_bad_requests_are_400_naming_the_parameter(server, fake, body, param):
    for stream in (True, False):
        response = raw(server, **{**body, "stream": stream})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["param"] == param and error["type"] == "invalid_request_error" and error["message"]
    assert not conversations(fake)


def test_missing_key_is_401(server, fake):
    response = requests.post(server.url + "/v1/responses", json={"model": "gpt-4o", "input": "hi"}, timeout=30)
    assert response.status_code == 401 and response.json()["error"]["message"]


def test_unserved_hosted_tools_are_dropped(client, fake):
    # platform-spec §0.2: web_search & co. are served now (test_responses_hosted_e2e.py); file_search is not
    resp = client.responses.create(model="gpt-4o", input="hi", tools=[{"type": "file_search", "vector_store_ids": []}])
    assert resp.output_text == DEFAULT_ANSWER and resp.tools == []


def test_an_image_goes_through_the_upload_path(client, fake):
    url = "data:image/png;base64," + base64.b64encode(png_bytes("resp", 8, 6)).decode()
    resp = client.responses.create(model="gpt-4o", input=[{"role": "user", "content": [
        {"type": "input_text", "text": "What is it?"}, {"type": "input_image", "image_url": url}]}])
    assert resp.output_text == "What is it?"
    sent = json.loads(conversations(fake)[-1].body)["messages"][-1]
    assert sent["content"]["content_type"] == "multimodal_text"
    assert sent["content"]["parts"][1]["asset_pointer"].startswith("file-service://")
    assert sent["metadata"]["attachments"][0]["width"] == 8


# ----------------------------------------------------------------- state

def test_stored_responses_chain_and_can_be_read_and_deleted(client, fake):
    first = client.responses.create(model="gpt-4o", input="Remember the word banana.")
    assert first.store is True
    again = client.responses.retrieve(first.id)
    assert again.model_dump() == first.model_dump()
    follow = client.responses.create(model="gpt-4o", input="Which word?", previous_response_id=first.id)
    assert follow.previous_response_id == first.id
    # The model is given the whole chain; the upstream conversation goes on, so only the new input goes up.
    assert model_texts(fake, conversations(fake)[-1]) == [
        ("user", "Remember the word banana."), ("assistant", "Remember the word banana."), ("user", "Which word?")]
    assert upstream_texts(conversations(fake)[-1]) == [("user", "Which word?")]
    third = client.responses.create(model="gpt-4o", input="And now?", previous_response_id=follow.id)
    assert [t for _, t in model_texts(fake, conversations(fake)[-1])] == [
        "Remember the word banana.", "Remember the word banana.", "Which word?", "Which word?", "And now?"]
    assert len({c.json.get("conversation_id") for c in conversations(fake)[1:]}) == 1
    # An output item is referenced by its id.
    client.responses.create(model="gpt-4o", input=[
        {"role": "user", "content": "Q"}, {"type": "item_reference", "id": third.output[0].id},
        {"role": "user", "content": "Next"}])
    assert [t for _, t in upstream_texts(conversations(fake)[-1])] == ["Q", "And now?", "Next"]
    client.responses.delete(first.id)
    response = requests.get(f"{client.base_url}responses/{first.id}", headers=AUTH, timeout=30)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = requests.delete(f"{client.base_url}responses/{follow.id}", headers=AUTH, timeout=30)
    assert response.json() == {"id": follow.id, "object": "response", "deleted": True}
    assert requests.delete(f"{client.base_url}responses/{follow.id}", headers=AUTH, timeout=30).status_code == 404


def test_input_items_list_what_a_response_answered(client, fake):
    first = client.responses.create(model="gpt-4o", instructions="Be brief.", input="Remember the word banana.")
    follow = client.responses.create(model="gpt-4o", previous_response_id=first.id, input=[
        {"role": "user", "content": [{"type": "input_text", "text": "Which word?"}]}])
    listed = client.responses.input_items.list(follow.id)
    # Newest first: this turn's input, then the earlier response's output and input (not instructions).
    assert [(item.type, item.role) for item in listed.data] == [("message", "user"), ("message", "assistant"),
                                                                ("message", "user")]
    assert [item.content[0].text for item in listed.data] == [
        "Which word?", "Remember the word banana.", "Remember the word banana."]
    assert listed.data[1].id == first.output[0].id and listed.data[1].content[0].type == "output_text"
    assert all(item.status == "completed" and item.id.startswith("msg_") for item in listed.data)
    assert not listed.has_more and (listed.first_id, listed.last_id) == (listed.data[0].id, listed.data[-1].id)
    # The SDK's auto-paging walks one item per page with ``after``; the ids hold from one read to the next.
    walked = [item.id for item in client.responses.input_items.list(follow.id, limit=1, order="asc")]
    assert walked == [item.id for item in reversed(listed.data)]
    assert [item.id for item in client.responses.input_items.list(first.id).data] == [listed.data[2].id]
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.input_items.list(follow.id, limit=0)
    assert info.value.body["param"] == "limit"
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list("resp_unknown")


def test_store_false_keeps_nothing(server, client, fake):
    resp = client.responses.create(model="gpt-4o", input="hi", store=False)
    assert resp.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(resp.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.input_items.list(resp.id)
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-4o", input="hi", previous_response_id=resp.id)
    assert info.value.body["param"] == "previous_response_id"
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="gpt-4o", input=[{"type": "item_reference", "id": resp.output[0].id}])
    events = raw_events(server, input="hi", store=False)
    assert requests.get(f"{server.url}/v1/responses/{events[-1][1]['response']['id']}", headers=AUTH,
                        timeout=30).status_code == 404


def test_streamed_responses_are_stored_before_the_last_event(server, client, fake):
    with client.responses.stream(model="gpt-4o", input="hi") as stream:
        for event in stream:
            if event.type == "response.completed":
                # The client has the id now; it is already readable.
                assert client.responses.retrieve(event.response.id).output_text == DEFAULT_ANSWER


def test_ttl_expiry(make_server, fake):
    srv = make_server(responses={"store_ttl": 1})
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    first = client.responses.create(model="gpt-4o", input="hi")
    assert client.responses.retrieve(first.id).id == first.id
    time.sleep(1.3)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(model="gpt-4o", input="hi", previous_response_id=first.id)
    assert info.value.body["code"] == "previous_response_not_found"


def test_two_servers_share_the_state(make_server, fake, tmp_path):
    """Two instances (so also two workers) on one store: a chain started on one continues on the other."""
    shared = str(tmp_path / "shared-data")
    one, two = make_server(data_dir=shared), make_server(data_dir=shared, process_workers=2)
    clients = [openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0) for srv in (one, two)]
    previous = None
    for turn in range(4):
        previous = clients[turn % 2].responses.create(model="gpt-4o", input=f"turn {turn}",
                                                      previous_response_id=previous).id
    assert [t for _, t in model_texts(fake, conversations(fake)[-1])] == [
        "turn 0", "turn 0", "turn 1", "turn 1", "turn 2", "turn 2", "turn 3"]
    # one upstream conversation, continued from either instance: each later POST carries only its turn
    assert [upstream_texts(c) for c in conversations(fake)[1:]] == [[("user", f"turn {n}")] for n in (1, 2, 3)]
    assert len({c.json.get("conversation_id") for c in conversations(fake)[1:]}) == 1
    assert clients[0].responses.retrieve(previous).id == previous
    clients[1].responses.delete(previous)
    with pytest.raises(openai.NotFoundError):
        clients[0].responses.retrieve(previous)


def test_two_instances_share_the_state_on_redis(make_server, fake, redis_db):
    one, two = (make_server(env={"REDIS_URL": redis_db.url}) for _ in range(2))
    first = openai.OpenAI(base_url=one.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0).responses.create(
        model="gpt-4o", input="Remember banana.")
    other = openai.OpenAI(base_url=two.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    other.responses.create(model="gpt-4o", input=[{"type": "item_reference", "id": first.output[0].id},
                                                  {"role": "user", "content": "Which fruit?"}],
                           previous_response_id=first.id)
    assert [t for _, t in upstream_texts(conversations(fake)[-1])] == [
        "Remember banana.", "Remember banana.", "Remember banana.", "Which fruit?"]
    keys = set(redis_db.client().scan_iter("pandora_v1:*"))
    owner = owner_of(Credentials(ACCESS_TOKEN))
    assert f"pandora_v1:responses:{owner}:{first.id}" in keys
    assert f"pandora_v1:items:{owner}:{first.output[0].id}" in keys
    ttl = redis_db.client().pttl(f"pandora_v1:responses:{owner}:{first.id}")
    assert 0 < ttl <= 7 * 86400 * 1000


def test_another_account_can_neither_read_nor_continue_nor_delete_a_response(server, fake):
    mine = openai.OpenAI(base_url=server.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    theirs = openai.OpenAI(base_url=server.url + "/v1", api_key=make_jwt(sub="user-other"), max_retries=0)
    first = mine.responses.create(model="gpt-4o", input="My secret is banana.")
    with pytest.raises(openai.NotFoundError):
        theirs.responses.retrieve(first.id)
    with pytest.raises(openai.NotFoundError):
        theirs.responses.input_items.list(first.id)
    with pytest.raises(openai.BadRequestError):
        theirs.responses.create(model="gpt-4o", input="What is my secret?", previous_response_id=first.id)
    with pytest.raises(openai.BadRequestError):
        theirs.responses.create(model="gpt-4o", input=[{"type": "item_reference", "id": first.output[0].id}])
    with pytest.raises(openai.NotFoundError):
        theirs.responses.delete(first.id)
    assert mine.responses.retrieve(first.id).id == first.id


def test_a_client_that_leaves_closes_the_upstream_and_the_conversation_is_hidden(make_server, fake):
    # Continuity off: each answer ends its conversation (with it on, a kept one is hidden when its session
    # ends: tests/test_continuity_e2e.py).
    srv = make_server(need_delete_conversation_after_response="true", continuity={"enabled": False})
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    client.responses.create(model="gpt-4o", input="hi")
    assert fake.wait_for(lambda r: r.method == "PATCH").json == {"is_visible": False}
    fake.requests.clear()
    stream = client.responses.create(model="gpt-4o", input="!delay 0.05\n!pieces 1\n" + "x" * 200, stream=True)
    events = iter(stream)
    assert [next(events).type for _ in range(4)][:2] == ["response.created", "response.in_progress"]
    stream.close()
    fake.wait_for(lambda r: r.method == "PATCH")
    conv = fake.wait_for(lambda r: r.method == "POST" and r.stream_outcome is not None)
    assert conv.stream_outcome == "client_gone"
