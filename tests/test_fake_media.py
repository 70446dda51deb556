"""The fake's media routes refuse what the doc says the upstream refuses, straight against the fake
(no pandora_v1): a transcribe without a file or with no audio, read-aloud of a temporary or hidden
conversation, an edit turn whose pointers are not first or not uploaded as the doc describes."""
from __future__ import annotations

import uuid

import orjson
import pytest
import requests

from tests import fake_media
from tests.conftest import ACCESS_TOKEN
from tests.fake_upstream import FakeUpstream

AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}


@pytest.fixture
def fake():
    server = FakeUpstream().start()
    yield server
    server.stop()


def post_conversation(fake, messages, **extra) -> requests.Response:
    body = {"action": "next", "messages": messages, "model": "auto", "parent_message_id": str(uuid.uuid4()),
            "history_and_training_disabled": False, **extra}
    return requests.post(fake.url + "/backend-api/conversation", json=body, headers=AUTH, timeout=10)


def message(role: str, content: dict, metadata: dict | None = None) -> dict:
    return {"id": str(uuid.uuid4()), "author": {"role": role}, "content": content, "metadata": metadata or {}}


def test_transcribe_refuses_what_a_form_service_refuses(fake):
    url = fake.url + "/backend-api/transcribe"
    assert requests.post(url, headers=AUTH, json={"file": "x"}, timeout=10).status_code == 422
    assert requests.post(url, headers=AUTH, files={"language": (None, "en")}, timeout=10).status_code == 422
    assert requests.post(url, headers=AUTH, files={"file": ("a.txt", b"words")}, timeout=10).status_code == 400
    assert requests.post(url, files={"file": ("a.wav", b"RIFF")}, timeout=10).status_code == 401
    ok = requests.post(url, headers=AUTH, files={"file": ("a.wav", b"RIFF\x00\x00\x00\x00WAVE")}, timeout=10)
    assert ok.json() == {"text": fake_media.TRANSCRIPT}


def test_read_aloud_needs_a_stored_visible_conversation(fake):
    sent = message("assistant", {"content_type": "text", "parts": ["Say this."]})
    assert post_conversation(fake, [sent]).status_code == 200
    [conversation_id] = fake.media.spoken
    query = {"message_id": sent["id"], "conversation_id": conversation_id, "voice": "cove", "format": "mp3"}
    audio = requests.get(fake.url + "/backend-api/synthesize", params=query, headers=AUTH, timeout=10)
    assert audio.content == fake_media.speech_bytes("Say this.", "cove", "mp3")
    wrong = requests.get(fake.url + "/backend-api/synthesize", params={**query, "message_id": "nope"},
                         headers=AUTH, timeout=10)
    assert wrong.status_code == 404
    requests.patch(fake.url + f"/backend-api/conversation/{conversation_id}", json={"is_visible": False},
                   headers=AUTH, timeout=10)
    gone = requests.get(fake.url + "/backend-api/synthesize", params=query, headers=AUTH, timeout=10)
    assert gone.status_code == 404

    assert post_conversation(fake, [sent], history_and_training_disabled=True).status_code == 200
    temporary = [c for c in fake.media.spoken if c != conversation_id][0]
    refused = requests.get(fake.url + "/backend-api/synthesize", headers=AUTH, timeout=10,
                           params={**query, "conversation_id": temporary})
    assert refused.status_code == 400 and "temporary" in refused.json()["detail"]


def upload_image(fake, data: bytes, width: int | None = 4, height: int | None = 3) -> str:
    create = {"file_name": "x.png", "file_size": len(data), "use_case": "multimodal", "mime_type": "image/png"}
    if width:
        create.update(width=width, height=height)
    answer = requests.post(fake.url + "/backend-api/files", json=create, headers=AUTH, timeout=10).json()
    requests.put(answer["upload_url"], data=data, headers={"x-ms-blob-type": "BlockBlob",
                                                           "Content-Type": "image/png"}, timeout=10)
    return answer["file_id"]


def edit_turn(file_ids, data, order="pointers first", hints=("picture_v2",)) -> dict:
    pointers = [{"content_type": "image_asset_pointer", "asset_pointer": f"file-service://{i}", "width": 4,
                 "height": 3, "size_bytes": len(data)} for i in file_ids]
    parts = pointers + ["!picture\nEdit"] if order == "pointers first" else ["!picture\nEdit"] + pointers
    return message("user", {"content_type": "multimodal_text", "parts": parts},
                   {"system_hints": list(hints), "attachments": [{"id": i, "name": "x.png"} for i in file_ids]})


@pytest.mark.parametrize("case", ["prompt first", "not uploaded", "no size in the upload", "an attachment short"])
def test_edit_turns_are_checked(fake, case):
    data = fake_media.png(4, 3, "input")
    file_id = upload_image(fake, data, None if case == "no size in the upload" else 4)
    ids = ["file-unknown"] if case == "not uploaded" else [file_id]
    turn = edit_turn(ids, data, "prompt first" if case == "prompt first" else "pointers first")
    if case == "an attachment short":
        turn["metadata"]["attachments"] = []
    response = post_conversation(fake, [turn], system_hints=["picture_v2"])
    assert response.status_code == 400, response.text
    assert fake.media.drawn == []


def test_a_checked_edit_draws_from_its_inputs(fake):
    data = fake_media.png(4, 3, "input")
    file_id = upload_image(fake, data)
    response = post_conversation(fake, [edit_turn([file_id], data)], system_hints=["picture_v2"])
    assert response.status_code == 200 and b"sediment://" in response.content
    [drawn] = fake.media.drawn
    assert drawn["inputs"] == [file_id] and drawn["bytes"].startswith(b"\x89PNG")


def test_without_picture_v2_the_model_only_talks(fake):
    response = post_conversation(fake, [message("user", {"content_type": "text", "parts": ["!picture\nA cat"]})])
    assert fake_media.NO_TOOL_ANSWER.split(",")[0].encode() in response.content and fake.media.drawn == []


def test_process_upload_stream_sends_the_docs_events(fake):
    fake.process_uploads = True
    create = {"file_name": "a.txt", "file_size": 5, "use_case": "my_files"}
    answer = requests.post(fake.url + "/backend-api/files", json=create, headers=AUTH, timeout=10).json()
    requests.put(answer["upload_url"], data=b"hello", headers={"x-ms-blob-type": "BlockBlob"}, timeout=10)
    body = {"file_id": answer["file_id"], "file_name": "a.txt", "use_case": "my_files", "index_for_retrieval": True}
    lines = requests.post(fake.url + "/backend-api/files/process_upload_stream", json=body, headers=AUTH,
                          timeout=10).content.splitlines()
    assert [orjson.loads(line)["event"] for line in lines] == list(fake_media.PROCESSING)
    assert fake.uploads[answer["file_id"]]["ready"] is True
