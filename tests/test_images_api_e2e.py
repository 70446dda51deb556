"""The images API with openai-python against the fake's image tool (fake_media.py): gpt-image's
parameter set, n images from n turns, partial images streamed, edits with one and two images and a
mask, and OpenAI's 400 for every bad parameter. Image bytes are compared exactly with what the fake
drew."""
from __future__ import annotations

import base64
import io

import openai
import orjson
import pytest
import requests
from PIL import Image

from tests.conftest import ACCESS_TOKEN

AUTH = {"Authorization": f"Bearer {ACCESS_TOKEN}"}


def png(width=64, height=48, colour=(10, 120, 200), alpha=False) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA" if alpha else "RGB", (width, height), colour + ((255,) if alpha else ())).save(out, "PNG")
    return out.getvalue()


def conversations(fake):
    return [r.json for r in fake.requests if r.method == "POST" and r.path.endswith("/conversation")]


def drawn_bytes(fake) -> list[bytes]:
    return [d["bytes"] for d in fake.media.drawn]


def test_generate_b64_with_gpt_image_fields(client, fake):
    result = client.images.generate(model="gpt-image-1", prompt="!picture\nA red fox sitting in fresh snow",
                                    size="1024x1024", quality="low", background="auto", output_format="png",
                                    moderation="auto")
    [item] = result.data
    assert base64.b64decode(item.b64_json) == drawn_bytes(fake)[0]
    assert item.url is None and item.revised_prompt is None     # gpt-image: no url unless asked, no revised prompt
    assert (result.size, result.background, result.output_format, result.quality) == ("1024x1024", "opaque", "png",
                                                                                     "low")
    usage = result.usage
    assert usage.output_tokens == 272 and usage.input_tokens == usage.input_tokens_details.text_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    [sent] = conversations(fake)
    assert sent["system_hints"] == ["picture_v2"] and sent["history_and_training_disabled"] is False
    assert sent["model"] == "auto"                              # images_model: the name is no alias
    message = sent["messages"][-1]
    assert message["metadata"]["system_hints"] == ["picture_v2"]
    assert message["content"]["parts"][0].endswith("Output a 1:1 square composition, 1024x1024.")


def test_n_images_are_n_turns_at_once(client, fake):
    result = client.images.generate(model="gpt-image-1", prompt="!picture\nTwo otters", n=2)
    assert len(conversations(fake)) == 2
    got = [base64.b64decode(d.b64_json) for d in result.data]
    assert sorted(got) == sorted(drawn_bytes(fake)) and got[0] != got[1]   # two different pictures
    assert result.usage.output_tokens == 2 * 1056                          # auto: medium, two squares


def test_size_and_transparent_background_go_into_the_prompt(client, fake):
    result = client.images.generate(model="gpt-image-1", prompt="!picture\nA lighthouse", size="1536x1024",
                                    background="transparent", output_format="webp", output_compression=100)
    text = conversations(fake)[0]["messages"][-1]["content"]["parts"][0]
    assert "Output a 3:2 landscape composition, 1536x1024." in text
    assert "Use a transparent background (a PNG with alpha)." in text
    data = base64.b64decode(result.data[0].b64_json)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "WEBP" and image.size == (1536, 1024)
        with Image.open(io.BytesIO(drawn_bytes(fake)[0])) as drawn:
            assert image.convert("RGBA").tobytes() == drawn.convert("RGBA").tobytes()   # lossless
    assert (result.size, result.background, result.output_format) == ("1536x1024", "transparent", "webp")
    assert result.usage.output_tokens == 1584


def test_jpeg_output_is_converted(client, fake):
    result = client.images.generate(model="gpt-image-1", prompt="!picture\nA pear", output_format="jpeg",
                                    output_compression=50)
    data = base64.b64decode(result.data[0].b64_json)
    assert data.startswith(b"\xff\xd8\xff") and result.output_format == "jpeg"
    with Image.open(io.BytesIO(data)) as image, Image.open(io.BytesIO(drawn_bytes(fake)[0])) as drawn:
        assert image.size == drawn.size
        expected = drawn.convert("RGB").getpixel((5, 5))
        assert all(abs(a - b) <= 8 for a, b in zip(image.getpixel((5, 5)), expected, strict=True))


def test_url_only_when_asked_and_both_for_a_dall_e_name(client, fake, server):
    result = client.images.generate(model="gpt-image-1", prompt="!picture\nA kite", response_format="url")
    assert result.data[0].b64_json is None
    assert result.data[0].url.startswith(server.url + "/images/")
    assert requests.get(result.data[0].url, timeout=10).content == drawn_bytes(fake)[0]
    # dall-e-2, not an alias here: drawn by images_model; OpenAI's url default, but b64_json always too
    result = client.images.generate(model="dall-e-2", prompt="!picture\nA kite", size="512x512")
    assert base64.b64decode(result.data[0].b64_json) == drawn_bytes(fake)[1]
    assert requests.get(result.data[0].url, timeout=10).content == drawn_bytes(fake)[1]
    assert result.data[0].revised_prompt == "!picture\nA kite"


def test_stream_partial_images_then_completed_and_no_done(client, fake):
    events = list(client.images.generate(model="gpt-image-1", prompt="!picture\n!partials 3\nA comet", stream=True,
                                         partial_images=2, size="1024x1536"))
    assert [e.type for e in events] == ["image_generation.partial_image"] * 2 + ["image_generation.completed"]
    [drawn] = fake.media.drawn
    assert [base64.b64decode(e.b64_json) for e in events[:2]] == drawn["previews"][:2]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    done = events[-1]
    assert base64.b64decode(done.b64_json) == drawn["bytes"]
    assert (done.size, done.background, done.output_format, done.quality) == ("1024x1536", "opaque", "png", "medium")
    assert done.usage.output_tokens == 1584 and done.usage.input_tokens_details.image_tokens == 0


def test_stream_of_an_image_finished_only_in_the_document(client, fake):
    raw = requests.post(client.base_url.__str__().rstrip("/") + "/images/generations", headers=AUTH, timeout=60,
                        json={"model": "gpt-image-1", "prompt": "!picture\n!image_async\n!polls 2\nA barn",
                              "stream": True}).text
    assert "[DONE]" not in raw
    blocks = [b for b in raw.split("\n\n") if b.strip() and not b.startswith(":")]
    assert [b.split("\n")[0] for b in blocks] == ["event: image_generation.completed"]
    payload = orjson.loads(blocks[0].split("\n")[1][len("data: "):])
    assert base64.b64decode(payload["b64_json"]) == drawn_bytes(fake)[0]


def test_n2_stream_sends_one_completed_per_image(client, fake):
    events = list(client.images.generate(model="gpt-image-1", prompt="!picture\nDucks", stream=True, n=2))
    assert [e.type for e in events] == ["image_generation.completed"] * 2
    assert sorted(base64.b64decode(e.b64_json) for e in events) == sorted(drawn_bytes(fake))


def test_a_refusal_in_words_is_moderation_blocked(client, fake):
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="gpt-image-1", prompt="I would rather not draw that.")
    error = info.value.body
    assert (error["code"], error["type"], error["param"]) == ("moderation_blocked", "image_generation_user_error",
                                                             "prompt")
    assert error["message"].startswith("Your request was rejected by the safety system.")
    assert "I would rather not draw that." in error["message"]


def test_a_refusal_mid_stream_is_an_error_event(client, fake):
    with pytest.raises(openai.APIError) as info:
        list(client.images.generate(model="gpt-image-1", prompt="No drawing today.", stream=True))
    assert info.value.body["code"] == "moderation_blocked"


def test_upstream_errors_keep_their_status_in_a_stream_too(client, fake):
    with pytest.raises(openai.RateLimitError):            # before any event: the HTTP status itself
        list(client.images.generate(model="gpt-image-1", prompt="!status 429", stream=True))
    with pytest.raises(openai.RateLimitError):
        client.images.generate(model="gpt-image-1", prompt="!status 429", n=2)


def test_a_picture_that_cannot_be_fetched_is_502_not_a_refusal(client, fake):
    fake.media.lose_pictures = True
    with pytest.raises(openai.InternalServerError) as info:
        client.images.generate(model="gpt-image-1", prompt="!picture\nA ghost")
    assert info.value.status_code == 502 and info.value.body["code"] == "upstream_error"


def test_a_picture_never_finished_is_504(make_server, fake):
    srv = make_server(async_wait_seconds=1, async_poll_seconds=0.2)
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    with pytest.raises(openai.APIStatusError) as info:
        client.images.generate(model="gpt-image-1", prompt="!picture\n!partials 1\n!image_async\n!polls 1000\nSlow")
    assert info.value.status_code == 504 and info.value.body["code"] == "upstream_timeout"


# ------------------------------------------------------------------ edits

def test_edit_one_image(client, fake):
    original = png()
    result = client.images.edit(model="gpt-image-1", image=("photo.png", original, "image/png"),
                                prompt="!picture\nMake it blue", input_fidelity="high", quality="low")
    [drawn] = fake.media.drawn
    assert base64.b64decode(result.data[0].b64_json) == drawn["bytes"]
    [upload_id] = drawn["inputs"]
    upload = fake.uploads[upload_id]
    assert upload["bytes"] == original and upload["use_case"] == "multimodal"
    assert (upload["width"], upload["height"]) == (64, 48)
    message = conversations(fake)[0]["messages"][-1]
    pointer, text = message["content"]["parts"]
    assert pointer["asset_pointer"] == f"file-service://{upload_id}" and text.startswith("!picture\nMake it blue")
    assert "Keep the details of the input image faithfully" in text
    assert [a["id"] for a in message["metadata"]["attachments"]] == [upload_id]
    assert result.usage.input_tokens_details.image_tokens == 65 + 129 * 2     # 64x48: two 512 tiles at 512 high


def test_edit_two_images_as_image_array(client, fake):
    first, second = png(colour=(21, 22, 23)), png(80, 80, colour=(24, 25, 26))
    result = client.images.edit(model="gpt-image-1", image=[("a.png", first, "image/png"), ("b.png", second, "image/png")],
                                prompt="!picture\nPut them side by side")
    [drawn] = fake.media.drawn
    assert base64.b64decode(result.data[0].b64_json) == drawn["bytes"]
    assert [fake.uploads[i]["bytes"] for i in drawn["inputs"]] == [first, second]
    parts = conversations(fake)[0]["messages"][-1]["content"]["parts"]
    assert [p["asset_pointer"] for p in parts[:2]] == [f"file-service://{i}" for i in drawn["inputs"]]
    sent = [r for r in fake.requests if r.path.endswith("/images/edits")]
    assert sent == []          # (the fake is the upstream: the client's form never reaches it)


def test_edit_with_a_mask_describes_the_region(client, fake):
    mask = Image.new("RGBA", (64, 48), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (32, 0, 64, 24))        # the top right quarter is to change
    out = io.BytesIO()
    mask.save(out, "PNG")
    client.images.edit(model="gpt-image-1", image=("p.png", png(), "image/png"), mask=("m.png", out.getvalue(), "image/png"),
                       prompt="!picture\nAdd a sun")
    text = conversations(fake)[0]["messages"][-1]["content"]["parts"][-1]
    assert "Change only the area from 50% to 100% across and from 0% to 50% down of the first image" in text


def test_edit_stream_events(client, fake):
    events = list(client.images.edit(model="gpt-image-1", image=("p.png", png(), "image/png"),
                                     prompt="!picture\n!partials 1\nSepia", stream=True, partial_images=1))
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]
    assert base64.b64decode(events[-1].b64_json) == drawn_bytes(fake)[0]


def test_edit_form_with_blob_names_and_string_values(server, fake):
    """The AI SDK's form: file name "blob", every value a string."""
    files = [("image[]", ("blob", png(), "image/png")), ("image[]", ("blob", png(colour=(27, 27, 27)), "image/png"))]
    form = {"model": "gpt-image-1", "prompt": "!picture\nMerge", "n": "1", "stream": "false", "output_compression": "100",
            "size": "1024x1024", "partial_images": "0"}
    response = requests.post(server.url + "/v1/images/edits", headers=AUTH, files=files, data=form, timeout=60)
    assert response.status_code == 200, response.text
    assert base64.b64decode(response.json()["data"][0]["b64_json"]) == drawn_bytes(fake)[0]
    assert len(fake.media.drawn[0]["inputs"]) == 2


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("field, value, code", [
    ("n", "2", "invalid_type"), ("n", 11, "integer_above_max_value"), ("n", 0, "integer_below_min_value"),
    ("size", 1024, "invalid_type"), ("size", "1000x1000", "invalid_value"), ("size", "4096x4096", "invalid_value"),
    ("quality", "ultra", "invalid_value"), ("background", "clear", "invalid_value"),
    ("output_format", "gif", "invalid_value"), ("output_compression", 101, "integer_above_max_value"),
    ("output_compression", -1, "integer_below_min_value"), ("moderation", "strict", "invalid_value"),
    ("partial_images", 4, "integer_above_max_value"), ("stream", "yes", "invalid_type"),
    ("response_format", "png", "invalid_value"), ("style", "bold", "invalid_value"), ("user", 5, "invalid_type"),
    ("prompt", 5, "invalid_type"), ("model", ["gpt-image-1"], "invalid_type"),
])
def test_generation_bad_parameters(server, fake, field, value, code):
    body = {"model": "gpt-image-1", "prompt": "!picture\nx", field: value}
    response = requests.post(server.url + "/v1/images/generations", json=body, headers=AUTH, timeout=30)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (field, code), error
    assert fake.requests == []


@pytest.mark.parametrize("body, param, code", [
    ({"model": "gpt-image-1"}, "prompt", "missing_required_parameter"),
    ({"prompt": "   "}, "prompt", "empty_string"),
    ({"model": "dall-e-3", "prompt": "x", "n": 2}, "n", "integer_above_max_value"),
    ({"model": "dall-e-3", "prompt": "x", "size": "1536x1024"}, "size", "invalid_value"),
    ({"model": "dall-e-2", "prompt": "x" * 1001}, "prompt", "string_above_max_length"),
    ({"model": "gpt-image-1", "prompt": "x", "size": "1792x1024"}, "size", "invalid_value"),
    ({"prompt": "x", "background": "transparent", "output_format": "jpeg"}, "background", "invalid_value"),
])
def test_generation_rules_per_model(server, fake, body, param, code):
    response = requests.post(server.url + "/v1/images/generations", json=body, headers=AUTH, timeout=30)
    assert response.status_code == 400 and (response.json()["error"]["param"], response.json()["error"]["code"]) == \
        (param, code), response.text


def test_generation_messages_are_openais(server, fake):
    response = requests.post(server.url + "/v1/images/generations", headers=AUTH, timeout=30,
                             json={"prompt": "x", "quality": "ultra"})
    assert response.json()["error"]["message"] == ("Invalid value: 'ultra'. Supported values are: 'auto', 'low', "
                                                   "'medium', 'high', 'xhigh', 'max', 'standard', and 'hd'.")
    response = requests.post(server.url + "/v1/images/generations", headers=AUTH, timeout=30,
                             json={"prompt": "x", "n": "2"})
    assert response.json()["error"]["message"] == "Invalid type for 'n': expected an integer, but got a string instead."


@pytest.mark.parametrize("form, files, param, code", [
    ({"prompt": "x"}, [], "image", "missing_required_parameter"),
    ({}, [("image", ("a.png", png(), "image/png"))], "prompt", "missing_required_parameter"),
    ({"prompt": "x", "n": "two"}, [("image", ("a.png", png(), "image/png"))], "n", "invalid_type"),
    ({"prompt": "x", "stream": "maybe"}, [("image", ("a.png", png(), "image/png"))], "stream", "invalid_type"),
    ({"prompt": "x", "input_fidelity": "max"}, [("image", ("a.png", png(), "image/png"))], "input_fidelity",
     "invalid_value"),
    ({"prompt": "x"}, [("image", ("a.txt", b"just words", "text/plain"))], "image", "invalid_image"),
    ({"prompt": "x"}, [("image[]", ("a.png", png(), "image/png"))] * 17, "image", "array_above_max_length"),
    ({"prompt": "x"}, [("image", ("a.png", png(), "image/png")), ("mask", ("m.png", png(), "image/png"))], "mask",
     "invalid_image_format"),
    ({"prompt": "x"}, [("image", ("a.png", png(), "image/png")), ("mask", ("m.png", png(10, 10, alpha=True),
                                                                             "image/png"))], "mask", "invalid_value"),
    ({"prompt": "x"}, [("image", ("a.gif", b"GIF89a" + b"\x00" * 20, "image/gif"))], "image", "invalid_image"),
])
def test_edit_bad_input(server, fake, form, files, param, code):
    fields = [(name, (None, value)) for name, value in form.items()]     # multipart, as every client sends it
    response = requests.post(server.url + "/v1/images/edits", headers=AUTH, files=fields + files, timeout=30)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == (param, code), error
    assert [r for r in fake.requests if r.path.endswith("/conversation")] == []


def test_edit_needs_a_form(server, fake):
    response = requests.post(server.url + "/v1/images/edits", headers=AUTH, json={"prompt": "x"}, timeout=30)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_content_type"
