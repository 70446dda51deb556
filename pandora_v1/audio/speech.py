"""/v1/audio/speech by the upstream's read-aloud (upstream-protocol.md, "Audio"; platform spec 5.5).

``synthesize`` takes no text, only a message of a stored conversation. So
the text goes up as a conversation whose one message is an assistant message
holding it, with history on (read-aloud refuses temporary chats); the echoed
message id (the one whose only part is exactly the text, else the first
assistant message) and the conversation id come from the stream; then
``GET /backend-api/synthesize`` reads that message aloud, and the conversation
is hidden, whatever happened.

Voices are OpenAI's mapped onto the upstream's nine; mp3, opus and aac come
as the upstream makes them. flac, wav and pcm would need a transcoder: a 400
says so. ``speed`` and ``instructions`` are accepted and not acted on.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import orjson

from ..answer.pipeline import hide
from ..auth.credentials import Credentials
from ..errors import APIError, bad_request, missing_parameter, out_of_range, unsupported_value, upstream_error, wrong_type
from ..services import Services
from ..translate.fold import DONE, Folder, Signal
from ..translate.request import ChatMessage, conversation_payload
from ..translate.sse import SSEDecoder
from ..upstream import paths
from ..upstream.body import Body, open_body

log = logging.getLogger(__name__)

MAX_INPUT = 4096
# OpenAI voice -> the upstream's (the public mapping; ballad, verse, marin and cedar, newer than it, are ours)
VOICES = {"alloy": "cove", "ash": "fathom", "coral": "vale", "echo": "ember", "fable": "breeze", "onyx": "orbit",
          "nova": "maple", "sage": "glimmer", "shimmer": "juniper",
          "ballad": "breeze", "verse": "ember", "marin": "maple", "cedar": "orbit"}
UPSTREAM_VOICES = tuple(sorted(set(VOICES.values())))
# response_format -> (the upstream's format, the content type)
FORMATS = {"mp3": ("mp3", "audio/mpeg"), "opus": ("opus", "audio/ogg"), "aac": ("aac", "audio/aac")}
ALL_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
MIN_AUDIO_BYTES = 500      # the upstream's "no audio" answers are shorter (upstream-protocol.md)


@dataclass(frozen=True)
class Speech:
    text: str
    voice: str          # the upstream's voice
    response_format: str = "mp3"


def parse(body) -> Speech:
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    for name in ("model", "input", "voice"):
        if body.get(name) is None:
            raise missing_parameter(name)
    for name in ("model", "input", "instructions"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise wrong_type(name, "a string", body[name])
    text = body["input"]
    if not text.strip():
        raise bad_request("Invalid 'input': empty string. Expected a string with minimum length 1, but got an empty "
                          "string instead.", "input", code="empty_string")
    if len(text) > MAX_INPUT:
        raise bad_request(f"Invalid 'input': string too long. Expected a string with maximum length {MAX_INPUT}, "
                          f"but got a string with length {len(text)} instead.", "input", code="string_above_max_length")
    return Speech(text, _voice(body["voice"]), _format(body.get("response_format")))


def _voice(voice) -> str:
    if isinstance(voice, dict):
        raise bad_request("Custom voices are not available here: use one of the built-in voices.", "voice",
                          code="unsupported_value")
    if not isinstance(voice, str):
        raise wrong_type("voice", "a string", voice)
    name = voice.strip().lower()
    if name in VOICES:
        return VOICES[name]
    if name in UPSTREAM_VOICES:
        return name
    raise unsupported_value("voice", voice, tuple(VOICES))


def _format(value) -> str:
    if value is None:
        return "mp3"
    if not isinstance(value, str):
        raise wrong_type("response_format", "a string", value)
    if value not in ALL_FORMATS:
        raise unsupported_value("response_format", value, ALL_FORMATS)
    if value not in FORMATS:
        raise bad_request(f"response_format '{value}' is not available here: the upstream reads aloud in mp3, opus "
                          "or aac only.", "response_format", code="unsupported_value")
    return value


def check_options(body: dict) -> None:
    """The options OpenAI checks that change nothing here."""
    speed = body.get("speed")
    if speed is not None:
        if isinstance(speed, bool) or not isinstance(speed, (int, float)):
            raise wrong_type("speed", "a decimal", speed)
        if not 0.25 <= speed <= 4.0:
            raise out_of_range("speed", "decimal", speed, **({"low": 0.25} if speed < 0.25 else {"high": 4.0}))
    stream_format = body.get("stream_format")
    if stream_format is not None and stream_format != "audio":
        if stream_format == "sse":
            raise bad_request("stream_format 'sse' is not available here; ask for 'audio'.", "stream_format",
                              code="unsupported_value")
        raise unsupported_value("stream_format", stream_format, ("sse", "audio"))


def read_aloud(services: Services, credentials: Credentials, asked: Speech) -> tuple[bytes, str]:
    """(audio bytes, content type)."""
    settings = services.settings
    payload = conversation_payload([ChatMessage("assistant", asked.text)], settings.speech_model,
                                   {"kind": "primary_assistant"}, history_disabled=False,
                                   delta_encoding=settings.delta_encoding)
    response = services.upstream.start_conversation(payload, credentials)
    conversation_id = message_id = None
    try:
        body = open_body(response, settings.read_timeout)
    except APIError:
        response.close()
        raise
    try:
        conversation_id, message_id = _echoed(body, asked.text, settings.max_event_bytes)
        if not conversation_id or not message_id:
            raise upstream_error("The upstream did not keep the text to read aloud (no message came back).")
        return _synthesize(services, credentials, conversation_id, message_id, asked)
    finally:
        body.close()
        if conversation_id:
            threading.Thread(target=hide, args=(services, conversation_id, credentials),
                             name="hide-conversation", daemon=True).start()


def _echoed(body: Body, text: str, max_event_bytes: int) -> tuple[str | None, str | None]:
    """(conversation id, message id) from the stream: the assistant message that is exactly ``text``,
    else the first assistant message."""
    decoder, folder = SSEDecoder(max_event_bytes), Folder()
    conversation_id = first = None
    while not folder.ended:
        data = body.read()
        for name, raw in decoder.feed(data) if data else decoder.close():
            item = folder.feed(name, raw)
            if isinstance(item, Signal):
                if item is not DONE and item.kind == "error":
                    raise upstream_error(f"The upstream failed to keep the text: {item.value}")
                continue
            if item is None:
                continue
            conversation_id = item.get("conversation_id") or conversation_id
            message = item["message"]
            if (message.get("author") or {}).get("role") != "assistant" or not message.get("id"):
                continue
            first = first or str(message["id"])
            if (message.get("content") or {}).get("parts") == [text] and conversation_id:
                return conversation_id, str(message["id"])
        if not data:
            break
    return conversation_id, first


def _synthesize(services: Services, credentials: Credentials, conversation_id: str, message_id: str,
                asked: Speech) -> tuple[bytes, str]:
    upstream_format, content_type = FORMATS[asked.response_format]
    response = services.upstream.request(
        "GET", paths.synthesize(message_id, conversation_id, asked.voice, upstream_format), credentials,
        headers={"Accept": "*/*"})
    with response:
        data, kind = response.content, response.headers.get("Content-Type", "")
    if "json" in kind or data[:1] == b"{":
        try:
            answer = orjson.loads(data)
        except orjson.JSONDecodeError:
            answer = None
        url = (answer.get("download_url") or answer.get("url")) if isinstance(answer, dict) else None
        if not isinstance(url, str):
            raise upstream_error("The upstream's read-aloud answer has no audio.")
        data, kind = services.upstream.download(url, services.settings.max_media_bytes, credentials)
    if len(data) < MIN_AUDIO_BYTES:
        raise upstream_error("The upstream read aloud no audio.")
    return data, kind if kind.startswith("audio/") else content_type

