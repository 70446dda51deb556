"""Big inputs do not stall the other streams of a worker: reading, parsing and
token counting of two 30 MB messages leave the event loop free, so a bystander's gap stays
under 100 ms.

The bystander asks the same (single) worker for /healthz every 20 ms on one connection: each
answer needs the worker's event loop, just as each chunk of a stream does, but not the
upstream. (A streamed bystander would also measure the fake upstream, which parses the same
30 MB in Python and holds its own GIL meanwhile.) The fake runs in its own process for the
same reason: parsing 30 MB in this one would stall the bystander's client."""
from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time

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


POLLER = """
import http.client, json, sys, threading, time
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=30)
latencies = []
while not stop.is_set():
    started = time.perf_counter()
    conn.request("GET", "/healthz")
    conn.getresponse().read()
    latencies.append(time.perf_counter() - started)
    time.sleep(0.02)
print(json.dumps(latencies))
"""


def post(port: int, body: bytes):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", "/v1/chat/completions", body, {"Authorization": f"Bearer {ACCESS_TOKEN}",
                                                         "Content-Type": "application/json"})
    return conn, conn.getresponse()


def test_big_messages_do_not_stall_a_bystander(make_server, own_fake):
    srv = make_server(upstream_base_url=own_fake)
    big = json.dumps({"model": "gpt-4o", "messages": [
        {"role": "user", "content": FILLER}, {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "hi"}]}).encode()
    worst = []
    for _ in range(3):   # the best of 3 rounds: the machine is shared, a neighbour can stall us too
        latencies, results = one_round(srv, big)
        assert [status for status, _ in results] == [200, 200]
        assert results[0][1]["usage"]["prompt_tokens"] > 5_000_000     # the 30 MB were counted
        assert len(latencies) > 10
        worst.append(max(latencies))
        if worst[-1] < 0.1:
            break
    assert min(worst) < 0.1, f"longest waits {[round(w * 1000) for w in worst]} ms"


def one_round(srv, big: bytes) -> tuple[list[float], list]:
    """Two 30 MB requests at once while the bystander polls; (its latencies, the answers)."""
    results = []
    # The bystander polls from its own process: this one's GIL is busy sending 30 MB twice.
    poller = subprocess.Popen([sys.executable, "-c", POLLER, str(srv.port)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)

    def heavy():
        conn, response = post(srv.port, big)
        results.append((response.status, json.loads(response.read())))
        conn.close()

    time.sleep(0.5)                                  # the bystander is polling
    senders = [threading.Thread(target=heavy) for _ in range(2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(120)
    return json.loads(poller.communicate("stop\n", timeout=30)[0]), results
