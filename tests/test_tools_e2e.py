"""Tool turns end to end: code interpreter, charts, sandbox files, browsing, DALL·E, bot mode,
and /v1/images/generations. Every link the client gets is fetched and compared byte for byte."""
from __future__ import annotations

import base64
import re

import openai
import pytest
import requests

from tests.conftest import ACCESS_TOKEN
from tests.fake_upstream import CHART_CODE, CHART_FILE, DALLE_PROMPT, blob_bytes, dalle_file, revised_prompt

FORMATS = ["!format A", "!format B\n!split 7"]


def ask(client, prompt, stream=False, model="gpt-4o"):
    messages = [{"role": "user", "content": prompt}]
    if not stream:
        return client.chat.completions.create(model=model, messages=messages).choices[0].message.content
    chunks = client.chat.completions.create(model=model, messages=messages, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def links(text, server):
    return re.findall(re.escape(server.url) + r"/(?:images|files)/[^)\s]+", text)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("stream", [False, True])
def test_chart_is_served_byte_identical(server, client, fake, fmt, stream):
    out = ask(client, f"{fmt}\n!chart\nHere is the chart.", stream)
    urls = links(out, server)
    assert out == (f"```python\n{CHART_CODE}\n```\n\n![image]({urls[0]})\n\n"
                   f"[Download image]({urls[0]})\n\nHere is the chart.")
    response = requests.get(urls[0])
    assert response.content == blob_bytes(CHART_FILE)
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("stream", [False, True])
def test_sandbox_link_split_across_chunks_is_rewritten(server, client, fake, fmt, stream):
    out = ask(client, f"{fmt}\n!pieces 1\n!tool\nGet [report.csv](sandbox:/mnt/data/report.csv) "
                      "or [notes](https://example.com) [x] now.", stream)
    url = links(out, server)[0]
    assert out.endswith(f"Get [report.csv]({url}) or [notes](https://example.com) [x] now.")
    assert url.endswith("_report.csv")
    assert requests.get(url).content == blob_bytes("/mnt/data/report.csv")
    download = fake.wait_for(lambda r: r.path.endswith("/interpreter/download"))
    assert download.query["sandbox_path"] == "/mnt/data/report.csv"


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("stream", [False, True])
def test_browsing_citations(client, fake, fmt, stream):
    out = ask(client, f"{fmt}\n!pieces 1\n!browse\nOtters float【3†source】, hold hands【4:0†来源】"
                      "and sleep【7†source】【 ok.", stream)
    assert out == ("Otters float[[3](https://example.com/source/3)], hold hands"
                   "[[4](https://example.com/source/4)]and sleep【 ok.")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("stream", [False, True])
def test_dalle_images(server, client, fake, fmt, stream):
    out = ask(client, f"{fmt}\n!dalle 2\nHere are your otters.", stream)
    urls = links(out, server)
    assert out == (f"![image]({urls[0]})\n\n[Download image]({urls[0]})\n\n"
                   f"![image]({urls[2]})\n\n[Download image]({urls[2]})\n\nHere are your otters.")
    assert urls[0] != urls[2]
    assert [requests.get(u).content for u in (urls[0], urls[2])] == [blob_bytes(dalle_file(0)), blob_bytes(dalle_file(1))]
    assert DALLE_PROMPT not in out


def test_broken_image_download_does_not_break_the_answer(client, fake):
    fake.broken_files.add(dalle_file(0))
    out = ask(client, "!dalle 1\nHere.", stream=True)
    assert out == "(the image could not be loaded)\n\nHere."


def test_upstream_download_urls_when_configured(make_server, fake):
    srv = make_server(use_oaiusercontent_url="true")
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    out = ask(client, "!dalle 1\nHere.")
    assert f"![image]({fake.url}/_blob/{dalle_file(0)}?sig=abc)" in out


def test_bot_mode(make_server, fake):
    srv = make_server(bot_mode={"enabled": "true", "enabled_plain_image_url_output": "true",
                                "enabled_markdown_image_output": "true"})
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    out = ask(client, "!tool\n!dalle 1\n!browse\nSee【3†source】.", stream=True)
    url = links(out, srv)[0]
    assert out == f"{url}\n\nSee."
    assert requests.get(url).content == blob_bytes(dalle_file(0))
    # An error mid-answer reaches a bot as text it can show, stream or not.
    prompt = "!error_midstream\n" + "word " * 10
    for stream in (True, False):
        out = ask(client, prompt, stream=stream)
        assert out.startswith("word word") and out.endswith("[error] The upstream failed mid-answer: "
                                                            "Something went wrong while generating the response.")


def test_bot_mode_with_plugin_and_reference_output(make_server, fake):
    srv = make_server(bot_mode={"enabled": True, "enabled_plugin_output": True, "enabled_bing_reference_output": True})
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    out = ask(client, "!tool\n!browse\nSee【3†source】.")
    assert out == ('```python\nprint(1+1)\n```\n\n```\n2\n```\n\n```\nsearch("otters")\n```\n\n'
                   "> [Otters](https://example.com/otters)\n\nSee[[3](https://example.com/source/3)].")


def test_media_routes_refuse_escapes(server):
    for path in ("/images/../config.json", "/images/%2e%2e/config.json", "/files/..%2fconfig.json",
                 "/images/nothing.png"):
        response = requests.get(server.url + path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "unknown_url"


# ------------------------------------------------------------- images endpoint

def test_images_generation_urls(server, client, fake):
    result = client.images.generate(model="gpt-4o", prompt="!dalle 3\nA cute baby sea otter", n=2)
    assert [d.revised_prompt for d in result.data] == [revised_prompt(0), revised_prompt(1)]
    assert [requests.get(d.url).content for d in result.data] == [blob_bytes(dalle_file(i)) for i in range(2)]


def test_images_generation_b64_and_prefix_and_size(make_server, fake):
    srv = make_server(dalle_prompt_prefix="Draw exactly this:\n")
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    result = client.images.generate(model="gpt-4o", prompt="!dalle 1\nan otter", response_format="b64_json",
                                    size="1024x1792")
    assert base64.b64decode(result.data[0].b64_json) == blob_bytes(dalle_file(0))
    sent = fake.wait_for(lambda r: r.path.endswith("/conversation")).json["messages"][-1]["content"]["parts"][0]
    assert sent.startswith("Draw exactly this:\n!dalle 1\nan otter") and "1024x1792" in sent


def test_images_generation_refused_is_a_moderation_block(client, fake):
    # platform-spec 4.4 (issue 20): OpenAI's moderation_blocked, no longer content_policy_violation
    with pytest.raises(openai.BadRequestError) as info:
        client.images.generate(model="gpt-4o", prompt="!dalle_refuse\nI can't draw that.")
    assert info.value.body["code"] == "moderation_blocked"
    assert "I can't draw that." in info.value.body["message"]


@pytest.mark.parametrize("body, param", [
    ({"model": "gpt-4o"}, "prompt"),
    ({"model": "gpt-4o", "prompt": "x", "n": 0}, "n"),
    ({"model": "gpt-4o", "prompt": "x", "size": "big"}, "size"),
    ({"model": "gpt-4o", "prompt": "x", "response_format": "png"}, "response_format"),
])
def test_images_generation_bad_requests(server, fake, body, param):
    response = requests.post(server.url + "/v1/images/generations", json=body,
                             headers={"Authorization": f"Bearer {ACCESS_TOKEN}"})
    assert response.status_code == 400 and response.json()["error"]["param"] == param
    assert fake.requests == []


def test_images_generation_upstream_errors_map_like_chat(client, fake):
    with pytest.raises(openai.RateLimitError):
        client.images.generate(model="gpt-4o", prompt="!status 429")
