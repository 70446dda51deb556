"""Memory per worker and of the whole deployment: at start, after warm-up and over many requests.

    .venv/bin/python bench/bench_memory.py [--requests 10000] [--workers 2] [--token-server on|off]

A mix of non-streaming answers, streamed answers and streams the client
drops after the first chunk, 20 at a time, for models of both token tables
(gpt-4o: o200k_base; gpt-4-s, upstream gpt-4: cl100k_base). Prints, per worker, RSS, PSS
(shared pages divided among the processes sharing them) and USS (pages only
this process holds) in MB: at start, after the 100 warm-up requests, every
2,000 and after all of them; and the master's and the token server's (which
holds tiktoken's tables for all workers). A leak shows as readings that keep
climbing.

The total is what the deployment costs the machine: the sum of PSS over
the master, the workers and the token server (PSS counts a page shared by
n processes as 1/n in each, so the sum counts every page once). With
``--token-server off`` (config ``token_server: false``) the master builds
the tables before the fork and the workers share them.
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


def total_pss(services: Services) -> dict:
    """PSS of every process of the deployment, MB, and their sum."""
    processes = {"master": services.server.pid, "token_server": services.token_server_pid(),
                 **{f"worker_{i}": pid for i, pid in enumerate(services.worker_pids())}}
    pss = {name: memory_mb(pid)["pss"] for name, pid in processes.items() if pid}
    return {**pss, "total": round(sum(pss.values()), 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--token-server", choices=["on", "off"], default="on")
    args = parser.parse_args()
    services = Services(workers=args.workers, extra={"token_server": args.token_server == "on"})
    checkpoints = sorted({100, *range(2000, args.requests, 2000), args.requests})
    readings, totals = {}, {}
    try:
        pool = gevent.pool.Pool(20)
        workers = services.worker_pids()
        readings["start"] = readings_of(workers)
        totals["start"] = total_pss(services)
        done = 0
        for mark in checkpoints:
            pool.map(lambda i: request(services.port, i), range(done, mark))
            done = mark
            gevent.sleep(1)
            readings[str(mark)] = readings_of(workers)
            totals[str(mark)] = total_pss(services)
        master = memory_mb(services.server.pid)
        pid = services.token_server_pid()
        token_server = memory_mb(pid) if pid else None
    finally:
        services.close()
    first, last = readings["100"], readings[str(args.requests)]
    print(json.dumps({"requests": args.requests, "workers": args.workers, "token_server": args.token_server,
                      "total_pss_mb": totals,
                      "per_worker_mb": readings, "master_mb": master, "token_server_mb": token_server,
                      "rss_growth_mb_after_warm_up": {w: round(last[w]["rss"] - first[w]["rss"], 1)
                                                      for w in first},
                      "total_pss_growth_mb_after_warm_up": round(totals[str(args.requests)]["total"]
                                                                 - totals["100"]["total"], 1)}, indent=2))


if __name__ == "__main__":
    main()
