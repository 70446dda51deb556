"""A resent history echoed back before the real answer (complete assistant messages, or the whole
history as a prefix) is skipped: only the new answer reaches the client. Upstream bytes come from
the fake's own rendering of its today turns."""
import pytest

from pandora_v1.translate.continuation import document_messages
from pandora_v1.translate.render import CONTENT, Renderer
from pandora_v1.translate.stream import Translation
from tests.fake_upstream import Turn, conversation_document, parse_prompt, render, today_turn

HISTORY = (
    {"id": "s-1", "author": {"role": "system"}, "content": {"content_type": "text", "parts": ["Be brief."]}},
    {"id": "u-0", "author": {"role": "user"}, "content": {"content_type": "text", "parts": ["What floats?"]}},
    {"id": "a-0", "author": {"role": "assistant"}, "content": {"content_type": "text", "parts": ["Otters float."]}},
    {"id": "u-1", "author": {"role": "user"}, "content": {"content_type": "text", "parts": ["And sleep?"]}},
    {"id": "a-1", "author": {"role": "assistant"}, "content": {"content_type": "text", "parts": ["In rafts."]}},
)


class Body:
    def __init__(self, data: bytes):
        self.reads = [data, b""]

    def read(self, wait=None):
        return self.reads.pop(0) if self.reads else b""

    def close(self, drain=None):
        pass


def turn_of(prompt, history=HISTORY):
    user = {"id": "u-2", "author": {"role": "user"}, "content": {"content_type": "text", "parts": [prompt]}}
    plan = parse_prompt(prompt)
    return plan, user, today_turn(plan, Turn("conv-1", "gpt-5", user, history))


def answer(prompt, fmt="B", expect=True, history=HISTORY):
    plan, user, turn = turn_of(prompt, history)
    renderer = Renderer()
    if expect:
        renderer.expect_history([*history, user])
    data = b"".join(x for x in render(plan, fmt, turn.stream, "conv-1") if isinstance(x, bytes))
    return "".join(t for k, t in Translation(Body(data), 1 << 20, renderer) if k == CONTENT), renderer


@pytest.mark.parametrize("fmt", ["A", "B"])
@pytest.mark.parametrize("mode", ["messages", "prefix"])
def test_the_echoed_history_is_skipped(fmt, mode):
    text, renderer = answer(f"!echo_history {mode}\n!pieces 4\nThey hold paws.", fmt)
    assert text == "They hold paws." and renderer.answered
    unguarded, _ = answer(f"!echo_history {mode}\n!pieces 4\nThey hold paws.", fmt, expect=False)
    assert unguarded != "They hold paws."           # without it the echo would be taken for the answer


def test_a_new_answer_that_repeats_an_earlier_one_is_still_the_answer():
    text, _ = answer("!today\n!pieces 3\nOtters float.")     # streamed as it is written: not an echo
    assert text == "Otters float."


def test_the_polled_document_holds_the_sent_history_and_it_is_skipped_there_too():
    plan, user, turn = turn_of("!echo_history prefix\nThey hold paws.")
    renderer = Renderer()
    renderer.expect_history([*HISTORY, user])
    pieces = []
    for message in document_messages(conversation_document(turn.full, "conv-1")):
        pieces += renderer.feed({"message": message, "conversation_id": "conv-1"})
    assert "".join(t for k, t in pieces + renderer.close() if k == CONTENT) == "They hold paws."
