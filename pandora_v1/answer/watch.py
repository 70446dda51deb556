"""Notice a client leaving while its request waits on a silent upstream.

A reasoning model may think for minutes before its next event. Without a
watch, a departed client is noticed only when a keep-alive write fails (two
intervals later), or, for a non-streamed answer, not before the answer ends;
the upstream connection stays open meanwhile.

``watch(answer, environ, stream)`` puts a read watcher on the client's
socket in the event loop (no greenlet: a watcher costs a few µs, a greenlet
~50). The request was read whole, so the socket turning readable means:

- a reset: the client is gone. If the request is waiting on the upstream,
  the wait is interrupted with ``ClientGone`` (from the loop, as a gevent
  Timeout is); otherwise the next wait raises it.
- EOF: the client closed, or only shut down its sending side and still
  reads (``requests.post(..., stream=True)`` can look like that). A stream
  can tell the two apart by writing: the wait ends at once and keep-alive
  comments go out every ``PROBE_EVERY`` seconds; to a closed client the
  second write fails. A non-streamed answer cannot write before its end, so
  there EOF counts as gone (as nginx counts it).
- bytes (a pipelined request): the watch ends, unable to tell.

Either way the answer's usual clean-up runs (upstream closed, conversation
hidden).

Only under gevent (the default worker); gthread and sync workers notice at
the next write, as before. The peek needs the plain socket under gevent's,
a private name of gevent's read in ``plain_socket`` alone.
"""
from __future__ import annotations

import _socket
import os
import socket

from ..errors import ClientGone
from ..upstream.body import ClientEOF

__all__ = ["ClientGone", "PROBE_EVERY", "watch"]

PROBE_EVERY = 0.25   # seconds between keep-alives once a streaming client sent EOF


def _gevent():
    try:
        import gevent
        from gevent import monkey
    except ImportError:
        return None
    return gevent if monkey.is_module_patched("socket") else None


def watch(answer, environ: dict, stream: bool) -> None:
    """Watch the request's client connection for as long as ``answer``'s upstream body is open."""
    gevent = _gevent()
    client = environ.get("gunicorn.socket")
    body = answer.translation.body
    if gevent is None or client is None or not hasattr(body, "client_watch"):
        return
    body.client_watch = ClientWatch(gevent, client, body, stream)


def plain_socket(client) -> tuple[_socket.socket, bool]:
    """The client's connection as a plain socket, to peek at from the loop (gevent's own would wait
    in the hub), and whether it is a duplicate ours to close.

    The only place that reads a private name of gevent's (tests/test_private_reaches.py): its
    socket keeps the plain one in ``_sock``. If an upgrade moved it, a plain socket on a duplicate
    of the descriptor does the same peek (a system call more per watch).
    """
    for plain in (client, getattr(client, "_sock", None)):
        if isinstance(plain, _socket.socket):    # the C socket under every Python one (not gevent's)
            return plain, False
    return _socket.socket(fileno=os.dup(client.fileno())), True


class ClientWatch:
    def __init__(self, gevent, client, body, stream: bool):
        self.body = body
        self.stream = stream
        self.request = gevent.getcurrent()
        self.client, self._own_client = plain_socket(client)   # peeked at from the loop
        self.watcher = gevent.get_hub().loop.io(client.fileno(), 1)
        self.watcher.start(self._readable)

    def _readable(self) -> None:
        self.watcher.stop()
        try:
            if self.client.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                return            # the client sent more: not a departure we can tell
            eof = True
        except BlockingIOError:
            self.watcher.start(self._readable)   # woken for nothing
            return
        except OSError:
            eof = False           # reset: gone
        exception: Exception
        if eof and self.stream:
            self.body.probe_every = PROBE_EVERY
            exception = ClientEOF()
        else:
            self.body.client_gone = True
            exception = ClientGone()
        if self.body.waiting and not self.request.dead:
            self.request.throw(exception)        # in the loop, where a Timeout is thrown from too

    def stop(self) -> None:
        """Before the connection is read again (keep-alive), the watch must be gone."""
        self.watcher.stop()
        self.watcher.close()
        if self._own_client:
            self._own_client = False
            self.client.close()
