"""The agent turn (detector + JSON transform + retry) over scripted upstream answers, and the JSON transform."""
import orjson
import pytest

from pandora_v1.errors import APIError
from pandora_v1.tools.definitions import AUTO, REQUIRED, ResponseFormat, Tool, named_choice
from pandora_v1.tools.detector import TOOL_CALL
from pandora_v1.tools.prompt import plan_turn
from pandora_v1.tools.structured import JsonText, json_error
from pandora_v1.tools.turn import AgentTurn
from pandora_v1.translate.render import CONTENT, REASONING
from pandora_v1.translate.request import ChatMessage

WEATHER = Tool("get_weather", "", {"type": "object", "properties": {"city": {"type": "string"}},
                                   "required": ["city"]}, strict=True)
PERSON = ResponseFormat("json_schema", "Person", "", {"type": "object", "properties": {"age": {"type": "integer"}},
                                                        "required": ["age"]}, strict=True)


class Script:
    """An upstream answer as pieces; records whether it was stopped early."""

    def __init__(self, pieces, finish_reason="stop"):
        self.pieces, self.finish_reason, self.stopped, self.read = pieces, finish_reason, False, 0

    def batches(self, keepalive=None):
        for piece in self.pieces:
            if self.stopped:
                return
            self.read += 1
            yield [] if piece is None else [piece]

    def stop(self):
        self.stopped = True


def block(nonce, city="Paris", name="get_weather"):
    return f"⟦call {nonce}⟧\n" + orjson.dumps({"name": name, "arguments": {"city": city}}).decode() + f"\n⟦/call {nonce}⟧"


def engine(answers, choice=AUTO, tools=(WEATHER,), stream=True, fmt=None, retries=1):
    turn = plan_turn((ChatMessage("user", "hi"),), tools, choice, response_format=fmt)
    scripts = [Script(a(turn.protocol.nonce if turn.protocol else None)) for a in answers]
    restarts = []

    def restart(extra):
        restarts.append(extra)
        return scripts[len(restarts)]

    return AgentTurn(turn, scripts[0], restart, stream=stream, retry_attempts=retries), scripts, restarts


def collect(agent):
    out = []
    for events in agent.events():
        out.extend(events)
    return out


def chars(text):
    return [(CONTENT, c) for c in text]


def test_text_then_call_stops_the_upstream_early_and_drops_the_made_up_result():
    agent, [script], _ = engine([lambda n: chars("Checking. " + block(n) + " Result: 30C, sunny!")])
    events = collect(agent)
    assert "".join(v for k, v in events if k == CONTENT) == "Checking. "
    [call] = [v for k, v in events if k == TOOL_CALL]
    assert call.name == "get_weather" and agent.finish_reason == "tool_calls"
    assert script.stopped and script.read < len(script.pieces)


def test_keepalives_and_reasoning_pass_through():
    agent, _, _ = engine([lambda n: [None, (REASONING, "hmm"), None, (CONTENT, "plain answer")]])
    batches = list(agent.events())
    assert batches == [[], [(REASONING, "hmm")], [], [(CONTENT, "plain answer")]]
    assert agent.finish_reason == "stop" and agent.content == "plain answer" and agent.reasoning == "hmm"


def test_an_invalid_call_is_retried_invisibly():
    agent, _, restarts = engine([lambda n: [(CONTENT, f"⟦call {n}⟧ {{broken ⟦/call {n}⟧")],
                                 lambda n: [(CONTENT, block(n, "Rome"))]])
    events = collect(agent)
    assert [orjson.loads(v.arguments) for k, v in events if k == TOOL_CALL] == [{"city": "Rome"}]
    assert not [v for k, v in events if k == CONTENT] and agent.retries == 1
    said, ask = restarts[0]
    assert said.role == "assistant" and "{broken" in said.text
    assert ask.role == "user" and ask.text.startswith("Your function call was invalid:")


def test_a_strict_schema_violation_is_retried():
    agent, _, restarts = engine([lambda n: [(CONTENT, f'⟦call {n}⟧{{"name":"get_weather","arguments":{{}}}}⟦/call {n}⟧')],
                                 lambda n: [(CONTENT, block(n))]])
    collect(agent)
    assert len(agent.calls) == 1 and "city" in restarts[0][1].text


def test_two_bad_answers_with_auto_give_the_raw_text():
    bad = lambda n: [(CONTENT, f"Let me see. ⟦call {n}⟧ nonsense ⟦/call {n}⟧")]
    agent, _, _ = engine([bad, bad])
    events = collect(agent)
    text = "".join(v for k, v in events if k == CONTENT)
    assert text.startswith("Let me see. ⟦call ") and "nonsense" in text and text.count("Let me see.") == 1
    assert agent.finish_reason == "stop" and not agent.calls


@pytest.mark.parametrize("stream", [True, False])
def test_required_without_a_call_is_an_error_after_the_retry(stream):
    plain = lambda n: [(CONTENT, "I'd rather chat.")]
    for choice in (REQUIRED, named_choice("get_weather")):
        agent, _, restarts = engine([plain, plain], choice=choice, stream=stream)
        with pytest.raises(APIError) as info:
            collect(agent)
        assert info.value.status == 502 and info.value.code == "tool_call_failed" and len(restarts) == 1


def test_non_stream_keeps_only_the_accepted_attempt():
    agent, _, _ = engine([lambda n: [(CONTENT, f"First. ⟦call {n}⟧ x ⟦/call {n}⟧")],
                          lambda n: [(CONTENT, "Second. " + block(n))]], stream=False)
    collect(agent)
    assert agent.content == "Second. " and len(agent.calls) == 1


def test_a_cut_inside_a_call_is_length_without_a_call():
    agent, _, restarts = engine([lambda n: [(CONTENT, f"Hi ⟦call {n}⟧ {{\"name\": \"get_")]], retries=0)
    agent.source.finish_reason = "length"
    collect(agent)
    assert agent.finish_reason == "length" and not agent.calls and agent.content == "Hi "


def test_json_format_strips_the_fence_and_retries_when_invalid():
    fenced = lambda n: chars('  ```json\n{"age": "old"}\n```\nHope that helps')
    good = lambda n: chars('```json\n{"age": 42}\n```')
    agent, _, restarts = engine([fenced, good], tools=(), fmt=PERSON)
    events = collect(agent)
    assert "".join(v for k, v in events) == '{"age": 42}' and restarts[0][1].text.startswith("Your reply was invalid")


def test_strict_json_still_invalid_is_an_error_and_plain_json_object_passes():
    bad = lambda n: chars("no json here")
    agent, _, _ = engine([bad, bad], tools=(), fmt=PERSON)
    with pytest.raises(APIError) as info:
        collect(agent)
    assert info.value.code == "json_validation_failed"
    agent, _, _ = engine([lambda n: chars('{"a": 1}')], tools=(), fmt=ResponseFormat("json_object"))
    assert "".join(v for _, v in collect(agent)) == '{"a": 1}'


def test_tools_and_json_format_calls_win():
    agent, _, _ = engine([lambda n: [(CONTENT, block(n))]], fmt=PERSON)
    collect(agent)
    assert len(agent.calls) == 1 and agent.finish_reason == "tool_calls"


@pytest.mark.parametrize("text, out", [
    ('{"a": 1}', '{"a": 1}'),
    ('\n\n  {"a": 1}\n', '{"a": 1}\n'),
    ('```json\n{"a": 1}\n```', '{"a": 1}'),
    ('```\n{"a": "x`y"}\n```  \n', '{"a": "x`y"}'),
    ('```json\n{"a": 1}\n```\nMore prose.', '{"a": 1}'),
])
def test_json_text_at_every_split(text, out):
    for cut in range(len(text) + 1):
        transform = JsonText()
        got = transform.feed(text[:cut]) + transform.feed(text[cut:]) + transform.close()
        assert got == out, cut
    transform = JsonText()
    assert "".join(transform.feed(c) for c in text) + transform.close() == out


def test_json_error():
    assert json_error('{"age": 3}', PERSON) is None
    assert "Schema" in json_error('{"age": "x"}', PERSON)
    assert "object" in json_error("[1]", ResponseFormat("json_object"))
    assert "not valid JSON" in json_error("{", ResponseFormat("json_object"))
