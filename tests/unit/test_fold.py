"""Format B folds into exactly the snapshots format A would have sent."""
import copy

import orjson
import pytest

from pandora_v1.translate.fold import DONE, DeltaError, DeltaFolder, Folder, Signal


def message(text, status="in_progress", **extra):
    return {"id": "m1", "author": {"role": "assistant", "name": None, "metadata": {}},
            "content": {"content_type": "text", "parts": [text]}, "status": status,
            "end_turn": None, "recipient": "all", "metadata": {}, **extra}


def delta(obj):
    return ("delta", orjson.dumps(obj))


def snapshots(events):
    events = [(name, data.encode() if isinstance(data, str) else data) for name, data in events]
    folder, out = Folder(), []
    for name, data in events:
        item = folder.feed(name, data)
        if item is not None:
            out.append(copy.deepcopy(item) if isinstance(item, dict) else item)
    return out


def test_delta_stream_folds_into_snapshots():
    events = [
        ("delta_encoding", '"v1"'),
        delta({"p": "", "o": "add", "v": {"message": message(""), "conversation_id": "c1", "error": None}, "c": 0}),
        delta({"p": "/message/content/parts/0", "o": "append", "v": "Hel"}),
        delta({"v": "lo"}),
        delta({"p": "", "o": "patch", "v": [
            {"p": "/message/content/parts/0", "o": "append", "v": "!"},
            {"p": "/message/status", "o": "replace", "v": "finished_successfully"},
            {"p": "/message/end_turn", "o": "replace", "v": True},
            {"p": "/message/metadata", "o": "append", "v": {"is_complete": True}}]}),
        ("message", '{"type": "message_stream_complete", "conversation_id": "c1"}'),
        ("message", "[DONE]"),
    ]
    got = snapshots(events)
    texts = [s["message"]["content"]["parts"][0] for s in got[:-1]]
    assert texts == ["", "Hel", "Hello", "Hello!"]
    final = got[-2]["message"]
    assert final["status"] == "finished_successfully" and final["end_turn"] is True
    assert final["metadata"] == {"is_complete": True}
    assert got[-1] is DONE


def test_bare_message_value_starts_a_new_message():
    folder = DeltaFolder()
    folder.apply({"p": "", "o": "add", "v": {"message": message("a")}, "c": 0})
    folder.apply({"p": "/message/content/parts/0", "o": "append", "v": "b"})
    folder.apply({"v": {"message": message("new")}, "c": 1})
    assert folder.root["message"]["content"]["parts"] == ["new"]


@pytest.mark.parametrize("op, value, expected", [
    ("truncate", 2, "ab"),
    ("replace", "zz", "zz"),
    ("append", "d", "abcd"),
])
def test_string_operations(op, value, expected):
    folder = DeltaFolder()
    folder.apply({"p": "", "o": "add", "v": {"message": message("abc")}})
    folder.apply({"p": "/message/content/parts/0", "o": op, "v": value})
    assert folder.root["message"]["content"]["parts"][0] == expected


def test_list_append_remove_and_escaped_pointer():
    folder = DeltaFolder()
    folder.apply({"p": "", "o": "add", "v": {"message": {"content": {"thoughts": []}, "metadata": {"a/b": 1}}}})
    folder.apply({"p": "/message/content/thoughts", "o": "append", "v": [{"summary": "s", "content": ""}]})
    folder.apply({"p": "/message/content/thoughts/0/content", "o": "append", "v": "think"})
    folder.apply({"p": "/message/metadata/a~1b", "o": "remove"})
    assert folder.root["message"]["content"]["thoughts"] == [{"summary": "s", "content": "think"}]
    assert folder.root["message"]["metadata"] == {}


def test_bad_delta_raises_and_fold_skips_it():
    with pytest.raises(DeltaError):
        DeltaFolder().apply({"p": "/message/x", "o": "append", "v": "a"})
    events = [delta({"p": "", "o": "add", "v": {"message": message("a")}}),
              delta({"p": "/nope/0", "o": "append", "v": "x"}),
              delta({"p": "/message/content/parts/0", "o": "append", "v": "b"})]
    texts = [s["message"]["content"]["parts"][0] for s in snapshots(events)]
    assert texts == ["a", "ab"]


def test_format_a_noise_errors_and_moderation():
    events = [
        ("message", '"v1"'),
        ("message", '{"type": "title_generation", "title": "t"}'),
        ("message", "not json at all"),
        ("message", orjson.dumps({"message": message("hi"), "conversation_id": "c", "error": None}).decode()),
        ("message", '{"type": "moderation", "moderation_response": {"flagged": true, "blocked": true}}'),
        ("message", '{"message": null, "conversation_id": "c", "error": "Something went wrong"}'),
        ("message", orjson.dumps({"message": message("never")}).decode()),
    ]
    got = snapshots(events)
    assert got[0]["message"]["content"]["parts"] == ["hi"]
    assert got[1] == Signal("moderation", {"flagged": True, "blocked": True})
    assert got[2] == Signal("error", "Something went wrong")
    assert len(got) == 3


def test_bare_text_appends_follow_the_latest_target():
    first, second = message("", id="m1"), message("", id="m2")
    got = snapshots([
        delta({"p": "", "o": "add", "v": {"message": first, "conversation_id": "c1"}}),
        delta({"p": "/message/content/parts/0", "o": "append", "v": "A"}),
        delta({"v": "B"}),
        delta({"v": {"message": second, "conversation_id": "c1"}, "c": 1}),   # a new message replaces the root
        delta({"v": {"message": second, "conversation_id": "c1"}}),
        delta({"p": "/message/content/parts/0", "o": "append", "v": "X"}),
        delta({"v": "Y"}),
        delta({"p": "/message/status", "o": "replace", "v": "finished_successfully"}),
    ])
    texts = [(s["message"]["id"], s["message"]["content"]["parts"][0]) for s in got]
    assert texts[:3] == [("m1", ""), ("m1", "A"), ("m1", "AB")]
    assert texts[-3:] == [("m2", "X"), ("m2", "XY"), ("m2", "XY")]
    assert got[-1]["message"]["status"] == "finished_successfully"
