"""One upstream response's HTTP/1.1 framing, parsed by llhttp (httptools) from the bytes we read.

The sockets stay ours (pool.py, body.py: reads that wait with a limit, the
client watch, the pool); llhttp only says what the head holds and which of
the bytes read are the body. So the status line and the header lines are
HTTP's or refused (a four-digit status, a line without a colon, a space
before one), 1xx interim answers are skipped, 204 and 304 end at their head,
Content-Length, chunked (extensions, trailers) and a body until close end
where they say, and Content-Length together with Transfer-Encoding is
refused (two readers would place the body's end differently: RFC 9112 §6.3).

Transfer codings: we send no TE, so the only one an upstream may apply is
chunked (RFC 9112 §7.4, RFC 9110 §10.1.4). Any other (``gzip``,
``chunked, gzip``, ``gzip, chunked``) is refused: neither read as chunked
nor as a body until close, which would hand the client coded bytes.
Content-Encoding (gzip, deflate) is body.py's to decode.

Costs: whole reads are fed at once; the one Python callback per chunk of
data is a list's ``append``; chunk headers, trailers and the rest stay in C.
"""
from __future__ import annotations

import logging

import httptools

from ..errors import APIError
from .errors import Unreachable

log = logging.getLogger(__name__)

NO_BODY = frozenset({204, 304})


class Headers(dict):
    """A response's header fields by lower-cased name (a repeated field's values joined by ", ")."""

    __slots__ = ()

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def get(self, name: str, default=None):
        return dict.get(self, name.lower(), default)

    def __contains__(self, name) -> bool:
        return dict.__contains__(self, name.lower())


class _Events:
    """What llhttp reports while it parses (the parser's protocol object).

    It holds no reference to the parser, so a response and its parser are
    freed as soon as they are dropped (no cycle for the collector)."""

    __slots__ = ("fields", "pieces", "on_body", "head_done", "complete", "extra")
    on_status = on_chunk_header = on_chunk_complete = None   # not wanted (found without an AttributeError)

    def __init__(self):
        self.fields: list[tuple[bytes, bytes]] = []   # the head being parsed
        self.pieces: list[bytes] = []                 # body bytes since the last take
        self.on_body = self.pieces.append             # called from C: no Python frame of ours
        self.head_done = False
        self.complete = False                         # the body ended where its framing says
        self.extra = False                            # bytes came after the end: never reuse

    def on_message_begin(self) -> None:
        if self.complete:
            self.extra = True

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.head_done:                        # a trailer (after the last chunk) is not the head's
            self.fields.append((name, value))

    def on_headers_complete(self) -> None:
        self.head_done = True

    def on_message_complete(self) -> None:
        self.complete = True


class Framing:
    """``head(data)`` with each head read, then ``body(data)`` with every read after it."""

    __slots__ = ("status", "headers", "until_close", "keep_alive", "_events", "_parser")

    def __init__(self):
        self._events = _Events()
        self._parser = httptools.HttpResponseParser(self._events)
        self.status = 0
        self.headers = Headers()
        self.until_close = False     # no length and not chunked: the body ends when the connection does
        self.keep_alive = False      # the connection may carry the next request once the body is read

    @property
    def complete(self) -> bool:
        return self._events.complete

    @property
    def extra(self) -> bool:
        return self._events.extra

    def head(self, data: bytes) -> bool:
        """Parse one head (``data`` ends with its blank line): True for the answer's, False for
        an interim 1xx one (the answer's follows). Unreachable when it is not HTTP we take."""
        events = self._events
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise _refused("an upgrade nobody asked for") from None
        except httptools.HttpParserError as exc:
            log.info("upstream response head refused: %s", exc)
            raise _refused("not an HTTP response") from None
        if not events.head_done:
            raise _refused("not an HTTP response")
        status = self._parser.get_status_code()
        if status < 200:
            if not events.complete:               # a 1xx with a body is not HTTP
                raise _refused("not an HTTP response")
            events.fields.clear()
            events.head_done = events.complete = False
            return False
        version = self._parser.get_http_version()
        if version not in ("1.1", "1.0"):
            raise _refused("not an HTTP response")
        fields: dict[str, str] = {}
        for raw_name, raw_value in events.fields:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1").strip()
            fields[name] = f"{fields[name]}, {value}" if name in fields else value
        events.fields.clear()
        self.headers = headers = Headers(fields)
        coding = headers.get("Transfer-Encoding")
        if coding is not None and coding.lower() != "chunked":
            raise _refused("a transfer coding other than chunked")
        self.status = status
        self.until_close = coding is None and status not in NO_BODY and "Content-Length" not in headers
        connection = headers.get("Connection", "").lower()
        persistent = "close" not in connection and (version == "1.1" or "keep-alive" in connection)
        self.keep_alive = persistent and not self.until_close
        return True

    def body(self, data: bytes) -> bytes:
        """The body bytes in ``data`` (framing taken off); bytes past the body's end set ``extra``."""
        events = self._events
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade) as exc:
            if not events.complete:
                log.info("upstream body refused: %s", exc)
                raise APIError(502, "The upstream sent a malformed chunked body.", code="upstream_error") from None
            events.extra = True
        pieces = events.pieces
        if not pieces:
            return b""
        out = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        pieces.clear()
        return out


def _refused(why: str) -> Unreachable:
    return Unreachable(why, sent=True)
