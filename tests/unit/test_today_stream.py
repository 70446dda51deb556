"""Today's stream (2025-2026): the new delta rules, and which message is the answer."""
import copy

import orjson
import pytest

from pandora_v1.translate.fold import DeltaFolder, Folder, Signal
from pandora_v1.translate.render import CONTENT, REASONING, Renderer, RenderOptions

PART0 = "/message/content/parts/0"


def message(id="m1", text="", role="assistant", ctype="text", **extra):
    return {"id": id, "author": {"role": role, "name": extra.pop("name", None), "metadata": {}},
            "content": {"content_type": ctype, "parts": [text]}, "status": "in_progress", "end_turn": None,
            "recipient": "all", "channel": None, "metadata": {}, **extra}


def folded(*events):
    folder = DeltaFolder()
    for event in events:
        folder.apply(event)
    return folder.root


# ------------------------------------------------------------------ folding

def test_a_frame_without_v_changes_nothing():
    root = folded({"p": "", "o": "add", "v": {"message": message(text="a")}, "c": 0},
                  {"p": PART0, "o": "append", "v": "b"},
                  {"c": 5},
                  {"v": "c"})
    assert root["message"]["content"]["parts"] == ["abc"]


def test_bare_text_continues_an_append_made_inside_a_patch_list():
    root = folded({"p": "", "o": "add", "v": {"message": message()}, "c": 0},
                  {"p": "", "o": "patch", "v": [
                      {"p": "/message/metadata/refresh_key_info", "o": "replace", "v": {"k": 1}},
                      {"p": PART0, "o": "append", "v": "Hel"}]},
                  {"v": "lo"})
    assert root["message"]["content"]["parts"] == ["Hello"]
    assert root["message"]["metadata"]["refresh_key_info"] == {"k": 1}


def test_a_bare_list_of_operations_is_a_patch():
    root = folded({"p": "", "o": "add", "v": {"message": message()}, "c": 0},
                  {"v": [{"p": PART0, "o": "append", "v": "1\n"},
                         {"p": "/message/status", "o": "replace", "v": "finished_successfully"}]},
                  {"v": "2\n"})
    assert root["message"]["content"]["parts"] == ["1\n2\n"]
    assert root["message"]["status"] == "finished_successfully"


def test_a_bare_list_of_values_is_still_an_inherited_append():
    root = folded({"p": "", "o": "add", "v": {"message": message()}, "c": 0},
                  {"p": "/message/metadata/content_references", "o": "append", "v": [{"a": 1}]},
                  {"v": [{"b": 2}]})
    assert root["message"]["metadata"]["content_references"] == [{"a": 1}, {"b": 2}]


def test_appends_create_and_grow_metadata_and_thought_fields():
    start = message(ctype="thoughts")
    start["content"] = {"content_type": "thoughts", "thoughts": []}
    start["metadata"] = {"content_references": []}
    root = folded({"p": "", "o": "add", "v": {"message": start}, "c": 0},
                  {"p": "/message/content/thoughts", "o": "append", "v": {"content": ""}},
                  {"p": "/message/content/thoughts/0/summary", "o": "append", "v": "Sum"},
                  {"v": "mary"},
                  {"p": "/message/metadata/content_references", "o": "append", "v": {"items": []}},
                  {"p": "/message/metadata/content_references/0/items", "o": "append", "v": {"url": "u"}})
    assert root["message"]["content"]["thoughts"] == [{"content": "", "summary": "Summary"}]
    assert root["message"]["metadata"]["content_references"] == [{"items": [{"url": "u"}]}]


@pytest.mark.parametrize("event", [
    {"type": "input_message", "input_message": message(role="user", text="secret question")},
    {"type": "message_marker", "marker": "final_channel_token", "event": "first"},
    {"type": "title_generation", "title": "t"},
    {"type": "server_ste_metadata", "metadata": {}},
    {"type": "conversation_detail_metadata"},
    {"type": "beacon_ui_response"},
    {"type": "message_stream_complete"},
])
def test_event_types_without_answer_text_are_accepted_silently(event):
    assert Folder().feed("message", orjson.dumps(event)) is None


def test_resume_token_and_handoff_are_signals():
    folder = Folder()
    resume = folder.feed("message", b'{"type": "resume_conversation_token", "token": "T", "conversation_id": "c"}')
    handoff = folder.feed("message", b'{"type": "stream_handoff", "conversation_id": "c", "options": []}')
    assert isinstance(resume, Signal) and resume.kind == "resume" and resume.value["token"] == "T"
    assert isinstance(handoff, Signal) and handoff.kind == "handoff"


# ---------------------------------------------------------------- rendering

def feed_all(snapshots, options=None):
    renderer = Renderer(options)
    pieces = [p for s in snapshots for p in renderer.feed({"message": s, "conversation_id": "c"})]
    return renderer, pieces + renderer.close()


def text_of(pieces, kind=CONTENT):
    return "".join(t for k, t in pieces if k == kind)


def finished(m, end_turn=None):
    m = copy.deepcopy(m)
    m["status"], m["end_turn"] = "finished_successfully", end_turn
    return m


MEMORY = "User's name is Jane and she lives at 12 Hidden Lane."


@pytest.mark.parametrize("options", [RenderOptions(), RenderOptions(show_code=True, show_plugin_chatter=True)])
def test_only_the_final_channel_assistant_text_is_content(options):
    memory = message("mem", ctype="model_editable_context")
    memory["content"] = {"content_type": "model_editable_context", "model_set_context": MEMORY}
    instructions = message("ins", role="user", ctype="user_editable_context")
    instructions["content"] = {"content_type": "user_editable_context", "user_instructions": MEMORY}
    hidden = message("sys", role="system", text=MEMORY, metadata={"is_visually_hidden_from_conversation": True})
    hidden_assistant = message("h", text=MEMORY, metadata={"is_visually_hidden_from_conversation": True})
    developer = message("dev", role="developer", ctype="developer_content", text=MEMORY)
    calls = []
    for tool in ("web.run", "bio", "t2uay3k.sj1i4kz", "canmore.comment_textdoc"):
        call = message(f"call-{tool}", ctype="code", recipient=tool, channel="commentary")
        call["content"] = {"content_type": "code", "language": "json", "text": MEMORY}
        calls += [finished(call), finished(message(f"res-{tool}", role="tool", name=tool, text=MEMORY))]
    search_result = finished(message("sr", role="tool", name="web.run", text=""))
    preamble = finished(message("pre", text="Let me check.", channel="commentary"))
    analysis = finished(message("ana", text="Hmm.", channel="analysis"))
    answer = finished(message("ans", text="The answer.", channel="final"), end_turn=True)
    _, pieces = feed_all([memory, finished(memory), instructions, hidden, hidden_assistant, developer, *calls,
                          search_result, preamble, analysis, answer], options)
    assert text_of(pieces) == "The answer."
    assert text_of(pieces, REASONING) == "Let me check.\n\nHmm."
    assert "Jane" not in "".join(t for _, t in pieces)


def test_thought_summaries_stream_each_character_once():
    thoughts = message("t", ctype="thoughts")
    steps = []
    for state in ([{"summary": "", "content": ""}], [{"summary": "Sea", "content": ""}],
                  [{"summary": "Searching", "content": ""}], [{"summary": "Searching", "content": ""}, {"content": ""}],
                  [{"summary": "Searching", "content": ""}, {"content": "", "summary": "Che"}],
                  [{"summary": "Searching", "content": ""}, {"content": "Two agree", "summary": "Checking"}]):
        snapshot = copy.deepcopy(thoughts)
        snapshot["content"] = {"content_type": "thoughts", "thoughts": copy.deepcopy(state)}
        steps.append(snapshot)
    recap = finished(message("r", ctype="reasoning_recap"))
    recap["content"] = {"content_type": "reasoning_recap", "content": "Thought for 12s"}
    renderer, pieces = feed_all([*steps, finished(steps[-1]), recap])
    assert text_of(pieces, REASONING) == "Searching\n\nChecking\n\nTwo agree"
    assert text_of(pieces) == ""


def test_a_thought_that_arrives_with_its_summary_keeps_the_2024_heading():
    thoughts = message("t", ctype="thoughts")
    thoughts["content"] = {"content_type": "thoughts", "thoughts": [{"summary": "Plan", "content": "go"}]}
    _, pieces = feed_all([thoughts])
    assert text_of(pieces, REASONING) == "**Plan**\n\ngo"


def test_two_paragen_variants_give_one_answer():
    user = message("u", role="user", text="q", metadata={"paragen_variants_info": {"num_variants_in_stream": 2}})
    first = message("v1", text="First.", channel="final")
    second = message("v2", text="Second.", channel="final")
    renderer, pieces = feed_all([user, first, finished(first), second, finished(second)])
    assert text_of(pieces) == "First." and renderer.answered


def test_end_turn_marks_the_answer_and_later_variants_are_dropped():
    first = finished(message("v1", text="First."), end_turn=True)
    renderer, pieces = feed_all([message("v1", text="Fi"), first, finished(message("v2", text="Again."), True)])
    assert text_of(pieces) == "First." and renderer.answered
    renderer, _ = feed_all([finished(message("x", text="Thinking aloud", channel="commentary"))])
    assert not renderer.answered


@pytest.mark.parametrize("kind, shown", [
    ("document", "## notes\n\nOtters hold paws.\n\nDone."),
    ("code/python", "## notes\n\n```python\ndef f():\n    return 2\n```\n\nDone."),
])
def test_canvas_document_is_shown_and_shown_again_after_edits(kind, shown):
    content = "Otters hold hands.\n" if kind == "document" else "def f():\n    return 1\n"
    edit = ("hands", "paws") if kind == "document" else ("1", "2")
    create = message("c1", ctype="code", recipient="canmore.create_textdoc")
    create["content"] = {"content_type": "code", "language": "json",
                         "text": orjson.dumps({"name": "notes", "type": kind, "content": content}).decode()}
    update = message("c2", ctype="code", recipient="canmore.update_textdoc")
    update["content"] = {"content_type": "code", "language": "json", "text": orjson.dumps(
        {"updates": [{"pattern": edit[0], "replacement": edit[1], "multiple": False}]}).decode()}
    partial = copy.deepcopy(create)
    partial["content"]["text"] = partial["content"]["text"][:20]
    _, pieces = feed_all([partial, finished(create), finished(message("r", role="tool", name="canmore.create_textdoc",
                                                                       text="Successfully created")),
                          finished(update), finished(message("a", text="Done."), True)])
    first = shown.replace("paws", "hands").replace("return 2", "return 1").replace("\n\nDone.", "")
    assert text_of(pieces) == first + "\n\n" + shown


def test_system_error_reaches_the_client_as_text():
    error = finished(message("e", role="tool", name="t2uay3k.sj1i4kz", ctype="system_error"))
    error["content"] = {"content_type": "system_error", "name": "ChatGPTAgentToolRateLimitException",
                        "text": "You've hit the limit."}
    _, pieces = feed_all([error, finished(message("a", text="Sorry."), True)])
    assert text_of(pieces) == "You've hit the limit.\n\nSorry."
