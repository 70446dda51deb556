"""The start of a stream: CPU per request start, and a burst of new streams at once.

    .venv/bin/python bench/bench_start.py [--requests 2000] [--burst 200] [--rounds 3]

Starts the fake upstream and pandora_v1 (gunicorn, one gevent worker) as in
bench_stream.py, then measures:

1. CPU per request start: the worker's CPU seconds (/proc) over many
   streamed requests whose answer is one short event ("OK"), 20 at a time,
   divided by their number. Such a request is almost all start (JSON parse,
   validation, credentials, payload, upstream POST, first writes) plus one
   event and the clean-up.
2. A burst: ``--burst`` streams started at the same moment, time to first
   token of each (p50, p99), through pandora_v1 and reading the fake upstream
   directly (the same burst against the fake); the ratio of the p99s.

Medians of ``--rounds`` runs, as the machine is shared.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.pool  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_stream import Services, chat_body, direct_text, pandora_text, percentile, stream_once, upstream_body  # noqa: E402

SHORT = "!pieces 100\nOK"


def cpu_per_start(services: Services, requests: int) -> float:
    pool = gevent.pool.Pool(20)
    pool.map(lambda _: services.through(SHORT), range(100))      # warm: pools, caches
    before, counted_before = services.worker_cpu(), services.token_server_cpu()
    outcomes = pool.map(lambda _: services.through(SHORT), range(requests))
    spent, counting = services.worker_cpu() - before, services.token_server_cpu() - counted_before
    errors = [o for o in outcomes if o.get("error")]
    assert not errors, errors[:3]
    return spent / requests, counting / requests


def burst(services: Services, streams: int) -> dict:
    result = {}
    for side, port, path, body, is_text in (
            ("direct", services.fake_port, "/backend-api/conversation", upstream_body(SHORT, "B"), direct_text),
            ("through", services.port, "/v1/chat/completions", chat_body(SHORT), pandora_text)):
        go = gevent.event.Event()

        def one(go=go, port=port, path=path, body=body, is_text=is_text):
            go.wait()
            return stream_once(port, path, body, is_text)

        jobs = [gevent.spawn(one) for _ in range(streams)]
        gevent.sleep(0.2)          # every client parked at the start line
        go.set()
        gevent.joinall(jobs, timeout=120)
        outcomes = [j.value or {"error": "timeout"} for j in jobs]
        ttfts = [o["ttft"] for o in outcomes if not o.get("error") and o.get("ttft") is not None]
        result[side] = {"errors": sum(1 for o in outcomes if o.get("error")),
                        "ttft_p50_ms": statistics.median(ttfts) * 1e3 if ttfts else None,
                        "ttft_p99_ms": percentile(ttfts, 99) * 1e3}
        gevent.sleep(0.5)
    result["ttft_p99_ratio"] = result["through"]["ttft_p99_ms"] / result["direct"]["ttft_p99_ms"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--config", type=json.loads, default={},
                        help='config keys for pandora_v1, as JSON (e.g. \'{"token_server": true}\')')
    args = parser.parse_args()
    services = Services(workers=1, extra=args.config)
    try:
        cpu = [cpu_per_start(services, args.requests) for _ in range(args.rounds)]
        bursts = [burst(services, args.burst) for _ in range(args.rounds)]
    finally:
        services.close()

    def median_of(side, key):
        return round(statistics.median(b[side][key] for b in bursts), 1)

    print(json.dumps({
        "cpu_per_request_start_ms": {"median": round(statistics.median(w for w, _ in cpu) * 1e3, 3),
                                     "all": [round(w * 1e3, 3) for w, _ in cpu],
                                     "token_server_median": round(statistics.median(t for _, t in cpu) * 1e3, 3)},
        f"burst_{args.burst}": {
            side: {"ttft_p50_ms": median_of(side, "ttft_p50_ms"), "ttft_p99_ms": median_of(side, "ttft_p99_ms"),
                   "errors": sum(b[side]["errors"] for b in bursts)} for side in ("direct", "through")},
        "ttft_p99_ratio": round(statistics.median(b["ttft_p99_ratio"] for b in bursts), 2),
    }, indent=2))


if __name__ == "__main__":
    main()
