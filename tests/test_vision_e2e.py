"""Images and documents in messages: uploaded to the upstream the way the web app does it."""
from __future__ import annotations

import base64
import hashlib
import io

import openai
import pytest
from PIL import Image

from pandora_v1.files.fetch import SafeFetcher
from tests.conftest import ACCESS_TOKEN
from tests.fake_upstream import FakeUpstream


def png(width=64, height=48, colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
BINARY = bytes(range(256)) * 4


def data_url(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def send(client, parts, model="gpt-4o"):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": parts}])


def calls(fake, method, suffix):
    return [r for r in fake.requests if r.method == method and r.path.endswith(suffix)]


def conversation(fake):
    return calls(fake, "POST", "/backend-api/conversation")[-1].json


def test_png_data_url_is_uploaded_and_pointed_to(client, fake):
    image = png()
    send(client, [{"type": "text", "text": "What is"}, {"type": "image_url", "image_url": {"url": data_url(image, "image/png")}},
                  {"type": "text", "text": "this?"}])
    created = calls(fake, "POST", "/backend-api/files")
    assert len(created) == 1
    digest = hashlib.sha256(image).hexdigest()
    # width and height in the create body, as the web app sends them (upstream-protocol.md, "Image generation
    # and editing"; added with issue 20)
    assert created[0].json == {"file_name": f"{digest}.png", "file_size": len(image), "use_case": "multimodal",
                               "mime_type": "image/png", "width": 64, "height": 48}
    put = calls(fake, "PUT", "")[0]
    assert put.body == image and put.headers["x-ms-blob-type"] == "BlockBlob"
    assert put.headers["content-type"] == "image/png"
    file_id = put.path.rsplit("/", 1)[-1]
    assert calls(fake, "POST", f"/backend-api/files/{file_id}/uploaded")
    message = conversation(fake)["messages"][-1]
    assert message["content"] == {"content_type": "multimodal_text", "parts": [
        "What is", {"content_type": "image_asset_pointer", "asset_pointer": f"file-service://{file_id}",
                    "size_bytes": len(image), "width": 64, "height": 48}, "this?"]}
    assert message["metadata"]["attachments"] == [{"id": file_id, "name": f"{digest}.png", "size": len(image),
                                                   "mime_type": "image/png", "width": 64, "height": 48}]


def test_type_comes_from_the_bytes_not_the_claim(client, fake):
    send(client, [{"type": "text", "text": "read"}, {"type": "image_url", "image_url": {"url": data_url(PDF, "image/png")}}])
    assert calls(fake, "POST", "/backend-api/files")[0].json["use_case"] == "my_files"
    message = conversation(fake)["messages"][-1]
    assert message["content"] == {"content_type": "text", "parts": ["read"]}   # documents ride as attachments
    attachment = message["metadata"]["attachments"][0]
    assert attachment["mime_type"] == "application/pdf" and attachment["name"].endswith(".pdf")
    assert "width" not in attachment


def test_pdf_file_part_and_unknown_binary(client, fake):
    send(client, [{"type": "text", "text": "two files"},
                  {"type": "file", "file": {"file_data": data_url(PDF, "application/pdf"), "filename": "a.pdf"}},
                  {"type": "file", "file": {"file_data": base64.b64encode(BINARY).decode(), "filename": "x.bin"}}])
    uploads = [r.json for r in calls(fake, "POST", "/backend-api/files")]
    assert [u["use_case"] for u in uploads] == ["my_files", "my_files"]
    assert uploads[1]["file_name"].endswith(".txt")     # unknown bytes go as text/plain, as the seeds do
    bodies = [r.body for r in calls(fake, "PUT", "")]
    assert bodies == [PDF, BINARY]
    attachments = conversation(fake)["messages"][-1]["metadata"]["attachments"]
    assert [a["mime_type"] for a in attachments] == ["application/pdf", "text/plain"]


def test_same_bytes_reuse_the_upload_after_checking_it(client, fake):
    image = png(colour=(1, 2, 3))
    part = [{"type": "image_url", "image_url": {"url": data_url(image, "image/png")}}]
    send(client, part)
    send(client, part)
    assert len(calls(fake, "POST", "/backend-api/files")) == 1
    assert len([r for r in fake.requests if r.path.endswith("/uploaded")]) == 2   # upload + re-validation
    fake.uploads.clear()                                                          # the upstream forgot it
    send(client, part)
    assert len(calls(fake, "POST", "/backend-api/files")) == 2


def test_image_url_over_loopback_when_allowed(make_server, fake):
    srv = make_server(allow_private_urls="true")
    image = png(32, 16)
    fake.static["cat.png"] = ("image/png", image)
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    send(client, [{"type": "image_url", "image_url": {"url": f"{fake.url}/_static/cat.png"}}])
    assert calls(fake, "PUT", "")[0].body == image
    pointer = conversation(fake)["messages"][-1]["content"]["parts"][0]
    assert (pointer["width"], pointer["height"]) == (32, 16)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{port}/_static/cat.png",
    "http://10.0.0.1/cat.png",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:{port}/_static/cat.png",
    "http://localhost:{port}/_static/cat.png",
    "http://127.0.0.1:{port}/_redirect?to=http://127.0.0.1:{port}/_static/cat.png",
])
def test_private_addresses_are_refused(client, fake, url):
    fake.static["cat.png"] = ("image/png", png())
    url = url.format(port=fake.url.rsplit(":", 1)[1])
    with pytest.raises(openai.BadRequestError) as info:
        send(client, [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": url}}])
    assert info.value.body["code"] == "url_not_allowed"
    assert info.value.body["param"] == "messages[0].content[1].image_url.url"
    assert not [r for r in fake.requests if r.path.startswith(("/_static", "/_redirect"))]
    assert not calls(fake, "POST", "/backend-api/conversation")


def test_a_redirect_to_a_refused_address_is_refused_at_connect():
    """The first hop is allowed (127.0.0.2 counts as public here), the redirect target is not."""
    public = FakeUpstream(host="127.0.0.2").start()
    private = FakeUpstream(host="127.0.0.1").start()
    try:
        private.static["x.png"] = ("image/png", b"secret")
        public.static["ok.png"] = ("image/png", b"fine")
        fetcher = SafeFetcher(1 << 20, 5, allow_private=False, refuse=lambda address: address != "127.0.0.2")
        assert fetcher.fetch(f"{public.url}/_static/ok.png", "p") == (b"fine", "image/png")
        with pytest.raises(Exception) as info:
            fetcher.fetch(f"{public.url}/_redirect?to={private.url}/_static/x.png", "p")
        assert getattr(info.value, "code", None) == "url_not_allowed"
        assert not private.requests
    finally:
        public.stop()
        private.stop()


def test_fetch_limits(make_server, fake):
    srv = make_server(allow_private_urls=True, max_file_bytes=1000)
    fake.static["big.bin"] = ("application/octet-stream", b"x" * 5000)
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    with pytest.raises(openai.APIStatusError) as info:
        send(client, [{"type": "image_url", "image_url": {"url": f"{fake.url}/_static/big.bin"}}])
    assert info.value.status_code == 413
    assert info.value.body["param"] == "messages[0].content[0].image_url.url"
    with pytest.raises(openai.BadRequestError) as info:
        send(client, [{"type": "image_url", "image_url": {"url": f"{fake.url}/_static/missing.png"}}])
    assert "404" in info.value.body["message"] and info.value.body["param"] == "messages[0].content[0].image_url.url"
    with pytest.raises(openai.APIStatusError) as info:
        send(client, [{"type": "image_url", "image_url": {"url": data_url(b"y" * 2000, "text/plain")}}])
    assert info.value.status_code == 413
    assert not calls(fake, "POST", "/backend-api/files")


@pytest.mark.parametrize("part, code, param", [
    ({"type": "image_url", "image_url": {"url": "data:image/png;base64,"}}, "empty_file", "messages[0].content[0]"),
    ({"type": "image_url", "image_url": {"url": "data:image/png;base64,!!notbase64"}}, "invalid_base64",
     "messages[0].content[0].image_url.url"),
    ({"type": "image_url", "image_url": {"url": "ftp://example.com/x.png"}}, "invalid_url",
     "messages[0].content[0].image_url.url"),
    ({"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\nbroken").decode()}},
     "invalid_image", "messages[0].content[0]"),
])
def test_bad_files_are_400_naming_the_part(client, fake, part, code, param):
    with pytest.raises(openai.BadRequestError) as info:
        send(client, [part])
    assert (info.value.body["code"], info.value.body["param"]) == (code, param)
    assert not calls(fake, "POST", "/backend-api/conversation")


def test_model_without_images_refuses_an_image(client, fake):
    with pytest.raises(openai.BadRequestError) as info:
        send(client, [{"type": "image_url", "image_url": {"url": data_url(png(), "image/png")}}], model="text-only")
    assert info.value.body["code"] == "model_not_multimodal"
    assert info.value.body["param"] == "messages[0].content[0]"


@pytest.mark.parametrize("status, error", [(403, openai.PermissionDeniedError), (500, openai.APIStatusError)])
def test_an_upload_the_upstream_refuses_attaches_nothing(client, fake, status, error):
    fake.files_status = status
    with pytest.raises(error) as info:
        send(client, [{"type": "text", "text": "x"}, {"type": "image_url", "image_url": {"url": data_url(png(), "image/png")}}])
    assert info.value.status_code == (502 if status >= 500 else status)
    assert not calls(fake, "POST", "/backend-api/conversation")
