"""The status page's live section: what the service did, minute by minute, over the last hour.

It reads the Prometheus metrics the service keeps anyway (observe.py; with
several workers prometheus_client sums their files). Those are running
totals, so once a minute (a job in every worker, cron second 0) the totals
are written down; the first worker of the minute writes, the others find the
minute taken. A minute's figures are the difference between two snapshots,
and the current minute runs from the last snapshot to now. The history lives
next to the metrics files (``PROMETHEUS_MULTIPROC_DIR``, one per gunicorn
master, so per instance like the metrics), or in memory in a lone process.

Counted: API requests (``/v1/…`` and ``/getAccountID``; not pages or
probes), those answered with HTTP >= 400, open streams, time to first token
(p50/p99 interpolated in the histogram's buckets, as Prometheus'
``histogram_quantile`` does) and upstream errors by status.
"""
from __future__ import annotations

import fcntl
import math
import os
import re
import time

import orjson
from prometheus_client import CollectorRegistry, multiprocess

WINDOW = 60          # minutes shown
KEEP = WINDOW + 2    # snapshots kept
_API_ROUTE = re.compile(r"/v1/|/getAccountID$")


def _registry(metrics) -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return metrics.registry


def totals(metrics) -> dict:
    """The running totals now: {"requests", "errors", "open_streams", "ttft": {le: n}, "upstream": {status: n}}."""
    requests = errors = streams = 0.0
    ttft: dict[str, float] = {}
    upstream: dict[str, float] = {}
    for family in _registry(metrics).collect():
        for sample in family.samples:
            name, labels, value = sample.name, sample.labels, sample.value
            if name == "pandora_v1_requests_total":
                if _API_ROUTE.search(labels.get("route", "")):
                    requests += value
                    if int(labels.get("status", 0)) >= 400:
                        errors += value
            elif name == "pandora_v1_active_streams":
                streams += value
            elif name == "pandora_v1_time_to_first_token_seconds_bucket":
                ttft[labels["le"]] = ttft.get(labels["le"], 0) + value
            elif name == "pandora_v1_upstream_errors_total":
                status = labels.get("status", "?")
                upstream[status] = upstream.get(status, 0) + value
    return {"requests": requests, "errors": errors, "open_streams": streams, "ttft": ttft,
            "upstream": upstream}


class History:
    """Snapshots of the totals, one per minute, shared by the workers of one master."""

    def __init__(self, metrics, directory: str | None = None, clock=time.time):
        self.metrics = metrics
        self.clock = clock
        directory = directory if directory is not None else os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.path = os.path.join(directory, "live-history.json") if directory else None
        self._memory: list[dict] = []

    def _read(self) -> list[dict]:
        if self.path is None:
            return list(self._memory)
        try:
            with open(self.path, "rb") as f:
                return orjson.loads(f.read())
        except (FileNotFoundError, orjson.JSONDecodeError):
            return []

    def snapshot(self) -> bool:
        """Write down this minute's totals unless a worker already did. Returns whether this call wrote."""
        minute = int(self.clock() // 60) * 60
        if self.path is None:
            if self._memory and self._memory[-1]["t"] >= minute:
                return False
            self._memory = (self._memory + [{"t": minute, **totals(self.metrics)}])[-KEEP:]
            return True
        with open(self.path + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            history = self._read()
            if history and history[-1]["t"] >= minute:
                return False
            history = (history + [{"t": minute, **totals(self.metrics)}])[-KEEP:]
            temporary = f"{self.path}.{os.getpid()}"
            with open(temporary, "wb") as f:
                f.write(orjson.dumps(history))
            os.replace(temporary, self.path)   # readers never see half a file
            return True

    def minutes(self) -> dict:
        """The last hour per minute, oldest first, the current (partial) minute last."""
        now = self.clock()
        history = [s for s in self._read() if s["t"] > now - (WINDOW + 1) * 60]
        current = {"t": now, **totals(self.metrics)}
        # Counters start at zero with the master (less than a minute before its first snapshot):
        # while the history still reaches back to the start, zero is the base.
        if len(history) < KEEP:
            start = history[0]["t"] - 60 if history else now
            history = [{"t": start, "requests": 0, "errors": 0, "open_streams": 0, "ttft": {},
                        "upstream": {}}] + history
        points = history + [current]
        rows = [_difference(a, b) for a, b in zip(points, points[1:], strict=False)]
        return {"window_minutes": WINDOW, "now": now, "open_streams": int(current["open_streams"]),
                "minutes": rows[-WINDOW:]}


def history_for(metrics) -> History:
    """The History of ``metrics`` (one per app; made on first use)."""
    history = getattr(metrics, "live_history", None)
    if history is None:
        history = metrics.live_history = History(metrics)
    return history


def _delta(after: float, before: float) -> float:
    return after - before if after >= before else after   # a counter reset: a master restarted


def _difference(before: dict, after: dict) -> dict:
    ttft = {le: _delta(n, before["ttft"].get(le, 0)) for le, n in after["ttft"].items()}
    upstream = {status: int(_delta(n, before["upstream"].get(status, 0)))
                for status, n in after["upstream"].items()}
    return {"t": int(before["t"] // 60 * 60),
            "requests": int(_delta(after["requests"], before["requests"])),
            "errors": int(_delta(after["errors"], before["errors"])),
            "open_streams": int(after["open_streams"]),
            "ttft_p50_ms": _quantile(0.5, ttft), "ttft_p99_ms": _quantile(0.99, ttft),
            "upstream_errors": {s: n for s, n in upstream.items() if n}}


def _quantile(q: float, buckets: dict) -> float | None:
    """Prometheus' histogram_quantile over cumulative bucket counts {le: n}, in ms."""
    bounds = sorted(((math.inf if le == "+Inf" else float(le)), n) for le, n in buckets.items())
    if not bounds or bounds[-1][1] <= 0:
        return None
    rank = q * bounds[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in bounds:
        if count >= rank:
            if math.isinf(upper):
                return round(lower * 1000, 1)   # beyond the last bound: the last bound
            inside = count - below
            share = (rank - below) / inside if inside else 1.0
            return round((lower + (upper - lower) * share) * 1000, 1)
        lower, below = upper, count
    return None
