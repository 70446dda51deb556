"""Notice a client leaving while its request waits on a silent upstream.

A reasoning model may think for minutes before its next event. Without a
watch, a departed client is noticed only when a keep-alive write fails (two
intervals later), or, for a non-streamed answer, not before the answer ends;
the upstream connection stays open meanwhile.

``watch(answer, environ)`` starts a greenlet that waits for the client's
socket to turn readable: the request was read whole, so EOF or a reset means
the client left (bytes mean a pipelined request: the watch then ends, unable
to tell). If the request is waiting on the upstream at that moment, the wait
is interrupted with ``ClientGone``; otherwise the next wait raises it. Either
way the answer's usual clean-up runs (upstream closed, conversation hidden).

Only under gevent (the default worker); gthread and sync workers notice at
the next write, as before.
"""
from __future__ import annotations

import socket

from .errors import APIError


class ClientGone(APIError):
    """The client closed its connection before the answer was complete."""

    def __init__(self):
        # 499: nginx's "client closed request"; nobody reads it but the access log.
        super().__init__(499, "The client closed the connection.", code="client_closed_request")


def _gevent():
    try:
        import gevent
        from gevent import monkey
    except ImportError:
        return None
    return gevent if monkey.is_module_patched("socket") else None


def watch(answer, environ: dict) -> None:
    """Watch the request's client connection for as long as ``answer``'s upstream body is open."""
    gevent = _gevent()
    client = environ.get("gunicorn.socket")
    body = answer.translation.body
    if gevent is None or client is None or not hasattr(body, "client_watch"):
        return
    body.client_watch = ClientWatch(gevent, client, body)


class ClientWatch:
    def __init__(self, gevent, client, body):
        self.body = body
        self.hub = gevent.get_hub()
        self.request = gevent.getcurrent()
        self.greenlet = gevent.spawn(self._run, client)

    def _run(self, client) -> None:
        try:
            if client.recv(1, socket.MSG_PEEK):
                return            # the client sent more: not a departure we can tell
        except OSError:
            pass                  # reset: gone
        self.body.client_gone = True
        if self.body.waiting:     # interrupt the upstream wait, from the hub like a Timeout
            self.hub.loop.run_callback(self._interrupt)

    def _interrupt(self) -> None:
        if self.body.waiting and not self.request.dead:
            self.request.throw(ClientGone())

    def stop(self) -> None:
        """Before the connection is read again (keep-alive), the watch must be gone."""
        if not self.greenlet.dead:
            self.greenlet.kill(block=True, timeout=1)
