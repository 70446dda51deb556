"""The subscription's switches end to end (issue 20 items 1, 2, 9): reasoning effort, chat web search
with its citations, and /v1/models from the upstream's own list, through the openai SDK, gunicorn and
the fake upstream (which checks thinking_effort as the upstream does: tests/fake_capabilities.py)."""
from __future__ import annotations

import json

import openai
import pytest
import requests

from tests.conftest import ACCESS_TOKEN
from tests.fake_upstream import DEFAULT_ANSWER, SEARCH_CALL, source_url

AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
CITED = "\ue200cite\ue202turn0search3\ue201"
ASKED = f"!pieces 4\nLondon will reach 31 °C on Saturday {CITED}."
ALT = f"([Source 0search3]({source_url('turn0search3')}))"
ANSWER = f"London will reach 31 °C on Saturday {ALT}."
LOCATION = {"type": "approximate", "approximate": {"country": "GB", "city": "London"}}


def conversations(fake):
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/backend-api/conversation")]


def sse_chunks(server, body) -> list[dict]:
    response = requests.post(server.url + "/v1/chat/completions", headers=AUTH, timeout=30,
                             json={"stream": True, "stream_options": {"include_usage": True}, **body})
    assert response.status_code == 200, response.text
    events = [e for e in response.content.split(b"\n\n") if e and not e.startswith(b":")]
    assert events[-1] == b"data: [DONE]"
    return [json.loads(e[6:]) for e in events[:-1]]


# ------------------------------------------------------------------ effort

@pytest.mark.parametrize("effort, sent", [
    ("none", None), ("minimal", None), ("low", "standard"), ("medium", "standard"), ("high", "extended"),
    ("xhigh", "extended"), ("max", "extended")])     # the fake's gpt-5-thinking takes standard and extended
def test_chat_effort_reaches_the_upstream_in_its_own_words(client, fake, effort, sent):
    reply = client.chat.completions.create(model="gpt-5-thinking", reasoning_effort=effort,
                                           messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == DEFAULT_ANSWER     # the fake refuses a body it can't take
    [record] = conversations(fake)
    assert record.json["model"] == "gpt-5-thinking" and record.json.get("thinking_effort") == sent


def test_an_effort_on_a_model_without_reasoning_is_not_sent(client, fake):
    for model in ("gpt-4o", "reasoner"):     # reasoner is o1: the upstream's list says no efforts
        reply = client.chat.completions.create(model=model, reasoning_effort="high",
                                               messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == DEFAULT_ANSWER
    assert [r.json.get("thinking_effort", "omitted") for r in conversations(fake)] == ["omitted", "omitted"]


def test_the_upstream_list_decides_which_efforts_a_slug_takes(make_server, fake):
    srv = make_server(models={"deep": "gpt-5-6-thinking", "custom": {"slug": "my-thinker", "reasoning": True}})
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0, timeout=30)
    client.chat.completions.create(model="deep", reasoning_effort="xhigh", messages=[{"role": "user", "content": "hi"}])
    client.responses.create(model="deep", input="hi", reasoning={"effort": "max"})
    # "custom" reasons by configuration; the fake lists no such slug, so it refuses the body: 422 -> 400.
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="custom", reasoning_effort="high",
                                       messages=[{"role": "user", "content": "hi"}])
    assert [r.json.get("thinking_effort") for r in conversations(fake)] == ["max", "max", "extended"]
    assert len([r for r in fake.requests if r.path == "/backend-api/models"]) == 1    # cached


def test_responses_effort_is_sent_and_echoed(client, fake):
    response = client.responses.create(model="gpt-5-thinking", input="hi", reasoning={"effort": "high"})
    assert response.reasoning.effort == "high" and response.output_text == DEFAULT_ANSWER
    assert conversations(fake)[-1].json["thinking_effort"] == "extended"
    with client.responses.stream(model="gpt-5-thinking", input="hi", reasoning={"effort": "low",
                                                                               "summary": "auto"}) as events:
        for _ in events:
            pass
        streamed = events.get_final_response()
    assert (streamed.reasoning.effort, streamed.reasoning.summary) == ("low", "auto")
    assert conversations(fake)[-1].json["thinking_effort"] == "standard"
    # Without an effort: a reasoning model's default, as OpenAI echoes it; none for gpt-4o.
    assert client.responses.create(model="gpt-5-thinking", input="hi").reasoning.effort == "medium"
    assert client.responses.create(model="gpt-4o", input="hi").reasoning.effort is None
    assert "thinking_effort" not in conversations(fake)[-1].json


@pytest.mark.parametrize("path, body, param", [
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "extreme"},
     "reasoning_effort"),
    ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": 2},
     "reasoning_effort"),
    ("/v1/responses", {"input": "hi", "reasoning": {"effort": "turbo"}}, "reasoning.effort"),
    ("/v1/responses", {"input": "hi", "reasoning": {"summary": "everything"}}, "reasoning.summary"),
])
def test_a_bad_effort_is_openais_400(server, fake, path, body, param):
    for stream in (False, True):
        response = requests.post(server.url + path, headers=AUTH, timeout=30,
                                 json={"model": "gpt-5-thinking", "stream": stream, **body})
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["param"] == param and error["type"] == "invalid_request_error", error
        assert error["code"] in ("invalid_value", "invalid_type")
    assert not conversations(fake)


# ------------------------------------------------------------------ chat search

def test_web_search_options_search_and_cite_in_one_chunk_for_the_stream_helper(client, fake):
    with client.chat.completions.stream(model="gpt-4o", web_search_options={"user_location": LOCATION},
                                        messages=[{"role": "user", "content": ASKED}]) as stream:
        for _ in stream:     # openai-python raises on a second chunk with annotations
            pass
        completion = stream.get_final_completion()
    message = completion.choices[0].message
    assert message.content == ANSWER
    [cited] = message.annotations
    assert cited.type == "url_citation" and cited.url_citation.title == "Source 0search3"
    assert message.content[cited.url_citation.start_index:cited.url_citation.end_index] == ALT
    assert cited.url_citation.url == source_url("turn0search3")
    sent = conversations(fake)[-1].json
    assert sent["system_hints"] == ["search"] and sent["messages"][-1]["metadata"]["system_hints"] == ["search"]
    assert sent["force_use_search"] is True
    assert sent["client_reported_search_source"] == "conversation_composer_web_icon"
    assert ("system", ["The user's approximate location: London, GB."]) in \
        [(m["author"]["role"], m["content"]["parts"]) for m in sent["messages"]]


def test_the_raw_stream_has_the_annotations_after_the_text_before_the_finish(server, fake):
    chunks = sse_chunks(server, {"model": "gpt-4o", "web_search_options": {},
                                 "messages": [{"role": "user", "content": ASKED}]})
    deltas = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks if c["choices"]]
    carrying = [i for i, (d, _) in enumerate(deltas) if "annotations" in d]
    assert len(carrying) == 1
    at = carrying[0]
    assert deltas[at][0] == {"annotations": [{"type": "url_citation", "url_citation": {
        "url": source_url("turn0search3"), "title": "Source 0search3",
        "start_index": ANSWER.index("(["), "end_index": ANSWER.index("([") + len(ALT)}}]}
    assert all("content" not in d for d, _ in deltas[at:]) and deltas[at + 1] == ({}, "stop")
    assert "".join(d.get("content") or "" for d, _ in deltas) == ANSWER
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0


def test_non_stream_search_answer_and_a_search_model_that_ignores_temperature(client, fake):
    reply = client.chat.completions.create(model="gpt-4o-search-preview", temperature=0.2, top_p=0.5,
                                           presence_penalty=1, messages=[{"role": "user", "content": ASKED}])
    message = reply.choices[0].message
    assert message.content == ANSWER and reply.model == "gpt-4o-search-preview"
    assert [message.content[a.url_citation.start_index:a.url_citation.end_index] for a in message.annotations] == [ALT]
    sent = conversations(fake)[-1].json
    assert sent["model"] == "gpt-4o" and sent["force_use_search"] is True   # search_model_slug's default
    plain = client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert plain.choices[0].message.annotations is None or plain.choices[0].message.annotations == []
    assert not {"system_hints", "force_use_search"} & set(conversations(fake)[-1].json)


def test_the_search_call_itself_never_reaches_the_chat_client(client, fake):
    reply = client.chat.completions.create(model="gpt-4o", web_search_options={},
                                           messages=[{"role": "user", "content": ASKED}])
    assert SEARCH_CALL not in reply.model_dump_json() and "search_query" not in reply.model_dump_json()


@pytest.mark.parametrize("options, param", [
    ({"search_context_size": "max"}, "web_search_options.search_context_size"),
    ({"user_location": {"type": "approximate"}}, "web_search_options.user_location.approximate"),
    ([], "web_search_options"),
])
def test_bad_web_search_options_are_400s(server, fake, options, param):
    response = requests.post(server.url + "/v1/chat/completions", headers=AUTH, timeout=30,
                             json={"model": "gpt-4o", "web_search_options": options,
                                   "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 400 and response.json()["error"]["param"] == param


# ------------------------------------------------------------------ models

def test_models_lists_the_upstreams_own_with_their_efforts_beside_the_aliases(make_server, fake):
    srv = make_server()
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0, timeout=30)
    listed = {m.id: m for m in client.models.list()}
    assert {"gpt-4o", "reasoner", "gpt-5-thinking", "o3", "gpt-4o-search-preview"} <= set(listed)
    assert listed["gpt-4o"].owned_by == "pandora_v1"
    six = listed["gpt-5-6-thinking"]
    assert six.owned_by == "upstream" and six.model_extra["thinking_efforts"] == ["standard", "extended", "max"]
    assert listed["gpt-5-3-instant"].model_extra["thinking_efforts"] == []
    assert client.models.retrieve("gpt-5-6-thinking").model_extra["title"] == "GPT-5.6 Thinking"
    # A listed slug is a model name: sent as it is, its efforts known from the list.
    reply = client.chat.completions.create(model="gpt-5-6-thinking", reasoning_effort="xhigh",
                                           messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == DEFAULT_ANSWER
    assert conversations(fake)[-1].json["thinking_effort"] == "max"
    assert len([r for r in fake.requests if r.path == "/backend-api/models"]) == 1     # cached in the store
    # Without a key: the configured list, nothing asked upstream.
    anonymous = [m["id"] for m in requests.get(srv.url + "/v1/models", timeout=10).json()["data"]]
    assert "gpt-5-6-thinking" not in anonymous and "gpt-4o" in anonymous


def test_the_configured_list_when_the_upstreams_is_unavailable_or_off(make_server, fake):
    fake.models_status = 500
    srv = make_server()
    names = [m["id"] for m in requests.get(srv.url + "/v1/models", headers=AUTH, timeout=10).json()["data"]]
    assert "gpt-4o" in names and "gpt-5-6-thinking" not in names
    response = requests.post(srv.url + "/v1/chat/completions", headers=AUTH, timeout=10,
                             json={"model": "gpt-5-6-thinking", "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 404 and response.json()["error"]["code"] == "model_not_found"
    fake.models_status = None
    off = make_server(upstream_models={"list": False})
    names = [m["id"] for m in requests.get(off.url + "/v1/models", headers=AUTH, timeout=10).json()["data"]]
    assert "gpt-5-6-thinking" not in names and "gpt-4o" in names
