"""openai-node (the official TypeScript SDK) against pandora_v1: a Node script (tests/openai_node/run.mjs)
with the package pinned in tests/openai_node/package-lock.json, installed from the npm registry on first
use. Chat completions, the stream helpers, runTools, the Responses API, images with the seeds' dall-e-3
alias, models, and the errors the SDK turns into its own exception classes."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from tests.conftest import Server, base_config, node_scenarios, npm_project
from tests.fake_upstream import blob_bytes, dalle_file

HERE = Path(__file__).parent / "openai_node"
TEXT = "Hello there, friend."


@pytest.fixture(scope="module")
def scenarios(upstream, tmp_path_factory):
    npm_project(HERE, HERE / "node_modules" / "openai", "the openai-node test")
    upstream.reset()
    # The seeds' own alias: dall-e-3 names gpt-4-mobile, a text-only slug, and draws.
    srv = Server(tmp_path_factory.mktemp("openai_node"),
                 base_config(upstream.url, gpt_4_mobile_new_name="gpt-4-mobile,dall-e-3")).wait_ready()
    try:
        ran = node_scenarios(HERE, srv.url + "/v1")
        yield {s.pop("name"): s for s in ran}, srv, list(upstream.requests)
    finally:
        srv.stop()
        upstream.reset()


def test_chat_completions_create_and_stream(scenarios):
    ran, _, _ = scenarios
    create, stream, helper = ran["chat-create"], ran["chat-stream"], ran["chat-stream-helper"]
    assert re.fullmatch(r"chatcmpl-\w+", create["id"]) and create["object"] == "chat.completion"
    assert (create["text"], create["finish"]) == (TEXT, "stop")
    assert (stream["text"], stream["finish"], stream["ids"]) == (TEXT, "stop", 1)
    assert stream["usage"] == create["usage"] and create["usage"]["completion_tokens"] > 0
    assert (helper["text"], helper["deltas"], helper["finish"]) == (TEXT, TEXT, "stop")


@pytest.mark.parametrize("name", ["runTools", "runTools-stream"])
def test_run_tools_loops_to_the_final_answer(scenarios, name):
    ran, _, _ = scenarios
    result = ran[name]
    # user, assistant call, tool result, final answer: the SDK ran the tool once with parsed arguments
    assert result == {"text": "Result: sunny in Paris", "calls": ["Paris"], "messages": 4}, result


def test_responses_create_stream_and_a_tool_loop(scenarios):
    ran, _, _ = scenarios
    create, stream, loop = ran["responses-create"], ran["responses-stream"], ran["responses-tool-loop"]
    assert re.fullmatch(r"resp_\w+", create["id"]) and (create["status"], create["text"]) == ("completed", TEXT)
    assert create["usage"]["output_tokens"] > 0
    # The SDK's stream state accepted every event; it put the same text together as the deltas.
    assert (stream["text"], stream["deltas"], stream["status"]) == (TEXT, TEXT, "completed")
    assert stream["types"][:2] == ["response.created", "response.in_progress"]
    assert stream["types"][-1] == "response.completed" and "response.output_text.delta" in stream["types"]
    assert loop["call"]["name"] == "get_weather" and loop["call"]["city"] == "Paris"
    assert re.fullmatch(r"call_\w+", loop["call"]["id"]) and loop["text"] == "Result: sunny in Paris"
    # The second turn's input items, newest first, walked two per page by the SDK's auto-paging.
    assert loop["listed"] == ["function_call_output", "function_call", "message"]


def test_images_with_the_seeds_dall_e_3_alias(scenarios):
    ran, _, upstream_requests = scenarios
    image = ran["images-dall-e-3"]
    assert "error" not in image, image
    assert requests.get(image["url"], timeout=10).content == blob_bytes(dalle_file(0))
    drawn = [r for r in upstream_requests
             if r.path.endswith("/backend-api/conversation") and "lighthouse" in r.body.decode()]
    assert [r.json["model"] for r in drawn] == ["gpt-4-mobile"]


def test_models_lists_the_aliases(scenarios):
    ran, _, _ = scenarios
    assert {"gpt-4o", "dall-e-3", "gpt-4-mobile"} <= set(ran["models"]["ids"])


def test_errors_reach_the_sdk_as_its_own_classes(scenarios):
    ran, _, _ = scenarios
    assert ran["bad-key"]["error"]["kind"] == "AuthenticationError" and ran["bad-key"]["error"]["status"] == 401
    assert ran["rate-limited"]["error"]["kind"] == "RateLimitError"
    assert ran["rate-limited"]["error"]["status"] == 429
    # A failure after the stream began arrives as an error event: the SDK raises it mid-iteration.
    midstream = ran["error-midstream"]["error"]
    assert midstream["kind"] == "APIError" and midstream["code"] == "upstream_error"
    assert "Something went wrong" in midstream["message"]
