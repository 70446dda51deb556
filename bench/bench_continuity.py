"""Long sessions: turn N of a growing history, with continuity on and off (answer/continuity.py).

    .venv/bin/python bench/bench_continuity.py [--turns 20] [--bytes 4000] [--sessions 5] [--link-mbit 100]

Starts the fake upstream in this process (it records every request, so the bytes each conversation
POST carried are known) and two pandora_v1 servers (gunicorn, one gevent worker each): one with the
defaults, one with ``continuity.enabled`` false. A session is a chat whose every turn adds a user
message of ``--bytes`` bytes (a tool output, a pasted file) and resends the whole history, as agent
loops and chat UIs do; the answers are 40 words. Sessions on the two servers are interleaved, so drifts
in machine load hit both alike. Reports, per server, the median time to first token of each turn (the
first content chunk of the stream, at the client) and the bytes of each turn's conversation POST, and
the figures of the last turn side by side.

``--link-mbit N`` puts the fake behind a proxy that carries N Mbit/s towards it, as a network between
pandora_v1 and its upstream would. The fake answers in constant time whatever it is sent: a real
upstream also spends time on a longer prompt (reading it, the model's prefill), which continuity saves
too and this does not measure.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.conftest import free_port, make_jwt  # noqa: E402
from tests.fake_upstream import FakeUpstream  # noqa: E402

TOKEN = make_jwt()


class Link:
    """A TCP proxy in front of the fake whose upstream direction carries ``mbit`` Mbit/s: the bytes a
    conversation POST carries then cost what they cost on a network (answers come back unthrottled)."""

    def __init__(self, target: str, mbit: float):
        host, port = target[len("http://"):].split(":")
        self.target, self.rate = (host, int(port)), mbit * 1e6 / 8
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            server = socket.create_connection(self.target)
            for sock in (client, server):      # no Nagle stalls of the proxy's own
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for args in ((client, server, True), (server, client, False)):
                threading.Thread(target=self._pipe, args=args, daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, paced: bool) -> None:
        try:
            while data := source.recv(65536):
                if paced:
                    time.sleep(len(data) / self.rate)
                else:      # acknowledge the answer's small writes at once, as pandora_v1's reader does
                    source.setsockopt(socket.IPPROTO_TCP, getattr(socket, "TCP_QUICKACK", 12), 1)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def start_server(directory: Path, upstream: str, extra: dict) -> tuple[subprocess.Popen, int]:
    port = free_port()
    directory.mkdir()
    config = {"upstream_base_url": upstream, "log_level": "WARNING", "process_workers": 1,
              "need_log_to_file": False, **extra}
    (directory / "config.json").write_text(json.dumps(config))
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
                                "--bind", f"127.0.0.1:{port}"], cwd=directory,
                               env={**os.environ, "PANDORA_V1_CONFIG": str(directory / "config.json")},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    time.sleep(1.5)   # the worker finishes booting
    return process, port


def ttft(port: int, messages: list[dict]) -> tuple[float, str]:
    """Time to the first content chunk of a streamed chat completion, and the whole answer."""
    body = json.dumps({"model": "gpt-4o", "stream": True, "messages": messages}).encode()
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", "/v1/chat/completions", body, {"Authorization": f"Bearer {TOKEN}",
                                                         "Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 200, response.read()[:300]
    first, text, buffer = None, [], b""
    while chunk := response.read1(65536):
        buffer += chunk
        *events, buffer = buffer.split(b"\n\n")
        for event in events:
            if not event.startswith(b"data: {"):
                continue
            delta = json.loads(event[6:])["choices"]
            content = delta[0]["delta"].get("content") if delta else None
            if content:
                first = first or time.perf_counter() - started
                text.append(content)
    conn.close()
    assert first is not None
    return first, "".join(text)


def session(port: int, fake: FakeUpstream, turns: int, size: int, tag: str) -> list[tuple[float, int]]:
    """(time to first token, bytes of the conversation POST) per turn."""
    messages: list[dict] = [{"role": "system", "content": "You are a coding agent."}]
    out = []
    for turn in range(turns):
        filler = f"{tag} turn {turn}: " + "output of the tool, line after line. " * (size // 37)
        messages.append({"role": "user", "content": "!tokens 40\n" + filler[:size]})
        before = len(fake.requests)
        seconds, answer = ttft(port, messages)
        posts = [r for r in fake.requests[before:] if r.method == "POST" and r.path.endswith("/conversation")]
        out.append((seconds, sum(len(r.body) for r in posts)))
        messages.append({"role": "assistant", "content": answer})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--bytes", type=int, default=4000, help="bytes of the user message each turn adds")
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--link-mbit", type=float, default=0,
                        help="put the fake behind a link of this many Mbit/s towards it (0: loopback)")
    args = parser.parse_args()
    fake = FakeUpstream().start()
    upstream = Link(fake.url, args.link_mbit).url if args.link_mbit else fake.url
    tmp = tempfile.TemporaryDirectory()
    servers = {"continuity on": start_server(Path(tmp.name) / "on", upstream, {}),
               "continuity off": start_server(Path(tmp.name) / "off", upstream, {"continuity": {"enabled": False}})}
    results: dict[str, list[list[tuple[float, int]]]] = {name: [] for name in servers}
    try:
        for round_ in range(args.sessions):
            for name, (_, port) in servers.items():
                results[name].append(session(port, fake, args.turns, args.bytes, f"{name} {round_}"))
                fake.requests.clear()
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=20)
        fake.stop()
        tmp.cleanup()
    report = {}
    for name, runs in results.items():
        per_turn = [{"turn": turn + 1,
                     "ttft_ms": round(statistics.median(run[turn][0] for run in runs) * 1e3, 2),
                     "bytes_up": statistics.median(run[turn][1] for run in runs)} for turn in range(args.turns)]
        report[name] = {"per_turn": per_turn,
                        "bytes_up_all_turns": statistics.median(sum(b for _, b in run) for run in runs)}
    print(json.dumps({"turns": args.turns, "bytes_per_turn": args.bytes, "sessions": args.sessions,
                      "link_mbit": args.link_mbit or None, **report}, indent=1))
    link = f", the upstream behind {args.link_mbit:g} Mbit/s" if args.link_mbit else ", the upstream on loopback"
    print(f"\nturn {args.turns} of a history growing {args.bytes} bytes a turn{link}, medians of {args.sessions} "
          "sessions:")
    print("| | time to first token | bytes sent upstream (that turn) | bytes sent upstream (all turns) |")
    print("|---|---|---|---|")
    for name, data in report.items():
        last = data["per_turn"][-1]
        print(f"| {name} | {last['ttft_ms']:.2f} ms | {last['bytes_up']:,.0f} | {data['bytes_up_all_turns']:,.0f} |")


if __name__ == "__main__":
    main()
