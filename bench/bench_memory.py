"""Memory per worker: at start, after warm-up and over many requests.

    .venv/bin/python bench/bench_memory.py [--requests 10000] [--workers 2]

A mix of non-streaming answers, streamed answers and streams the client
drops after the first chunk, 20 at a time, for models of both token tables
(gpt-4o: o200k_base; gpt-4-s, upstream gpt-4: cl100k_base). Prints, per worker, RSS, PSS
(shared pages divided among the processes sharing them) and USS (pages only
this process holds) in MB: at start, after the 100 warm-up requests, every
2,000 and after all of them; and the master's and the token server's (which
holds tiktoken's tables for all workers). A leak shows as readings that keep
climbing.
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
    body = json.dumps({"model": "gpt-4-s" if kind % 2 else "gpt-4o", "stream": stream,
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


def memory_mb(pid: int) -> dict:
    """RSS, PSS and USS (private clean + dirty) of ``pid``, from smaps_rollup."""
    fields = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, value = line.partition(":")
        fields[name] = int(value.split()[0]) / 1024
    return {"rss": round(fields["Rss"], 1), "pss": round(fields["Pss"], 1),
            "uss": round(fields["Private_Clean"] + fields["Private_Dirty"], 1)}


def readings_of(pids: list[int]) -> dict:
    return {str(i): memory_mb(pid) for i, pid in enumerate(pids)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    services = Services(workers=args.workers)
    checkpoints = sorted({100, *range(2000, args.requests, 2000), args.requests})
    readings = {}
    try:
        pool = gevent.pool.Pool(20)
        workers = services.worker_pids()
        readings["start"] = readings_of(workers)
        done = 0
        for mark in checkpoints:
            pool.map(lambda i: request(services.port, i), range(done, mark))
            done = mark
            gevent.sleep(1)
            readings[str(mark)] = readings_of(workers)
        master = memory_mb(services.server.pid)
        token_server = memory_mb(services.token_server_pid())
    finally:
        services.close()
    first, last = readings["100"], readings[str(args.requests)]
    print(json.dumps({"requests": args.requests, "workers": args.workers,
                      "per_worker_mb": readings, "master_mb": master, "token_server_mb": token_server,
                      "rss_growth_mb_after_warm_up": {w: round(last[w]["rss"] - first[w]["rss"], 1)
                                                      for w in first}}, indent=2))


if __name__ == "__main__":
    main()
