"""Token counts for ``usage``: the numbers tiktoken gives.

With ``token_server: true`` the counting happens in the token server
(server.py), one process holding the tables for all workers; a worker sends
the text over a Unix socket and its event loop runs on while it waits.
Without one (the default: the master built the tables before the fork, and
the workers share them; tests; a token server that died) the counting
happens here with the same tables (tables.py), built on first use when no
master did: the counts are the same either way, only the memory differs.
"""
from __future__ import annotations

import logging
import os
import socket
import threading

from . import server as token_server

log = logging.getLogger(__name__)

# Connections a worker keeps to the token server; more callers wait for one.
CONNECTIONS = 8
TIMEOUT = 120.0            # 30 MB take ~2 s; only a hung server gets near this


class _Remote:
    """A worker's connections to the token server (made after the fork, reused)."""

    def __init__(self, path: str):
        self.path = path
        self.pid = os.getpid()
        self._idle: list[socket.socket] = []
        self._slots = threading.BoundedSemaphore(CONNECTIONS)
        self.failing = False

    def ask(self, frame: bytes) -> tuple[int, str | None]:
        with self._slots:
            sock = self._idle.pop() if self._idle else self._connect()
            try:
                sock.sendall(frame)
                reply = token_server.read_reply(sock)
            except BaseException:           # a half-read reply: this connection is no use any more
                sock.close()
                raise
            self._idle.append(sock)
            return reply

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT)
        try:
            sock.connect(self.path)
        except BaseException:
            sock.close()
            raise
        return sock


_remote: _Remote | None = None


def _server() -> _Remote | None:
    global _remote
    path = os.environ.get(token_server.SOCKET_ENV)
    if not path:
        return None
    if _remote is None or _remote.pid != os.getpid() or _remote.path != path:
        _remote = _Remote(path)        # first use in this process (a fork does not share sockets)
    return _remote


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:   # lone surrogates: fixed up the way tiktoken's Encoding.encode does
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").encode()


def _ask(op: int, slug: str, texts: list[str], limit: int = 0) -> tuple[int, str | None]:
    remote = _server()
    if remote is not None:
        try:
            reply = remote.ask(token_server.request(op, slug, [_utf8(t) for t in texts], limit))
        except OSError as exc:
            if not remote.failing:
                log.warning("token server unreachable (%s); counting in this worker until it answers",
                            exc.__class__.__name__)
            remote.failing = True
        else:
            if remote.failing:
                log.warning("token server answers again")
            remote.failing = False
            return reply
    from . import tables as token_tables  # here only: a worker with a token server never loads the tables

    if op == token_server.CUT:
        return token_tables.cut(texts[0], limit, slug)
    return sum(token_tables.length(text, slug) for text in texts), None


def count(text: str, slug: str) -> int:
    if not text:
        return 0
    return _ask(token_server.COUNT, slug, [text])[0]


def cut(text: str, limit: int, slug: str) -> tuple[int, str | None]:
    """(tokens in ``text``, its first ``limit`` tokens as text when it has more, else None)."""
    return _ask(token_server.CUT, slug, [text], limit)


def prompt_tokens(messages, slug: str) -> int:
    """OpenAI's chat accounting: 3 per message, role and content, 3 to prime the reply."""
    texts = [text for message in messages for text in (message.role, message.text) if text]
    return 3 + 3 * len(messages) + (_ask(token_server.COUNT, slug, texts)[0] if texts else 0)


def usage(prompt: int, completion: int, reasoning: int = 0) -> dict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
