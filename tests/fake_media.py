"""The fake upstream's capabilities on request (upstream-protocol.md, "Capabilities on request
(2025-2026)"): images drawn and edited, speech to text and read-aloud, documents processed and read.

Written from the doc, not from pandora_v1; fake_upstream.py dispatches here:

- ``!picture`` (with ``!partials N``, ``!image_async``): the gpt-image tool draws one picture, the
  size the prompt asks for ("…, 1536x1024."), with alpha when it asks for a transparent background.
  Only with ``picture_v2`` in the top-level ``system_hints`` and on the user message; otherwise the
  model answers in words. An edit turn is checked as the doc describes it: one ``image_asset_pointer``
  part per input image FIRST, then the prompt; each pointer a finished ``multimodal`` upload whose
  create body had its width and height; one ``metadata.attachments`` entry per image. Anything else
  is a 400. The picture's bytes depend on the conversation, the prompt and the input images, and are
  kept in ``fake.media.drawn``.
- ``POST /backend-api/transcribe``: multipart ``file`` (+ ``language``) -> ``{"text"}``; no file, no
  form, empty or non-audio bytes are refused as a FastAPI service does (422 / 400), more than 25 MB
  is a 413.
- Read-aloud: a conversation whose messages are all assistant messages is stored and echoed (the
  echo keeps the sent id; with ``fake.media.echo = "rewritten"`` it gets a new id, split parts and a
  reply after it). ``GET /backend-api/synthesize`` reads one of its messages: never for a temporary
  chat, a hidden conversation, an unknown message or voice; the answer is audio bytes (or, with
  ``fake.media.synthesize = "url"``, ``{"download_url"}``; ``"short"``: a body with no audio).
- ``POST /backend-api/files/process_upload_stream``: the NDJSON events of the doc, ending in
  ``file.processing.completed`` (``fake.media.processing = "error"``: ``file.processing.error``;
  ``"stall"``: nothing after the first event for ``stall_seconds``).
- ``!read_files``: the model answers with what it can read of each attachment of the turn: a my_files
  document only once it was processed.
"""
from __future__ import annotations

import email.parser
import email.policy
import hashlib
import re
import struct
import time
import uuid
import zlib
from dataclasses import dataclass, field

import orjson

from tests import fake_upstream as up

TRANSCRIPT = "Hello, this is a test of the transcription endpoint."
TRANSCRIBE_LIMIT = 25 * 1024 * 1024
PICTURE_TOOL = "t2uay3k.sj1i4kz"
PICTURE_NOTE = "Here is the picture."
NO_TOOL_ANSWER = "I can describe a picture in words, but I cannot draw here."
UPSTREAM_VOICES = ("cove", "ember", "breeze", "juniper", "maple", "vale", "orbit", "glimmer", "fathom")
VOICE_NAMES = {"cove": "Cove", "ember": "Ember", "breeze": "Breeze", "juniper": "Juniper", "maple": "Maple",
               "vale": "Vale", "orbit": "Orbit", "glimmer": "Sol", "fathom": "Arbor"}
SPEECH_TYPES = {"aac": "audio/aac", "mp3": "audio/mpeg", "opus": "audio/ogg"}
AUDIO_SIGNATURES = (b"RIFF", b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2", b"OggS", b"fLaC", b"\x1a\x45\xdf\xa3")
PROCESSING = ("file.processing.started", "file.processing.file_ready", "file.indexing.in_progress",
              "file.indexing.completed", "file.indexing.done", "file.processing.completed")


@dataclass
class MediaState:
    """What the media routes remember and how tests steer them (wiped by FakeUpstream.reset)."""
    transcripts: dict[bytes, str] = field(default_factory=dict)   # audio bytes -> what they "say"
    transcribe_plain: bool = False        # answer the transcription as a plain-text body
    echo: str = "exact"                   # read-aloud echo: "exact" | "rewritten"
    synthesize: str = "bytes"             # "bytes" | "url" | "short"
    processing: str = "complete"          # "complete" | "error" | "stall"
    stall_seconds: float = 3.0
    spoken: dict[str, dict] = field(default_factory=dict)    # conversation id -> {temporary, messages}
    hidden: set[str] = field(default_factory=set)            # conversations PATCHed is_visible false
    drawn: list[dict] = field(default_factory=list)          # every picture drawn, in order
    lose_pictures: bool = False           # the finished picture's download answers 404
    files: dict[str, bytes] = field(default_factory=dict)    # file id -> bytes the download routes serve
    synthesized: list[dict] = field(default_factory=list)    # every synthesize call's query


# ---------------------------------------------------------------- pictures

def png(width: int, height: int, seed: str, transparent: bool = False) -> bytes:
    """A PNG of one colour (from ``seed``); with ``transparent``, its left half has alpha 0."""
    colour = zlib.crc32(seed.encode()).to_bytes(4, "big")[:3]
    if transparent:
        half = width // 2
        row = b"\x00" + (colour + b"\x00") * half + (colour + b"\xff") * (width - half)
    else:
        row = b"\x00" + colour * width

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6 if transparent else 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height)) + \
        chunk(b"IEND", b"")


def picture_size(prompt: str) -> tuple[int, int]:
    """The model picks the size from what the prompt says; square when it says none."""
    match = re.search(r"\b(\d{3,4})x(\d{3,4})\b", prompt)
    return (int(match[1]), int(match[2])) if match else (1024, 1024)


def edit_problem(fake, payload: dict, user: dict) -> str | None:
    """Why an image turn is not the shape the doc gives, or None."""
    content = user.get("content") or {}
    if content.get("content_type") != "multimodal_text":
        return None                                     # a generation: nothing to check
    parts = content.get("parts") or []
    pointers = [p for p in parts if isinstance(p, dict) and p.get("content_type") == "image_asset_pointer"]
    if parts[:len(pointers)] != pointers or len(parts) == len(pointers) \
            or not all(isinstance(p, str) for p in parts[len(pointers):]):
        return "an edit needs the image pointers first, then the prompt"
    attachments = (user.get("metadata") or {}).get("attachments") or []
    for pointer in pointers:
        file_id = str(pointer.get("asset_pointer", "")).removeprefix("file-service://")
        upload = fake.uploads.get(file_id)
        if not upload or "bytes" not in upload or upload.get("use_case") != "multimodal":
            return f"{pointer.get('asset_pointer')} is no finished multimodal upload"
        if (upload.get("width"), upload.get("height")) != (pointer.get("width"), pointer.get("height")) \
                or not upload.get("width") or pointer.get("size_bytes") != len(upload["bytes"]):
            return f"{file_id}: width, height and size must be those of the upload"
        if [a.get("id") for a in attachments].count(file_id) != 1:
            return f"{file_id} needs exactly one attachment"
    if len(attachments) != len(pointers):
        return "one attachment per image, no more"
    return None


def picture_turn(fake, plan, turn, payload: dict, user: dict) -> tuple[list, list, int] | str:
    """(streamed steps, all steps, document polls before it is whole), or why the turn is refused."""
    hints = payload.get("system_hints") or []
    drawing = "picture_v2" in hints and "picture_v2" in ((user.get("metadata") or {}).get("system_hints") or [])
    prompt = "\n".join(p for p in (user.get("content") or {}).get("parts") or [] if isinstance(p, str))
    tl = up.Timeline(plan, turn)
    tl.add(up.user_echo(user), bare=True)
    if not drawing:
        up.today_answer(tl, NO_TOOL_ANSWER)
        return tl.steps, tl.steps, 0
    problem = edit_problem(fake, payload, user)
    if problem:
        return problem
    inputs = [str(p["asset_pointer"]).removeprefix("file-service://") for p in (user["content"]["parts"])
              if isinstance(p, dict)]
    width, height = picture_size(prompt)
    transparent = "transparent background" in prompt.lower()
    seed = hashlib.sha256("|".join([turn.conversation_id, prompt] + [
        hashlib.sha256(fake.uploads[i]["bytes"]).hexdigest() for i in inputs]).encode()).hexdigest()
    final = f"file_{seed[:24]}"
    fake.media.files[final] = png(width, height, seed, transparent)
    if fake.media.lose_pictures:
        fake.missing_files.add(final)
    previews = [f"file_{seed[:16]}preview{i}" for i in range(plan.partials)]
    for index, preview in enumerate(previews):
        fake.media.files[preview] = png(max(width // 8, 1), max(height // 8, 1), f"{seed}{index}", transparent)
    fake.media.drawn.append({"file_id": final, "bytes": fake.media.files[final], "prompt": prompt,
                             "inputs": inputs, "conversation_id": turn.conversation_id,
                             "previews": [fake.media.files[p] for p in previews]})
    up.today_tool_call(tl, PICTURE_TOOL, orjson.dumps({"prompt": prompt.split("\n")[0], "size": f"{width}x{height}",
                                                       "n": 1, "referenced_image_ids": inputs}).decode())

    def pointer(file_id: str, rendered: int) -> dict:
        return {"content_type": "image_asset_pointer", "asset_pointer": f"sediment://{file_id}",
                "size_bytes": len(fake.media.files[file_id]), "width": width, "height": height,
                "metadata": {"dalle": None, "generation": {"gen_id": f"gen-{seed[:8]}", "gen_size": "image",
                                                           "height": rendered, "width": width,
                                                           "transparent_background": transparent}}}

    first = pointer(previews[0], height // 4) if previews else pointer(final, 0)
    tl.message("tool", {"content_type": "multimodal_text", "parts": [first]}, name=PICTURE_TOOL, bare=True,
               metadata={"async_task_type": "image_gen", "image_gen_async": True,
                         "image_gen_task_id": f"task-{seed[:8]}", "image_gen_title": "Picture"})
    for index, preview in enumerate(previews[1:], 1):
        tl.steps.append(up.Op("/message/content/parts/0", "replace",
                              pointer(preview, height * (index + 1) // (len(previews) + 1))))
    stream_end = len(tl.steps)
    tl.steps.append(up.Patch([("/message/content/parts/0", "replace", pointer(final, height)),
                              ("/message/status", "replace", "finished_successfully"),
                              ("/message/metadata/is_complete", "replace", True)]))
    up.today_answer(tl, PICTURE_NOTE)
    if plan.image_async:          # the stream ends before the picture is done: it is in the document
        return tl.steps[:stream_end], tl.steps, plan.polls or up.IMAGE_POLLS
    return tl.steps, tl.steps, 0


# ---------------------------------------------------------------- documents

def read_files_answer(fake, user: dict) -> str:
    """What a model that reads the turn's attachments says about each."""
    lines = []
    for attachment in (user.get("metadata") or {}).get("attachments") or []:
        name = attachment.get("name") or "?"
        upload = fake.uploads.get(attachment.get("id"))
        if not upload or "bytes" not in upload:
            lines.append(f"I cannot find {name}.")
        elif upload.get("use_case") == "my_files" and not upload.get("ready"):
            lines.append(f"I cannot see {name} yet.")
        else:
            text = upload["bytes"].decode("utf-8", "replace")
            first = next((line.strip() for line in text.splitlines() if line.strip()), "")
            lines.append(f"{name} ({upload.get('mime_type')}) begins: {first[:80]}")
    return "\n".join(lines) or "There is no file in this message."


def process_upload(handler, fake, record) -> None:
    """POST /backend-api/files/process_upload_stream: NDJSON progress, one event per line, flushed."""
    body = record.json if isinstance(record.json, dict) else {}
    upload = fake.uploads.get(body.get("file_id"))
    if not fake.process_uploads or not upload or "bytes" not in upload:
        return handler._json(404, {"detail": "Not Found"})
    if body.get("use_case") != "my_files" or not isinstance(body.get("file_name"), str):
        return handler._json(422, {"detail": [{"loc": ["body", "use_case"], "msg": "bad processing request"}]})
    upload["processed"] = body
    handler.send_response(200)
    handler.send_header("Content-Type", "application/x-ndjson")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    out = up.ChunkedBody(handler.wfile)
    events = PROCESSING if fake.media.processing != "error" else PROCESSING[:2] + ("file.processing.error",)
    try:
        for index, name in enumerate(events):
            event = {"file_id": body["file_id"], "event": name, "progress": round(100 * index / (len(events) - 1))}
            if name == "file.indexing.in_progress":
                event["extra"] = {"total_tokens": len(upload["bytes"]) // 4}
            if name == "file.processing.error":
                event["message"] = "The file could not be parsed."
            out.write(orjson.dumps(event) + b"\n")
            if fake.media.processing == "stall":
                handler._pause(fake.media.stall_seconds)
            if name == "file.processing.completed":
                upload["ready"] = True
        out.close()
        upload["processing_outcome"] = "complete"
    except up.CONNECTION_GONE:
        handler.close_connection = True
        upload["processing_outcome"] = "client_gone"


# ---------------------------------------------------------------- speech to text

def form_parts(record) -> dict[str, tuple[str | None, bytes]] | None:
    """A multipart/form-data body: field -> (file name, bytes); None when it is no such form."""
    kind = record.headers.get("content-type", "")
    if not kind.startswith("multipart/form-data") or "boundary=" not in kind:
        return None
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + kind.encode() + b"\r\n\r\n" + record.body)
    if not message.is_multipart():
        return None
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


def transcribe(handler, fake, record) -> None:
    if len(record.body) > TRANSCRIBE_LIMIT:
        return handler._json(413, {"detail": "Request Entity Too Large"})
    fields = form_parts(record)
    if fields is None or "file" not in fields or fields["file"][0] is None:
        return handler._json(422, {"detail": [{"loc": ["body", "file"], "msg": "field required",
                                               "type": "value_error.missing"}]})
    data = fields["file"][1]
    language = fields.get("language", (None, b""))[1].decode()
    if language and not re.fullmatch(r"[a-z]{2,3}", language):
        return handler._json(422, {"detail": [{"loc": ["body", "language"], "msg": "invalid language"}]})
    if not data or not data.startswith(AUDIO_SIGNATURES) and data[4:8] != b"ftyp":
        return handler._json(400, {"detail": "Could not process the audio file."})
    text = fake.media.transcripts.get(data, TRANSCRIPT)
    if fake.media.transcribe_plain:
        return handler._send(200, {"Content-Type": "text/plain; charset=utf-8"}, text.encode())
    handler._json(200, {"text": text})


# ---------------------------------------------------------------- read aloud

def is_read_aloud(payload: dict) -> bool:
    messages = payload.get("messages")
    return isinstance(messages, list) and bool(messages) and all(
        isinstance(m, dict) and (m.get("author") or {}).get("role") == "assistant" for m in messages)


def read_aloud_turn(fake, plan, turn, payload: dict) -> list:
    """The stored assistant messages, echoed (the web app's read-aloud of arbitrary text)."""
    tl = up.Timeline(plan, turn)
    stored = {}
    for sent in payload["messages"]:
        text = "\n".join(p for p in (sent.get("content") or {}).get("parts") or [] if isinstance(p, str))
        echo = up.user_echo(sent)
        echo["author"] = {"role": "assistant", "name": None, "metadata": {}}
        if fake.media.echo == "rewritten":     # a new id, the text in two parts
            middle = len(text) // 2
            echo.update(id=str(uuid.uuid4()), content={"content_type": "text", "parts": [text[:middle], text[middle:]]})
        tl.add(echo)
        stored[echo["id"]] = text
    if fake.media.echo == "rewritten":
        up.today_answer(tl, "Noted.")
    fake.media.spoken[turn.conversation_id] = {"temporary": bool(payload.get("history_and_training_disabled")),
                                               "messages": stored}
    return tl.steps


def speech_bytes(text: str, voice: str, audio_format: str) -> bytes:
    """What the fake reads aloud: a container's signature, then bytes that depend on all three."""
    head = {"aac": b"\xff\xf1\x50\x80", "mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00", "opus": b"OggS\x00\x02"}
    seed = hashlib.sha256(f"{voice}|{audio_format}|{text}".encode()).digest()
    return head[audio_format] + seed * 40


def synthesize(handler, fake, record) -> None:
    query = record.query
    fake.media.synthesized.append(dict(query))
    conversation = fake.media.spoken.get(query.get("conversation_id", ""))
    if not query.get("message_id") or not query.get("conversation_id"):
        return handler._json(422, {"detail": [{"loc": ["query", "message_id"], "msg": "field required"}]})
    if conversation is None or query["conversation_id"] in fake.media.hidden:
        return handler._json(404, {"detail": "Conversation not found"})
    if conversation["temporary"]:
        return handler._json(400, {"detail": "temporary chats can't be read aloud"})
    text = conversation["messages"].get(query["message_id"])
    if text is None:
        return handler._json(404, {"detail": "Message not found"})
    voice = query.get("voice") or "cove"
    if voice not in UPSTREAM_VOICES:
        return handler._json(400, {"detail": f"Invalid voice: {voice}"})
    audio_format = query.get("format") if query.get("format") in SPEECH_TYPES else "aac"   # flac, wav: aac
    data = speech_bytes(text, voice, audio_format)
    if fake.media.synthesize == "short":
        data = data[:100]
    if fake.media.synthesize == "url":
        key = f"speech-{uuid.uuid4().hex}"
        fake.media.files[key] = data
        return handler._json(200, {"download_url": f"{fake.url}/_blob/{key}?sig=abc"})
    handler._send(200, {"Content-Type": SPEECH_TYPES[audio_format]}, data)


def voices(handler) -> None:
    handler._json(200, {"selected": "cove", "voices": [{"voice": v, "name": VOICE_NAMES[v]} for v in UPSTREAM_VOICES]})


def wait_hidden(fake, conversation_id: str, timeout: float = 5.0) -> bool:
    """Whether the conversation gets hidden within ``timeout`` (pandora hides it off the request path)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conversation_id in fake.media.hidden:
            return True
        time.sleep(0.02)
    return False
