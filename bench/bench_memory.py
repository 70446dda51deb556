"""Memory over many requests: RSS of the pandora_v1 worker after 100 and after 10,000.

    .venv/bin/python bench/bench_memory.py [--requests 10000]

A mix of non-streaming answers, streamed answers and streams the client
drops after the first chunk, 20 at a time. Prints RSS (MB) after the first
100 requests, every 2,000 and after all of them, and the growth from the
first reading to the last; a leak shows as readings that keep climbing.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent.pool  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_stream import TOKEN, Services  # noqa: E402


def request(port: int, kind: int) -> None:
    stream = kind % 3 != 0
    body = json.dumps({"model": "gpt-4o", "stream": stream,
                       "messages": [{"role": "user", "content": "!tokens 60\n!pieces 12"}]}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/v1/chat/completions", body, {"Authorization": f"Bearer {TOKEN}",
                                                            "Content-Type": "application/json"})
        response = conn.getresponse()
        if kind % 3 == 2:
            response.read1(100)       # the client goes away after the first bytes
        else:
            response.read()
    finally:
        conn.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    args = parser.parse_args()
    services = Services(workers=1)
    checkpoints = sorted({100, *range(2000, args.requests, 2000), args.requests})
    readings = {}
    try:
        pool = gevent.pool.Pool(20)
        worker = services.worker_pids()[0]
        done = 0
        for mark in checkpoints:
            pool.map(lambda i: request(services.port, i), range(done, mark))
            done = mark
            gevent.sleep(1)
            readings[mark] = round(rss_mb(worker), 1)
    finally:
        services.close()
    print(json.dumps({"requests": args.requests, "rss_mb_after": readings,
                      "growth_mb": round(readings[args.requests] - readings[100], 1)}, indent=2))


if __name__ == "__main__":
    main()
