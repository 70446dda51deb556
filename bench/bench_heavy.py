"""Big inputs and the other streams of a worker: how long a bystander waits.

    .venv/bin/python bench/bench_heavy.py [--rounds 5] [--mb 30]

Starts the fake upstream and pandora_v1 (gunicorn, one gevent worker) as in
bench_stream.py. Each round sends two chat requests of ``--mb`` MB at once
while a bystander asks the same worker for /healthz every 20 ms on one
connection (each answer needs the worker's event loop, as each chunk of a
stream does, but not the upstream). Reports the bystander's longest and
median wait per round, and their medians over the rounds (issue 13 asks
for the longest under 100 ms). The bystander polls from its own process:
this one is busy sending the big bodies.
"""
from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_stream import TOKEN, Services  # noqa: E402

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


def heavy_body(megabytes: int) -> bytes:
    filler = "lorem ipsum dolor sit amet " * (megabytes * 1024 * 1024 // 27)
    return json.dumps({"model": "gpt-4o", "messages": [
        {"role": "user", "content": filler}, {"role": "assistant", "content": "Noted."},
        {"role": "user", "content": "hi"}]}).encode()


def one_round(port: int, body: bytes) -> dict:
    poller = subprocess.Popen([sys.executable, "-c", POLLER, str(port)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    statuses = []

    def heavy():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        conn.request("POST", "/v1/chat/completions", body, {"Authorization": f"Bearer {TOKEN}",
                                                             "Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)
        conn.close()

    time.sleep(0.5)                       # the bystander is polling
    senders = [threading.Thread(target=heavy) for _ in range(2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(300)
    latencies = json.loads(poller.communicate("stop\n", timeout=30)[0])
    assert statuses == [200, 200], statuses
    return {"longest_ms": max(latencies) * 1e3, "median_ms": statistics.median(latencies) * 1e3,
            "polls": len(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mb", type=int, default=30)
    args = parser.parse_args()
    services = Services(workers=1)
    try:
        body = heavy_body(args.mb)
        rounds = [one_round(services.port, body) for _ in range(args.rounds)]
    finally:
        services.close()
    print(json.dumps({"rounds": rounds,
                      "longest_ms_median": statistics.median(r["longest_ms"] for r in rounds),
                      "median_ms_median": statistics.median(r["median_ms"] for r in rounds)}, indent=2))


if __name__ == "__main__":
    main()
