"""Hosted tools on /v1/responses: the request (checked, echoed, what it asks upstream), hosted items sent
back, and the encoder's items and events (platform-spec §0.2, §1)."""
from __future__ import annotations

import base64

import pytest

from pandora_v1.errors import APIError
from pandora_v1.responses import objects
from pandora_v1.responses.events import ResponseEncoder
from pandora_v1.responses.request import parse_responses_request
from pandora_v1.responses.state import ResponseStore
from pandora_v1.runtime.store import SQLiteStore
from pandora_v1.translate.hosted import CODE, DELTA, DONE, IMAGE, PARTIAL, RUN, SEARCH, START, HostedStep
from tests.responses_checks import assert_wire_rules, codex_replay, parse_sse, stream_state

US = {"type": "approximate", "city": None, "country": "US", "region": None, "timezone": None}


@pytest.fixture
def history(tmp_path):
    backend = SQLiteStore(tmp_path / "store.sqlite3")
    yield ResponseStore(backend, ttl=60)
    backend.close()


def parse(history, **body):
    return parse_responses_request({"model": "gpt-4o", "input": "hi", **body}, history)


def error(history, **body) -> APIError:
    with pytest.raises(APIError) as caught:
        parse(history, **body)
    assert caught.value.status == 400
    return caught.value


# ------------------------------------------------------------------ the request

def test_what_each_client_sends_is_echoed_as_openai_normalises_it(history):
    sent = [
        {"type": "web_search", "search_context_size": "medium", "user_location": {"type": "approximate",
                                                                                  "country": "GB"}},  # AI SDK
        {"type": "image_generation", "partial_images": 1, "quality": "low", "output_format": "png",
         "size": "1024x1024"},
        {"type": "code_interpreter", "container": {"type": "auto"}},
        {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    ]
    req = parse(history, tools=sent, include=["web_search_call.action.sources", "code_interpreter_call.outputs"])
    assert req.echo["tools"] == [
        {"type": "web_search", "filters": None, "search_context_size": "medium",
         "user_location": {"type": "approximate", "city": None, "country": "GB", "region": None, "timezone": None}},
        {"type": "image_generation", "background": "auto", "moderation": "auto", "n": 1, "output_compression": 100,
         "output_format": "png", "partial_images": 1, "quality": "low", "size": "1024x1024"},
        {"type": "code_interpreter", "container": {"type": "auto"}},
        sent[3]]
    assert set(req.hosted) == {SEARCH, IMAGE, CODE}
    assert req.include == {"web_search_call.action.sources", "code_interpreter_call.outputs"}
    assert [t.name for t in req.chat.tools.tools] == ["get_weather"]
    hosted = req.chat.hosted
    assert (hosted.search, hosted.force_search, hosted.image, hosted.code) == (True, False, True, True)
    assert hosted.system_hints() == ("search", "picture_v2")
    assert "python tool" in hosted.instructions() and "GB" in hosted.instructions()
    assert "1024x1024" in hosted.instructions()


def test_agents_sdk_nulls_codex_strings_and_preview_tools_are_accepted(history):
    agents = parse(history, tools=[{"type": "web_search", "filters": None, "user_location": None,
                                    "search_context_size": "medium"}], include=[])
    assert agents.echo["tools"] == [{"type": "web_search", "filters": None, "search_context_size": "medium",
                                     "user_location": US}]
    codex = parse(history, tools=[{"type": "web_search", "external_web_access": "indexed",
                                   "filters": {"allowed_domains": ["a.example"]}}])
    assert codex.echo["tools"][0]["external_web_access"] == "indexed"
    preview = parse(history, tools=[{"type": "web_search_preview_2025_03_11"}])
    assert preview.echo["tools"] == [{"type": "web_search_preview_2025_03_11", "search_context_size": "medium",
                                      "user_location": US}]
    assert preview.chat.hosted.search


@pytest.mark.parametrize("tool, param, code", [
    ({"type": "web_search", "search_context_size": "huge"}, "tools[0].search_context_size", "invalid_value"),
    ({"type": "web_search", "search_context_size": 3}, "tools[0].search_context_size", "invalid_type"),
    ({"type": "web_search", "user_location": "London"}, "tools[0].user_location", "invalid_type"),
    ({"type": "web_search", "user_location": {"type": "exact"}}, "tools[0].user_location.type", "invalid_value"),
    ({"type": "web_search", "user_location": {"city": 5}}, "tools[0].user_location.city", "invalid_type"),
    ({"type": "web_search", "filters": {"allowed_domains": "a.example"}}, "tools[0].filters.allowed_domains",
     "invalid_type"),
    ({"type": "web_search", "external_web_access": 1}, "tools[0].external_web_access", "invalid_type"),
    ({"type": "web_search_preview", "user_location": {"country": "GB"}}, "tools[0].user_location.type",
     "missing_required_parameter"),
    ({"type": "image_generation", "quality": "ultra"}, "tools[0].quality", "invalid_value"),
    ({"type": "image_generation", "background": True}, "tools[0].background", "invalid_type"),
    ({"type": "image_generation", "output_format": "bmp"}, "tools[0].output_format", "invalid_value"),
    ({"type": "image_generation", "partial_images": 4}, "tools[0].partial_images", "integer_above_max_value"),
    ({"type": "image_generation", "partial_images": -1}, "tools[0].partial_images", "integer_below_min_value"),
    ({"type": "image_generation", "partial_images": "1"}, "tools[0].partial_images", "invalid_type"),
    ({"type": "image_generation", "output_compression": 101}, "tools[0].output_compression",
     "integer_above_max_value"),
    ({"type": "image_generation", "size": "big"}, "tools[0].size", "invalid_value"),
    ({"type": "image_generation", "moderation": "high"}, "tools[0].moderation", "invalid_value"),
    ({"type": "image_generation", "input_image_mask": "x"}, "tools[0].input_image_mask", "invalid_type"),
    ({"type": "code_interpreter"}, "tools[0].container", "missing_required_parameter"),
    ({"type": "code_interpreter", "container": 5}, "tools[0].container", "invalid_type"),
    ({"type": "code_interpreter", "container": {}}, "tools[0].container.type", "missing_required_parameter"),
    ({"type": "code_interpreter", "container": {"type": "big"}}, "tools[0].container.type", "invalid_value"),
    ({"type": "code_interpreter", "container": {"type": "auto", "memory_limit": "2g"}},
     "tools[0].container.memory_limit", "invalid_value"),
    ({"type": "code_interpreter", "container": {"type": "auto", "file_ids": "f"}}, "tools[0].container.file_ids",
     "invalid_type"),
])
def test_bad_hosted_tool_fields_are_openais_400_naming_them(history, tool, param, code):
    exc = error(history, tools=[tool])
    assert (exc.param, exc.code) == (param, code), exc.message


@pytest.mark.parametrize("body, param, code", [
    ({"reasoning": {"effort": "extreme"}}, "reasoning.effort", "invalid_value"),
    ({"reasoning": {"effort": 5}}, "reasoning.effort", "invalid_type"),
    ({"reasoning": {"summary": "long"}}, "reasoning.summary", "invalid_value"),
    ({"reasoning": "high"}, "reasoning", "invalid_type"),
    ({"include": [5]}, "include[0]", "invalid_type"),
    ({"tools": [{"type": "file_search"}], "tool_choice": {"type": "file_search"}}, "tools[0].type",
     "unsupported_value"),
    ({"tool_choice": {"type": "mcp"}}, "tool_choice", "unsupported_value"),
])
def test_bad_reasoning_include_and_unserved_forcing_are_400s(history, body, param, code):
    exc = error(history, **body)
    assert (exc.param, exc.code) == (param, code), exc.message


def test_effort_goes_to_the_chat_request_and_is_echoed(history):
    req = parse(history, reasoning={"effort": "high", "summary": "detailed"})
    assert req.chat.effort == "high" and req.summary
    assert req.echo["reasoning"] == {"effort": "high", "summary": "detailed"}
    assert parse(history).chat.effort is None


def test_tool_choice_forces_a_hosted_tool(history):
    weather = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
    forced = parse(history, tools=[{"type": "web_search"}, weather], tool_choice={"type": "web_search"})
    assert forced.chat.hosted.force_search and forced.echo["tool_choice"] == {"type": "web_search"}
    assert forced.chat.tools.choice.mode == "auto"     # function tools are not what is forced
    # Forced without being listed (the Agents SDK's tool_choice="web_search" style): as if listed.
    implicit = parse(history, tool_choice={"type": "web_search_preview"})
    assert implicit.chat.hosted.force_search and [t["type"] for t in implicit.echo["tools"]] == ["web_search_preview"]
    code = parse(history, tools=[{"type": "code_interpreter", "container": "cntr_1"}],
                 tool_choice={"type": "code_interpreter"})
    assert code.chat.hosted.force_code and "Answer this request by writing and running" in \
        code.chat.hosted.instructions()
    required = parse(history, tools=[{"type": "web_search"}], tool_choice="required")
    assert required.chat.hosted.force_search


def test_hosted_items_sent_back_become_text_never_the_image_bytes(history):
    picture = base64.b64encode(b"\x89PNG" + b"x" * 3000).decode()
    req = parse(history, input=[
        {"role": "user", "content": "Draw and search."},
        {"id": "ws_1", "type": "web_search_call", "status": "completed",
         "action": {"type": "search", "query": "otters"}},
        {"id": "ig_1", "type": "image_generation_call", "status": "completed", "result": picture,
         "revised_prompt": "An otter", "background": "opaque", "output_format": "png", "quality": "low",
         "size": "1024x1024"},
        {"id": "ci_1", "type": "code_interpreter_call", "status": "completed", "code": "print(2)",
         "container_id": "cntr_1", "outputs": [{"type": "logs", "logs": "2\n"}]},
        {"role": "user", "content": "Again."}])
    texts = [(m.role, m.text) for m in req.chat.messages]
    assert texts == [("user", "Draw and search."), ("assistant", "[searched: otters]"),
                     ("assistant", "[generated an image: An otter]"),
                     ("assistant", "[ran python]\n```python\nprint(2)\n```\n[output]\n```\n2\n```"),
                     ("user", "Again.")]
    assert all(picture[:50] not in m.text for m in req.chat.messages)


def test_item_references_to_hosted_items_resolve_from_the_store(history):
    first = parse(history)
    start = objects.response(first)
    items = [objects.web_search_item("ws_abc", "completed", {"type": "search", "query": "otters"}),
             objects.image_generation_item("ig_abc", "completed", {"b64": "AAAA", "revised_prompt": "An otter"}),
             objects.code_interpreter_item("ci_abc", "completed", "print(1)", "cntr_1", None)]
    history.save(objects.finished(start, "completed", items, objects.usage(1, 1)), first.items)
    req = parse(history, input=[{"type": "item_reference", "id": i} for i in ("ws_abc", "ig_abc", "ci_abc")])
    assert [m.text for m in req.chat.messages] == ["[searched: otters]", "[generated an image: An otter]",
                                                   "[ran python]\n```python\nprint(1)\n```"]


# ------------------------------------------------------------------ the encoder

def encoder(history, stream=True, **body) -> ResponseEncoder:
    req = parse(history, stream=stream, **body)
    return ResponseEncoder(objects.response(req), req.summary, stream, req.hosted, req.include)


def run(enc: ResponseEncoder, parts, ending="completed") -> tuple[dict, list]:
    out = enc.started()
    for kind, value in parts:
        out += enc.text(value) if kind == "text" else enc.hosted(kind, value)
    final, tail = enc.completed(objects.usage(3, 4)) if ending == "completed" else \
        enc.failed("rate_limit_exceeded", "You've hit the limit.")
    return final, parse_sse(out + tail)


SEARCHED = [(SEARCH, HostedStep("c1", START)),
            (SEARCH, HostedStep("c1", DONE, data={"action": {"type": "search", "query": "otters"},
                                                  "sources": [{"type": "url", "url": "https://a.example/"}]})),
            ("text", "Otters float.")]
CODED = [(CODE, HostedStep("p", START)), (CODE, HostedStep("p", DELTA, "print(")),
         (CODE, HostedStep("p", DELTA, "1)")), (CODE, HostedStep("p", RUN, data={"code": "print(1)\n"})),
         (CODE, HostedStep("p", DONE, data={"code": "print(1)\n", "logs": "1\n", "images": ["http://m/c.png"]})),
         ("text", "One.")]
PICTURE = {"b64": "iVBORw0KGgo=", "output_format": "png", "background": "opaque", "size": "1024x1024",
           "revised_prompt": "A fox"}
DRAWN = [(IMAGE, HostedStep("t/g", START)), (IMAGE, HostedStep("t/g", PARTIAL, data={**PICTURE, "b64": "cHJl"})),
         (IMAGE, HostedStep("t/g", PARTIAL, data={**PICTURE, "b64": "cHJlMg=="})),
         (IMAGE, HostedStep("t/g", DONE, data=PICTURE)), ("text", "Here.")]

SEARCH_TOOL = {"tools": [{"type": "web_search"}], "include": ["web_search_call.action.sources"]}
CODE_TOOL = {"tools": [{"type": "code_interpreter", "container": {"type": "auto"}}],
             "include": ["code_interpreter_call.outputs"]}
IMAGE_TOOL = {"tools": [{"type": "image_generation", "partial_images": 1, "quality": "low"}]}


@pytest.mark.parametrize("parts, body, order", [
    (SEARCHED, SEARCH_TOOL, ["response.web_search_call.in_progress", "response.web_search_call.searching",
                             "response.web_search_call.completed"]),
    (CODED, CODE_TOOL, ["response.code_interpreter_call.in_progress", "response.code_interpreter_call_code.delta",
                        "response.code_interpreter_call_code.delta", "response.code_interpreter_call_code.delta",
                        "response.code_interpreter_call_code.done", "response.code_interpreter_call.interpreting",
                        "response.code_interpreter_call.completed"]),
    (DRAWN, IMAGE_TOOL, ["response.image_generation_call.in_progress", "response.image_generation_call.generating",
                         "response.image_generation_call.partial_image", "response.image_generation_call.completed"]),
])
def test_hosted_items_stream_in_the_recorded_order_and_pass_every_client(history, parts, body, order):
    final, events = run(encoder(history, **body), parts)
    assert_wire_rules(events)
    names = [name for name, _ in events]
    assert names[2] == "response.output_item.added" and names[3:3 + len(order)] == order
    assert names[3 + len(order)] == "response.output_item.done"
    response = stream_state(events)       # openai-python, every event validated by its model
    assert response.output[0].type == final["output"][0]["type"] and response.output[1].type == "message"
    codex_replay(events)
    done = events[3 + len(order)][1]["item"]
    assert done == final["output"][0]
    added = events[2][1]["item"]
    assert added["status"] == "in_progress" and added["id"] == done["id"]
    assert final["output"][1]["content"][0]["annotations"] == []


def test_the_done_items_as_openai_shapes_them(history):
    final, _ = run(encoder(history, **SEARCH_TOOL), SEARCHED)
    assert final["output"][0] == {"id": final["output"][0]["id"], "type": "web_search_call", "status": "completed",
                                  "action": {"type": "search", "query": "otters",
                                             "sources": [{"type": "url", "url": "https://a.example/"}]}}
    assert final["output"][0]["id"].startswith("ws_")
    final, _ = run(encoder(history, tools=SEARCH_TOOL["tools"]), SEARCHED)      # sources only when included
    assert final["output"][0]["action"] == {"type": "search", "query": "otters"}
    final, events = run(encoder(history, **CODE_TOOL), CODED)
    item = final["output"][0]
    assert item == {"id": item["id"], "type": "code_interpreter_call", "status": "completed", "code": "print(1)\n",
                    "container_id": item["container_id"],
                    "outputs": [{"type": "logs", "logs": "1\n"}, {"type": "image", "url": "http://m/c.png"}]}
    assert item["container_id"].startswith("cntr_") and item["id"].startswith("ci_")
    assert events[2][1]["item"] == {"id": item["id"], "type": "code_interpreter_call", "status": "in_progress",
                                    "code": "", "container_id": item["container_id"], "outputs": []}
    final, _ = run(encoder(history, tools=CODE_TOOL["tools"]), CODED)            # outputs only when included
    assert final["output"][0]["outputs"] is None
    final, events = run(encoder(history, **IMAGE_TOOL), DRAWN)
    item = final["output"][0]
    assert item == {"id": item["id"], "type": "image_generation_call", "status": "completed",
                    "background": "opaque", "output_format": "png", "quality": "low", "result": "iVBORw0KGgo=",
                    "revised_prompt": "A fox", "size": "1024x1024"}
    [partial] = [data for name, data in events if name.endswith("partial_image")]   # capped at partial_images
    assert (partial["partial_image_index"], partial["partial_image_b64"], partial["item_id"]) == \
        (0, "cHJl", item["id"])


def test_an_image_cut_off_by_a_failure_never_has_a_null_result(history):
    final, events = run(encoder(history, **IMAGE_TOOL), DRAWN[:2], ending="failed")
    item = final["output"][0]
    assert item["status"] == "failed" and item["result"] == "" and final["status"] == "failed"
    assert events[-1][0] == "response.failed" and final["error"]["code"] == "rate_limit_exceeded"
    assert_wire_rules(events)


def test_code_done_always_goes_out_even_when_the_code_never_finished(history):
    cut = [CODED[0], CODED[1], (CODE, HostedStep("p", DONE, data={"code": "print(", "logs": "", "images": []}))]
    _, events = run(encoder(history, **CODE_TOOL), cut)
    names = [name for name, _ in events]
    assert "response.code_interpreter_call_code.done" in names
    assert names.index("response.code_interpreter_call_code.done") < names.index("response.output_item.done")


def test_annotations_go_out_after_their_link_and_point_into_their_own_item(history):
    enc = encoder(history, **SEARCH_TOOL)
    first, link = "Before. ", "([a.example](https://a.example/))"
    links = []
    enc.annotate = lambda text: [a for a in links if a["url_citation"]["end_index"] <= len(text)]
    out = enc.started() + enc.text(first)
    for kind, value in SEARCHED[:2]:
        out += enc.hosted(kind, value)
    out += enc.text("Lisbon ")
    links.append({"type": "url_citation", "url_citation": {"url": "https://a.example/", "title": "A",
                                                           "start_index": len(first) + 7,
                                                           "end_index": len(first) + 7 + len(link)}})
    out += enc.text(link) + enc.announce() + enc.text(".")
    final, tail = enc.completed(objects.usage(1, 1))
    events = parse_sse(out + tail)
    assert_wire_rules(events)
    names = [name for name, _ in events]
    added = names.index("response.output_text.annotation.added")
    assert events[added - 1][1]["delta"] == link and events[added + 1][1]["delta"] == "."
    annotation = events[added][1]["annotation"]
    text = final["output"][2]["content"][0]["text"]
    assert text == "Lisbon " + link + "." and text[annotation["start_index"]:annotation["end_index"]] == link
    assert final["output"][2]["content"][0]["annotations"] == [annotation]
    assert final["output"][0]["content"][0]["annotations"] == []
    assert stream_state(events).output[2].content[0].annotations[0].title == "A"
