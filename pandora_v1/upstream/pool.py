"""The conversation POST on pooled sockets of our own.

Once per answer pandora_v1 POSTs the conversation and reads an event
stream back; UpstreamBody already reads that body straight off the socket.
urllib3 around the rest (pool lookup, URL parsing, the connection's
liveness poll through gevent, http.client's header parse through the
``email`` package) cost a quarter of a request start's CPU (measured:
bench/RESULTS.md). Here the request goes out in one write and the head is
parsed in one pass; the socket and the bytes read past the head go to
UpstreamBody, which hands a cleanly ended connection back with ``release``.

Only for an upstream reached without a proxy: through a proxy the POST
stays on urllib3's ProxyManager (upstream.py).

A pooled connection the upstream closed while idle is noticed before reuse
(readable while idle means EOF) and, should it close between that check and
our write, the request is sent again once on a new connection: nothing of
an answer had arrived, so nothing is lost or doubled.
"""
from __future__ import annotations

import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable

from requests.structures import CaseInsensitiveDict

from .errors import TimedOut, Unreachable

MAX_HEAD = 64 * 1024          # an upstream's response head beyond this is not HTTP we speak
READ_SIZE = 64 * 1024


def _idle_select():
    """select.select as the OS has it (gevent's would switch greenlets for a zero-wait look)."""
    try:
        from gevent import monkey

        return monkey.get_original("select", "select")
    except ImportError:
        import select

        return select.select


_select = _idle_select()


class Response:
    """A response head and its connection, read on by UpstreamBody (sock, chunked, length,
    take_buffered, release, close)."""

    def __init__(self, status: int, headers: CaseInsensitiveDict, sock: socket.socket, buffered: bytes,
                 reusable: bool, put_back: Callable[[socket.socket], None]):
        self.status = status
        self.headers = headers
        self.sock: socket.socket | None = sock
        self.buffered = buffered               # body bytes read with the head
        encoding = headers.get("Transfer-Encoding", "").lower()
        self.chunked = "chunked" in encoding
        length = headers.get("Content-Length")
        self.length = int(length) if length and length.strip().isdigit() and not self.chunked else None
        self.reusable = reusable and (self.chunked or self.length is not None)
        self._put_back = put_back

    def take_buffered(self) -> bytes:
        data, self.buffered = self.buffered, b""
        return data

    def release(self) -> None:
        """The body was read to its end: the connection may carry the next request."""
        sock, self.sock = self.sock, None
        if sock is not None:
            if self.reusable:
                self._put_back(sock)
            else:
                sock.close()

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()


class ConnectionPool:
    """Idle keep-alive connections per origin (scheme, host, port), at most ``size`` each."""

    def __init__(self, size: int, connect_timeout: float, read_timeout: float,
                 tls: ssl.SSLContext | None = None):
        self.size = size
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._tls = tls
        self._idle: dict[tuple[str, str, int], list[socket.socket]] = {}
        self._lock = threading.Lock()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> Response:
        parts = urllib.parse.urlsplit(url)
        scheme, host = parts.scheme, parts.hostname or ""
        port = parts.port or (443 if scheme == "https" else 80)
        origin = (scheme, host, port)
        host_header = parts.netloc.rpartition("@")[2]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        lines = [f"POST {target} HTTP/1.1", f"Host: {host_header}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        sock = self._take(origin)
        if sock is not None:
            try:
                return self._exchange(origin, sock, request)
            except _StaleConnection:
                pass                             # closed while idle: once more on a new connection
        try:
            return self._exchange(origin, self._connect(origin), request)
        except _StaleConnection:
            raise Unreachable("connection closed before an answer") from None

    def close(self) -> None:
        """Close the idle connections (those in use close with their answers)."""
        with self._lock:
            idle = [sock for socks in self._idle.values() for sock in socks]
            self._idle.clear()
        for sock in idle:
            sock.close()

    # -- connections --------------------------------------------------------

    def _take(self, origin) -> socket.socket | None:
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                sock = idle.pop() if idle else None
            if sock is None:
                return None
            try:
                readable, _, _ = _select([sock.fileno()], [], [], 0)
            except (OSError, ValueError):
                readable = [True]
            if not readable:
                return sock
            sock.close()                         # readable while idle: EOF (or garbage)

    def _put_back(self, origin, sock: socket.socket) -> None:
        with self._lock:
            idle = self._idle.setdefault(origin, [])
            if len(idle) < self.size:
                idle.append(sock)
                return
        sock.close()

    def _connect(self, origin) -> socket.socket:
        scheme, host, port = origin
        try:
            sock = socket.create_connection((host, port), timeout=self.connect_timeout)
        except TimeoutError:
            raise Unreachable("connect timeout") from None
        except OSError as exc:
            raise Unreachable(type(exc).__name__) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if scheme != "https":
            return sock
        try:
            assert self._tls is not None
            return self._tls.wrap_socket(sock, server_hostname=host)
        except TimeoutError:
            sock.close()
            raise Unreachable("connect timeout") from None
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            raise Unreachable(type(exc).__name__) from None

    def _exchange(self, origin, sock: socket.socket, request: bytes) -> Response:
        """Send ``request`` and read the response head. _StaleConnection when the connection
        was gone before a byte of the answer came (safe to send again)."""
        head = b""
        try:
            sock.settimeout(self.read_timeout)
            sock.sendall(request)
            while True:
                end = head.find(b"\r\n\r\n")
                if end >= 0:
                    if not head.startswith(b"HTTP/1.1 1") or head.startswith(b"HTTP/1.1 101"):
                        break
                    head = head[end + 4:]             # 1xx (Early Hints, ...): the answer's head follows
                    continue
                if len(head) > MAX_HEAD:
                    sock.close()
                    raise Unreachable("response head too large")
                data = sock.recv(READ_SIZE)
                if not data:
                    sock.close()
                    if head:
                        raise Unreachable("connection closed in the response head")
                    raise _StaleConnection()
                head += data
        except TimeoutError:
            sock.close()
            raise TimedOut() from None
        except (ConnectionResetError, BrokenPipeError) as exc:
            sock.close()
            if not head:
                raise _StaleConnection() from None
            raise Unreachable(type(exc).__name__) from None
        except OSError as exc:
            sock.close()
            raise Unreachable(type(exc).__name__) from None
        status, headers, keep_alive = _parse_head(head[:end])
        if status is None:
            sock.close()
            raise Unreachable("not an HTTP response")
        return Response(status, headers, sock, head[end + 4:], keep_alive,
                        lambda s: self._put_back(origin, s))


class _StaleConnection(Exception):
    pass


def _parse_head(head: bytes) -> tuple[int | None, CaseInsensitiveDict, bool]:
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or not code.isdigit():
        return None, CaseInsensitiveDict(), False
    headers: CaseInsensitiveDict = CaseInsensitiveDict()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        name, value = name.strip(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    connection = headers.get("Connection", "").lower()
    keep_alive = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
    return int(code), headers, keep_alive
