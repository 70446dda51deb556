"""Images and documents in chat messages, as parsed: pure functions, no network.

A content part (``image_url`` with a ``data:`` or ``http(s)`` URL, or OpenAI's
``file`` part) becomes an ``InputFile`` when the request is parsed; its type
is worked out from its bytes (``classify``). Fetching and uploading live in
uploads.py.
"""
from __future__ import annotations

import base64
import binascii
import io
import urllib.parse
import zipfile
from dataclasses import dataclass

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
    "text/x-script.python"}
EXTENSIONS = {
    "image/jpeg": ".jpg", "image/webp": ".webp", "image/png": ".png", "image/gif": ".gif",
    "application/pdf": ".pdf", "application/msword": ".doc", "text/plain": ".txt",
    "application/json": ".json", "text/markdown": ".md", "text/html": ".html",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/zip": ".zip", "application/octet-stream": ".bin",
}
@dataclass(frozen=True)
class InputFile:
    """A file a client put in a message, as parsed (bytes not fetched yet for URLs)."""
    param: str                       # e.g. messages[0].content[1]
    data: bytes | None = None        # from a data: URL or file_data
    url: str | None = None           # an http(s) URL to fetch
    declared_type: str | None = None


@dataclass(frozen=True)
class UploadedFile:
    file_id: str
    name: str
    size: int
    mime_type: str
    width: int | None = None
    height: int | None = None

    @property
    def is_image(self) -> bool:
        return self.mime_type in IMAGE_TYPES

    def attachment(self) -> dict:
        item = {"id": self.file_id, "name": self.name, "size": self.size, "mime_type": self.mime_type}
        if self.is_image:
            item.update(width=self.width, height=self.height)
        return item

    def pointer(self) -> dict:
        return {"content_type": "image_asset_pointer", "asset_pointer": f"file-service://{self.file_id}",
                "size_bytes": self.size, "width": self.width, "height": self.height}


# ---------------------------------------------------------------- parsing

def decode_data_url(url: str, param: str) -> tuple[bytes, str | None]:
    header, comma, payload = url.partition(",")
    if not comma or not header.startswith("data:"):
        raise bad_request("A data URL must look like data:<mime>;base64,<data>.", param, code="invalid_file")
    mime = header[5:].split(";")[0].strip() or None
    if ";base64" in header:
        try:
            data = base64.b64decode(payload.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise bad_request("The data URL's base64 is not valid.", param, code="invalid_base64") from None
    else:
        data = urllib.parse.unquote_to_bytes(payload)
    return data, mime


def input_file(part: dict, param: str) -> InputFile:
    """An ``image_url`` or ``file`` content part -> InputFile (400 naming the part if malformed)."""
    if part["type"] in ("image_url", "input_image"):
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str) or not url.strip():
            raise bad_request("An image_url part needs image_url.url.", f"{param}.image_url.url")
        url = url.strip()
        if url.startswith("data:"):
            data, mime = decode_data_url(url, f"{param}.image_url.url")
            return InputFile(param, data=data, declared_type=mime)
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise bad_request("Only data:, http: and https: URLs can be sent.", f"{param}.image_url.url",
                              code="invalid_url")
        return InputFile(param, url=url)
    file = part.get("file")
    if not isinstance(file, dict) or not isinstance(file.get("file_data"), str):
        raise bad_request("A file part needs file.file_data (a data: URL or plain base64).",
                          f"{param}.file.file_data")
    raw = file["file_data"].strip()
    if raw.startswith("data:"):
        data, mime = decode_data_url(raw, f"{param}.file.file_data")
    else:
        try:
            data, mime = base64.b64decode(raw, validate=True), None
        except (binascii.Error, ValueError):
            raise bad_request("file.file_data is not valid base64.", f"{param}.file.file_data",
                              code="invalid_base64") from None
    return InputFile(param, data=data, declared_type=mime)


# ---------------------------------------------------------------- types

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


def classify(data: bytes, declared: str | None) -> tuple[str, str]:
    """(mime type, use_case). The bytes decide; a declared text type refines plain text."""
    mime = sniff_type(data)
    if mime == "text/plain" and declared in DOCUMENT_TYPES and declared.startswith(("text/", "application/json")):
        mime = declared
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
