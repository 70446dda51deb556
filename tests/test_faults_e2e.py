"""An upstream misbehaving mid-answer: the client still gets a clean OpenAI-shaped outcome."""
from __future__ import annotations

import openai
import pytest

from tests.conftest import ACCESS_TOKEN
from tests.fake_upstream import answer_text


def ask(client, prompt, stream):
    messages = [{"role": "user", "content": prompt}]
    if not stream:
        result = client.chat.completions.create(model="gpt-4o", messages=messages)
        return result.choices[0].message.content, result.choices[0].finish_reason
    chunks = list(client.chat.completions.create(model="gpt-4o", messages=messages, stream=True))
    return ("".join(c.choices[0].delta.content or "" for c in chunks if c.choices),
            chunks[-1].choices[0].finish_reason)


@pytest.mark.parametrize("fmt", ["A", "B"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_malformed_event_among_good_ones_is_skipped(client, fake, fmt, stream):
    prompt = f"!format {fmt}\n!bad_event\nEvery word of this answer arrives intact."
    assert ask(client, prompt, stream) == (answer_text(prompt), "stop")


def test_an_event_over_10_mb(client, make_server, fake):
    prompt = "!huge_event 12\nStill here after a huge event."
    assert ask(client, prompt, True) == (answer_text(prompt), "stop")      # under the 16 MB default
    srv = make_server(max_event_bytes=10 * 1024 * 1024)
    strict = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0)
    with pytest.raises(openai.APIError, match="larger than 10485760 bytes"):
        ask(strict, prompt, True)
    with pytest.raises(openai.APIStatusError) as info:
        ask(strict, prompt, False)
    assert info.value.status_code == 502


@pytest.mark.parametrize("fmt", ["A", "B"])
@pytest.mark.parametrize("stream", [False, True])
def test_an_endless_answer_is_cut_at_the_cap(make_server, fake, fmt, stream):
    srv = make_server(max_answer_chars=5000)
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key=ACCESS_TOKEN, max_retries=0, timeout=30)
    text, reason = ask(client, f"!format {fmt}\n!endless\nStart.", stream)
    assert reason == "length"
    assert text.startswith("Start.lorem lorem") and 5000 <= len(text) < 5100
    conv = fake.wait_for(lambda r: r.method == "POST" and r.stream_outcome is not None, timeout=10)
    assert conv.stream_outcome == "client_gone"       # the upstream connection was closed
