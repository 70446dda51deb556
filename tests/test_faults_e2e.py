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


def _worker(srv) -> int:
    return srv.worker_pids()[0]


def _resources(pid: int) -> dict:
    import os
    from pathlib import Path

    status = Path(f"/proc/{pid}/status").read_text()
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:
            pass   # closed while we looked
    fds = targets
    sockets = sum(1 for target in targets if target.startswith("socket:"))
    threads = int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))
    return {"threads": threads, "fds": len(fds), "sockets": sockets}


def test_a_thousand_clients_leaving_mid_stream_leave_nothing_behind(make_server, fake):
    import time
    from concurrent.futures import ThreadPoolExecutor

    import requests as http

    srv = make_server(process_workers=1)
    pid = _worker(srv)
    body = {"model": "gpt-4o", "stream": True,
            "messages": [{"role": "user", "content": "!delay 0.05\n!pieces 1\n" + "x" * 100}]}

    def leave_early(_):
        with http.post(srv.url + "/v1/chat/completions", json=body, stream=True, timeout=30,
                       headers={"Authorization": f"Bearer {ACCESS_TOKEN}"}) as response:
            next(response.iter_content(None))      # the first bytes, then hang up

    # The baseline after a burst like the ones below: a departed client's stream is still counted
    # (what it was sent, for its key's usage), so the worker's bounded pool of token-server
    # connections (usage/tokens.py, 8) fills in the first burst; a leak grows past it.
    with ThreadPoolExecutor(50) as pool:
        list(pool.map(leave_early, range(50)))
    time.sleep(1)
    baseline = _resources(pid)
    with ThreadPoolExecutor(50) as pool:
        list(pool.map(leave_early, range(1000)))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = _resources(pid)
        if now["fds"] <= baseline["fds"] + 2 and now["threads"] <= baseline["threads"]:
            break
        time.sleep(0.5)
    assert now["threads"] <= baseline["threads"], (baseline, now)
    assert now["fds"] <= baseline["fds"] + 2 and now["sockets"] <= baseline["sockets"] + 2, (baseline, now)
    outcomes = [r.stream_outcome for r in fake.requests if r.path.endswith("/conversation")]
    assert len(outcomes) == 1050 and outcomes.count("complete") == 0   # every upstream stream was cut
    assert requests_ok(srv)


def requests_ok(srv) -> bool:
    import requests as http

    return http.get(srv.url + "/healthz", timeout=5).ok


def test_a_refresh_endpoint_that_times_out(make_server, fake):
    import time

    srv = make_server(upstream_timeout={"read": 1},
                      refresh_ToAccess={"oaifree_refreshToAccess_Url": fake.url + "/api/auth/refresh"})
    fake.refresh_delay = 4
    client = openai.OpenAI(base_url=srv.url + "/v1", api_key="rt-" + "t" * 40, max_retries=0, timeout=30)
    started = time.monotonic()
    with pytest.raises(openai.APIStatusError) as info:
        ask(client, "hi", False)
    assert time.monotonic() - started < 3.5          # the configured timeout, not the endpoint's pace
    assert info.value.status_code == 502 and set(info.value.body) == {"message", "type", "param", "code"}
    assert not [r for r in fake.requests if r.path.endswith("/backend-api/conversation")]
    assert requests_ok(srv)
