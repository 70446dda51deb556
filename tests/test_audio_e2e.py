"""The audio API with openai-python: transcriptions through the fake's transcribe endpoint in every
response format (the timed ones made of the one text, the length from the file), streamed for the
models that stream; speech by read-aloud (a stored assistant message, synthesize, hidden after).
Bad files and parameters get OpenAI's 400 (413 for a file over 25 MB), never a 500."""
from __future__ import annotations

import io
import wave

import openai
import orjson
import pytest
import requests

from tests import fake_media
from tests.conftest import ACCESS_TOKEN

AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
TEXT = fake_media.TRANSCRIPT


def wav(seconds: float, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(rate)
        file.writeframes(b"\x01\x00" * int(seconds * rate))
    return out.getvalue()


CLIP = wav(3.2)


def transcribe_calls(fake):
    return [r for r in fake.requests if r.path.endswith("/backend-api/transcribe")]


def test_json_sends_the_file_through(client, fake):
    result = client.audio.transcriptions.create(model="whisper-1", file=("hello.wav", CLIP, "audio/wav"),
                                                language="en", response_format="json")
    assert result.text == TEXT and result.usage.type == "duration" and result.usage.seconds == 4
    [call] = transcribe_calls(fake)
    parts = fake_media.form_parts(call)
    assert parts["file"] == ("hello.wav", CLIP) and parts["language"] == (None, b"en")
    assert call.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"


@pytest.mark.parametrize("response_format, expected", [
    ("text", f"{TEXT}\n"),
    ("srt", f"1\n00:00:00,000 --> 00:00:03,200\n{TEXT}\n"),
    ("vtt", f"WEBVTT\n\n00:00:00.000 --> 00:00:03.200\n{TEXT}\n"),
])
def test_text_formats_are_strings(client, fake, response_format, expected):
    result = client.audio.transcriptions.create(model="whisper-1", file=("a.wav", CLIP), response_format=response_format)
    assert result == expected


def test_verbose_json_has_every_field_clients_read(client, fake):
    result = client.audio.transcriptions.create(model="whisper-1", file=("a.wav", CLIP), response_format="verbose_json",
                                                timestamp_granularities=["word", "segment"])
    assert (result.task, result.language, result.duration, result.text) == ("transcribe", "english", 3.2, TEXT)
    assert result.words is None                        # word timings cannot be had: none, and no 400
    [segment] = result.segments
    assert segment.model_dump() == {"id": 0, "seek": 0, "start": 0.0, "end": 3.2, "text": f" {TEXT}", "tokens": [],
                                    "temperature": 0.0, "avg_logprob": 0.0, "compression_ratio": 1.0,
                                    "no_speech_prob": 0.0}
    assert result.usage.model_dump() == {"type": "duration", "seconds": 4.0}


def test_verbose_json_language_is_the_english_name(client, fake):
    fake.media.transcripts[CLIP] = "Bonjour à tous."
    result = client.audio.transcriptions.create(model="gpt-4o-transcribe", file=("a.wav", CLIP), language="fr",
                                                response_format="verbose_json")
    assert (result.language, result.text) == ("french", "Bonjour à tous.")
    fake.media.transcripts[CLIP] = "こんにちは、元気ですか。"
    result = client.audio.transcriptions.create(model="whisper-1", file=("a.wav", CLIP), response_format="verbose_json")
    assert result.language == "japanese"          # no language given: the text's script tells


def test_diarized_json(client, fake):
    result = client.audio.transcriptions.create(model="gpt-4o-transcribe-diarize", file=("a.wav", CLIP),
                                                response_format="diarized_json")
    assert (result.task, result.duration, result.text) == ("transcribe", 3.2, TEXT)
    assert [s.model_dump() for s in result.segments] == [{"type": "transcript.text.segment", "id": "seg_0",
                                                          "start": 0.0, "end": 3.2, "speaker": "A", "text": TEXT}]
    assert result.usage.type == "tokens"


def test_token_usage_for_the_gpt_4o_models(client, fake):
    result = client.audio.transcriptions.create(model="gpt-4o-mini-transcribe", file=("a.wav", CLIP))
    usage = result.usage
    assert (usage.type, usage.input_token_details.audio_tokens, usage.input_token_details.text_tokens) == \
        ("tokens", 32, 0)
    assert usage.output_tokens > 0 and usage.total_tokens == usage.input_tokens + usage.output_tokens


@pytest.mark.parametrize("model, types", [
    ("gpt-4o-mini-transcribe", ["transcript.text.delta", "transcript.text.done"]),
    ("gpt-4o-transcribe-diarize", ["transcript.text.delta", "transcript.text.segment", "transcript.text.done"])])
def test_stream_for_the_models_that_stream(client, fake, model, types):
    events = list(client.audio.transcriptions.create(model=model, file=("a.wav", CLIP), stream=True))
    assert [e.type for e in events] == types
    events = [e for e in events if e.type != "transcript.text.segment"]
    assert "".join(e.delta for e in events[:-1]) == events[-1].text == TEXT
    assert events[-1].usage.type == "tokens"


def test_whisper_ignores_stream(server, fake):
    response = requests.post(server.url + "/v1/audio/transcriptions", headers=AUTH, timeout=30,
                             files={"file": ("a.wav", CLIP)}, data={"model": "whisper-1", "stream": "true"})
    assert response.headers["Content-Type"].startswith("application/json") and response.json()["text"] == TEXT


def test_a_plain_text_answer_and_a_nameless_file(server, fake):
    fake.media.transcribe_plain = True
    response = requests.post(server.url + "/v1/audio/transcriptions", headers=AUTH, timeout=30,
                             files={"file": ("blob", CLIP, "application/octet-stream")}, data={"model": "whisper-1"})
    assert response.json()["text"] == TEXT
    parts = fake_media.form_parts(transcribe_calls(fake)[0])
    assert parts["file"] == ("audio.wav", CLIP)      # named by its bytes


@pytest.mark.parametrize("data, param, code", [
    ({"model": "whisper-1", "response_format": "xml"}, "response_format", "invalid_value"),
    ({"model": "whisper-1", "language": "english"}, "language", "invalid_value"),
    ({"model": "whisper-1", "temperature": "hot"}, "temperature", "invalid_type"),
    ({"model": "whisper-1", "temperature": "1.5"}, "temperature", "decimal_above_max_value"),
    ({"model": "whisper-1", "timestamp_granularities[]": "sentence"}, "timestamp_granularities[]", "invalid_value"),
    ({"model": "whisper-1", "stream": "perhaps"}, "stream", "invalid_type"),
    ({"model": "whisper-1", "chunking_strategy": "manual"}, "chunking_strategy", "invalid_value"),
    ({"response_format": "json"}, "model", "missing_required_parameter"),
])
def test_bad_parameters(server, fake, data, param, code):
    response = requests.post(server.url + "/v1/audio/transcriptions", headers=AUTH, timeout=30,
                             files={"file": ("a.wav", CLIP)}, data=data)
    assert response.status_code == 400, response.text
    assert (response.json()["error"]["param"], response.json()["error"]["code"]) == (param, code)
    assert transcribe_calls(fake) == []


@pytest.mark.parametrize("files, code", [
    ({"model": (None, "whisper-1")}, "missing_required_parameter"),
    ({"file": ("notes.txt", b"not audio at all"), "model": (None, "whisper-1")}, "invalid_value"),
    ({"file": ("empty.wav", b""), "model": (None, "whisper-1")}, "audio_too_short"),
    ({"file": ("a.aac", b"\xff\xf1\x50\x80" + b"\x00" * 600), "model": (None, "whisper-1")}, "invalid_value"),
])
def test_bad_files(server, fake, files, code):
    response = requests.post(server.url + "/v1/audio/transcriptions", headers=AUTH, files=files, timeout=30)
    assert response.status_code == 400, response.text
    assert (response.json()["error"]["param"], response.json()["error"]["code"]) == ("file", code)
    if code == "invalid_value":
        assert response.json()["error"]["message"].startswith("Invalid file format. Supported formats: ['flac'")


def test_a_30_mb_file_is_413_as_at_openai(server, fake):
    big = wav(0.1) + b"\x00" * (30 * 1024 * 1024)
    response = requests.post(server.url + "/v1/audio/transcriptions", headers=AUTH, timeout=60,
                             files={"file": ("big.wav", big)}, data={"model": "whisper-1"})
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["param"] == "file" and error["message"].startswith("Maximum content size limit (26214400) exceeded")
    assert transcribe_calls(fake) == []


@pytest.mark.parametrize("name, data", [
    ("a.mp4", b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100), ("a.m4a", b"\x00\x00\x00\x18ftypM4A " + b"\x00" * 100),
    ("a.webm", b"\x1a\x45\xdf\xa3" + b"\x00" * 8), ("a.ogg", b"OggS" + b"\x00" * 60), ("a.flac", b"fLaC" + b"\x00" * 60),
    ("a.mp3", b"ID3\x04" + b"\x00" * 60)])
def test_every_container_goes_through(server, fake, name, data):
    response = requests.post(server.url + "/v1/audio/transcriptions", headers=AUTH, timeout=30,
                             files={"file": (name, data)}, data={"model": "whisper-1", "response_format": "verbose_json"})
    assert response.status_code == 200, response.text
    assert response.json()["text"] == TEXT and response.json()["duration"] >= 0
    assert fake_media.form_parts(transcribe_calls(fake)[0])["file"] == (name, data)


def test_upstream_refusal_is_the_clients_400(server, fake, monkeypatch):
    monkeypatch.setattr(fake_media, "AUDIO_SIGNATURES", (b"OggS",))   # the upstream reads only Ogg now
    response = requests.post(server.url + "/v1/audio/transcriptions", headers=AUTH, timeout=30,
                             files={"file": ("a.wav", CLIP)}, data={"model": "whisper-1"})
    assert response.status_code == 400
    assert response.json()["error"] == {"message": "This model does not support the format you provided.",
                                        "type": "invalid_request_error", "param": "file", "code": "invalid_value"}


# ------------------------------------------------------------------ speech

def conversation_posts(fake):
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/conversation")]


@pytest.mark.parametrize("voice, fmt, upstream_voice, kind", [
    ("alloy", "mp3", "cove", "audio/mpeg"), ("onyx", "opus", "orbit", "audio/ogg"), ("nova", "aac", "maple", "audio/aac")])
def test_speech_by_read_aloud(client, fake, voice, fmt, upstream_voice, kind):
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice=voice, input="Hello there, friend.",
                                                            response_format=fmt) as raw:
        data, content_type = raw.read(), raw.headers["content-type"]
    assert data == fake_media.speech_bytes("Hello there, friend.", upstream_voice, fmt) and content_type == kind
    [post] = conversation_posts(fake)
    [message] = post.json["messages"]
    assert message["author"]["role"] == "assistant" and message["content"]["parts"] == ["Hello there, friend."]
    assert post.json["history_and_training_disabled"] is False       # read-aloud refuses temporary chats
    [query] = fake.media.synthesized
    assert (query["message_id"], query["voice"], query["format"]) == (message["id"], upstream_voice, fmt)
    assert fake_media.wait_hidden(fake, query["conversation_id"])      # hidden afterwards


def test_speech_with_a_rewritten_echo_and_a_download_url(make_server, fake):
    srv = make_server(need_delete_conversation_after_response=True)   # temporary chats for text: not here
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    fake.media.echo, fake.media.synthesize = "rewritten", "url"
    data = client.audio.speech.create(model="gpt-4o-mini-tts", voice="shimmer", input="Read me.").read()
    assert data == fake_media.speech_bytes("Read me.", "juniper", "mp3")
    assert conversation_posts(fake)[0].json["history_and_training_disabled"] is False
    [query] = fake.media.synthesized
    assert query["message_id"] in fake.media.spoken[query["conversation_id"]]["messages"]
    assert fake_media.wait_hidden(fake, query["conversation_id"])


def test_speech_without_audio_is_502_and_still_hidden(client, fake):
    fake.media.synthesize = "short"
    with pytest.raises(openai.InternalServerError) as info:
        client.audio.speech.create(model="tts-1", voice="echo", input="Nothing comes back.")
    assert info.value.status_code == 502 and info.value.body["code"] == "upstream_error"
    assert fake_media.wait_hidden(fake, fake.media.synthesized[0]["conversation_id"])


@pytest.mark.parametrize("body, param, code", [
    ({"voice": "alloy", "input": "x"}, "model", "missing_required_parameter"),
    ({"model": "tts-1", "voice": "alloy"}, "input", "missing_required_parameter"),
    ({"model": "tts-1", "input": "x"}, "voice", "missing_required_parameter"),
    ({"model": "tts-1", "voice": "robot", "input": "x"}, "voice", "invalid_value"),
    ({"model": "tts-1", "voice": {"id": "voice_123"}, "input": "x"}, "voice", "unsupported_value"),
    ({"model": "tts-1", "voice": "alloy", "input": "x" * 4097}, "input", "string_above_max_length"),
    ({"model": "tts-1", "voice": "alloy", "input": 5}, "input", "invalid_type"),
    ({"model": "tts-1", "voice": "alloy", "input": "x", "response_format": "wav"}, "response_format",
     "unsupported_value"),
    ({"model": "tts-1", "voice": "alloy", "input": "x", "response_format": "ogg"}, "response_format", "invalid_value"),
    ({"model": "tts-1", "voice": "alloy", "input": "x", "speed": 5}, "speed", "decimal_above_max_value"),
    ({"model": "tts-1", "voice": "alloy", "input": "x", "speed": "fast"}, "speed", "invalid_type"),
    ({"model": "tts-1", "voice": "alloy", "input": "x", "stream_format": "sse"}, "stream_format", "unsupported_value"),
])
def test_speech_bad_input(server, fake, body, param, code):
    response = requests.post(server.url + "/v1/audio/speech", json=body, headers=AUTH, timeout=30)
    assert response.status_code == 400, response.text
    assert (response.json()["error"]["param"], response.json()["error"]["code"]) == (param, code)
    assert fake.requests == []


def test_speech_switched_off_is_501(make_server, fake):
    srv = make_server(speech=False)
    response = requests.post(srv.url + "/v1/audio/speech", headers=AUTH, timeout=30,
                             json={"model": "tts-1", "voice": "alloy", "input": "x"})
    assert response.status_code == 501 and response.json()["error"]["code"] == "not_implemented"
    assert fake.requests == []


def test_transcription_and_speech_errors_from_the_upstream(server, fake):
    fake.require_issued = True          # our token is not one the fake issued: 401 from the upstream
    response = requests.post(server.url + "/v1/audio/transcriptions", headers=AUTH, timeout=30,
                             files={"file": ("a.wav", CLIP)}, data={"model": "whisper-1"})
    assert response.status_code == 401 and orjson.loads(response.content)["error"]["code"] == "invalid_api_key"
    response = requests.post(server.url + "/v1/audio/speech", headers=AUTH, timeout=30,
                             json={"model": "tts-1", "voice": "alloy", "input": "x"})
    assert response.status_code == 401
