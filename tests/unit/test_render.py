"""The renderer: each character of the answer exactly once, echoes and tools skipped."""
from pandora_v1.translate.render import CONTENT, REASONING, Renderer


def msg(id, role, ctype, recipient="all", status="in_progress", **content):
    body = {"content_type": ctype, **content}
    return {"message": {"id": id, "author": {"role": role}, "content": body,
                        "recipient": recipient, "status": status, "metadata": {}},
            "conversation_id": "conv"}


def render(snapshots):
    renderer = Renderer()
    pieces = [p for s in snapshots for p in renderer.feed(s)]
    return renderer, pieces


def test_growing_text_is_sent_once_in_order_and_echoes_are_skipped():
    renderer, pieces = render([
        msg("u", "user", "text", parts=["question"]),
        msg("s", "system", "text", parts=["be nice"]),
        msg("a", "assistant", "text", parts=[""]),
        msg("a", "assistant", "text", parts=["He"]),
        msg("a", "assistant", "text", parts=["He"]),
        msg("a", "assistant", "text", parts=["Hello 世界"]),
    ])
    assert pieces == [(CONTENT, "He"), (CONTENT, "llo 世界")]
    assert renderer.conversation_id == "conv"
    assert renderer.finish_reason == "stop"


def test_the_answer_message_is_the_one_that_ended_the_turn():
    """What a continued conversation's next turn follows: the end_turn message, or (a turn closed once
    its calls were complete) the last answer-text message."""
    renderer, _ = render([msg("a", "assistant", "text", parts=["Let me"]),
                          msg("t", "tool", "execution_output", text="2"),
                          msg("b", "assistant", "text", parts=["Done"])])
    assert renderer.answer_id is None and renderer.last_text_id == "b"
    final = msg("b", "assistant", "text", status="finished_successfully", parts=["Done"])
    final["message"]["end_turn"] = True
    renderer.feed(final)
    assert renderer.answer_id == "b" and renderer.answered


def test_hidden_tool_traffic_and_later_answer_starts_a_paragraph():
    _, pieces = render([
        msg("a1", "assistant", "text", parts=["Let me search."]),
        msg("c", "assistant", "code", recipient="browser", text='search("x")'),
        msg("t", "tool", "tether_browsing_display", result="..."),
        msg("a2", "assistant", "text", parts=["Found it."]),
    ])
    assert "".join(t for _, t in pieces) == "Let me search.\n\nFound it."


def test_thoughts_become_reasoning_and_recap_is_dropped():
    _, pieces = render([
        msg("r", "assistant", "thoughts", thoughts=[{"summary": "Plan", "content": "I sh"}]),
        msg("r", "assistant", "thoughts", thoughts=[{"summary": "Plan", "content": "I should."},
                                                     {"summary": "Check", "content": "ok"}]),
        msg("x", "assistant", "reasoning_recap", content="Thought for 3 seconds"),
        msg("a", "assistant", "text", parts=["Hi"]),
    ])
    reasoning = "".join(t for k, t in pieces if k == REASONING)
    assert reasoning == "**Plan**\n\nI should.\n\n**Check**\n\nok"
    assert [t for k, t in pieces if k == CONTENT] == ["Hi"]


def test_max_tokens_finish_details_means_length():
    final = msg("a", "assistant", "text", status="finished_successfully", parts=["cut"])
    final["message"]["metadata"]["finish_details"] = {"type": "max_tokens"}
    renderer, _ = render([final])
    assert renderer.finish_reason == "length"
