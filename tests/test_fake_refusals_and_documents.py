"""The fake upstream's refusals, limits and documents, checked against upstream-protocol.md: temporary chats,
the size limit, invalid bodies, limits, the prepare step, file citations, writing blocks and
echoed history."""
from __future__ import annotations

import http.client
import json
from contextlib import closing

import pytest

from tests.fake_documents import FILE_QUOTE
from tests.fake_refusals import (
    INVALID_BODY,
    TEMPORARY_IMAGE_REFUSAL,
    TEMPORARY_RESEARCH_REFUSAL,
    TOO_LONG,
)
from tests.fake_upstream import RESUME_TOKEN
from tests.test_fake_upstream import TOKEN, conversation_body, data_lines, request


def post(fake, prompt, **extra):
    body = {**conversation_body(prompt), **extra}
    conn, response = request(fake, "POST", "/backend-api/conversation", body)
    with closing(conn):
        return response.status, response.read()


def get(fake, method, path, body=None):
    conn, response = request(fake, method, path, body)
    with closing(conn):
        raw = response.read()
        return response.status, json.loads(raw) if raw else None


def conversation_id(raw: bytes) -> str:
    return next(e["conversation_id"] for e in data_lines(raw)
                if isinstance(e, dict) and e.get("type") == "resume_conversation_token")


def document(fake, raw):
    status, doc = get(fake, "GET", f"/backend-api/conversation/{conversation_id(raw)}")
    assert status == 200
    return [node["message"] for node in doc["mapping"].values() if node["message"]], doc


def final_message(fake, raw):
    messages, doc = document(fake, raw)
    return doc["mapping"][doc["current_node"]]["message"]


# ------------------------------------------------------------------ temporary chats

@pytest.mark.parametrize("forced", [False, True])
def test_a_temporary_chat_is_not_kept_and_cannot_be_continued(fake, forced):
    fake.force_no_history = forced
    status, raw = post(fake, "!today\nHi there.", **({} if forced else {"history_and_training_disabled": True}))
    assert status == 200 and b"Hi there." in raw
    cid = conversation_id(raw)
    assert get(fake, "GET", f"/backend-api/conversation/{cid}")[0] == 404
    assert get(fake, "PATCH", f"/backend-api/conversation/{cid}", {"is_visible": False})[0] == 404
    assert post(fake, "!today\nAgain.", conversation_id=cid)[0] == 404


@pytest.mark.parametrize("prompt, hints, refusal", [
    ("!gpt_image\nHere.", None, TEMPORARY_IMAGE_REFUSAL),
    ("!image_async\nHere.", None, TEMPORARY_IMAGE_REFUSAL),
    ("!dalle 1\nHere.", None, TEMPORARY_IMAGE_REFUSAL),
    ("Draw it.", ["picture_v2"], TEMPORARY_IMAGE_REFUSAL),
    ("Research it.", ["connector:connector_openai_deep_research"], TEMPORARY_RESEARCH_REFUSAL),
])
def test_a_temporary_chat_draws_nothing_and_researches_nothing(fake, prompt, hints, refusal):
    extra = {"history_and_training_disabled": True, **({"system_hints": hints} if hints else {})}
    prompt = f"!pieces 500\n{prompt}"      # the refusal in one piece, to find it in the bytes
    status, raw = post(fake, prompt, **extra)
    assert status == 200 and refusal.encode() in raw
    assert b"sediment://" not in raw and b"file-service://" not in raw and b"image_gen" not in raw
    status, raw = post(fake, prompt, **{**extra, "history_and_training_disabled": False})
    assert refusal.encode() not in raw


def test_whether_a_temporary_turn_resumes_is_steerable(fake):
    for works in (True, False):
        fake.temporary_resume = works
        _, raw = post(fake, "!pieces 500\n!handoff\nLater.", history_and_training_disabled=True)
        host, port = fake.url[len("http://"):].split(":")
        with closing(http.client.HTTPConnection(host, int(port), timeout=5)) as conn:
            conn.request("POST", "/backend-api/f/conversation/resume",
                         json.dumps({"conversation_id": conversation_id(raw), "offset": 0}),
                         {"Authorization": f"Bearer {TOKEN}", "x-conduit-token": RESUME_TOKEN})
            response = conn.getresponse()
            body = response.read()
        assert (response.status == 200 and b"Later." in body) is works


# ------------------------------------------------------------------ refusals and limits

def test_a_message_over_the_size_limit_is_a_413(fake):
    fake.message_limit = 100
    status, raw = post(fake, "!today\n" + "x" * 101)
    assert status == 413 and json.loads(raw) == TOO_LONG
    assert post(fake, "!today\n" + "x" * 90)[0] == 200


@pytest.mark.parametrize("extra, status", [
    ({"model": "gpt-5-thinking", "thinking_effort": "high"}, 422),         # an OpenAI effort string
    ({"model": "gpt-5-thinking", "thinking_effort": "extended"}, 200),
    ({"model": "gpt-5-instant", "thinking_effort": "standard"}, 422),      # an effort on an instant slug
    ({"action": "jump"}, 422),
    ({"messages": "hello"}, 422),
])
def test_an_invalid_conversation_body_is_a_422(fake, extra, status):
    got, raw = post(fake, "!today\nok", **extra)
    assert got == status
    if status == 422:
        assert json.loads(raw) == INVALID_BODY
    assert post(fake, "!invalid_body\nok")[0] == 422


def test_conversation_init_lists_the_limits_and_the_image_limit_uses_them_up(fake):
    for method, body in (("GET", None), ("POST", {"requested_default_model": None})):
        status, init = get(fake, method, "/backend-api/conversation/init", body)
        (entry,) = init["limits_progress"]
        assert status == 200 and entry["feature_name"] == "image_gen" and entry["remaining"] == 3
    post(fake, "!image_limit\nSorry.")
    (entry,) = get(fake, "GET", "/backend-api/conversation/init")[1]["limits_progress"]
    assert entry["remaining"] == 0 and entry["reset_after"].endswith("+00:00")
    fake.init_status = 500
    assert get(fake, "GET", "/backend-api/conversation/init")[0] == 500


def test_prepare_hands_out_a_conduit_token(fake):
    body = {k: v for k, v in conversation_body("hi").items() if k != "messages"}
    status, answer = get(fake, "POST", "/backend-api/f/conversation/prepare",
                         {**body, "client_prepare_state": "none", "partial_query": {"content": {"parts": ["hi"]}}})
    assert status == 200 and answer["status"] == "ok" and answer["conduit_token"] == fake.conduit_tokens[0]
    assert get(fake, "POST", "/backend-api/f/conversation/prepare", conversation_body("hi"))[0] == 422
    fake.prepare_status = 500
    assert get(fake, "POST", "/backend-api/f/conversation/prepare", body)[0] == 500


# ------------------------------------------------------------------ documents and history

FILECITE = "\ue200filecite\ue202turn1file0\ue202L17-L19\ue201"
WHOLE_FILE = "\ue200filecite\ue202turn2file1\ue201"
LOST = "\ue200filecite\ue202turn9file0\ue201"


def test_filecite_markers_get_file_content_references(fake):
    _, raw = post(fake, f"!files\n!pieces 4\nRevenue grew{FILECITE}, costs fell{WHOLE_FILE}, rent{LOST}.")
    message = final_message(fake, raw)
    references = {r["matched_text"]: r for r in message["metadata"]["content_references"] if r["type"] == "file"}
    assert set(references) == {FILECITE, WHOLE_FILE}
    cited = references[FILECITE]
    assert cited["name"] == "report.pdf" and cited["source"] == "my_files" and cited["id"].startswith("file-")
    assert cited["refs"] == [{"turn_index": 1, "ref_type": "file", "ref_index": 0}]
    assert cited["input_pointer"] == {"line_range_start": 17, "line_range_end": 19}
    assert "input_pointer" not in references[WHOLE_FILE] and references[WHOLE_FILE]["name"] == "notes.txt"
    messages, _ = document(fake, raw)
    assert [m["recipient"] for m in messages if m["author"]["role"] == "assistant"][-2] == "myfiles_browser"
    assert any(FILE_QUOTE in (m["content"].get("parts") or [""])[0] for m in messages if m["author"]["role"] == "tool")


def test_writing_blocks_get_their_metadata_once_closed(fake):
    block = ':::writing{variant="document" id="w1" title="Letter"}\nDear team,\nthanks.\n:::'
    _, raw = post(fake, f"!today\n!pieces 5\nHere:\n\n{block}\n\nDone.")
    blocks = final_message(fake, raw)["metadata"]["writing_blocks"]
    assert blocks == {"w1": {"id": "w1", "variant": "document", "title": "Letter", "content": "Dear team,\nthanks."}}


@pytest.mark.parametrize("mode", ["messages", "prefix"])
def test_echoed_history_replays_the_assistant_turns_complete(fake, mode):
    body = conversation_body(f"!echo_history {mode}\nThe new answer.")
    earlier = [{"id": "s-1", "author": {"role": "system"}, "content": {"content_type": "text", "parts": ["Be nice."]}},
               {"id": "u-0", "author": {"role": "user"}, "content": {"content_type": "text", "parts": ["Before?"]}},
               {"id": "a-0", "author": {"role": "assistant"},
                "content": {"content_type": "text", "parts": ["The old answer."]}}]
    body["messages"] = earlier + body["messages"]
    conn, response = request(fake, "POST", "/backend-api/conversation", body)
    with closing(conn):
        raw = response.read()
    messages, _ = document(fake, raw)
    assistants = [m for m in messages if m["author"]["role"] == "assistant" and m["content"]["content_type"] == "text"]
    # the document holds the posted history too (fake_sessions.py): the replay is the last copy of the old turn
    old, new = [m for m in assistants if m["content"]["parts"] == ["The old answer."]][-1], assistants[-1]
    assert old["content"]["parts"] == ["The old answer."] and old["status"] == "finished_successfully"
    assert old["end_turn"] is True and old["channel"] == "final"
    assert new["content"]["parts"] == ["The new answer."]
    assert (old["id"] == "a-0") is (mode == "prefix")
    at = messages.index(old)
    if mode == "prefix":      # the history first, then the user echo
        assert at < max(i for i, m in enumerate(messages) if m["id"] == "u-1")
    else:                     # just before the real answer
        assert next(i for i, m in enumerate(messages) if m["id"] == "u-1") < at == messages.index(new) - 1
