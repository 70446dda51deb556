"""One access-log line and the Prometheus metrics for every request.

Streams are measured when they end: the response body is wrapped so the
first byte, the byte count and the end are seen without touching the
stream code. With several Gunicorn workers the metrics use
prometheus_client's multiprocess mode (serve/gunicorn_conf.py sets
``PROMETHEUS_MULTIPROC_DIR``); in one process they are plain in-memory.
"""
from __future__ import annotations

import logging
import os
import time

from flask import Flask, Response, g, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

access_log = logging.getLogger("pandora_v1.access")

_TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)
_DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    def __init__(self):
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("pandora_v1_requests", "Requests answered.", ["route", "status", "model"],
                                registry=r)
        self.active_streams = Gauge("pandora_v1_active_streams", "Streams open now.",
                                    multiprocess_mode="livesum", registry=r)
        self.ttft = Histogram("pandora_v1_time_to_first_token_seconds", "From request to first answer text.",
                              ["model"], buckets=_TTFT_BUCKETS, registry=r)
        self.duration = Histogram("pandora_v1_request_duration_seconds", "From request to last byte.",
                                  ["route"], buckets=_DURATION_BUCKETS, registry=r)
        self.upstream_errors = Counter("pandora_v1_upstream_errors", "Upstream answers that were errors.",
                                       ["status"], registry=r)
        self.tool_parse_failures = Counter("pandora_v1_tool_parse_failures",
                                           "Answers whose function call or JSON was unusable.", ["kind"],
                                           registry=r)
        self.tool_retries = Counter("pandora_v1_tool_retries", "Upstream retries after an unusable call or JSON.",
                                    ["kind"], registry=r)
        self.refresh_exchanges = Counter("pandora_v1_refresh_exchanges", "Refresh-token exchanges.",
                                         ["outcome"], registry=r)
        # Per client key (metering/): ``key`` is its name or masked id, at most 100 of them, then "other".
        self.key_requests = Counter("pandora_v1_key_requests", "Requests answered, per client key.",
                                    ["key", "model", "status"], registry=r)
        self.key_tokens = Counter("pandora_v1_key_tokens", "Tokens in the usage answered, per client key.",
                                  ["key", "model", "kind"], registry=r)
        self.key_rejected = Counter("pandora_v1_key_rejected", "Requests a cap of the client key refused.",
                                    ["key", "reason"], registry=r)

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)


def install(app: Flask, metrics: Metrics) -> None:
    @app.before_request
    def start_clock():
        g.started = time.perf_counter()

    @app.after_request
    def measure(response: Response) -> Response:
        started = g.get("started", time.perf_counter())
        record = {"method": request.method,
                  "route": request.url_rule.rule if request.url_rule else "unmatched",
                  "status": response.status_code, "model": g.get("model", "-"),
                  "stream": bool(g.get("stream")), "upstream": g.get("upstream_status", "-")}
        if response.is_streamed and record["stream"]:
            metrics.active_streams.inc()
            response.response = _measured(response.response, started, record, metrics)
        else:
            response.call_on_close(lambda: _finish(metrics, record, started, None,
                                                   response.calculate_content_length() or 0))
        return response


def _measured(body, started: float, record: dict, metrics: Metrics):
    first, size = None, 0
    try:
        for chunk in body:
            if first is None:
                first = time.perf_counter()
            size += len(chunk)
            yield chunk
    finally:
        close = getattr(body, "close", None)
        if close:
            close()   # let the stream's own clean-up run (client gone: stop the upstream)
        metrics.active_streams.dec()
        _finish(metrics, record, started, first, size)


def _finish(metrics: Metrics, record: dict, started: float, first: float | None, size: int) -> None:
    now = time.perf_counter()
    metrics.requests.labels(record["route"], str(record["status"]), record["model"]).inc()
    metrics.duration.labels(record["route"]).observe(now - started)
    ttfb = f"{(first - started) * 1000:.1f}" if first else "-"
    access_log.info("%s %s %s model=%s stream=%s upstream=%s ttfb_ms=%s duration_ms=%.1f bytes=%d",
                    record["method"], record["route"], record["status"], record["model"],
                    "yes" if record["stream"] else "no", record["upstream"], ttfb, (now - started) * 1000, size)

