"""What bytes are: one signature table, and the MIME type and upload use case it gives.

The bytes decide, never a client's claim (a PDF sent as image/png is the PDF
it is); a text file's name or declared type only refines plain text (CSV,
Markdown). Image dimensions come from Pillow; audio lengths from audio.py.
"""
from __future__ import annotations

import io
import os
import zipfile

from ..errors import bad_request

# The MIME types the reference products upload as they are; anything else
# with a known type goes as "ace_upload", and unknown bytes as text/plain.
IMAGE_TYPES = {"image/jpeg", "image/webp", "image/png", "image/gif"}
DOCUMENT_TYPES = {
    "text/x-php", "application/msword", "text/x-c", "text/html",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/json",
    "text/javascript", "application/pdf", "text/x-java", "text/x-tex", "text/x-typescript",
    "text/x-sh", "text/x-csharp", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "text/x-c++", "application/x-latext", "text/markdown", "text/plain", "text/x-ruby",
    "text/x-script.python", "text/csv"}
# What /v1/audio/transcriptions takes (OpenAI's list: flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm).
AUDIO_TYPES = {"audio/flac", "audio/mpeg", "audio/mp4", "video/mp4", "audio/ogg", "audio/wav", "audio/webm"}
EXTENSIONS = {
    "image/jpeg": ".jpg", "image/webp": ".webp", "image/png": ".png", "image/gif": ".gif",
    "application/pdf": ".pdf", "application/msword": ".doc", "text/plain": ".txt",
    "application/json": ".json", "text/markdown": ".md", "text/html": ".html",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/zip": ".zip", "application/octet-stream": ".bin", "text/csv": ".csv",
    "audio/flac": ".flac", "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "video/mp4": ".mp4", "audio/ogg": ".ogg",
    "audio/wav": ".wav", "audio/webm": ".webm", "audio/aac": ".aac",
}
# Plain text named like one of these is that kind of text.
TEXT_BY_EXTENSION = {".csv": "text/csv", ".md": "text/markdown", ".markdown": "text/markdown"}


def _audio_type(data: bytes) -> str | None:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"fLaC"):
        return "audio/flac"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"\x1a\x45\xdf\xa3"):          # EBML: WebM (or Matroska)
        return "audio/webm"
    if data[4:8] == b"ftyp":
        return "audio/mp4" if data[8:12] in (b"M4A ", b"M4B ") else "video/mp4"
    if data.startswith(b"ID3") and data[3:4] in (b"\x02", b"\x03", b"\x04"):   # an ID3v2 tag, then MP3
        return "audio/mpeg"
    if len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:   # a frame sync
        return "audio/aac" if data[1] & 0x06 == 0 else "audio/mpeg"      # layer 0: ADTS (AAC)
    return None


def sniff_type(data: bytes) -> str | None:
    """The MIME type the bytes themselves show, or None when they show none."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    audio = _audio_type(data)
    if audio:
        return audio
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/msword"
    if data.startswith(b"PK\x03\x04"):
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            return "application/zip"
        for folder, mime in (("word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                             ("ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
                             ("xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")):
            if any(n.startswith(folder) for n in names):
                return mime
        return "application/zip"
    if b"\x00" in data[:4096]:
        return None
    try:
        data[:65536].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < 65532:          # a character cut by the 64 KB window is still text
            return None
    return "text/plain"


def classify(data: bytes, declared: str | None, name: str | None = None) -> tuple[str, str]:
    """(mime type, use_case). The bytes decide; a declared text type or the name refines plain text."""
    mime = sniff_type(data)
    if mime == "text/plain" and declared in DOCUMENT_TYPES and declared.startswith(("text/", "application/json")):
        mime = declared
    if mime == "text/plain" and name:
        mime = TEXT_BY_EXTENSION.get(os.path.splitext(name)[1].lower(), mime)
    if mime is None:
        mime = "text/plain"            # as the reference products do with unknown bytes
    if mime in IMAGE_TYPES:
        return mime, "multimodal"
    if mime in DOCUMENT_TYPES:
        return mime, "my_files"
    return mime, "ace_upload"


def image_size(data: bytes, param: str) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise bad_request("The image could not be read.", param, code="invalid_image") from None
