"""Files as they travel: a client's input file as parsed, an uploaded file, an image an answer showed.

A content part (``image_url`` with a ``data:`` or ``http(s)`` URL, or OpenAI's
``file`` part) becomes an ``InputFile`` when the request is parsed; its type
is worked out from its bytes later (sniff.py). Pure: fetching and uploading
live in fetch.py and uploads.py.
"""
from __future__ import annotations

import base64
import binascii
import urllib.parse
from dataclasses import dataclass

from ..errors import bad_request
from .sniff import IMAGE_TYPES


@dataclass(frozen=True)
class InputFile:
    """A file a client put in a message, as parsed (bytes not fetched yet for URLs)."""
    param: str                       # e.g. messages[0].content[1]
    data: bytes | None = None        # from a data: URL or file_data
    url: str | None = None           # an http(s) URL to fetch
    declared_type: str | None = None
    name: str | None = None          # the client's file name (a file part's filename)


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
        else:   # a document the model reads (upstream-protocol.md, "Documents")
            item.update(source="local", is_big_paste=False)
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
    name = file.get("filename") if isinstance(file.get("filename"), str) else None
    return InputFile(param, data=data, declared_type=mime, name=name)


@dataclass
class ResolvedImage:
    """An image an answer showed, where the client can get it."""
    url: str
    data: bytes | None = None          # the bytes, when they were fetched (b64_json needs no disk)
    revised_prompt: str | None = None
    gen_id: str | None = None          # the upstream's generation id: revisions of one image share it
