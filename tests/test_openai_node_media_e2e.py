"""openai-node (tests/openai_node/media.mjs, pinned in tests/openai_node/package-lock.json) on the media
routes: images.edit with one and two images and streamed, every transcription format and a stream,
speech. Bytes and text are compared exactly with what the fake drew, heard and read aloud."""
from __future__ import annotations

import base64
import io
import wave
from pathlib import Path

import pytest
from PIL import Image

from tests import fake_media
from tests.conftest import Server, base_config, node_scenarios, npm_project

HERE = Path(__file__).parent / "openai_node"
TEXT = fake_media.TRANSCRIPT


def png(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(out, "PNG")
    return out.getvalue()


def wav(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(16000)
        file.writeframes(b"\x00\x00" * int(seconds * 16000))
    return out.getvalue()


PNG_A, PNG_B, WAV = png((1, 100, 200)), png((200, 100, 1)), wav(1.25)


@pytest.fixture(scope="module")
def ran(upstream, tmp_path_factory):
    npm_project(HERE, HERE / "node_modules" / "openai", "the openai-node test")
    upstream.reset()
    srv = Server(tmp_path_factory.mktemp("openai_node_media"), base_config(upstream.url)).wait_ready()
    try:
        env = {name: base64.b64encode(data).decode() for name, data in (("PNG_A", PNG_A), ("PNG_B", PNG_B),
                                                                        ("WAV", WAV))}
        scenarios = node_scenarios(HERE, srv.url + "/v1", "media.mjs", env)
        yield {s.pop("name"): s for s in scenarios}, list(upstream.media.drawn), dict(upstream.uploads)
    finally:
        srv.stop()
        upstream.reset()


def test_edits(ran):
    scenarios, drawn, uploads = ran
    by_prompt = {d["prompt"].split("\n")[1]: d for d in drawn}
    one, two, stream = scenarios["edit-one"], scenarios["edit-two"], scenarios["edit-stream"]
    assert "error" not in one and "error" not in two and "error" not in stream, (one, two, stream)
    assert base64.b64decode(one["b64"][0]) == by_prompt["Make it blue"]["bytes"]
    assert one["size"] == "1024x1024" and one["usage"]["input_tokens_details"]["image_tokens"] == 65 + 129
    assert base64.b64decode(two["b64"][0]) == by_prompt["Side by side"]["bytes"]
    assert [uploads[i]["bytes"] for i in by_prompt["Side by side"]["inputs"]] == [PNG_A, PNG_B]
    events = stream["events"]
    assert [e["type"] for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    sepia = [d for d in drawn if d["prompt"].endswith("Sepia")][0]
    assert [base64.b64decode(e["b64"]) for e in events] == [sepia["previews"][0], sepia["bytes"]]


def test_seventeen_images_are_a_400(ran):
    scenarios, _, _ = ran
    error = scenarios["edit-too-many"]["error"]
    assert (error["kind"], error["status"], error["code"], error["param"]) == \
        ("BadRequestError", 400, "array_above_max_length", "image")


def test_transcriptions_in_every_format(ran):
    scenarios, _, _ = ran
    assert scenarios["transcribe-json"]["result"] == {"text": TEXT, "usage": {"type": "duration", "seconds": 2}}
    verbose = scenarios["transcribe-verbose_json"]["result"]
    assert (verbose["language"], verbose["duration"], verbose["text"], len(verbose["segments"])) == \
        ("english", 1.25, TEXT, 1)
    assert "words" not in verbose
    assert scenarios["transcribe-text"]["result"] == f"{TEXT}\n"
    assert scenarios["transcribe-srt"]["result"] == f"1\n00:00:00,000 --> 00:00:01,250\n{TEXT}\n"
    assert scenarios["transcribe-vtt"]["result"] == f"WEBVTT\n\n00:00:00.000 --> 00:00:01.250\n{TEXT}\n"
    events = scenarios["transcribe-stream"]["events"]
    assert [e["type"] for e in events] == ["transcript.text.delta", "transcript.text.done"]
    assert events[0]["delta"] == events[1]["text"] == TEXT


def test_speech(ran):
    scenarios, _, _ = ran
    speech = scenarios["speech"]
    assert "error" not in speech, speech
    assert base64.b64decode(speech["b64"]) == fake_media.speech_bytes("Read this aloud.", "vale", "opus")
    assert speech["type"] == "audio/ogg"
