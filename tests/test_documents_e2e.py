"""Documents (PDF, docx, csv, txt) in chat ``file`` parts and Responses ``input_file`` parts: uploaded as
my_files under their own name, processed (process_upload_stream read to file.processing.completed,
within upload_processing_seconds), listed in the turn's attachments, and read by the fake's model."""
from __future__ import annotations

import base64
import io
import time
import zipfile

import openai
import pytest

from tests.conftest import ACCESS_TOKEN

CSV = b"name,value\notter,3\nbeaver,5\n"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document><w:body><w:p>Otters</w:p></w:body></w:document>")
    return out.getvalue()


def file_part(data: bytes, name: str, mime: str | None = None) -> dict:
    payload = f"data:{mime};base64,{base64.b64encode(data).decode()}" if mime else base64.b64encode(data).decode()
    return {"type": "file", "file": {"file_data": payload, "filename": name}}


def ask(client, *parts, text="!read_files\nWhat do they say?"):
    return client.chat.completions.create(model="gpt-4o", messages=[
        {"role": "user", "content": [{"type": "text", "text": text}, *parts]}]).choices[0].message.content


def creates(fake):
    return [r.json for r in fake.requests if r.method == "POST" and r.path == "/backend-api/files"]


def processing(fake):
    return [r.json for r in fake.requests if r.path.endswith("/process_upload_stream")]


def test_csv_and_txt_are_read_after_processing(client, fake):
    fake.process_uploads = True
    answer = ask(client, file_part(CSV, "animals.csv", "text/csv"), file_part(b"Field notes\nday one\n", "notes.txt"))
    assert answer == "animals.csv (text/csv) begins: name,value\nnotes.txt (text/plain) begins: Field notes"
    assert [(c["file_name"], c["use_case"], c["mime_type"]) for c in creates(fake)] == [
        ("animals.csv", "my_files", "text/csv"), ("notes.txt", "my_files", "text/plain")]
    first = processing(fake)[0]
    assert first["use_case"] == "my_files" and first["index_for_retrieval"] is True
    assert first["entry_surface"] == "chat_composer" and first["file_name"] == "animals.csv"
    message = [r.json for r in fake.requests if r.path.endswith("/conversation")][-1]["messages"][-1]
    assert message["content"] == {"content_type": "text", "parts": ["!read_files\nWhat do they say?"]}
    attachments = message["metadata"]["attachments"]
    assert [(a["name"], a["mime_type"], a["size"], a["source"]) for a in attachments] == [
        ("animals.csv", "text/csv", len(CSV), "local"), ("notes.txt", "text/plain", 20, "local")]


def test_pdf_and_docx_keep_their_names(client, fake):
    fake.process_uploads = True
    answer = ask(client, file_part(PDF, "report.pdf", "application/pdf"), file_part(docx(), "letter.docx"))
    assert answer.splitlines()[0] == "report.pdf (application/pdf) begins: %PDF-1.4"
    assert answer.splitlines()[1].startswith("letter.docx (application/vnd.openxmlformats-officedocument")
    assert [c["file_name"] for c in creates(fake)] == ["report.pdf", "letter.docx"]
    assert len(processing(fake)) == 2


def test_responses_input_file(client, fake):
    fake.process_uploads = True
    response = client.responses.create(model="gpt-4o", input=[{"role": "user", "content": [
        {"type": "input_text", "text": "!read_files\nSummarise."},
        {"type": "input_file", "filename": "animals.csv",
         "file_data": f"data:text/csv;base64,{base64.b64encode(CSV).decode()}"}]}])
    assert response.output_text == "animals.csv (text/csv) begins: name,value"


def test_without_processing_the_model_cannot_see_it(client, fake):
    # An upstream without process_upload_stream (404) and without retrieval_index_status: sent as it is.
    answer = ask(client, file_part(CSV, "animals.csv"))
    assert answer == "I cannot see animals.csv yet."
    assert [r.path for r in fake.requests if r.method == "GET" and r.path.startswith("/backend-api/files/")] == \
        [f"/backend-api/files/{next(iter(fake.uploads))}"]          # the older way was asked once


def test_a_processing_error_is_the_clients_400(client, fake):
    fake.process_uploads, fake.media.processing = True, "error"
    with pytest.raises(openai.BadRequestError) as info:
        ask(client, file_part(PDF, "broken.pdf"))
    error = info.value.body
    assert (error["code"], error["param"]) == ("file_processing_failed", "messages[0].content[1]")
    assert "broken.pdf" in error["message"] and "could not be parsed" in error["message"]
    assert [r for r in fake.requests if r.path.endswith("/conversation")] == []


def test_the_wait_for_processing_is_bounded(make_server, fake):
    srv = make_server(upload_processing_seconds=1)
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    fake.process_uploads, fake.media.processing, fake.media.stall_seconds = True, "stall", 5
    answer = ask(client, file_part(CSV, "slow.csv"))
    assert answer == "I cannot see slow.csv yet."      # sent before the upstream's 6 x 5 s of processing ended
    (upload,) = fake.uploads.values()
    deadline = time.monotonic() + 10
    while "processing_outcome" not in upload and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upload["processing_outcome"] == "client_gone"    # we stopped waiting; the upstream noticed
