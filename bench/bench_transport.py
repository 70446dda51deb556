"""The upstream transport alone, side by side: CPU per request start and per event, before and after.

    .venv/bin/python bench/bench_transport.py [--before 0690c3f] [--rounds 7] [--starts 300]

Loads the transport (pandora_v1/upstream/pool.py and body.py) of this
checkout ("after") and of the commit ``--before`` (``git archive`` into a
temporary folder, imported as the package ``pandora_before``) into one
process, starts the fake upstream, and measures CPU in this one thread
(``time.thread_time``: the fake's work is not counted):

1. live, against the fake upstream: CPU per request start (the POST, the
   head, a one-event answer read to its end, the connection back to the
   pool) and CPU per event of a 4,000-token format B answer, for before,
   after, and http.client reading the same answers on a kept-alive
   connection ("direct", the yardstick: the ratio to it is what compares
   across runs on a shared machine);
2. replay: those answers' recorded bytes handed to the transport by a
   socket stand-in (no kernel, no fake upstream), so that only our code
   runs: one chunk per read (an event at a time, a quiet machine) and 16
   per read (a busy one); and a 4,000-token format A answer (~50 MB of
   snapshots) in 64 KB reads, per answer.

Sockets are gevent's, as in a worker; every side sets TCP_NODELAY and,
after the head, TCP_QUICKACK as UpstreamBody does (the fake upstream's
Nagle would otherwise hold its next write 40 ms for our delayed ACK).
Rounds interleave the sides, so drifts in load hit all alike; medians.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import gc  # noqa: E402
import http.client  # noqa: E402
import importlib  # noqa: E402
import importlib.util  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_stream import TOKEN, free_port, upstream_body, wait_port  # noqa: E402

from pandora_v1.upstream import body as after_body  # noqa: E402
from pandora_v1.upstream import pool as after_pool  # noqa: E402

PATH = "/backend-api/conversation"
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
           "Accept": "text/event-stream", "Accept-Encoding": "identity", "User-Agent": "bench"}
SHORT = "!pieces 100\nOK"                     # bench_start.py's one-event answer
LONG = "!format B\n!tokens 4000"
SNAPSHOTS = "!format A\n!tokens 4000"


def load_before(commit: str, folder: Path):
    """pool and body of ``commit``, as pandora_before.upstream.*"""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "pandora_v1"],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="tar")
    package = folder / "pandora_v1"
    spec = importlib.util.spec_from_file_location("pandora_before", package / "__init__.py",
                                                  submodule_search_locations=[str(package)])
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["pandora_before"] = module
    spec.loader.exec_module(module)
    return (importlib.import_module("pandora_before.upstream.pool"),
            importlib.import_module("pandora_before.upstream.body"))


class Transport:
    """One side's ConnectionPool and body reader."""

    def __init__(self, name: str, pool_module, body_module):
        self.name = name
        self.pool_module, self.body_module = pool_module, body_module
        self.pool = pool_module.ConnectionPool(size=4, connect_timeout=5, read_timeout=60)

    def answer(self, url: str, payload: bytes) -> bytes:
        response = self.pool.post(url, payload, HEADERS)
        return self._read(response)

    def replay(self, pieces: list[bytes]) -> bytes:
        pool = self.pool_module.ConnectionPool(size=0, connect_timeout=5, read_timeout=60)
        response = pool._exchange(("http", "replay", 80), Replay(pieces), b"POST / HTTP/1.1\r\n\r\n")
        return self._read(response)

    def _read(self, response) -> bytes:
        body = self.body_module.open_body(response, 60)
        out = []
        while not body.complete:
            data = body.read()
            if not data:
                break
            out.append(data)
        body.close()
        return b"".join(out)


class Direct:
    """http.client on one kept-alive connection: the yardstick."""

    name = "direct"

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.connect()     # http.client writes head and body apart: without this, Nagle's 40 ms per request
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def answer(self, url: str, payload: bytes) -> bytes:
        self.conn.request("POST", PATH, payload, HEADERS)
        response = self.conn.getresponse()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        return response.read()


class Replay:
    """A socket that hands out recorded reads; what the transport writes goes nowhere."""

    def __init__(self, pieces: list[bytes]):
        self._pieces = iter(pieces)

    def recv(self, size: int) -> bytes:
        return next(self._pieces, b"")

    def send(self, data) -> int:
        return len(data)

    def sendall(self, data) -> None:
        pass

    def settimeout(self, timeout) -> None:
        pass

    def gettimeout(self):
        return 60.0

    def setsockopt(self, *args) -> None:
        pass

    def fileno(self) -> int:
        return -1

    def close(self) -> None:
        pass


def record(port: int, payload: bytes) -> bytes:
    """The raw bytes of one answer (head and chunk framing), read until the fake closes."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        head = [f"POST {PATH} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(payload)}",
                "Connection: close", *(f"{k}: {v}" for k, v in HEADERS.items())]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        data = []
        while piece := sock.recv(65536):
            data.append(piece)
    raw = b"".join(data)
    return raw.replace(b"Connection: close\r\n", b"")


def reads(raw: bytes, per_read: int) -> list[bytes]:
    """``raw`` cut as the network would bring it: the head, then ``per_read`` chunks a read."""
    end = raw.index(b"\r\n\r\n") + 4
    assert b"Transfer-Encoding: chunked" in raw[:end]
    pieces, chunks, pos = [raw[:end]], [], end
    while pos < len(raw):
        eol = raw.index(b"\r\n", pos)
        size = int(raw[pos:eol].split(b";")[0], 16)
        stop = eol + 2 + size + 2 if size else raw.index(b"\r\n\r\n", eol) + 4   # the last chunk, trailers
        chunks.append(raw[pos:stop])
        pos = stop
    for i in range(0, len(chunks), per_read):
        pieces.append(b"".join(chunks[i:i + per_read]))
    return pieces


def cut_reads(raw: bytes, size: int = 65536) -> list[bytes]:
    """``raw`` as reads of ``size`` bytes after the head, wherever the chunks fall."""
    end = raw.index(b"\r\n\r\n") + 4
    return [raw[:end]] + [raw[i:i + size] for i in range(end, len(raw), size)]


def cpu(call, args: tuple, times: int) -> float:
    gc.collect()
    started = time.thread_time()
    for _ in range(times):
        call(*args)
    return (time.thread_time() - started) / times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", default="0690c3f", help="the commit whose transport is 'before'")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--starts", type=int, default=300, help="request starts per side and round")
    parser.add_argument("--answers", type=int, default=3, help="4,000-token answers per side and round")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    before_pool, before_body = load_before(args.before, Path(folder.name))
    port = free_port()
    fake = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_upstream.py"), "--port", str(port),
                             "--gevent"], stdout=subprocess.DEVNULL)
    try:
        wait_port(port)
        url = f"http://127.0.0.1:{port}{PATH}"
        short, long = upstream_body(SHORT, "B"), upstream_body(LONG, "B")
        sides = [Direct(port), Transport("before", before_pool, before_body),
                 Transport("after", after_pool, after_body)]
        expected_long = sides[0].answer(url, long)
        events = expected_long.count(b"\n\n")
        for side in sides:                   # warm, and every side reads the same answers
            assert side.answer(url, short).count(b"\n\n") == sides[0].answer(url, short).count(b"\n\n")
            assert side.answer(url, long).count(b"\n\n") == events, side.name
        recorded = {"start": record(port, short), "event": record(port, long)}
        replays = {(kind, per_read): reads(raw, per_read) for kind, raw in recorded.items() for per_read in (1, 16)}
        replays["snapshots", "64k"] = cut_reads(record(port, upstream_body(SNAPSHOTS, "A")))
        for pieces in replays.values():
            for side in sides[1:]:
                assert side.replay(pieces) == sides[2].replay(pieces), side.name
        replay_events = {per_read: sides[2].replay(replays["event", per_read]).count(b"\n\n") for per_read in (1, 16)}
        # replays[kind, per_read]: "start" and "event" in microseconds per start / per event, "snapshots" per answer
        live: dict[str, dict[str, list[float]]] = {side.name: {"start": [], "event": []} for side in sides}
        replay: dict[str, dict[str, list[float]]] = {side.name: {} for side in sides[1:]}
        for round_ in range(args.rounds):
            order = sides[round_ % 3:] + sides[:round_ % 3]
            for side in order:
                live[side.name]["start"].append(cpu(side.answer, (url, short), args.starts))
                live[side.name]["event"].append(cpu(side.answer, (url, long), args.answers) / events)
            for side in order:
                if side.name == "direct":
                    continue
                for (kind, per_read), pieces in replays.items():
                    times = {"start": args.starts * 4, "event": args.answers * 4}.get(kind, args.answers)
                    seconds = cpu(side.replay, (pieces,), times)
                    if kind == "event":
                        seconds /= replay_events[per_read]
                    replay[side.name].setdefault(f"{kind}_{per_read}_per_read", []).append(seconds)
    finally:
        fake.terminate()
        fake.wait(timeout=20)
        folder.cleanup()

    def us(values):
        return round(statistics.median(values) * 1e6, 2)

    report: dict = {"before": args.before, "rounds": args.rounds, "events_per_long_answer": events,
                    "live_us": {name: {kind: us(v) for kind, v in kinds.items()} for name, kinds in live.items()}}
    for kind in ("start", "event"):
        direct = statistics.median(live["direct"][kind])
        report.setdefault("live_ratio_to_direct", {})[kind] = {
            name: round(statistics.median(live[name][kind]) / direct, 3) for name in ("before", "after")}
    report["replay_us"] = {name: {kind: us(v) for kind, v in kinds.items()} for name, kinds in replay.items()}
    report["replay_after_over_before"] = {kind: round(statistics.median(replay["after"][kind])
                                                      / statistics.median(replay["before"][kind]), 3)
                                          for kind in replay["after"]}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
