"""/v1/audio/transcriptions: the form checked as OpenAI does, the file sent to the upstream's transcribe.

The upstream (``POST /backend-api/transcribe``, multipart ``file`` and
``language``) answers text only; formats.py makes every response format of it.
The file's type comes from its bytes; its length from its headers (files/audio.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import orjson

from ..auth.credentials import Credentials
from ..errors import APIError, bad_request, missing_parameter, out_of_range, unsupported_value, wrong_type
from ..files import audio
from ..files.sniff import AUDIO_TYPES, EXTENSIONS, sniff_type
from ..upstream import paths
from ..upstream.client import UpstreamClient
from .languages import NAMES

MAX_BYTES = 25 * 1024 * 1024        # OpenAI's limit
FORMATS = ("json", "text", "srt", "verbose_json", "vtt", "diarized_json")
GRANULARITIES = ("word", "segment")
SUPPORTED_NAMES = "['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']"
NOT_STREAMED = ("whisper-1",)       # OpenAI ignores stream for it
_TRUE, _FALSE = ("true", "1"), ("false", "0")


@dataclass(frozen=True)
class Transcription:
    """What the client asked, with its file read and measured."""
    model: str
    data: bytes
    file_name: str
    content_type: str
    duration: float
    response_format: str = "json"
    language: str | None = None
    prompt: str = ""
    stream: bool = False


def parse(form, files) -> Transcription:
    """Raise OpenAI's 400 (413 for a file over 25 MB) for what it would refuse, else the request."""
    if "file" not in files:
        raise missing_parameter("file")
    model = form.get("model", "").strip()
    if not model:
        raise missing_parameter("model")
    response_format = form.get("response_format") or "json"
    if response_format not in FORMATS:
        raise unsupported_value("response_format", response_format, FORMATS)
    language = form.get("language", "").strip().lower() or None
    if language is not None and language not in NAMES:
        raise bad_request(f"Invalid language '{language}'. Language parameter must be specified in ISO-639-1 "
                          "format.", "language", code="invalid_value")
    for name, allowed in (("timestamp_granularities[]", GRANULARITIES), ("include[]", ("logprobs",))):
        for value in form.getlist(name):
            if value not in allowed:
                raise unsupported_value(name, value, allowed)
    _decimal(form, "temperature", 0, 1)
    stream = _boolean(form, "stream")
    _chunking(form.get("chunking_strategy"))
    storage = files["file"]
    data = storage.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise APIError(413, f"Maximum content size limit ({MAX_BYTES}) exceeded ({len(data) + _rest(storage)} bytes "
                            "read).", param="file", code="file_too_large")
    if not data:
        raise bad_request("Audio file is too short. Minimum audio length is 0.1 seconds.", "file",
                          code="audio_too_short")
    mime = sniff_type(data)
    if mime not in AUDIO_TYPES:
        raise bad_request(f"Invalid file format. Supported formats: {SUPPORTED_NAMES}", "file",
                          code="invalid_value")
    name = os.path.basename(storage.filename or "")
    if not os.path.splitext(name)[1]:
        name = f"audio{EXTENSIONS[mime]}"         # a name without an extension (the AI SDK's "blob")
    declared = storage.mimetype or ""
    content_type = declared if declared.startswith(("audio/", "video/")) else mime
    return Transcription(model, data, name, content_type, audio.duration(data), response_format, language,
                         form.get("prompt", ""), stream and model not in NOT_STREAMED)


def _rest(storage) -> int:
    """How much of an oversized file was not read (for OpenAI's "bytes read" count)."""
    total = 0
    while piece := storage.read(1 << 20):
        total += len(piece)
    return total


def _decimal(form, name: str, low: float, high: float) -> None:
    if name not in form:
        return
    try:
        value = float(form[name])
    except ValueError:
        raise wrong_type(name, "a decimal", form[name]) from None
    if not low <= value <= high:
        raise out_of_range(name, "decimal", form[name], **({"low": low} if value < low else {"high": high}))


def _boolean(form, name: str) -> bool:
    value = form.get(name, "false").strip().lower()
    if value not in _TRUE + _FALSE:
        raise wrong_type(name, "a boolean", form[name])
    return value in _TRUE


def _chunking(value: str | None) -> None:
    """"auto" or a server_vad object (as JSON): accepted, not acted on (the upstream takes one block)."""
    if value is None or value == "auto":
        return
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict) or parsed.get("type") != "server_vad":
        raise bad_request("Invalid 'chunking_strategy': expected 'auto' or an object with type 'server_vad'.",
                          "chunking_strategy", code="invalid_value")


def transcribe(upstream: UpstreamClient, credentials: Credentials, asked: Transcription) -> str:
    """The upstream's text for the file; a file it refuses is the client's 400."""
    fields = {"language": asked.language} if asked.language else {}
    try:
        response = upstream.post_form(paths.TRANSCRIBE, credentials, fields,
                                      {"file": (asked.file_name, asked.data, asked.content_type)})
    except APIError as exc:
        if exc.upstream_status in (400, 415, 422):
            raise bad_request("This model does not support the format you provided.", "file",
                              code="invalid_value") from None
        raise
    with response:
        body = response.content
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("text"), str):
        return parsed["text"]
    if parsed is None:
        return body.decode("utf-8", "replace").strip()     # a plain-text answer
    raise APIError(502, "The upstream's transcription has no text.", code="upstream_error")
