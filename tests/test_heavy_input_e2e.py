"""Two 30 MB messages at once are read, parsed, counted and answered by one worker.

That the worker's other streams go on meanwhile is shown without a clock in
tests/unit/test_tokens.py (a long count leaves the event loop running); how long a
bystander waits is measured by bench/bench_heavy.py, not asserted here (the machine
is shared: a wall-clock bound either flakes or proves nothing). The fake upstream runs
in its own process: parsing 30 MB in this one would hold this process's GIL."""
from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading

import pytest

from tests.conftest import ACCESS_TOKEN, ROOT, free_port

FILLER = "lorem ipsum dolor sit amet " * (30 * 1024 * 1024 // 27)


@pytest.fixture
def own_fake():
    port = free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_upstream.py"), "--port", str(port)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().startswith("ready")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


def test_two_big_messages_at_once_are_answered_and_counted(make_server, own_fake):
    srv = make_server(upstream_base_url=own_fake)
    big = json.dumps({"model": "gpt-4o", "messages": [
        {"role": "user", "content": FILLER}, {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "hi"}]}).encode()
    results = []

    def heavy():
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120)
        conn.request("POST", "/v1/chat/completions", big, {"Authorization": f"Bearer {ACCESS_TOKEN}",
                                                            "Content-Type": "application/json"})
        response = conn.getresponse()
        results.append((response.status, json.loads(response.read())))
        conn.close()

    senders = [threading.Thread(target=heavy) for _ in range(2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(120)
    assert [status for status, _ in results] == [200, 200]
    for _, answer in results:
        assert answer["usage"]["prompt_tokens"] > 5_000_000     # the 30 MB were counted
        assert answer["choices"][0]["message"]["content"]
