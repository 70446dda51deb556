"""The Vercel AI SDK's image and transcription models (tests/ai_sdk/media.mjs, the packages pinned in
tests/ai_sdk/package-lock.json) against pandora_v1 with the seeds' dall-e-3 alias: its schemas are
the strictest (b64_json must be a string; a segment needs all ten fields; language an English name)."""
from __future__ import annotations

import base64
import io
import wave
from pathlib import Path

import pytest
from PIL import Image

from tests import fake_media
from tests.conftest import Server, base_config, node_scenarios, npm_project

HERE = Path(__file__).parent / "ai_sdk"


def png(colour) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "PNG")
    return out.getvalue()


def wav(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as file:
        file.setnchannels(1)
        file.setsampwidth(2)
        file.setframerate(8000)
        file.writeframes(b"\x00\x00" * int(seconds * 8000))
    return out.getvalue()


PNG_A, PNG_B, WAV = png((200, 10, 10)), png((10, 200, 10)), wav(2.5)


@pytest.fixture(scope="module")
def ran(upstream, tmp_path_factory):
    npm_project(HERE, HERE / "node_modules" / "ai", "the Vercel AI SDK test")
    upstream.reset()
    upstream.process_uploads = True
    srv = Server(tmp_path_factory.mktemp("ai_sdk_media"),
                 base_config(upstream.url, gpt_4_mobile_new_name="gpt-4-mobile,dall-e-3")).wait_ready()
    try:
        env = {name: base64.b64encode(data).decode() for name, data in (("PNG_A", PNG_A), ("PNG_B", PNG_B),
                                                                        ("WAV", WAV))}
        scenarios = node_scenarios(HERE, srv.url + "/v1", "media.mjs", env)
        yield {s.pop("name"): s for s in scenarios}, list(upstream.media.drawn), list(upstream.requests), \
            dict(upstream.uploads)
    finally:
        srv.stop()
        upstream.reset()


def test_generate_image_with_the_seeds_dall_e_3_alias(ran):
    scenarios, drawn, requests, _ = ran
    result = scenarios["generate-dall-e-3"]
    assert "error" not in result, result
    generations = [r for r in drawn if not r["inputs"]]
    assert sorted(base64.b64decode(i) for i in result["images"]) == sorted(d["bytes"] for d in generations)
    assert len(result["images"]) == 2 and result["images"][0] != result["images"][1]
    assert result["mediaTypes"] == ["image/png", "image/png"]
    # dall-e-3 names keep revised_prompt; the body's size and format reach the SDK's metadata
    assert [m["revisedPrompt"] for m in result["metadata"]] == ["!picture\nA red fox in snow"] * 2
    assert (result["metadata"][0]["size"], result["metadata"][0]["outputFormat"]) == ("1024x1024", "png")
    posts = [r.json for r in requests if r.path.endswith("/conversation") and "red fox" in str(r.json)]
    assert len(posts) == 2 and {p["model"] for p in posts} == {"gpt-4-mobile"}   # the SDK: one call per image


def test_edits_with_one_and_two_images(ran):
    scenarios, drawn, _, uploads = ran
    one, two = scenarios["edit-one"], scenarios["edit-two"]
    assert "error" not in one and "error" not in two, (one, two)
    edits = {len(d["inputs"]): d for d in drawn if d["inputs"]}
    assert base64.b64decode(one["images"][0]) == edits[1]["bytes"]
    assert base64.b64decode(two["images"][0]) == edits[2]["bytes"]
    assert [uploads[i]["bytes"] for i in edits[2]["inputs"]] == [PNG_A, PNG_B]
    assert "Keep the details of the input image faithfully" in edits[1]["prompt"]
    assert one["metadata"][0]["imageTokens"] > 0        # usage.input_tokens_details, split per image


def test_transcribe_whisper_verbose_json(ran):
    scenarios, _, requests, _ = ran
    result = scenarios["transcribe-whisper"]
    assert "error" not in result, result
    assert result["text"] == fake_media.TRANSCRIPT
    assert result["segments"] == [{"text": f" {fake_media.TRANSCRIPT}", "startSecond": 0, "endSecond": 2.5}]
    assert (result["language"], result["duration"]) == ("en", 2.5)       # "english" mapped back by the SDK
    sent = fake_media.form_parts([r for r in requests if r.path.endswith("/transcribe")][0])
    assert sent["file"] == ("audio.wav", WAV)


def test_transcribe_gpt_4o_json(ran):
    scenarios, _, _, _ = ran
    result = scenarios["transcribe-gpt-4o"]
    assert "error" not in result, result
    assert (result["text"], result["segments"], result["language"]) == (fake_media.TRANSCRIPT, [], None)
