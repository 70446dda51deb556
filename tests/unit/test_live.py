"""The status page's per-minute activity, from the Prometheus metrics."""
from __future__ import annotations

import pytest

from pandora_v1.runtime import live
from pandora_v1.runtime.metrics import Metrics


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "files"])
def history(request, tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)   # one process: in-memory metrics
    metrics = Metrics()
    clock = Clock(1_700_000_000.0 - 1_700_000_000.0 % 60 + 5)      # 5 s into a minute
    directory = str(tmp_path) if request.param == "files" else None
    return live.History(metrics, directory=directory, clock=clock), metrics, clock


def traffic(metrics, ok=0, bad=0, ttft=(), upstream=(), route="/v1/chat/completions"):
    for _ in range(ok):
        metrics.requests.labels(route, "200", "gpt-4o").inc()
    for _ in range(bad):
        metrics.requests.labels(route, "502", "gpt-4o").inc()
    for seconds in ttft:
        metrics.ttft.labels("gpt-4o").observe(seconds)
    for status in upstream:
        metrics.upstream_errors.labels(status).inc()


def test_minutes_are_differences_between_snapshots(history):
    history, metrics, clock = history
    traffic(metrics, ok=3, bad=1, ttft=[0.2, 0.3, 0.4], upstream=["500"])
    traffic(metrics, ok=50, route="/healthz")                 # probes and pages are not API traffic
    before = history.minutes()["minutes"]                      # no snapshot yet: counted from zero
    assert [(m["requests"], m["errors"], m["upstream_errors"]) for m in before] == [(4, 1, {"500": 1})]
    assert 200 <= before[0]["ttft_p50_ms"] <= 500

    clock.now += 55                                            # the job, at second 0 of the next minute
    assert history.snapshot() and not history.snapshot()      # one writer per minute
    traffic(metrics, ok=7, upstream=["500", "429", "429"])
    metrics.active_streams.inc()
    clock.now += 60
    assert history.snapshot()
    clock.now += 20
    traffic(metrics, ok=2, bad=2, ttft=[1.5, 1.5])
    result = history.minutes()
    rows = result["minutes"]
    assert [(m["requests"], m["errors"]) for m in rows] == [(4, 1), (7, 0), (4, 2)]
    assert [m["t"] % 60 for m in rows] == [0, 0, 0] and rows[2]["t"] - rows[0]["t"] == 120
    assert rows[1]["upstream_errors"] == {"500": 1, "429": 2} and rows[2]["upstream_errors"] == {}
    assert rows[1]["ttft_p50_ms"] is None                      # nothing answered that minute
    assert 1000 < rows[2]["ttft_p50_ms"] <= 2000 and rows[2]["ttft_p99_ms"] <= 2000
    assert result["open_streams"] == 1 and rows[1]["open_streams"] == 1


def test_quantiles_interpolate_in_buckets():
    buckets = {"0.1": 0, "0.25": 10, "0.5": 10, "+Inf": 10}
    assert live._quantile(0.5, buckets) == 175.0                # half way through 0.1 … 0.25
    assert live._quantile(0.5, {"0.1": 0, "+Inf": 0}) is None
    assert live._quantile(0.99, {"0.5": 0, "120": 0, "+Inf": 3}) == 120_000.0   # beyond: the last bound


def test_an_hour_at_most_and_counter_resets(history):
    history, metrics, clock = history
    for _ in range(70):
        traffic(metrics, ok=1)
        history.snapshot()
        clock.now += 60
    rows = history.minutes()["minutes"]
    assert len(rows) == live.WINDOW and all(m["requests"] == 1 for m in rows[:-1])
    assert live._difference({"t": 0, "requests": 10, "errors": 0, "open_streams": 0, "ttft": {}, "upstream": {}},
                            {"t": 60, "requests": 3, "errors": 0, "open_streams": 0, "ttft": {},
                             "upstream": {}})["requests"] == 3   # a restarted master counts from zero
