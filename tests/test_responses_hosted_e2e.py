"""Hosted tools on /v1/responses end to end (issue 20 items 2-4): web_search, image_generation and
code_interpreter through openai-python (create and the stream helper), raw SSE against every client's
rules, a second turn that sends the hosted items back, and the OpenAI Agents SDK's hosted tools over two
turns; gunicorn in front of the fake upstream's search, image and python turns."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import openai
import pytest
import requests

from tests.conftest import ACCESS_TOKEN, Server, base_config, node_scenarios, npm_project
from tests.fake_capabilities import PYTHON_CHART, PYTHON_CODE, PYTHON_STDOUT
from tests.fake_upstream import DALLE_PROMPT, IMAGE_LIMIT, blob_bytes, sediment_file, source_url
from tests.responses_checks import assert_wire_rules, codex_replay, parse_sse, stream_state

AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
CITED = "\ue200cite\ue202turn0search0\ue201"
SEARCHED = f"!pieces 3\nLisbon opened a solar library today {CITED}."
ALT = f"([Source 0search0]({source_url('turn0search0')}))"
SEARCH_ANSWER = f"Lisbon opened a solar library today {ALT}."
QUERY = "do otters hold hands"       # what the fake's web.run call searches
WEB = [{"type": "web_search", "search_context_size": "medium", "user_location": {"type": "approximate",
                                                                                "country": "US"}}]
IMAGE = [{"type": "image_generation", "size": "1024x1024", "quality": "low", "output_format": "png",
          "partial_images": 1}]
CODE = [{"type": "code_interpreter", "container": {"type": "auto"}}]
PYTHON_ANSWER = "10! = 3628800. Saved it to [fact.txt](sandbox:/mnt/data/fact.txt)."


@pytest.fixture(scope="module")
def hosted_server(upstream, tmp_path_factory):
    """A server that polls a late image quickly."""
    srv = Server(tmp_path_factory.mktemp("hosted"), base_config(upstream.url, async_poll_seconds=0.05)).wait_ready()
    yield srv
    srv.stop()


@pytest.fixture
def sdk(hosted_server, fake):
    return openai.OpenAI(base_url=hosted_server.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0, timeout=60)


def conversations(fake):
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/backend-api/conversation")]


def respond(sdk, stream, **body):
    """The Response, with create or with the stream helper (whose state checks every event)."""
    if not stream:
        return sdk.responses.create(model="gpt-4o", **body), []
    kinds = []
    with sdk.responses.stream(model="gpt-4o", **body) as events:
        for event in events:
            kinds.append(event.type)
        return events.get_final_response(), kinds


def raw_events(srv, **body) -> list[tuple[str, dict]]:
    response = requests.post(srv.url + "/v1/responses", headers=AUTH, timeout=60,
                             json={"model": "gpt-4o", "stream": True, **body})
    assert response.status_code == 200, response.text
    return parse_sse(response.content)


# ------------------------------------------------------------------ web_search

@pytest.mark.parametrize("stream", [False, True])
def test_web_search_gives_its_call_and_cited_text(sdk, fake, stream):
    response, kinds = respond(sdk, stream, input=SEARCHED, tools=WEB, include=["web_search_call.action.sources"])
    call, message = response.output
    assert (call.type, call.status, call.id[:3]) == ("web_search_call", "completed", "ws_")
    assert call.action.type == "search" and call.action.query == QUERY
    assert [s.url for s in call.action.sources] == [source_url("turn0search0")]
    assert response.output_text == SEARCH_ANSWER
    [cited] = message.content[0].annotations
    assert (cited.type, cited.title, cited.url) == ("url_citation", "Source 0search0", source_url("turn0search0"))
    assert SEARCH_ANSWER[cited.start_index:cited.end_index] == ALT
    assert response.tools[0].type == "web_search" and response.tools[0].user_location.country == "US"
    if stream:
        assert kinds[2:6] == ["response.output_item.added", "response.web_search_call.in_progress",
                              "response.web_search_call.searching", "response.web_search_call.completed"]
        assert "response.output_text.annotation.added" in kinds
    sent = conversations(fake)[-1].json
    assert sent["system_hints"] == ["search"] and sent["messages"][-1]["metadata"]["system_hints"] == ["search"]
    assert "force_use_search" not in sent         # listed, not forced: the model decides


def test_sources_only_when_included_and_forcing_forces(sdk, fake):
    response = sdk.responses.create(model="gpt-4o", input=SEARCHED, tools=[{"type": "web_search_preview"}],
                                    tool_choice={"type": "web_search_preview"})
    assert response.output[0].action.sources is None and response.output[0].action.query == QUERY
    assert conversations(fake)[-1].json["force_use_search"] is True


def test_the_raw_search_stream_passes_every_clients_rules(hosted_server, fake):
    events = raw_events(hosted_server, input=SEARCHED, tools=WEB, include=["web_search_call.action.sources"])
    assert_wire_rules(events)
    stream_state(events)
    codex_replay(events)
    names = [name for name, _ in events]
    added = names.index("response.output_text.annotation.added")
    deltas = [data["delta"] for name, data in events[:added] if name == "response.output_text.delta"]
    # right after the delta that completes the link
    assert ALT in "".join(deltas) and ALT not in "".join(deltas[:-1]) and names[added - 1].endswith(".delta")
    assert events[2][1]["item"] == {"id": events[2][1]["item"]["id"], "type": "web_search_call",
                                    "status": "in_progress"}


def test_no_hosted_item_for_a_tool_the_request_did_not_list(sdk, fake):
    response = sdk.responses.create(model="gpt-4o", input=f"!search\n{SEARCHED}")
    assert [item.type for item in response.output] == ["message"]
    assert response.output_text == f"Lisbon opened a solar library today [[1]({source_url('turn0search0')})]."


# ------------------------------------------------------------------ image_generation

@pytest.mark.parametrize("stream", [False, True])
def test_image_generation_gives_the_pictures_bytes(sdk, fake, stream):
    events = []
    if stream:
        with sdk.responses.stream(model="gpt-4o", input="!gpt_image\nHere is your otter.", tools=IMAGE) as sent:
            for event in sent:
                events.append(event)
            response = sent.get_final_response()
    else:
        response = sdk.responses.create(model="gpt-4o", input="!gpt_image\nHere is your otter.", tools=IMAGE)
    image, message = response.output
    assert (image.type, image.status, image.id[:3]) == ("image_generation_call", "completed", "ig_")
    assert base64.b64decode(image.result) == blob_bytes(sediment_file())
    assert (image.revised_prompt, image.size, image.output_format, image.quality, image.background) == \
        (DALLE_PROMPT, "1024x1024", "png", "low", "opaque")
    assert response.output_text == "Here is your otter."
    if stream:
        [partial] = [e for e in events if e.type == "response.image_generation_call.partial_image"]
        assert base64.b64decode(partial.partial_image_b64) == blob_bytes(sediment_file(partial=True))
        assert partial.partial_image_index == 0 and partial.item_id == image.id
    sent = conversations(fake)[-1].json
    assert sent["system_hints"] == ["picture_v2"] and sent["messages"][-1]["metadata"]["system_hints"] == ["picture_v2"]
    assert "1024x1024" in json.dumps(sent["messages"][0])     # the size the upstream has no field for


def test_a_picture_finished_only_after_the_stream_is_polled_for(hosted_server, fake):
    events = raw_events(hosted_server, input="!image_async\nHere is your otter.", tools=[{"type": "image_generation"}])
    assert_wire_rules(events)
    codex_replay(events)
    final = events[-1][1]["response"]
    assert base64.b64decode(final["output"][0]["result"]) == blob_bytes(sediment_file())
    assert not [name for name, _ in events if name.endswith("partial_image")]     # none asked for
    assert [r for r in fake.requests if r.method == "GET" and "/backend-api/conversation/" in r.path]


def test_the_image_limit_fails_the_response_and_a_refusal_is_only_text(sdk, hosted_server, fake):
    events = raw_events(hosted_server, input="!image_limit\nSorry.", tools=IMAGE)
    assert events[-1][0] == "response.failed"
    error = events[-1][1]["response"]["error"]
    assert error == {"code": "rate_limit_exceeded", "message": IMAGE_LIMIT}
    assert not events[-1][1]["response"]["output"]
    with pytest.raises(openai.RateLimitError):
        sdk.responses.create(model="gpt-4o", input="!image_limit\nSorry.", tools=IMAGE)
    refused = sdk.responses.create(model="gpt-4o", input="I can't draw that.", tools=IMAGE)
    assert [item.type for item in refused.output] == ["message"] and refused.output_text == "I can't draw that."


# ------------------------------------------------------------------ code_interpreter

@pytest.mark.parametrize("stream", [False, True])
def test_code_interpreter_gives_code_logs_charts_and_file_citations(sdk, fake, stream):
    response, kinds = respond(sdk, stream, input=f"!python\n{PYTHON_ANSWER}", tools=CODE,
                              include=["code_interpreter_call.outputs"])
    call, message = response.output
    assert (call.type, call.status, call.code) == ("code_interpreter_call", "completed", PYTHON_CODE)
    assert call.container_id.startswith("cntr_") and call.id.startswith("ci_")
    logs, chart = call.outputs
    assert (logs.type, logs.logs) == ("logs", PYTHON_STDOUT)
    assert chart.type == "image" and requests.get(chart.url, timeout=10).content == blob_bytes(PYTHON_CHART)
    text = response.output_text
    assert text.startswith("10! = 3628800. Saved it to [fact.txt](") and "sandbox:" not in text
    [cited] = message.content[0].annotations
    assert (cited.type, cited.filename, cited.container_id) == ("container_file_citation", "fact.txt",
                                                               call.container_id)
    link = text[cited.start_index:cited.end_index]
    assert link.startswith("[fact.txt](") and link.endswith(")") and cited.file_id.startswith("cfile_")
    assert requests.get(link[len("[fact.txt]("):-1], timeout=10).content == blob_bytes("/mnt/data/fact.txt")
    if stream:
        assert "response.code_interpreter_call_code.done" in kinds and "response.code_interpreter_call.interpreting" in kinds
    steering = conversations(fake)[-1].json["messages"][0]
    assert steering["author"]["role"] == "system" and "python" in steering["content"]["parts"][0]


def test_outputs_only_when_included_and_the_raw_stream_passes_every_client(hosted_server, sdk, fake):
    response = sdk.responses.create(model="gpt-4o", input="!python code_interpreter\nDone.", tools=CODE)
    assert response.output[0].outputs is None and response.output[0].code == PYTHON_CODE
    events = raw_events(hosted_server, input="!python\nDone.", tools=CODE, include=["code_interpreter_call.outputs"])
    assert_wire_rules(events)
    stream_state(events)
    codex_replay(events)
    added = events[2][1]["item"]
    assert (added["code"], added["outputs"], added["status"]) == ("", [], "in_progress")


# ------------------------------------------------------------------ the next turn

def test_hosted_items_sent_back_are_taken_as_text_never_as_bytes(sdk, fake):
    first = sdk.responses.create(model="gpt-4o", input="!gpt_image\nHere is your otter.", tools=IMAGE)
    searched = sdk.responses.create(model="gpt-4o", input=SEARCHED, tools=WEB)
    coded = sdk.responses.create(model="gpt-4o", input="!python\nDone.", tools=CODE,
                                 include=["code_interpreter_call.outputs"])
    replay = [item.model_dump(exclude_none=True) for item in first.output + searched.output + coded.output]
    follow = sdk.responses.create(model="gpt-4o", input=[*replay, {"role": "user", "content": "And now?"}],
                                  tools=IMAGE + WEB + CODE)
    assert follow.output_text == "And now?"
    body = conversations(fake)[-1].body.decode()
    assert first.output[0].result[:40] not in body                     # the picture's bytes never go up
    texts = [m["content"]["parts"][0] for m in json.loads(body)["messages"] if m["author"]["role"] == "assistant"]
    assert f"[generated an image: {DALLE_PROMPT}]" in texts and f"[searched: {QUERY}]" in texts
    assert any(t.startswith("[ran python]") and PYTHON_STDOUT.strip() in t for t in texts)
    # By reference (the AI SDK with store on): the stored items resolve.
    refs = [{"type": "item_reference", "id": i.id} for i in (first.output[0], searched.output[0], coded.output[0])]
    again = sdk.responses.create(model="gpt-4o", input=[*refs, {"role": "user", "content": "Once more."}])
    assert again.output_text == "Once more."
    body = conversations(fake)[-1].body.decode()
    assert first.output[0].result[:40] not in body and f"[searched: {QUERY}]" in body
    listed = sdk.responses.input_items.list(again.id, order="asc")
    assert [item.type for item in listed.data][:3] == ["image_generation_call", "web_search_call",
                                                        "code_interpreter_call"]


# ------------------------------------------------------------------ the Agents SDK

def test_the_agents_sdk_runs_its_hosted_tools_over_two_turns(hosted_server, fake):
    from agents import (
        Agent,
        CodeInterpreterTool,
        ImageGenerationTool,
        Runner,
        WebSearchTool,
        set_default_openai_client,
        set_tracing_disabled,
    )
    from agents.items import ToolCallItem
    from openai import AsyncOpenAI

    set_tracing_disabled(True)
    set_default_openai_client(AsyncOpenAI(base_url=hosted_server.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0))
    tools = [WebSearchTool(), ImageGenerationTool(tool_config={"type": "image_generation", "quality": "low"}),
             CodeInterpreterTool(tool_config={"type": "code_interpreter", "container": {"type": "auto"}})]
    agent = Agent(name="helper", instructions="Help.", tools=tools, model="gpt-4o")
    result = Runner.run_sync(agent, f"!gpt_image\n{SEARCHED}")
    assert result.final_output == SEARCH_ANSWER
    calls = [item.raw_item for item in result.new_items if isinstance(item, ToolCallItem)]
    assert [call.type for call in calls] == ["web_search_call", "image_generation_call"]
    assert base64.b64decode(calls[1].result) == blob_bytes(sediment_file())
    sent = conversations(fake)[-1].json
    assert sent["system_hints"] == ["search", "picture_v2"]
    assert "python tool" in json.dumps(sent["messages"])        # code_interpreter: steered in the prompt

    second = Runner.run_sync(agent, result.to_input_list() + [{"role": "user", "content": "!python\nDone."}])
    assert second.final_output == "Done."
    calls = [item.raw_item for item in second.new_items if isinstance(item, ToolCallItem)]
    # (the search hint goes with every turn the tool is listed on: the fake searches each time)
    assert [call.type for call in calls] == ["web_search_call", "code_interpreter_call"]
    assert calls[1].code == PYTHON_CODE
    body = conversations(fake)[-1].body.decode()
    assert f"[searched: {QUERY}]" in body and f"[generated an image: {DALLE_PROMPT}]" in body
    assert base64.b64encode(blob_bytes(sediment_file())).decode()[:40] not in body


# ------------------------------------------------------------------ the Vercel AI SDK

AI_SDK = Path(__file__).parent / "ai_sdk_responses"


@pytest.fixture(scope="module")
def ai_sdk():
    return npm_project(AI_SDK, AI_SDK / "node_modules" / "ai", "the Vercel AI SDK test")


def test_the_ai_sdks_hosted_tools_pass_its_schemas(ai_sdk, hosted_server, fake):
    ran = {s["name"]: s for s in node_scenarios(ai_sdk, hosted_server.url + "/v1", "hosted.mjs", env={
        "SEARCH_PROMPT": SEARCHED, "IMAGE_PROMPT": "!gpt_image\nHere is your otter.",
        "PYTHON_PROMPT": f"!python\n{PYTHON_ANSWER}"})}
    for name in ("search", "image", "code"):
        for kind in ("generateText", "streamText"):
            s = ran[f"{name}-{kind}"]
            assert s["finishReason"] == "stop", s          # a chunk failing its schema ends in "error"
            assert not [p for p in s.get("parts", []) if p.startswith("error")], s
    for kind in ("generateText", "streamText"):
        search = ran[f"search-{kind}"]
        assert search["text"] == SEARCH_ANSWER
        assert search["request"]["include"] == ["web_search_call.action.sources"]
        [call] = search["toolCalls"]
        assert (call["name"], call["providerExecuted"]) == ("web_search", True) and call["id"].startswith("ws_")
        assert search["toolResults"][0]["output"]["action"]["query"] == QUERY
        assert {"type": "url", "url": source_url("turn0search0"), "title": "Source 0search0", "filename": None} \
            in search["sources"]
        image = ran[f"image-{kind}"]
        assert image["text"] == "Here is your otter."
        results = [base64.b64decode(r["output"]["result"]) for r in image["toolResults"]]
        assert {r["name"] for r in image["toolResults"]} == {"image_generation"}
        # streamText: the partial image first, as a preliminary result; then the picture
        assert results == ([blob_bytes(sediment_file(partial=True))] if kind == "streamText" else []) \
            + [blob_bytes(sediment_file())]
        code = ran[f"code-{kind}"]
        assert code["request"]["include"] == ["code_interpreter_call.outputs"]
        [call] = code["toolCalls"]
        assert call["name"] == "code_interpreter" and call["input"]["code"] == PYTHON_CODE
        outputs = code["toolResults"][0]["output"]["outputs"]
        assert outputs[0] == {"type": "logs", "logs": PYTHON_STDOUT} and outputs[1]["type"] == "image"
        assert [s["filename"] for s in code["sources"] if s["type"] == "document"] == ["fact.txt"]
    assert "tool-call" in ran["code-streamText"]["parts"]                      # emitted at code.done
    second = ran["search-second-turn"]
    kinds = [item.get("type", "message") for item in second["request"]["input"]]
    assert "item_reference" in kinds and second["text"] == "And now?"
    reference = next(i for i in second["request"]["input"] if i.get("type") == "item_reference")
    assert reference["id"].startswith(("ws_", "msg_"))
