"""The token server: one process that holds tiktoken's tables for all workers.

A worker that held the tables itself would count ~66 MB of them in its RSS
(o200k_base ~43 MB, cl100k_base ~23 MB), even when they are shared with the
master. With ``token_server: true`` the master starts this process once
(``start``, from serve/gunicorn_conf.py's ``on_starting``) and the workers
ask it over a Unix socket
whose path they inherit in ``PANDORA_V1_TOKEN_SOCKET`` (tokens.py). Its
threads count in parallel (tiktoken releases the GIL), and a worker's event
loop only waits on a socket meanwhile.

The wire, both ways in network byte order:
  request  op:u8 limit:i64 slug_len:u16 parts:u32, the slug, then per part len:u32 + UTF-8
  reply    count:i64 kept_len:u32 (NO_TEXT: none), then the kept UTF-8
COUNT sums the parts' token counts; CUT counts one part and, when it has
more than ``limit`` tokens, also sends back its first ``limit`` as text.

The process exits when its stdin closes: when the master and every worker
that inherited the pipe are gone, however they ended.

    python -m pandora_v1.usage.server SOCKET_PATH
"""
from __future__ import annotations

import os
import select
import shutil
import socket
import socketserver
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

SOCKET_ENV = "PANDORA_V1_TOKEN_SOCKET"
COUNT, CUT = 1, 2
REQUEST = struct.Struct("!BqHI")
REPLY = struct.Struct("!qI")
LENGTH = struct.Struct("!I")
NO_TEXT = 0xFFFFFFFF
FOLDER_PREFIX = "pandora_v1-tokens-"
START_TIMEOUT = 60.0         # building both tables takes ~1 s; a loaded machine can take much longer


def request(op: int, slug: str, parts: list[bytes], limit: int = 0) -> bytes:
    slug_bytes = slug.encode()[:0xFFFF]
    pieces = [REQUEST.pack(op, limit, len(slug_bytes), len(parts)), slug_bytes]
    for part in parts:
        pieces += (LENGTH.pack(len(part)), part)
    return b"".join(pieces)


def read_exact(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        n = sock.recv_into(view[got:])
        if not n:
            raise ConnectionError("the token server closed the connection")
        got += n
    return bytes(buffer)


def read_reply(sock: socket.socket) -> tuple[int, str | None]:
    count, kept_len = REPLY.unpack(read_exact(sock, REPLY.size))
    return count, None if kept_len == NO_TEXT else read_exact(sock, kept_len).decode()


# ------------------------------------------------------------------ the process


class _Connection(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        from . import tables as token_tables

        read = self.rfile.read
        while True:
            header = read(REQUEST.size)
            if len(header) < REQUEST.size:
                return                                     # the worker closed the connection
            op, limit, slug_len, count = REQUEST.unpack(header)
            slug = read(slug_len).decode()
            parts = [read(LENGTH.unpack(read(LENGTH.size))[0]).decode() for _ in range(count)]
            if op == COUNT:
                total, kept = sum(token_tables.length(part, slug) for part in parts), None
            elif op == CUT and count == 1:
                total, kept = token_tables.cut(parts[0], limit, slug)
            else:
                return                                     # not our protocol: drop the connection
            kept_bytes = b"" if kept is None else kept.encode()
            self.wfile.write(REPLY.pack(total, NO_TEXT if kept is None else len(kept_bytes)) + kept_bytes)


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def _exit_with_stdin(path: str) -> None:
    while sys.stdin.buffer.read(65536):
        pass
    folder = Path(path).parent            # the master could not remove it (killed, or halted early)
    if folder.name.startswith(FOLDER_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)
    os._exit(0)


def main(argv: list[str]) -> None:
    from . import tables as token_tables

    token_tables.warm_up()
    server = _Server(argv[1], _Connection)
    threading.Thread(target=_exit_with_stdin, args=(argv[1],), daemon=True).start()
    print("ready", flush=True)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)   # nobody reads the pipe any more: it must never fill
    server.serve_forever()


# ------------------------------------------------------------------ the master's side

_running: subprocess.Popen | None = None
_folder: str | None = None


def start() -> str | None:
    """Start the token server (once per master) and return its socket path, or None with a
    warning on stderr when it could not start (the workers then count themselves)."""
    global _running, _folder
    if _running is not None and _running.poll() is None and _folder:
        return str(Path(_folder) / "tokens.sock")
    root = str(Path(__file__).resolve().parents[2])   # where pandora_v1 is importable from
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    env.pop(SOCKET_ENV, None)
    try:
        _folder = tempfile.mkdtemp(prefix=FOLDER_PREFIX)     # 0700: only this user connects
        path = str(Path(_folder) / "tokens.sock")
        _running = subprocess.Popen([sys.executable, "-m", "pandora_v1.usage.server", path],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        assert _running.stdout is not None
        ready, _, _ = select.select([_running.stdout], [], [], START_TIMEOUT)
        if ready and _running.stdout.readline().strip() == b"ready":
            _running.stdout.close()
            return path
        why = "it did not say it was ready"
    except OSError as exc:          # no writable temporary folder, no fork, ...
        why = f"{type(exc).__name__}: {exc.strerror or exc}"
    sys.stderr.write(f"pandora_v1: the token server did not start ({why}); the token tables are "
                     "built in the master and shared with the workers instead\n")
    stop()
    return None


def stop() -> None:
    global _running, _folder
    if _running is not None:
        _running.terminate()
        try:
            _running.wait(10)
        except subprocess.TimeoutExpired:
            _running.kill()
        _running = None
    if _folder:
        shutil.rmtree(_folder, ignore_errors=True)
        _folder = None


if __name__ == "__main__":
    main(sys.argv)
