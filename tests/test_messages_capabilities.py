"""/v1/messages and the upstream's capabilities (issue 21 items 2 and 5), against the app in this process
and the fake upstream: the web_search server tool on the upstream's own search, answered with
Anthropic's server_tool_use / web_search_tool_result blocks and cited text (platform-spec.md §6.8), its
blocks sent back, and thinking / output_config.effort as the upstream's thinking_effort (platform-spec.md
§3.5, §6.6; the fake refuses a wrong effort as the upstream does, tests/fake_capabilities.py)."""
from __future__ import annotations

import base64
import json

import pytest

from tests.fake_upstream import source_url
from tests.test_messages_app import assert_anthropic_error, assert_stream_rules, body, conversations, events, post

CITED = "\ue200cite\ue202turn0search0\ue201"
ANSWER = f"!pieces 3\nBased on the results:\nLisbon opened a solar library today {CITED}. It runs on sun."
QUERY = "do otters hold hands"          # what the fake's web.run call searches
SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
PAGE = {"type": "web_search_result", "url": source_url("turn0search0"), "title": "Otters", "page_age": None}
CITATION = {"type": "web_search_result_location", "cited_text": "…", "url": source_url("turn0search0"),
            "title": "Source 0search0"}


def without_opaque(block: dict) -> dict:
    """A block without its random id and its opaque fields (they are checked on their own)."""
    out = {k: v for k, v in block.items() if k not in ("id", "tool_use_id")}
    if isinstance(out.get("content"), list):
        out["content"] = [{k: v for k, v in page.items() if k != "encrypted_content"} for page in out["content"]]
    if out.get("citations"):
        out["citations"] = [{k: v for k, v in c.items() if k != "encrypted_index"} for c in out["citations"]]
    return out


def streamed_blocks(stream) -> list[dict]:
    """The content blocks a client assembles from the events (as the SDKs accumulate them)."""
    blocks: list[dict] = []
    partial: dict[int, str] = {}
    for name, payload in stream:
        if name == "content_block_start":
            blocks.append(dict(payload["content_block"]))
        elif name == "content_block_delta":
            block, delta = blocks[payload["index"]], payload["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "citations_delta":
                block.setdefault("citations", []).append(delta["citation"])
            elif delta["type"] == "input_json_delta":
                partial[payload["index"]] = partial.get(payload["index"], "") + delta["partial_json"]
        elif name == "content_block_stop" and payload["index"] in partial:
            blocks[payload["index"]]["input"] = json.loads(partial[payload["index"]])
    return blocks


# ------------------------------------------------------------------ web search

def test_a_search_answers_with_anthropics_blocks_and_cited_text(web, fake):
    message = post(web, body(ANSWER, tools=[SEARCH])).get_json()
    call, result, before, claim, after = message["content"]
    assert call == {"type": "server_tool_use", "id": call["id"], "name": "web_search", "input": {"query": QUERY}}
    assert call["id"].startswith("srvtoolu_") and result["tool_use_id"] == call["id"]
    assert without_opaque(result) == {"type": "web_search_tool_result", "content": [PAGE]}
    assert base64.b64decode(result["content"][0]["encrypted_content"]) == b"pandora_v1:..."   # the page's snippet
    assert before == {"type": "text", "text": "Based on the results:\n"}
    # The claim the upstream's mark ends, its citation first (as recorded), no link in the text.
    assert list(claim) == ["citations", "type", "text"]
    assert without_opaque(claim) == {"citations": [CITATION], "type": "text",
                                     "text": "Lisbon opened a solar library today."}
    assert after == {"type": "text", "text": " It runs on sun."}
    assert message["usage"]["server_tool_use"] == {"web_search_requests": 1, "web_fetch_requests": 0}
    assert message["stop_reason"] == "end_turn"
    sent = conversations(fake)[-1].json
    assert sent["system_hints"] == ["search"] and sent["messages"][-1]["metadata"]["system_hints"] == ["search"]
    assert "force_use_search" not in sent           # listed, not forced: the model decides


def test_the_stream_carries_the_same_blocks_as_anthropic_streams_them(web, fake):
    payload = body(ANSWER, tools=[SEARCH])
    message = post(web, payload).get_json()
    stream = events(post(web, {**payload, "stream": True}))
    assert_stream_rules(stream)
    starts = [p["content_block"] for n, p in stream if n == "content_block_start"]
    assert starts[0] == {"type": "server_tool_use", "id": starts[0]["id"], "name": "web_search", "input": {}}
    assert starts[1]["type"] == "web_search_tool_result" and starts[1]["content"][0]["url"] == PAGE["url"]
    assert starts[3] == {"citations": [], "type": "text", "text": ""} and starts[2] == {"type": "text", "text": ""}
    deltas = [p["delta"]["type"] for n, p in stream if n == "content_block_delta" and p["index"] == 3]
    assert deltas[0] == "citations_delta" and set(deltas[1:]) == {"text_delta"}
    json_deltas = [p["delta"]["partial_json"] for n, p in stream if n == "content_block_delta" and p["index"] == 0]
    assert json_deltas[0] == ""
    # The result block is whole in its start: start and stop, nothing between.
    assert [n for n, p in stream if p.get("index") == 1] == ["content_block_start", "content_block_stop"]
    assert [without_opaque(b) for b in streamed_blocks(stream)] == [without_opaque(b) for b in message["content"]]
    assert stream[-2][1]["usage"]["server_tool_use"] == {"web_search_requests": 1, "web_fetch_requests": 0}
    assert "server_tool_use" not in stream[0][1]["message"]["usage"]


@pytest.mark.parametrize("tools, choice", [
    ([SEARCH], {"type": "tool", "name": "web_search"}),
    ([SEARCH], {"type": "any"}),
    ([{"type": "web_search_20260318", "name": "web_search"}, {
        "name": "get_weather", "input_schema": {"type": "object"}}], {"type": "tool", "name": "web_search"}),
])
def test_a_tool_choice_naming_the_search_forces_it(web, fake, tools, choice):
    message = post(web, body(ANSWER, tools=tools, tool_choice=choice)).get_json()
    assert [b["type"] for b in message["content"]][:2] == ["server_tool_use", "web_search_tool_result"]
    sent = conversations(fake)[-1].json
    assert sent["force_use_search"] is True and sent["client_reported_search_source"] == \
        "conversation_composer_web_icon"


def test_the_users_location_is_a_prompt_line(web, fake):
    place = {"type": "approximate", "city": "Lisbon", "country": "PT", "timezone": "Europe/Lisbon"}
    post(web, body(ANSWER, tools=[{**SEARCH, "user_location": place}]))
    texts = [m["content"]["parts"][0] for m in conversations(fake)[-1].json["messages"]
             if m["author"]["role"] == "system"]
    assert "The user's approximate location: Lisbon, PT (time zone Europe/Lisbon)." in texts


def test_without_the_tool_no_search_block_and_none_searches(web, fake):
    plain = post(web, body(f"!search\nLisbon opened a library {CITED}.")).get_json()  # the upstream searched anyway
    assert plain["content"] == [{"type": "text", "text": f"Lisbon opened a library [[1]({source_url('turn0search0')})]."}]
    assert "server_tool_use" not in plain["usage"]
    refused = post(web, body(ANSWER, tools=[SEARCH], tool_choice={"type": "none"})).get_json()
    assert [b["type"] for b in refused["content"]] == ["text"]
    assert not {"system_hints", "force_use_search"} & set(conversations(fake)[-1].json)


def test_search_blocks_sent_back_are_text_for_the_upstream(web, fake):
    payload = body(ANSWER, tools=[SEARCH])
    first = post(web, payload).get_json()
    follow_up = {**payload, "tools": [], "messages": payload["messages"] + [
        {"role": "assistant", "content": first["content"]}, {"role": "user", "content": "And Porto?"}]}
    answer = post(web, follow_up).get_json()
    assert answer["content"] == [{"type": "text", "text": "And Porto?"}]
    sent = conversations(fake)[-1].json
    assert "system_hints" not in sent                  # sent back, never searched again
    replayed = [m["content"]["parts"][0] for m in sent["messages"] if m["author"]["role"] == "assistant"]
    assert replayed == [f"[searched: {QUERY}]\n\n[search results]\n- Otters ({PAGE['url']}): ...\n\n"
                        "Based on the results:\nLisbon opened a solar library today. It runs on sun."]


def test_a_bad_web_search_tool_is_anthropics_400(web, fake):
    assert_anthropic_error(post(web, body(tools=[{**SEARCH, "max_uses": 0}])), 400, "invalid_request_error",
                           "tools.0.web_search_20250305.max_uses: Input should be greater than 0")
    assert_anthropic_error(post(web, body(tools=[{"type": "web_fetch_20250910", "name": "web_fetch"}])), 400,
                           "invalid_request_error")
    assert fake.requests == []


# ------------------------------------------------------------------ effort

@pytest.fixture
def efforts(make_app):
    """Claude names on slugs of the fake's model list: one with three efforts, one with two, one without."""
    return make_app(anthropic={"models": {"claude-opus-5-5": "gpt-5-6-thinking", "claude-sonnet-5-5": "gpt-5-thinking",
                                          "claude-haiku-4-5": "gpt-4o"}}).test_client()


@pytest.mark.parametrize("fields, sent", [
    ({"thinking": {"type": "enabled", "budget_tokens": 2048}, "max_tokens": 4096}, "standard"),
    ({"thinking": {"type": "enabled", "budget_tokens": 8000}, "max_tokens": 9000}, "extended"),
    ({"thinking": {"type": "enabled", "budget_tokens": 32000}, "max_tokens": 64000}, "max"),
    ({"thinking": {"type": "adaptive", "display": "omitted"}}, "standard"),
    ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}, "extended"),
    ({"thinking": {"type": "enabled", "budget_tokens": 32000}, "max_tokens": 64000,
      "output_config": {"effort": "low"}}, "standard"),                  # output_config.effort wins
    ({"output_config": {"effort": "xhigh"}}, "max"),
    ({"thinking": {"type": "disabled"}}, None),
    ({}, None),
])
def test_thinking_and_effort_reach_the_upstream_in_its_own_words(efforts, fake, fields, sent):
    for stream in (False, True):
        response = post(efforts, body("hi", **{**fields, "stream": stream}))
        assert response.status_code == 200        # the fake refuses a body with an effort it cannot take
        record = conversations(fake)[-1].json
        assert record["model"] == "gpt-5-6-thinking" and record.get("thinking_effort") == sent


def test_an_effort_becomes_the_nearest_the_slug_takes_and_none_without_reasoning(efforts, fake):
    post(efforts, body("hi", model="claude-sonnet-5-5", output_config={"effort": "max"}))
    assert conversations(fake)[-1].json["thinking_effort"] == "extended"     # gpt-5-thinking has no "max"
    for fields in ({"output_config": {"effort": "max"}}, {"thinking": {"type": "enabled", "budget_tokens": 2048},
                                                          "max_tokens": 4096}):
        message = post(efforts, body("hi", model="claude-haiku-4-5", **fields)).get_json()
        assert message["content"][0]["type"] == "text"
        assert conversations(fake)[-1].json["model"] == "gpt-4o" and "thinking_effort" not in conversations(fake)[-1].json
    # The default table maps every Claude name to "auto", which does not reason: no effort, as before.
    assert post(efforts, body("hi", model="claude-sonnet-4-6", output_config={"effort": "high"})).status_code == 200
    assert "thinking_effort" not in conversations(fake)[-1].json


def test_a_bad_effort_is_anthropics_400(efforts, fake):
    assert_anthropic_error(post(efforts, body(output_config={"effort": "extreme"})), 400, "invalid_request_error",
                           "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'")
    assert fake.requests == []
