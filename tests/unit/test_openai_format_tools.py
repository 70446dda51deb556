"""Tool-call chunks and completions, checked against the rules of agents-spec A.1.3 and fed to real
client accumulators: openai-python's stream state, and a replay of NextChat's plugin ``parseSSE``."""
import orjson
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from pandora_v1.chat.chunks import ChunkEncoder, completion
from pandora_v1.tools.detector import TOOL_CALL, ToolCall

CALLS = [ToolCall(0, "call_aaaaaaaaaaaaaaaaaaaaaaaa", "get_weather", orjson.dumps({"city": "Paris" * 80}).decode()),
         ToolCall(1, "call_bbbbbbbbbbbbbbbbbbbbbbbb", "get_time", "{}")]


def chunks(data: bytes) -> list[dict]:
    events = [e for e in data.split(b"\n\n") if e]
    assert all(e.startswith(b"data: ") for e in events)
    return [orjson.loads(e[6:]) for e in events]


def stream(events, legacy=False, usage=False):
    enc = ChunkEncoder("gpt-4o", include_usage=usage)
    data = enc.events(events, legacy) + enc.finish("function_call" if legacy else "tool_calls")
    if usage:
        data += enc.usage({"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3})
    return chunks(data)


@pytest.mark.parametrize("lead", [[], [("content", "Let me check.")]])
def test_every_wire_rule(lead):
    out = stream(lead + [(TOOL_CALL, c) for c in CALLS], usage=True)
    deltas = [c["choices"][0]["delta"] for c in out if c["choices"]]
    if lead:
        assert deltas[0] == {"role": "assistant", "content": "", "refusal": None}
        assert deltas[1] == {"content": "Let me check."}
        deltas = deltas[2:]
    else:   # the role rides on the first call fragment, as OpenAI sends it
        assert deltas[0]["role"] == "assistant" and deltas[0]["content"] is None
    fragments = [d["tool_calls"] for d in deltas if "tool_calls" in d]
    assert all(len(f) == 1 for f in fragments)                       # one call per chunk
    fragments = [f[0] for f in fragments]
    assert all(isinstance(f["index"], int) and isinstance(f["function"]["arguments"], str) for f in fragments)
    seen = set()
    for f in fragments:
        if f["index"] not in seen:
            seen.add(f["index"])
            assert f["id"].startswith("call_") and f["type"] == "function" and f["function"]["arguments"] == ""
            assert f["function"]["name"]
        else:
            assert set(f) == {"index", "function"} and set(f["function"]) == {"arguments"}
    assert [f["index"] for f in fragments] == sorted(f["index"] for f in fragments)   # sequential
    assert "".join(f["function"]["arguments"] for f in fragments if f["index"] == 0) == CALLS[0].arguments
    assert out[-2]["choices"] == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "tool_calls"}]
    assert out[-1]["choices"] == [] and out[-1]["usage"]["total_tokens"] == 3


def test_openai_python_accumulates_our_stream():
    state = ChatCompletionStreamState()
    done = []
    for chunk in stream([("content", "Hi. ")] + [(TOOL_CALL, c) for c in CALLS]):
        for event in state.handle_chunk(ChatCompletionChunk.model_validate(chunk)):
            if event.type == "tool_calls.function.arguments.done":
                done.append((event.index, event.name, event.arguments))
    final = state.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Hi. " and final.choices[0].finish_reason == "tool_calls"
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == \
        [(c.id, c.name, c.arguments) for c in CALLS]
    assert done == [(c.index, c.name, c.arguments) for c in CALLS]


def parse_sse_by_index(chunks_):
    """NextChat ``parseSSE`` (app/client/platforms/openai.ts), replayed: only tool_calls[0] of a chunk is
    read, a present id starts a call, otherwise the fragment's arguments are appended at its index."""
    run_tools = []
    for chunk in chunks_:
        tool_calls = (chunk["choices"][0]["delta"].get("tool_calls") if chunk["choices"] else None) or []
        if tool_calls:
            first = tool_calls[0]
            args = first.get("function", {}).get("arguments")
            if first.get("id"):
                run_tools.append({"id": first["id"], "type": first.get("type"),
                                  "function": {"name": first["function"]["name"], "arguments": args}})
            else:
                run_tools[first["index"]]["function"]["arguments"] += "undefined" if args is None else args
    return run_tools


def parse_sse_by_counter(chunks_):
    """The later NextChat variant: a counter moved by each id, instead of the fragment's index."""
    run_tools, index = [], -1
    for chunk in chunks_:
        tool_calls = (chunk["choices"][0]["delta"].get("tool_calls") if chunk["choices"] else None) or []
        if tool_calls:
            first = tool_calls[0]
            args = first.get("function", {}).get("arguments")
            if first.get("id"):
                index += 1
                run_tools.append({"id": first["id"], "type": first.get("type"),
                                  "function": {"name": first["function"]["name"], "arguments": args}})
            else:
                run_tools[index]["function"]["arguments"] += "undefined" if args is None else args
    return run_tools


@pytest.mark.parametrize("replay", [parse_sse_by_index, parse_sse_by_counter])
@pytest.mark.parametrize("count", [1, 2])
def test_nextchat_replay(replay, count):
    run_tools = replay(stream([(TOOL_CALL, c) for c in CALLS[:count]]))
    assert run_tools == [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                         for c in CALLS[:count]]


def test_legacy_function_call_stream():
    out = stream([(TOOL_CALL, CALLS[1])], legacy=True)
    deltas = [c["choices"][0]["delta"] for c in out]
    assert deltas[0] == {"role": "assistant", "content": None, "function_call": {"name": "get_time", "arguments": ""},
                         "refusal": None}
    assert deltas[1] == {"function_call": {"arguments": "{}"}}
    assert out[-1]["choices"][0]["finish_reason"] == "function_call"


def test_completion_with_calls():
    body = completion("m", "", "", "tool_calls", {}, CALLS)
    message = body["choices"][0]["message"]
    assert message["content"] is None and message["tool_calls"][1] == {
        "id": CALLS[1].id, "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
    assert completion("m", " Checking. ", "", "tool_calls", {}, CALLS)["choices"][0]["message"]["content"] == "Checking."
    legacy = completion("m", "", "", "function_call", {}, CALLS[1:], legacy=True)["choices"][0]
    assert legacy["message"]["function_call"] == {"name": "get_time", "arguments": "{}"}
    assert "tool_calls" not in legacy["message"] and legacy["finish_reason"] == "function_call"
    assert completion("m", "plain", "", "stop", {})["choices"][0]["message"] == \
        {"role": "assistant", "content": "plain", "refusal": None}
