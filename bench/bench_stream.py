"""Side-by-side benchmark: pandora_v1 vs reading the fake upstream directly.

    .venv/bin/python bench/bench_stream.py [--quick]

Starts the fake upstream and pandora_v1 (gunicorn, default worker class, one
worker so its CPU time can be read from /proc) as subprocesses on loopback,
then measures, in one run:

1. added time to first token: sequential requests, median and p99 of
   (first content through pandora_v1) vs (first text event from the upstream);
2. CPU seconds the pandora_v1 worker spends per 4,000-token answer, in
   format A (full snapshots) and format B (delta encoding);
3. N concurrent paced streams (200-token answers, 20 ms per event): errors,
   p99 gap between chunks, p99 time to first token, direct vs through;
4. (``--only tools``) the same TTFT and CPU figures for a request with
   ``tools`` present and unused, against the same request without them;
5. (``--only messages``) added time to first token on Anthropic's ``/v1/messages``
   beside chat completions (interleaved, the same prompt), and the worker CPU per
   4,000-token answer on each.

The client is gevent-based so that hundreds of streams cost it little.
Figures are printed as JSON and a table; medians, as the machine is shared.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.conftest import free_port, gunicorn_children, make_jwt  # noqa: E402

TOKEN = make_jwt()


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open")


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def upstream_body(prompt: str, fmt: str) -> bytes:
    return json.dumps({
        "action": "next", "model": "gpt-4o", "parent_message_id": "p",
        "messages": [{"id": "m", "author": {"role": "user"},
                      "content": {"content_type": "text", "parts": [prompt]}, "metadata": {}}],
        "conversation_mode": {"kind": "primary_assistant"},
        **({"supported_encodings": ["v1"]} if fmt == "B" else {}),
    }).encode()


# A typical agent's tool, present and unused: the answer is plain text.
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def chat_body(prompt: str, tools: bool = False) -> bytes:
    return json.dumps({"model": "gpt-4o", "stream": True, **({"tools": TOOLS} if tools else {}),
                       "messages": [{"role": "user", "content": prompt}]}).encode()


def messages_body(prompt: str) -> bytes:
    """What Claude Code sends, in small: a claude-* name, its 128,000 max_tokens, a stream."""
    return json.dumps({"model": "claude-opus-5-5", "max_tokens": 128000, "stream": True,
                       "messages": [{"role": "user", "content": prompt}]}).encode()


def stream_once(port: int, path: str, body: bytes, is_text_event) -> dict:
    """POST and read the SSE; time the first text event and the gaps between text events."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", path, body, {"Authorization": f"Bearer {TOKEN}",
                                          "Content-Type": "application/json",
                                          "Accept": "text/event-stream"})
        response = conn.getresponse()
        if response.status != 200:
            return {"error": f"status {response.status}"}
        first, last, gaps, events = None, None, [], 0
        buffer = b""
        while True:
            data = response.read1(65536)
            if not data:
                break
            now = time.perf_counter()
            buffer += data
            *complete, buffer = buffer.split(b"\n\n")
            texts = sum(1 for e in complete if is_text_event(e))
            if texts:
                events += texts
                if first is None:
                    first = now - started
                else:
                    gaps.append(now - last)
                last = now
        error = b'"error":{' in buffer
        return {"ttft": first, "gaps": gaps, "events": events, "total": time.perf_counter() - started,
                "error": "error event" if error else None}
    except OSError as exc:
        return {"error": repr(exc)}
    finally:
        conn.close()


def direct_text(event: bytes) -> bool:
    """An upstream event that carries answer text: a format B append, or a format A
    assistant snapshot whose text is no longer empty."""
    if b'"append"' in event or b'data: {"v":"' in event:
        return True
    return b'"role":"assistant"' in event and b'"parts":[""]' not in event


def pandora_text(event: bytes) -> bool:
    return b'"content":"' in event and b'"content":""' not in event


def messages_text(event: bytes) -> bool:
    return b'"text_delta"' in event


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Services:
    def __init__(self, workers: int = 1, worker_class: str = "gevent", extra: dict | None = None):
        self.tmp = tempfile.TemporaryDirectory()
        self.fake_port, self.port = free_port(), free_port()
        self.fake = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_upstream.py"),
                                      "--port", str(self.fake_port), "--gevent"], stdout=subprocess.DEVNULL)
        config = {"upstream_base_url": f"http://127.0.0.1:{self.fake_port}", "log_level": "WARNING",
                  "process_workers": workers, "worker_class": worker_class, **(extra or {})}
        path = Path(self.tmp.name) / "config.json"
        path.write_text(json.dumps(config))
        self.server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{self.port}"],
            env={**os.environ, "PANDORA_V1_CONFIG": str(path)}, cwd=self.tmp.name,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.fake_port)
        wait_port(self.port)
        time.sleep(1.5)  # the workers finish booting

    def worker_pids(self) -> list[int]:
        return gunicorn_children(self.server.pid)[0]

    def token_server_pid(self) -> int | None:
        return gunicorn_children(self.server.pid)[1]

    def worker_cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.worker_pids())

    def token_server_cpu(self) -> float:
        pid = self.token_server_pid()
        return cpu_seconds(pid) if pid else 0.0

    def direct(self, prompt: str, fmt: str = "B") -> dict:
        return stream_once(self.fake_port, "/backend-api/conversation", upstream_body(prompt, fmt), direct_text)

    def through(self, prompt: str, tools: bool = False) -> dict:
        return stream_once(self.port, "/v1/chat/completions", chat_body(prompt, tools), pandora_text)

    def messages(self, prompt: str) -> dict:
        return stream_once(self.port, "/v1/messages", messages_body(prompt), messages_text)

    def close(self) -> None:
        for process in (self.server, self.fake):
            process.terminate()
            process.wait(timeout=20)
        self.tmp.cleanup()


def bench_ttft(services: Services, rounds: int) -> dict:
    direct, through = [], []
    for _ in range(rounds):   # interleaved so drifts in machine load hit both sides alike
        direct.append(services.direct("hi")["ttft"])
        through.append(services.through("hi")["ttft"])
    return {"rounds": rounds,
            "direct_ms": {"median": statistics.median(direct) * 1e3, "p99": percentile(direct, 99) * 1e3},
            "through_ms": {"median": statistics.median(through) * 1e3, "p99": percentile(through, 99) * 1e3},
            "added_ms": {"median": (statistics.median(through) - statistics.median(direct)) * 1e3,
                         "p99": (percentile(through, 99) - percentile(direct, 99)) * 1e3}}


def bench_cpu(services: Services, rounds: int) -> dict:
    result = {}
    for fmt in "AB":
        prompt = f"!format {fmt}\n!tokens 4000"
        services.through(prompt)  # warm
        samples, counting = [], []
        for _ in range(rounds):   # 4 answers per sample: /proc counts CPU in 10 ms ticks
            before, counted_before = services.worker_cpu(), services.token_server_cpu()
            for _ in range(4):
                outcome = services.through(prompt)
                assert not outcome.get("error"), outcome
            samples.append((services.worker_cpu() - before) / 4)
            counting.append((services.token_server_cpu() - counted_before) / 4)
        result[f"format_{fmt}_cpu_s"] = {"median": statistics.median(samples), "max": max(samples),
                                         "token_server_median": statistics.median(counting)}
    return result


def bench_tools(services: Services, rounds: int, cpu_rounds: int) -> dict:
    """Tools present and unused vs the same request without: TTFT and CPU per 4,000-token answer."""
    plain, tools = [], []
    for _ in range(rounds):
        plain.append(services.through("hi")["ttft"])
        tools.append(services.through("hi", tools=True)["ttft"])
    result = {"ttft_ms": {"without": {"median": statistics.median(plain) * 1e3, "p99": percentile(plain, 99) * 1e3},
                          "with_tools": {"median": statistics.median(tools) * 1e3,
                                         "p99": percentile(tools, 99) * 1e3}}}
    for fmt in "AB":
        prompt = f"!format {fmt}\n!tokens 4000"
        samples = {False: [], True: []}
        for with_tools in (False, True):
            services.through(prompt, with_tools)  # warm
        for _ in range(cpu_rounds):   # interleaved; 4 answers per sample (/proc counts 10 ms ticks)
            for with_tools in (False, True):
                before = services.worker_cpu()
                for _ in range(4):
                    outcome = services.through(prompt, with_tools)
                    assert not outcome.get("error"), outcome
                samples[with_tools].append((services.worker_cpu() - before) / 4)
        result[f"format_{fmt}_cpu_s"] = {"without": statistics.median(samples[False]),
                                         "with_tools": statistics.median(samples[True])}
    return result


def bench_messages(services: Services, rounds: int, cpu_rounds: int) -> dict:
    """/v1/messages beside chat completions: TTFT (each against reading the upstream directly), CPU per answer."""
    direct, chat, messages = [], [], []
    for _ in range(rounds):   # interleaved so drifts in machine load hit all three alike
        direct.append(services.direct("hi")["ttft"])
        chat.append(services.through("hi")["ttft"])
        messages.append(services.messages("hi")["ttft"])

    def figures(values):
        return {"median": statistics.median(values) * 1e3, "p99": percentile(values, 99) * 1e3,
                "added_median": (statistics.median(values) - statistics.median(direct)) * 1e3}

    result = {"rounds": rounds, "ttft_ms": {"direct": figures(direct), "chat": figures(chat),
                                            "messages": figures(messages)}}
    prompt = "!format B\n!tokens 4000"
    samples = {"chat": [], "messages": []}
    calls = {"chat": lambda: services.through(prompt), "messages": lambda: services.messages(prompt)}
    for call in calls.values():
        call()  # warm
    for _ in range(cpu_rounds):   # interleaved; 4 answers per sample (/proc counts 10 ms ticks)
        for api, call in calls.items():
            before = services.worker_cpu()
            for _ in range(4):
                outcome = call()
                assert not outcome.get("error"), outcome
            samples[api].append((services.worker_cpu() - before) / 4)
    result["format_B_cpu_s"] = {api: statistics.median(values) for api, values in samples.items()}
    return result


def bench_concurrency(services: Services, clients: int) -> dict:
    prompt_direct = "!delay 0.02\n!tokens 200"
    result = {}
    for side, call in (("direct", lambda: services.direct(prompt_direct)),
                       ("through", lambda: services.through(prompt_direct))):
        jobs = [gevent.spawn(call) for _ in range(clients)]
        gevent.joinall(jobs, timeout=300)
        outcomes = [j.value or {"error": "timeout"} for j in jobs]
        gaps = [g for o in outcomes if not o.get("error") for g in o["gaps"]]
        ttfts = [o["ttft"] for o in outcomes if not o.get("error") and o["ttft"] is not None]
        result[side] = {"errors": sum(1 for o in outcomes if o.get("error")),
                        "gap_p99_ms": percentile(gaps, 99) * 1e3,
                        "gap_median_ms": statistics.median(gaps) * 1e3 if gaps else None,
                        "ttft_p99_ms": percentile(ttfts, 99) * 1e3}
    result["gap_p99_ratio"] = result["through"]["gap_p99_ms"] / result["direct"]["gap_p99_ms"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke run")
    parser.add_argument("--clients", type=int, nargs="*", default=[100])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--only", choices=["ttft", "cpu", "concurrency", "tools", "messages"], help="run one part")
    parser.add_argument("--config", type=json.loads, default={},
                        help='config keys for pandora_v1, as JSON (e.g. \'{"token_server": true}\')')
    args = parser.parse_args()
    services = Services(workers=args.workers, extra=args.config)
    report = {}
    try:
        if args.only in (None, "ttft"):
            report["ttft"] = bench_ttft(services, 30 if args.quick else 200)
        if args.only in (None, "cpu"):
            report["cpu"] = bench_cpu(services, 2 if args.quick else 5)
        if args.only == "tools":
            report["tools"] = bench_tools(services, 30 if args.quick else 200, 2 if args.quick else 5)
        if args.only == "messages":
            report["messages"] = bench_messages(services, 30 if args.quick else 200, 2 if args.quick else 5)
        for clients in args.clients if args.only in (None, "concurrency") else ():
            report[f"concurrent_{clients}"] = bench_concurrency(services, clients)
    finally:
        services.close()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
