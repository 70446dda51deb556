"""What pandora_v1 changes in gunicorn itself (imported by gunicorn_conf.py).

- Requests gunicorn rejects before the app sees them (a bad header line, two
  Content-Lengths, a header over the size limit, ...) are answered in the
  OpenAI error shape, JSON with the same status, instead of gunicorn's HTML
  page: gunicorn writes those through ``gunicorn.util.write_error``, which
  ``install_json_errors`` replaces (in the master, so every worker forked from
  it has it, whatever the worker class).
- ``GeventWorker``: gunicorn's gevent worker notices SIGTERM only at its next
  once-a-second look at ``alive``, and serves new connections meanwhile. This
  one stops accepting as soon as the signal arrives (a libev signal watcher
  wakes the loop at once); the streams already running keep their
  ``graceful_timeout`` as before.
"""
from __future__ import annotations

import signal

import orjson

# gunicorn's client-error statuses -> a code a client can branch on.
_CODES = {400: "bad_request", 403: "forbidden", 414: "uri_too_long", 417: "expectation_failed",
          431: "request_header_fields_too_large", 501: "not_implemented"}


def json_error_response(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 response carrying ``{"error": {...}}``; the connection closes after it."""
    body = orjson.dumps({"error": {
        "message": message or reason,
        "type": "invalid_request_error" if status < 500 else "server_error",
        "param": None,
        "code": _CODES.get(status, "server_error" if status >= 500 else "bad_request")}})
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def install_json_errors() -> None:
    from gunicorn import util

    def write_error(sock, status_int, reason, mesg):
        util.write_nonblock(sock, json_error_response(int(status_int), reason, mesg))

    util.write_error = write_error


try:
    from gunicorn.workers.ggevent import GeventWorker as _GeventWorker
except (ImportError, RuntimeError):   # no gevent installed: gthread/sync still work
    _GeventWorker = None

if _GeventWorker is not None:
    import gevent
    from gevent.server import StreamServer

    class GeventWorker(_GeventWorker):
        """gunicorn's gevent worker, closing its listeners the moment SIGTERM arrives."""

        def init_process(self):
            self.servers: list = []
            worker = self

            # The worker builds its StreamServers inside run(); each one is noted here.
            class NotedServer(StreamServer):
                def start(self):
                    super().start()
                    worker.servers.append(self)

            from gunicorn.workers import ggevent

            ggevent.StreamServer = NotedServer   # this process runs only this worker
            super().init_process()

        def init_signals(self):
            super().init_signals()
            # A libev watcher, unlike a Python handler, wakes the loop immediately.
            gevent.signal_handler(signal.SIGTERM, self._stop_accepting)

        def _stop_accepting(self):
            self.alive = False
            for server in self.servers:
                server.close()
