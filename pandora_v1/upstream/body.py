"""The upstream's streamed answer body, read straight off its socket.

http.client hands a chunked body over one HTTP chunk per call (a readline
for the size, a read for the data, a read for the CRLF), each one a trip
through the socket layer; per upstream event that was a quarter of a
stream's cost. Here every read takes whatever the network has (many events
at once under load) and llhttp (framing.py) takes the framing off it in one
call.

A read can also wait with a limit and come back empty-handed, so the
request's own thread writes keep-alives while the upstream is silent: no
helper thread or queue per stream.

When the body ends cleanly its connection goes back to its pool, so the
next conversation skips the connect.

It reads our own connections (pool.py) and, through a proxy, urllib3's;
for those it reads private attributes of urllib3's and http.client's
responses, fenced in ``_raw_parts`` alone. http.client has parsed that
head already: the same parser is given a head with the framing http.client
found (chunked, a length, or until close) and reads the body as on our own
connections. Should an upgrade move those attributes, ``open_body`` falls
back to ``PlainBody``: urllib3's own reads, slower and without keep-alives
while the upstream is silent, but correct.
"""
from __future__ import annotations

import logging
import socket
import ssl
import time
import zlib

import urllib3

from ..errors import APIError, ClientGone
from . import pool as upstream_conn
from .framing import Framing

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
_QUICKACK = getattr(socket, "TCP_QUICKACK", 0)   # Linux only


def _dropped() -> APIError:
    return APIError(502, "The upstream connection dropped in the middle of the answer.",
                    code="upstream_error")


def _client_gone() -> APIError:
    return ClientGone()


class ClientEOF(Exception):
    """Thrown into a stream's wait by client_watch.py: the client sent EOF; a keep-alive now
    tells whether it still reads."""


def open_body(response: urllib3.BaseHTTPResponse | upstream_conn.Response, read_timeout: float) -> "Body":
    """The fast reader for our own connections (upstream_conn.py) and for urllib3's when its
    internals are where we expect them, else the plain one."""
    if isinstance(response, upstream_conn.Response):
        return UpstreamBody(response, read_timeout)
    if _raw_parts(response) is None:
        log.warning("urllib3's response internals have moved: reading the upstream the slow way "
                    "(see _raw_parts in upstream_body.py)")
        return PlainBody(response, read_timeout)
    return UpstreamBody(response, read_timeout)


def _raw_parts(response) -> tuple | None:
    """(http.client's response, its socket), or None when an upgrade moved them.

    The only place that reads private attributes: urllib3's ``_fp`` is
    http.client's response (its buffer holds bytes read past the headers,
    ``chunked`` and ``length`` its framing); ``fp.raw._sock`` the socket
    under it. A connection already gone raises the usual 502.
    """
    http = getattr(response, "_fp", None)
    if http is None or not all(hasattr(http, name) for name in ("fp", "chunked", "length")):
        return None
    if http.fp is None:
        raise _dropped()
    raw = getattr(http.fp, "raw", None)
    if raw is None or not hasattr(raw, "_sock") or not hasattr(http.fp, "read1"):
        return None
    if raw._sock is None:
        raise _dropped()
    return http, raw._sock


class PlainBody:
    """The fallback reader: urllib3 de-chunks and decodes. A read waits until data comes
    (within the read timeout), so there are no keep-alives while the upstream is silent."""

    def __init__(self, response: urllib3.BaseHTTPResponse, read_timeout: float):
        self.response = response
        self.complete = False

    def read(self, wait: float | None = None) -> bytes:
        if self.complete:
            return b""
        try:
            data = self.response.read1(READ_SIZE, decode_content=True)
        except urllib3.exceptions.ReadTimeoutError:
            raise APIError(504, "The upstream stopped sending the answer (read timeout).",
                           code="upstream_timeout") from None
        except (urllib3.exceptions.HTTPError, OSError, ValueError):
            raise _dropped() from None
        if not data:
            self.complete = True
        return data

    def close(self, drain: float | None = None) -> None:
        self.response.close()
        self.response.release_conn()


class _Urllib3Wire:
    """A urllib3 response's connection, as UpstreamBody reads it: what upstream_conn.Response
    offers for our own (sock, framing, take_buffered, release, close)."""

    def __init__(self, response: urllib3.BaseHTTPResponse):
        parts = _raw_parts(response)
        if parts is None:
            raise _dropped()
        self.response = response
        self._http, self.sock = parts
        self.framing = Framing()
        self.framing.head(_framing_head(bool(self._http.chunked), self._http.length))

    def take_buffered(self) -> bytes:
        """What http.client already read past the headers, without waiting for more."""
        self.sock.settimeout(0)
        try:
            return self._http.fp.read1(READ_SIZE) or b""
        except (BlockingIOError, ssl.SSLWantReadError):
            return b""
        except (OSError, ValueError, AttributeError):
            raise _dropped() from None

    def release(self) -> None:
        self._http.close()
        self.response.release_conn()

    def close(self) -> None:
        self.response.close()
        self.response.release_conn()   # a closed connection's place in the pool is kept


def _framing_head(chunked: bool, length: int | None) -> bytes:
    """A head that frames the body as http.client found it (it has read and checked the real one)."""
    if chunked:
        return b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    if length is not None:
        return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % length
    return b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"


class UpstreamBody:
    """``read(wait)``: the next body bytes; None if none came within ``wait``; b"" at the end."""

    def __init__(self, response: urllib3.BaseHTTPResponse | upstream_conn.Response, read_timeout: float):
        self.response = response
        self.read_timeout = read_timeout
        self._wire = response if isinstance(response, upstream_conn.Response) else _Urllib3Wire(response)
        sock = self._wire.sock
        if sock is None:                        # our own response, already closed
            raise _dropped()
        self._sock = sock
        self._pool_timeout = self._sock.gettimeout()   # put back when the connection returns to the pool
        self._framing: Framing = self._wire.framing
        self._decompress = _decompressor(response.headers.get("Content-Encoding", ""))
        self._timeout: float | None = -1.0      # what the socket is set to (-1: not set yet)
        self._last_data = time.monotonic()
        self._started = False
        self.complete = self._framing.complete   # the body ended where its framing says (204, 304, length 0)
        # client_watch.py: set while a read waits on the socket / when the client has left.
        self.client_watch = None
        self.waiting = False
        self.client_gone = False
        self.probe_every: float | None = None   # a streaming client sent EOF: keep-alives this often
        self._ack_now()                         # for the headers, just read
        if self.complete:                       # no body (204, 304, length 0): nothing to wait for
            self._started = True
            if not self._wire.take_buffered():  # bytes past an empty body: the connection is not clean
                self._release()

    def read(self, wait: float | None = None) -> bytes | None:
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            if self.complete:
                return b""
            data = self._recv(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if data is None:
                return None
            if not data:
                if not self._framing.until_close:
                    raise _dropped()         # closed before the framing said the body ends
                self.complete = True
                return self._flush()
            framing = self._framing
            payload = framing.body(data)
            if framing.complete:
                self.complete = True
            if self._decompress:
                try:
                    payload = self._decompress.decompress(payload)
                except zlib.error:
                    raise APIError(502, "The upstream sent a corrupt compressed body.",
                                   code="upstream_error") from None
            if self.complete:
                payload += self._flush()
                self._release()
            if payload or self.complete:
                return payload
            # Only framing arrived: keep waiting, within what is left of the wait.

    def close(self, drain: float | None = None) -> None:
        """Stop reading: the connection is closed unless it went back to the pool.

        With ``drain`` (seconds), an answer already complete in its events
        first gets that long for the last bytes of its framing, so that the
        connection can be reused.
        """
        if drain is not None and not self.complete:
            deadline = time.monotonic() + drain
            try:
                for _ in range(8):
                    if self.read(max(0.0, deadline - time.monotonic())) is None or self.complete:
                        break
            except APIError:
                pass
        self._wire.close()
        if self.client_watch is not None:
            self.client_watch.stop()
            self.client_watch = None

    def hand_over_watch(self, other: "Body") -> None:
        """A continuation replaces this body: the client's watch (client_watch.py) goes on with ``other``."""
        watch, self.client_watch = self.client_watch, None
        if watch is None or not isinstance(other, UpstreamBody):
            if watch is not None:
                watch.stop()
            return
        watch.body, other.client_watch = other, watch
        other.client_gone, other.probe_every = self.client_gone, self.probe_every

    # -- the socket ---------------------------------------------------------

    def _recv(self, wait: float | None) -> bytes | None:
        if not self._started:
            self._started = True
            buffered = self._wire.take_buffered()
            if buffered:
                self._last_data = time.monotonic()
                return buffered
        silent_for = time.monotonic() - self._last_data
        limit = self.read_timeout - silent_for
        if limit <= 0:
            raise APIError(504, "The upstream stopped sending the answer (read timeout).",
                           code="upstream_timeout")
        timeout = limit if wait is None else max(0.0, min(wait, limit))
        if timeout != self._timeout:
            self._sock.settimeout(timeout)
            self._timeout = timeout
        if self.client_gone:
            raise _client_gone()
        if self.probe_every is not None and wait is not None and wait > self.probe_every:
            return self._recv(self.probe_every)   # client_watch.py: is the client still there?
        self.waiting = True
        try:
            data = self._sock.recv(READ_SIZE)
        except (TimeoutError, BlockingIOError, ssl.SSLWantReadError):
            return None if wait is not None and wait < limit else self._recv(wait)
        except (OSError, ValueError) as exc:  # ValueError: a socket closed under us
            log.info("upstream stream broke: %s", type(exc).__name__)
            raise _dropped() from None
        except ClientEOF:
            return None                        # a keep-alive now tells whether the client is there
        finally:
            self.waiting = False
        self._last_data = time.monotonic()
        return data

    def _ack_now(self) -> None:
        """Acknowledge what arrived at once: an upstream with Nagle's algorithm on holds its
        next small write until then, and Linux would delay the ACK by up to 40 ms."""
        if _QUICKACK:
            try:
                self._sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            except OSError:
                pass

    def _release(self) -> None:
        """The whole body was read: the connection is clean, the pool may reuse it."""
        if self._framing.extra:
            return
        try:
            self._sock.settimeout(self._pool_timeout)
            self._wire.release()
        except Exception:  # noqa: BLE001 - reuse is an optimisation; close() still cleans up
            log.debug("could not return the upstream connection to the pool", exc_info=True)

    def _flush(self) -> bytes:
        return self._decompress.flush() if self._decompress else b""


def _decompressor(encoding: str):
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise APIError(502, f"The upstream sent the answer with an unsupported encoding ({encoding[:40]}).",
                   code="upstream_error")


Body = UpstreamBody | PlainBody   # what open_body gives: read(wait), close(drain), complete
