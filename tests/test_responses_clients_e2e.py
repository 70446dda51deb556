"""Real Responses clients against pandora_v1: the OpenAI Agents SDK, the Vercel AI SDK (Node), Codex."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ACCESS_TOKEN, node_scenarios, npm_project
from tests.test_responses_e2e import conversations

AI_SDK = Path(__file__).parent / "ai_sdk_responses"
CODEX = Path(__file__).parent / "codex_cli"
PROMPT = 'Let me check.\n!call get_weather {"city": "Paris"}'


def served_paths(srv) -> list[str]:
    """The paths of the server's access log lines."""
    return re.findall(r"pandora_v1\.access: (?:POST|GET|DELETE) (/\S+)", srv.log())


def test_openai_agents_sdk_runs_a_function_tool_on_its_default_responses_api(make_server, fake):
    from agents import Agent, Runner, function_tool, set_default_openai_client, set_tracing_disabled
    from openai import AsyncOpenAI

    set_tracing_disabled(True)      # or the SDK ships traces to OpenAI with our key
    srv = make_server()
    calls = []

    @function_tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        calls.append(city)
        return f"sunny in {city}"

    # As the README and the status page show it.
    set_default_openai_client(AsyncOpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0))
    agent = Agent(name="weather", instructions="Answer weather questions.", tools=[get_weather],
                  model="gpt-4o")
    result = Runner.run_sync(agent, PROMPT)
    assert calls == ["Paris"]
    assert result.final_output == "Result: sunny in Paris"
    paths = served_paths(srv)
    assert paths.count("/v1/responses") == 2 and "/v1/chat/completions" not in paths
    assert len(conversations(fake)) == 2


@pytest.fixture(scope="session")
def ai_sdk():
    return npm_project(AI_SDK, AI_SDK / "node_modules" / "ai", "the Vercel AI SDK test")


def test_vercel_ai_sdk_responses_tool_loops_with_the_default_store(ai_sdk, server, fake):
    scenarios = node_scenarios(ai_sdk, server.url + "/v1")
    assert [s["name"] for s in scenarios] == ["responses-generateText", "responses-streamText",
                                              "plain-generateText", "plain-streamText"]
    for s in scenarios:
        assert s["text"] == "Result: sunny in Paris", s
        if s["name"].endswith("streamText"):
            assert s["streamed"] == "Let me check.\nResult: sunny in Paris", s
        assert (s["steps"], s["firstFinish"], s["finishReason"]) == (2, "tool-calls", "stop"), s
        assert s["firstText"] == "Let me check.\n", s
        [call] = s["firstCalls"]
        assert (call["name"], call["input"]) == ("get_weather", {"city": "Paris"}), s
        assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call["id"]), s
        assert s["responseId"].startswith("resp_"), s
        # The second step replays the first answer's text by reference: the item store resolved it.
        kinds = [item.get("type", "message") for item in s["secondInput"]]
        assert "item_reference" in kinds and "function_call_output" in kinds, s
        reference = next(i for i in s["secondInput"] if i.get("type") == "item_reference")
        assert reference["id"].startswith("msg_"), s


@pytest.fixture(scope="session")
def codex_bin():
    """The Codex CLI: $CODEX_BIN, or tests/codex_cli installed with npm ci (its package ships the binary)."""
    if os.environ.get("CODEX_BIN"):
        return os.environ["CODEX_BIN"]
    binary = CODEX / "node_modules" / ".bin" / "codex"
    npm_project(CODEX, binary, "the Codex CLI (codex_replay checks its event rules without it)", timeout=600)
    return str(binary)


def test_codex_exec_runs_a_command_and_answers(codex_bin, make_server, fake, tmp_path):
    """``codex exec`` on our provider block: the fake answers an exec_command call, Codex runs it and
    sends the output back, the fake answers with the result, Codex prints it."""
    srv = make_server()
    home = tmp_path / "codex-home"
    home.mkdir()
    (home / "config.toml").write_text(codex_config(srv.url + "/v1"))
    prompt = '!call exec_command {"cmd": "echo pandora-$((40+2))"}'
    result = subprocess.run([codex_bin, "exec", "--skip-git-repo-check", prompt], cwd=tmp_path,
                            capture_output=True, text=True, timeout=180,
                            env={**os.environ, "CODEX_HOME": str(home), "PANDORA_KEY": ACCESS_TOKEN})
    assert result.returncode == 0, result.stderr[-3000:]
    turns = conversations(fake)
    assert len(turns) == 2
    # Codex ran the command: its output came back as the function result.
    assert "pandora-42" in json.dumps(json.loads(turns[1].body)["messages"][-1])
    assert "Result:" in result.stdout and "pandora-42" in result.stdout
    assert served_paths(srv).count("/v1/responses") == 2


def codex_config(base_url: str) -> str:
    """The provider block the README and the status page show."""
    return ('model = "gpt-4o"\nmodel_provider = "pandora"\n\n[model_providers.pandora]\n'
            f'name = "pandora_v1"\nbase_url = "{base_url}"\nenv_key = "PANDORA_KEY"\nwire_api = "responses"\n')
