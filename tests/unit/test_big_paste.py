"""Big inputs go up as the web app's big paste (translate/request.py ``big_pastes``; the upload is
files/uploads.py ``Uploader.big_paste``)."""
from __future__ import annotations

from pandora_v1.files.parts import UploadedFile
from pandora_v1.translate.request import ChatMessage, big_pastes, conversation_payload

LIMIT = 40_000


def payload(*messages, uploaded=None):
    return conversation_payload(messages, "gpt-4o", {"kind": "primary_assistant"}, history_disabled=False,
                                delta_encoding=True, uploaded=uploaded)


def pasted(texts):
    def paste(text):
        texts.append(text)
        return {"id": f"file-{len(texts)}", "is_big_paste": True, "name": "Pasted text.txt"}
    return paste


def test_long_user_system_and_tool_messages_go_up_as_attachments_never_answers():
    long = "x" * LIMIT
    body = payload(ChatMessage("system", long), ChatMessage("user", "short"), ChatMessage("assistant", long),
                   ChatMessage("user", long + "é"))
    texts = []
    assert big_pastes(body["messages"], LIMIT, pasted(texts)) == 2
    system, short, answer, user = body["messages"]
    assert texts == [long, long + "é"]
    assert system["content"]["parts"] == [""] and system["metadata"]["attachments"][0]["id"] == "file-1"
    assert user["content"]["parts"] == [""] and user["metadata"]["attachments"] == [
        {"id": "file-2", "is_big_paste": True, "name": "Pasted text.txt"}]
    assert short["content"]["parts"] == ["short"] and "attachments" not in short["metadata"]
    assert answer["content"]["parts"] == [long]          # the model's own words stay as they were


def test_the_limit_counts_bytes_and_a_message_just_under_it_stays_inline():
    under = "é" * (LIMIT // 2 - 1)           # 39,998 bytes
    body = payload(ChatMessage("user", under), ChatMessage("user", "é" * (LIMIT // 2)))
    texts = []
    assert big_pastes(body["messages"], LIMIT, pasted(texts)) == 1 and texts == ["é" * (LIMIT // 2)]
    assert body["messages"][0]["content"]["parts"] == [under]


def test_images_stay_beside_the_pasted_text():
    image = UploadedFile("file-img", "a.png", 10, "image/png", 4, 3)
    from pandora_v1.files.parts import InputFile

    segments = (InputFile("messages[0].content[0]", data=b"png"), "y" * LIMIT)
    body = payload(ChatMessage("user", "y" * LIMIT, segments), uploaded={"messages[0].content[0]": image})
    texts = []
    assert big_pastes(body["messages"], LIMIT, pasted(texts)) == 1 and texts == ["y" * LIMIT]
    (message,) = body["messages"]
    assert message["content"]["content_type"] == "multimodal_text"
    assert message["content"]["parts"] == [image.pointer(), ""]
    assert [a["id"] for a in message["metadata"]["attachments"]] == ["file-img", "file-1"]
