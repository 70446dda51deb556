"""Memory over many requests: RSS of the pandora_v1 worker after 100 and after 10,000.

    .venv/bin/python bench/bench_memory.py [--requests 10000]

A mix of non-streaming answers, streamed answers and streams the client
drops after the first chunk, 20 at a time. Prints RSS (MB) after the first
100 requests and after all of them, and the difference; a leak shows as a
difference that keeps growing with the count.
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
    try:
        pool = gevent.pool.Pool(20)
        worker = services.worker_pids()[0]
        pool.map(lambda i: request(services.port, i), range(100))
        gevent.sleep(1)
        first = rss_mb(worker)
        pool.map(lambda i: request(services.port, i), range(100, args.requests))
        gevent.sleep(2)
        last = rss_mb(worker)
    finally:
        services.close()
    print(json.dumps({"requests": args.requests, "rss_after_100_mb": round(first, 1),
                      f"rss_after_{args.requests}_mb": round(last, 1),
                      "growth_mb": round(last - first, 1)}, indent=2))


if __name__ == "__main__":
    main()
