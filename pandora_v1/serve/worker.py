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

Both replace names of gunicorn's that are not its documented API, reached in
``gunicorn_internals`` alone. Should an upgrade move them, gunicorn's own
behaviour stays: its HTML error pages, and a worker that stops accepting at
its next look at ``alive`` (within a second).
"""
from __future__ import annotations

import logging
import signal
from types import ModuleType

import orjson

log = logging.getLogger(__name__)

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


def gunicorn_internals() -> tuple[ModuleType | None, ModuleType | None]:
    """The only place that names gunicorn's undocumented internals (tests/test_private_reaches.py):

    - ``gunicorn.util.write_error(sock, status, reason, message)``, how gunicorn
      answers a request it refuses, and ``util.write_nonblock``, what it writes with;
    - ``gunicorn.workers.ggevent.StreamServer``, the server class its gevent
      worker builds inside ``run()``.

    (util, or None if those moved; ggevent, or None if that moved)."""
    from gunicorn import util

    errors = util if callable(getattr(util, "write_error", None)) and callable(
        getattr(util, "write_nonblock", None)) else None
    try:
        from gunicorn.workers import ggevent
    except (ImportError, RuntimeError):   # no gevent
        servers = None
    else:
        servers = ggevent if isinstance(getattr(ggevent, "StreamServer", None), type) else None
    return errors, servers


def install_json_errors() -> None:
    util, _ = gunicorn_internals()
    if util is None:
        log.warning("gunicorn.util.write_error has moved: requests gunicorn refuses get its HTML page "
                    "(see gunicorn_internals in serve/worker.py)")
        return
    write_nonblock = util.write_nonblock

    def write_error(sock, status_int, reason, mesg):
        write_nonblock(sock, json_error_response(int(status_int), reason, mesg))

    setattr(util, "write_error", write_error)   # noqa: B010  (util is a ModuleType here)


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

            _, ggevent = gunicorn_internals()
            if ggevent is None:
                log.warning("gunicorn's ggevent.StreamServer has moved: SIGTERM stops accepting within a "
                            "second, not at once (see gunicorn_internals in serve/worker.py)")
            else:
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
