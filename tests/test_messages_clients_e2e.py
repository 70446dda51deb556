"""Real Anthropic clients against pandora_v1's /v1/messages: @anthropic-ai/sdk and the AI SDK's
@ai-sdk/anthropic (Node, tests/anthropic_node), and Claude Code itself (npm @anthropic-ai/claude-code,
tests/claude_code), headless (``claude -p --output-format json``), HOME in a temporary folder, telemetry,
auto-update and non-essential traffic off, fully offline: every other host it might try goes to a recording
proxy that refuses it, and the proxy must have seen nothing."""
from __future__ import annotations

import json
import os
import re
import socketserver
import subprocess
import threading
from pathlib import Path

import pytest

from tests.conftest import ACCESS_TOKEN, Server, base_config, node_scenarios, npm_project
from tests.fake_upstream import source_url

NODE = Path(__file__).parent / "anthropic_node"
CLAUDE_CODE = Path(__file__).parent / "claude_code"
TEXT = "Hello there, friend."
TOKEN = "pandora-token-4242"
QUERY = "do otters hold hands"          # what the fake's web.run call searches
PAGE = source_url("turn0search0")       # the page its results list, which the answer cites
SEARCH_TEXT = ["Based on the results:\n", "Lisbon opened a solar library today.", " It runs on sun."]


def served_paths(srv) -> list[str]:
    """The API paths of the server's access log lines (they leave out the query: Claude Code's ?beta=true)."""
    return re.findall(r"pandora_v1\.access: (?:POST|GET) (/v1/\S+)", srv.log())


def conversations(fake):
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/backend-api/conversation")]


# ----------------------------------------------------------------- Node SDKs

@pytest.fixture(scope="module")
def scenarios(upstream, tmp_path_factory):
    npm_project(NODE, NODE / "node_modules" / "@anthropic-ai" / "sdk", "the @anthropic-ai/sdk test")
    upstream.reset()
    srv = Server(tmp_path_factory.mktemp("anthropic_node"), base_config(upstream.url)).wait_ready()
    try:
        yield {s.pop("name"): s for s in node_scenarios(NODE, srv.url)}
    finally:
        srv.stop()
        upstream.reset()


def test_anthropic_sdk_create_and_stream(scenarios):
    create, stream = scenarios["sdk-create"], scenarios["sdk-stream"]
    assert re.fullmatch(r"msg_[A-Za-z0-9]{24}", create["id"]) and create["type"] == "message"
    assert (create["text"], create["stop"]) == (TEXT, "end_turn") and create["usage"]["output_tokens"] > 0
    assert (stream["deltas"], stream["text"], stream["stop"]) == (TEXT, TEXT, "end_turn")
    assert stream["usage"] == create["usage"]


def test_anthropic_sdk_tool_loop_thinking_and_count_tokens(scenarios):
    loop = scenarios["sdk-tool-loop"]
    assert (loop["firstStop"], loop["blocks"]) == ("tool_use", ["text", "tool_use"]), loop
    assert json.loads(loop["json"]) == loop["call"]["input"] == {"city": "Paris"}
    assert (loop["text"], loop["stop"]) == ("Result: sunny in Paris", "end_turn")
    thinking = scenarios["sdk-thinking"]
    assert thinking["blocks"][0]["type"] == "thinking" and thinking["blocks"][0]["thinking"] == thinking["thinking"]
    assert thinking["thinking"].startswith("**Planning**") and thinking["blocks"][0]["signature"]
    assert thinking["blocks"][1] == {"type": "text", "text": "Done thinking."}
    counted = scenarios["sdk-count-tokens"]
    assert counted["counted"] == counted["usage"] > 100


@pytest.mark.parametrize("name, kind, status, error_type", [
    ("sdk-bad-key", "AuthenticationError", 401, "authentication_error"),
    ("sdk-rate-limited", "RateLimitError", 429, "rate_limit_error"),
    ("sdk-overloaded", "OverloadedError", 529, "overloaded_error"),
    # A failure after the stream began arrives as an error event: the SDK raises it from the stream.
    ("sdk-error-midstream", "APIError", None, "overloaded_error"),
])
def test_anthropic_sdk_errors_are_its_own_classes(scenarios, name, kind, status, error_type):
    error = scenarios[name]["error"]
    assert (error["kind"], error["status"], error["type"]) == (kind, status, error_type), error


@pytest.mark.parametrize("name, streamed", [("ai-generateText", False), ("ai-streamText", True)])
def test_ai_sdk_anthropic_provider_runs_a_tool_loop(scenarios, name, streamed):
    run = scenarios[name]
    assert run["text"] == ("Let me check.\n" if streamed else "") + "Result: sunny in Paris", run
    assert (run["steps"], run["firstFinish"], run["finishReason"]) == (2, "tool-calls", "stop"), run
    [call] = run["firstCalls"]
    assert (call["name"], call["input"]) == ("get_weather", {"city": "Paris"})
    assert re.fullmatch(r"toolu_[A-Za-z0-9]{24}", call["id"])


def test_ai_sdk_anthropic_provider_gets_the_reasoning(scenarios):
    run = scenarios["ai-reasoning"]
    assert run["text"] == "Done thinking." and run["reasoning"].startswith("**Planning**")
    assert run["usage"]["inputTokens"] > 0 and run["usage"]["outputTokens"] > 0


def test_anthropic_sdk_web_search_blocks_citations_and_a_second_turn(scenarios):
    run = scenarios["sdk-web-search"]
    for content in (run["created"], run["final"]):         # create, and the stream helper's final message
        call, result, *texts = content
        assert (call["type"], call["name"], call["input"]) == ("server_tool_use", "web_search", {"query": QUERY})
        assert result["type"] == "web_search_tool_result" and result["tool_use_id"] == call["id"]
        assert [(p["url"], p["title"]) for p in result["content"]] == [(PAGE, "Otters")]
        assert [t["text"] for t in texts] == SEARCH_TEXT
        assert [[c["url"] for c in t.get("citations") or ()] for t in texts] == [[], [PAGE], []]
    assert run["json"] == '{"query":"do otters hold hands"}'        # inputJson events: the query streamed
    assert [c["url"] for c in run["citations"]] == [PAGE]            # citation events
    assert run["usage"]["server_tool_use"] == {"web_search_requests": 1, "web_fetch_requests": 0}
    assert run["again"] == "Thanks!"                                 # the blocks sent back were taken


@pytest.mark.parametrize("name", ["ai-web-search-generateText", "ai-web-search-streamText"])
def test_ai_sdk_anthropic_provider_web_search_passes_its_schemas(scenarios, name):
    run = scenarios[name]
    assert run.get("errors", []) == [] and run["finishReason"] == "stop" and run["warnings"] == [], run
    assert run["text"] == "".join(SEARCH_TEXT)
    [call] = run["toolCalls"]
    assert (call["name"], call["input"], call["providerExecuted"], call["invalid"]) == \
        ("web_search", {"query": QUERY}, True, False)
    [result] = run["toolResults"]
    assert result["id"] == call["id"] and [(p["url"], p["title"]) for p in result["output"]] == [(PAGE, "Otters")]
    # A source per page found and one per citation (with the cited text).
    assert [(s["url"], s["title"]) for s in run["sources"]] == [(PAGE, "Otters"), (PAGE, "Source 0search0")]
    assert run["sources"][1]["providerMetadata"]["anthropic"]["citedText"]
    if name == "ai-web-search-streamText":
        assert run["parts"].count("tool-call") == run["parts"].count("tool-result") == 1
        assert run["parts"].index("tool-call") < run["parts"].index("text-start")
    else:      # the second turn replays the search blocks; they go upstream as text, never searched again
        assert run["again"] == "Thanks!"
        replayed = run["againRequest"]["messages"][1]["content"]
        assert [b["type"] for b in replayed[:2]] == ["server_tool_use", "web_search_tool_result"]


# ----------------------------------------------------------------- Claude Code

class RecordingProxy:
    """An HTTP(S) proxy on loopback that refuses everything and writes down what was asked of it."""

    def __init__(self):
        self.asked: list[str] = []
        proxy = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                proxy.asked.append(self.rfile.readline().decode("latin-1").strip())
                self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def claude_bin():
    """Claude Code: $CLAUDE_BIN, or tests/claude_code installed with npm ci (its package ships the binary)."""
    if os.environ.get("CLAUDE_BIN"):
        return os.environ["CLAUDE_BIN"]
    binary = CLAUDE_CODE / "node_modules" / ".bin" / "claude"
    npm_project(CLAUDE_CODE, binary, "Claude Code", timeout=600)
    return str(binary)


@pytest.fixture
def claude(claude_bin, make_server, fake, tmp_path):
    """Run ``claude -p <prompt> --output-format json`` against a fresh server; its JSON result, the server."""
    srv = make_server()
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    proxy = RecordingProxy()
    kept = {k: v for k, v in os.environ.items()
            if not k.startswith(("ANTHROPIC_", "CLAUDE_", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"))}

    def run(prompt: str, *args: str, key_variable: str = "ANTHROPIC_API_KEY", env: dict | None = None) -> dict:
        env = {**kept, "HOME": str(home), "ANTHROPIC_BASE_URL": srv.url, key_variable: ACCESS_TOKEN,
               "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_TELEMETRY": "1",
               "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1",
               "HTTPS_PROXY": proxy.url, "HTTP_PROXY": proxy.url, "NO_PROXY": "127.0.0.1,localhost", **(env or {})}
        result = subprocess.run([claude_bin, "-p", prompt, "--output-format", "json", *args], cwd=work, env=env,
                                capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
        assert proxy.asked == [], proxy.asked      # offline: nothing but our base URL was tried
        return json.loads(result.stdout)

    run.server, run.work = srv, work
    yield run
    proxy.close()


def test_claude_code_version(claude_bin):
    pinned = json.loads((CLAUDE_CODE / "package.json").read_text())["dependencies"]["@anthropic-ai/claude-code"]
    version = subprocess.run([claude_bin, "--version"], capture_output=True, text=True, timeout=60).stdout
    assert version.split()[0] == pinned


@pytest.mark.parametrize("key_variable", ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"])
def test_claude_code_answers_plainly(claude, fake, key_variable):
    result = claude("Pandora says hello", key_variable=key_variable)
    assert (result["type"], result["subtype"], result["is_error"]) == ("result", "success", False), result
    # The fake upstream echoes the user's turn: Claude Code's own reminder block, then the prompt.
    assert result["result"].endswith("Pandora says hello") and result["num_turns"] == 1
    assert result["usage"]["input_tokens"] > 1000 and result["usage"]["output_tokens"] > 0
    assert served_paths(claude.server) == ["/v1/messages"]
    [sent] = conversations(fake)
    assert sent.json["model"] == "auto"            # claude-opus-5-5 -> the upstream's default
    roles = [m["author"]["role"] for m in sent.json["messages"]]
    assert roles == ["system", "system", "user"]   # its system text (+ the trailing system turn), the tools, the prompt


def test_claude_code_reads_a_file_with_its_tool_and_finishes_with_the_result(claude, fake):
    secret = claude.work / "secret.txt"
    secret.write_text(TOKEN + "\n")
    result = claude("!call Read " + json.dumps({"file_path": str(secret)}))
    assert (result["subtype"], result["is_error"], result["num_turns"]) == ("success", False, 2), result
    assert TOKEN in result["result"] and result["result"].startswith("Result: ")
    assert served_paths(claude.server) == ["/v1/messages"] * 2
    first, second = conversations(fake)
    # Claude Code ran Read and sent the file back: the upstream saw it as this request's result block.
    last = second.json["messages"][-1]["content"]["parts"][0]
    assert re.search(r'⟦result [A-Z2-7]{8} name="Read" id="toolu_[A-Za-z0-9]{24}"⟧', last) and TOKEN in last
    assert TOKEN not in json.dumps(first.json)


def test_claude_code_searches_the_web_through_the_upstreams_search(claude, fake):
    """Claude Code's WebSearch tool (loaded up front with ENABLE_TOOL_SEARCH=false; it needs permission in
    -p mode) runs a request of its own with the web_search_20250305 server tool, reads the pages from the
    web_search_tool_result block, and hands them back to the model as WebSearch's result."""
    result = claude("!call WebSearch " + json.dumps({"query": QUERY}), "--allowedTools", "WebSearch",
                    env={"ENABLE_TOOL_SEARCH": "false"})
    assert (result["subtype"], result["is_error"], result["num_turns"]) == ("success", False, 2), result
    assert result["permission_denials"] == []
    assert served_paths(claude.server) == ["/v1/messages"] * 3       # the turn, its search, the next turn
    first, searched, second = conversations(fake)
    assert "WebSearch" in json.dumps(first.json) and "system_hints" not in first.json
    # The search request: the upstream's search switched on, Claude Code's query as the prompt.
    assert searched.json["system_hints"] == ["search"]
    assert searched.json["messages"][-1]["content"]["parts"][0].endswith(f"Perform a web search for the query: {QUERY}")
    # What the search found reached the model as WebSearch's result, and the answer.
    last = second.json["messages"][-1]["content"]["parts"][0]
    assert re.search(r'⟦result [A-Z2-7]{8} name="WebSearch" id="toolu_[A-Za-z0-9]{24}"⟧', last)
    assert f'Web search results for query: "{QUERY}"' in last and PAGE in last and '"title":"Otters"' in last
    assert result["result"].startswith("Result: ") and PAGE in result["result"]
    # Claude Code counted the search from usage.server_tool_use.web_search_requests.
    assert sum(model["webSearchRequests"] for model in result["modelUsage"].values()) == 1
