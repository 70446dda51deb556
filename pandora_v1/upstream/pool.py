"""The conversation POST on pooled sockets of our own.

Once per answer pandora_v1 POSTs the conversation and reads an event
stream back; UpstreamBody reads that body straight off the socket.
urllib3 around the rest (pool lookup, URL parsing, the connection's
liveness poll through gevent, http.client's header parse through the
``email`` package) cost a quarter of a request start's CPU (measured:
bench/RESULTS.md). Here the request goes out in one write and the head is
parsed by llhttp (framing.py); the socket, the parser and the bytes read
past the head go to UpstreamBody, which hands a cleanly ended connection
back with ``release``.

Only for an upstream reached without a proxy: through a proxy the POST
stays on urllib3's ProxyManager (client.py).

A request is sent once (RFC 9110 §9.2.2: a POST is not idempotent; a
second conversation would repeat the user's message and its rate-limit
charge). A pooled connection the upstream closed while idle is noticed
before reuse (readable while idle means EOF; ``poll``, which unlike
``select`` watches any descriptor). Should it close after that look, the
request goes again on a new connection only if no byte of it can have been
read: the first write failed. Once a write succeeded the upstream may have
read the request, and a connection that then ends unanswered is
Unreachable with ``sent`` (the usual 502, and no other prefix).

Header fields with CR, LF or NUL are refused before anything is sent
(``check_fields``): on the wire they would end the line.
"""
from __future__ import annotations

import select
import socket
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Mapping

from ..errors import APIError
from .errors import TimedOut, Unreachable
from .framing import Framing, Headers

MAX_HEAD = 64 * 1024          # an upstream's response head beyond this is not HTTP we speak
READ_SIZE = 64 * 1024
# The first write: at most one TLS record (2^14 bytes of plaintext), so that when it fails the
# upstream cannot have read a byte of the request (nothing went out, or part of a record it
# cannot decrypt). Most requests fit in it whole.
FIRST_WRITE = 16 * 1024
_NEVER_SENT = (ConnectionError, ssl.SSLEOFError, ssl.SSLZeroReturnError)

def check_fields(headers: Mapping[str, str]) -> None:
    """Refuse header names and values holding CR, LF or NUL, before anything is sent."""
    text = "".join([*headers, *headers.values()])      # one scan for the usual case: nothing found
    if "\r" not in text and "\n" not in text and "\x00" not in text:
        return
    for name in headers:
        if not _unsafe(name + headers[name]):
            continue
        named = "" if _unsafe(name) else f" ({name})"
        raise APIError(502, f"A header for the upstream{named} holds a CR, LF or NUL character; "
                            "the request was not sent.", code="upstream_error")


def _unsafe(text: str) -> bool:
    return "\r" in text or "\n" in text or "\x00" in text


def _idle_poll():
    """select.poll as the OS has it (gevent's would switch greenlets for a zero-wait look)."""
    try:
        from gevent import monkey

        return monkey.get_original("select", "poll")
    except ImportError:
        return select.poll


_poll = _idle_poll()
_ANY_EVENT = select.POLLIN | select.POLLPRI    # POLLHUP and POLLERR are reported whatever is asked


def _closed_while_idle(sock: socket.socket) -> bool:
    """Readable while idle: EOF (or bytes nobody asked for); either way not reusable."""
    poller = _poll()
    try:
        poller.register(sock, _ANY_EVENT)
        return bool(poller.poll(0))
    except (OSError, ValueError):    # a socket closed under us
        return True


class Response:
    """A response head and its connection, read on by UpstreamBody (sock, framing, take_buffered,
    release, close)."""

    def __init__(self, framing: Framing, sock: socket.socket, buffered: bytes,
                 put_back: Callable[[socket.socket], None]):
        self.framing = framing
        self.status = framing.status
        self.headers: Headers = framing.headers
        self.sock: socket.socket | None = sock
        self.buffered = buffered               # bytes read with the head, past it (framed)
        self.reusable = framing.keep_alive
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
        check_fields({"Host": host_header, **headers})
        lines = [f"POST {target} HTTP/1.1", f"Host: {host_header}", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        sock = self._take(origin)
        if sock is not None:
            try:
                return self._exchange(origin, sock, request)
            except _NeverSent:
                pass                             # gone before a byte of the request left: once, on a new one
        try:
            return self._exchange(origin, self._connect(origin), request)
        except _NeverSent as exc:              # a new connection that took nothing: not HTTP we can reach
            raise Unreachable(exc.why) from None

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
            if not _closed_while_idle(sock):
                return sock
            sock.close()

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
        """Send ``request`` and read the response head. _NeverSent when the connection was gone
        before a byte of the request left (the only case it may be sent again)."""
        read = b""                               # what came and is not parsed yet
        try:
            sock.settimeout(self.read_timeout)
            _send(sock, request)
            framing = Framing()
            while True:
                end = read.find(b"\r\n\r\n")
                if end >= 0:
                    final = framing.head(read[:end + 4])
                    read = read[end + 4:]
                    if final:
                        break
                    continue                     # 1xx (Early Hints, ...): the answer's head follows
                if len(read) > MAX_HEAD:
                    raise Unreachable("response head too large", sent=True)
                data = sock.recv(READ_SIZE)
                if not data:
                    raise Unreachable("connection closed in the response head" if read
                                      else "connection closed before an answer", sent=True)
                read += data
        except TimeoutError:
            sock.close()
            raise TimedOut() from None
        except (Unreachable, _NeverSent):
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            raise Unreachable(type(exc).__name__, sent=True) from None
        return Response(framing, sock, read, lambda s: self._put_back(origin, s))


def _send(sock: socket.socket, request: bytes) -> None:
    """Write ``request``; _NeverSent when the first write failed (so nothing of it can have been read)."""
    try:
        sent = sock.send(request[:FIRST_WRITE])
    except _NEVER_SENT as exc:
        raise _NeverSent(type(exc).__name__) from None
    if sent < len(request):
        sock.sendall(memoryview(request)[sent:])


class _NeverSent(Exception):
    def __init__(self, why: str):
        self.why = why
