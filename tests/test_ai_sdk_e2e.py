"""The Vercel AI SDK (``ai`` + ``@ai-sdk/openai`` / ``@ai-sdk/openai-compatible``) running a tool loop
against pandora_v1: a Node script (tests/ai_sdk/run.mjs) with the packages pinned in
tests/ai_sdk/package-lock.json, installed from the npm registry on first use."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import node_scenarios, npm_project

HERE = Path(__file__).parent / "ai_sdk"


@pytest.fixture(scope="session")
def node_project():
    return npm_project(HERE, HERE / "node_modules" / "ai", "the Vercel AI SDK test")


def test_ai_sdk_tool_loops(node_project, server, fake):
    scenarios = node_scenarios(node_project, server.url + "/v1")
    assert [s["name"] for s in scenarios] == ["generateText", "streamText", "compatible-streamText"]
    for s in scenarios:
        assert s["text"] == "Result: sunny in Paris", s
        assert (s["steps"], s["firstFinish"], s["finishReason"]) == (2, "tool-calls", "stop"), s
        [call] = s["firstCalls"]
        assert (call["name"], call["input"]) == ("get_weather", {"city": "Paris"}), s
        assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call["id"]), s
