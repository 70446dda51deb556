"""ResponseRun over the agents engine, with scripted upstream answers (no server, no network)."""
from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from pandora_v1.errors import APIError
from pandora_v1.responses.request import parse_responses_request
from pandora_v1.responses.run import ResponseRun
from pandora_v1.responses.state import ResponseStore
from pandora_v1.runtime.store import SQLiteStore
from pandora_v1.tools.prompt import plan_turn
from pandora_v1.tools.turn import AgentTurn
from pandora_v1.translate.render import CONTENT, REASONING
from tests.responses_checks import assert_wire_rules, codex_replay, parse_sse, stream_state

WEATHER = {"type": "function", "name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}}
TIME = {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}}


class Translation:
    def __init__(self, pieces, finish_reason="stop", error=None):
        self.pieces, self.finish_reason, self.error = pieces, finish_reason, error

    def batches(self, keepalive=None):
        for piece in self.pieces:
            yield [piece]
        if self.error:
            raise self.error


class ScriptedAnswer:
    """Stands in for one upstream answer (the engine's Source): scripted pieces."""

    def __init__(self, translation):
        self.translation = translation
        self.finished = 0

    def batches(self, keepalive=None):
        return self.translation.batches(keepalive)

    @property
    def finish_reason(self):
        return self.translation.finish_reason

    def stop(self):
        self.finished += 1


class ScriptedAgent:
    """Stands in for AgentAnswer: the real planner and engine over scripted upstream answers."""

    def __init__(self, chat, upstream, stream):
        fields = chat.tools
        turn = plan_turn(chat.messages, fields.tools, fields.choice, fields.parallel, fields.legacy,
                         fields.response_format)
        self.chat = replace(chat, messages=turn.messages)
        self.upstream = upstream
        self.turn = AgentTurn(turn, upstream(self.chat), self._restart, stream=stream)

    def _restart(self, extra):
        return self.upstream(replace(self.chat, messages=self.chat.messages + extra))

    def finish(self, drain=0.0):
        for answer in self.upstream.answers:
            answer.finished += 1

    def annotations(self, text):
        return []        # scripted answers carry no citations

    def annotation_count(self):
        return 0


class Upstream:
    """Answers with ``script(nonce)`` per attempt; records what each attempt was sent."""

    def __init__(self, *scripts, finish_reason="stop", error=None):
        self.scripts, self.sent, self.answers = list(scripts), [], []
        self.finish_reason, self.error = finish_reason, error

    def __call__(self, chat):
        self.sent.append(chat.messages)
        found = re.search(r"⟦call (\w+)⟧", "\n".join(m.text for m in chat.messages if m.role == "system"))
        nonce = found[1] if found else None
        answer = ScriptedAnswer(Translation(self.scripts.pop(0)(nonce), self.finish_reason, self.error))
        self.answers.append(answer)
        return answer


def block(nonce, name, arguments) -> str:
    return f"⟦call {nonce}⟧\n" + json.dumps({"name": name, "arguments": arguments}) + f"\n⟦/call {nonce}⟧"


def pieces_of(text, size=5):
    return [(CONTENT, text[i:i + size]) for i in range(0, len(text), size)]


@pytest.fixture
def states(tmp_path):
    backend = SQLiteStore(tmp_path / "store.sqlite3")
    yield ResponseStore(backend, ttl=60)
    backend.close()


def run(states, upstream, stream=True, **body):
    request = parse_responses_request({"model": "gpt-4o", "stream": stream, **body}, states)
    return ResponseRun(request, ScriptedAgent(request.chat, upstream, stream), "gpt-4o", states)


def streamed(states, upstream, **body):
    job = run(states, upstream, **body)
    events = parse_sse(b"".join(job.events(keepalive=5)))
    assert_wire_rules(events)
    return events


def test_text_then_call_streams_the_message_then_the_call(states):
    upstream = Upstream(lambda n: pieces_of("Let me check. " + block(n, "get_weather", {"city": "Paris"})
                                            + " It is sunny (made up)."))
    events = streamed(states, upstream, input="Weather in Paris?", tools=[WEATHER])
    final = stream_state(events)
    assert [i.type for i in final.output] == ["message", "function_call"]
    assert final.output_text == "Let me check. "
    call = final.output[1]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id.startswith("call_") and call.id.startswith("fc_") and call.status == "completed"
    assert "made up" not in json.dumps([d for _, d in events])
    assert upstream.answers[0].finished >= 1            # the upstream was closed early
    assert codex_replay(events)["items"][1]["call_id"] == call.call_id


def test_two_calls_and_the_non_stream_response(states):
    script = lambda n: pieces_of(block(n, "get_weather", {"city": "Paris"}) + "\n"   # noqa: E731
                                 + block(n, "get_time", {}))
    events = streamed(states, Upstream(script), input="Both please", tools=[WEATHER, TIME])
    assert [d["output_index"] for n, d in events if n == "response.output_item.added"] == [0, 1]
    assert [d["item"]["name"] for n, d in events if n == "response.output_item.done"] == ["get_weather", "get_time"]
    final = run(states, Upstream(script), stream=False, input="Both please", tools=[WEATHER, TIME]).response()
    assert [i["type"] for i in final["output"]] == ["function_call", "function_call"]
    assert final["status"] == "completed" and final["tools"] == [WEATHER, TIME]
    assert len({i["call_id"] for i in final["output"]}) == 2


def test_parallel_tool_calls_false_keeps_one_call(states):
    script = lambda n: pieces_of(block(n, "get_weather", {"city": "Paris"}) + "\n"   # noqa: E731
                                 + block(n, "get_time", {}))
    final = run(states, Upstream(script), stream=False, input="Both", tools=[WEATHER, TIME],
                parallel_tool_calls=False).response()
    assert [i["name"] for i in final["output"]] == ["get_weather"]


def test_an_invalid_call_is_retried_invisibly(states):
    upstream = Upstream(lambda n: pieces_of(block(n, "get_weather", {"town": 1})),
                        lambda n: pieces_of(block(n, "get_weather", {"city": "Oslo"})))
    strict = {**WEATHER, "strict": True}
    events = streamed(states, upstream, input="Weather?", tools=[strict])
    calls = [d["item"] for n, d in events if n == "response.output_item.done"]
    assert len(calls) == 1 and json.loads(calls[0]["arguments"]) == {"city": "Oslo"}
    assert len(upstream.sent) == 2 and "invalid" in upstream.sent[1][-1].text
    assert all(a.finished for a in upstream.answers)


def test_required_call_that_never_comes_fails_the_stream_and_is_502_without(states):
    never = lambda n: pieces_of("I will not call anything.")     # noqa: E731
    events = streamed(states, Upstream(never, never), input="x", tools=[WEATHER], tool_choice="required")
    assert events[-1][0] == "response.failed"
    assert events[-1][1]["response"]["error"]["code"] == "server_error"
    with pytest.raises(APIError) as caught:
        run(states, Upstream(never, never), stream=False, input="x", tools=[WEATHER],
            tool_choice={"type": "function", "name": "get_weather"}).response()
    assert caught.value.status == 502 and caught.value.code == "tool_call_failed"


def test_the_tool_loop_history_reaches_the_upstream_rendered(states):
    first_upstream = Upstream(lambda n: pieces_of(block(n, "get_weather", {"city": "Paris"})))
    first = run(states, first_upstream, stream=False, input="Weather in Paris?", tools=[WEATHER]).response()
    call = first["output"][0]
    replay = Upstream(lambda n: pieces_of("It is 21 degrees."))
    final = run(states, replay, stream=False, tools=[WEATHER], input=[
        {"role": "user", "content": "Weather in Paris?"}, call,
        {"type": "function_call_output", "call_id": call["call_id"], "output": "21 degrees"}]).response()
    assert final["output"][0]["content"][0]["text"] == "It is 21 degrees."
    sent = "\n".join(m.text for m in replay.sent[0])
    assert "21 degrees" in sent and call["call_id"] in sent and 'name="get_weather"' in sent
    # The same loop by previous_response_id: only the output goes back.
    chained = Upstream(lambda n: pieces_of("It is 21 degrees."))
    run(states, chained, stream=False, tools=[WEATHER], previous_response_id=first["id"], input=[
        {"type": "function_call_output", "call_id": call["call_id"], "output": "21 degrees"}]).response()
    assert [m.role for m in chained.sent[0]] == [m.role for m in replay.sent[0]]
    assert [m.text.replace(chained_nonce(chained), "N") for m in chained.sent[0]][1:] == \
        [m.text.replace(chained_nonce(replay), "N") for m in replay.sent[0]][1:]


def chained_nonce(upstream) -> str:
    return re.search(r"⟦call (\w+)⟧", upstream.sent[0][0].text)[1]


def test_json_format_is_cleaned_and_parsed(states):
    fenced = lambda n: pieces_of('```json\n{"city": "Paris", "degrees": 21}\n```')   # noqa: E731
    fmt = {"format": {"type": "json_schema", "name": "Weather", "strict": True, "schema": {
        "type": "object", "properties": {"city": {"type": "string"}, "degrees": {"type": "integer"}},
        "required": ["city", "degrees"], "additionalProperties": False}}}
    upstream = Upstream(fenced)
    events = streamed(states, upstream, input="Weather as JSON", text=fmt)
    text = "".join(d["delta"] for n, d in events if n == "response.output_text.delta")
    assert json.loads(text) == {"city": "Paris", "degrees": 21} and "```" not in text
    assert "JSON Schema" in upstream.sent[0][0].text


def test_mid_answer_failure_after_text_and_reasoning(states):
    upstream = Upstream(lambda n: [(REASONING, "hmm"), *pieces_of("Half an ans")],
                        error=APIError(502, "The upstream failed mid-answer: boom", code="upstream_error"))
    events = streamed(states, upstream, input="x", reasoning={"summary": "auto"})
    assert events[-1][0] == "response.failed"
    output = events[-1][1]["response"]["output"]
    assert [i["type"] for i in output] == ["reasoning", "message"]
    assert output[1]["content"][0]["text"] == "Half an ans"


def test_long_arguments_stream_in_fragments(states):
    note = {"type": "function", "name": "save_note", "parameters": {
        "type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}
    text = "ü" + "x" * 700
    events = streamed(states, Upstream(lambda n: pieces_of(block(n, "save_note", {"text": text}), size=50)),
                      input="Save it", tools=[note])
    deltas = [d["delta"] for n, d in events if n == "response.function_call_arguments.delta"]
    done = next(d["arguments"] for n, d in events if n == "response.function_call_arguments.done")
    assert len(deltas) >= 3 and "".join(deltas) == done and json.loads(done) == {"text": text}
    assert stream_state(events).output[0].arguments == done
