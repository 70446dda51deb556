"""The fake upstream's kept conversations, checked against upstream-protocol.md ("Continuation, branching
and long inputs", "Temporary chat", "Errors"): messages by id with parent links and a current node, a
continuation answered from the branch it goes on from, unknown conversations and parents refused, big
pastes read as their message, the per-message size limit."""
from __future__ import annotations

import json
from contextlib import closing

import pytest

from tests.fake_refusals import TOO_LONG
from tests.fake_sessions import NOT_FOUND, ROOT
from tests.test_fake_upstream import request

NONCE = "ABCDEFGH"


def message(role: str, text: str, message_id: str, **metadata) -> dict:
    return {"id": message_id, "author": {"role": role}, "content": {"content_type": "text", "parts": [text]},
            "metadata": metadata}


def post(fake, *messages, **fields) -> tuple[int, dict | list]:
    """(status, the JSON body or the format A snapshots) of a conversation POST."""
    body = {"action": "next", "model": "gpt-4o", "parent_message_id": "client-created-root",
            "messages": list(messages), **fields}
    conn, response = request(fake, "POST", "/backend-api/conversation", body)
    with closing(conn):
        raw = response.read()
    if response.status != 200:
        return response.status, json.loads(raw)
    events = [json.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: {")]
    return 200, [e for e in events if e.get("message")]


def answer(events) -> tuple[str, str, str]:
    """(conversation id, the answer's message id, its text) from format A snapshots."""
    last = events[-1]
    return last["conversation_id"], last["message"]["id"], "".join(last["message"]["content"]["parts"])


def document(fake, conversation_id: str) -> dict:
    conn, response = request(fake, "GET", f"/backend-api/conversation/{conversation_id}")
    with closing(conn):
        assert response.status == 200
        return json.loads(response.read())


def branch_ids(doc: dict) -> list[str]:
    found, node = [], doc["current_node"]
    while node is not None:
        found.append(node)
        node = doc["mapping"][node]["parent"]
    return found[::-1]


def first_turn(fake):
    status, events = post(fake, message("system", f"Call with ⟦call {NONCE}⟧ blocks.", "s-1"),
                          message("user", "Hello there", "u-1"))
    assert status == 200
    return answer(events)


def test_a_new_conversation_keeps_the_posted_messages_then_the_turn(fake):
    cid, answer_id, text = first_turn(fake)
    assert text == "Hello there"
    doc = document(fake, cid)
    assert branch_ids(doc) == [ROOT, "s-1", "u-1", answer_id] and doc["current_node"] == answer_id
    assert doc["mapping"]["s-1"]["children"] == ["u-1"] and doc["mapping"]["u-1"]["parent"] == "s-1"


def test_a_continuation_is_answered_from_the_branch_it_goes_on_from(fake):
    cid, answer_id, _ = first_turn(fake)
    # Only the new message goes up; the call block the fake writes uses the nonce of the kept system message.
    status, events = post(fake, message("user", "!call get_weather {}", "u-2"),
                          conversation_id=cid, parent_message_id=answer_id)
    assert status == 200
    same, second_id, text = answer(events)
    assert same == cid and text.startswith(f"⟦call {NONCE}⟧")
    doc = document(fake, cid)
    assert branch_ids(doc) == [ROOT, "s-1", "u-1", answer_id, "u-2", second_id]
    # Another continuation from the first answer is a sibling branch; the current node follows it.
    status, events = post(fake, message("user", "Or this", "u-3"), conversation_id=cid, parent_message_id=answer_id)
    third_id = answer(events)[1]
    doc = document(fake, cid)
    assert doc["mapping"][answer_id]["children"] == ["u-2", "u-3"]
    assert branch_ids(doc) == [ROOT, "s-1", "u-1", answer_id, "u-3", third_id]
    assert second_id in doc["mapping"]       # the other branch is kept


def test_an_unknown_conversation_or_parent_is_refused(fake):
    cid, answer_id, _ = first_turn(fake)
    new = message("user", "Again", "u-2")
    assert post(fake, new, conversation_id="no-such-conversation", parent_message_id=answer_id) == (404, NOT_FOUND)
    assert post(fake, new, conversation_id=cid, parent_message_id="no-such-message") == (404, NOT_FOUND)
    fake.parent_error = (400, {"detail": "Parent message not found"})
    assert post(fake, new, conversation_id=cid, parent_message_id="no-such-message") == fake.parent_error
    assert branch_ids(document(fake, cid))[-1] == answer_id     # nothing was added


def upload(fake, text: str) -> str:
    data = text.encode()
    body = {"file_name": "Pasted text.txt", "file_size": len(data), "use_case": "my_files", "mime_type": "text/plain",
            "selection_method": "generated_big_paste", "entry_surface": "chat_composer", "store_in_library": True,
            "library_persistence_mode": "opportunistic"}
    conn, response = request(fake, "POST", "/backend-api/files", body)
    with closing(conn):
        created = json.loads(response.read())
    put = created["upload_url"][len(fake.url):]
    host, port = fake.url[len("http://"):].split(":")
    import http.client

    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("PUT", put, body=data, headers={"x-ms-blob-type": "BlockBlob", "Content-Type": "text/plain"})
    assert conn.getresponse().status == 201
    conn.close()
    conn, response = request(fake, "POST", f"/backend-api/files/{created['file_id']}/uploaded", {})
    with closing(conn):
        assert response.status == 200
    return created["file_id"]


def big_paste(file_id: str, size: int) -> dict:
    return {"id": "u-1", "author": {"role": "user"}, "content": {"content_type": "text", "parts": [""]},
            "metadata": {"attachments": [{"id": file_id, "size": size, "name": "Pasted text.txt",
                                          "source": "local", "non_library_my_files_injest_upload": True,
                                          "is_big_paste": True}]}}


@pytest.mark.parametrize("size", [10, 5000])
def test_a_big_paste_is_read_as_its_message_and_escapes_the_size_limit(fake, size):
    fake.message_limit = 1000
    text = "!pieces 10000\n" + "pasted words " * (size // 13 + 1)
    if size > fake.message_limit:       # inline, the same text is over the per-message limit
        assert post(fake, message("user", text, "u-1")) == (413, TOO_LONG)
    status, events = post(fake, big_paste(upload(fake, text), len(text)))
    assert status == 200 and answer(events)[2] == text.split("\n", 1)[1]
    assert fake.uploads[events[0]["message"]["metadata"]["attachments"][0]["id"]]["selection_method"] \
        == "generated_big_paste"
