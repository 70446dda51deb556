"""Relay a response body to the client, with keep-alives while it is silent.

The body generator (which reads the upstream) runs on one helper thread — a
greenlet under the default gevent worker — and hands finished SSE bytes over
a queue; the request's own thread waits on that queue with a timeout and
sends an SSE comment whenever nothing was written for ``interval`` seconds.
That is one cheap helper per open stream, and the upstream read never has to
be interrupted to keep the client's connection alive.
"""
from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator

from .openai_format import SSE_KEEPALIVE

_END = object()
_BATCH = 64  # most items joined into one write when the client side lags


class _Failure:
    def __init__(self, exc: BaseException):
        self.exc = exc


def relay(body: Iterator[bytes], interval: float, on_abort: Callable[[], None],
          pause: float = 0.0) -> Iterator[bytes]:
    """Yield ``body``'s items; ``on_abort`` runs if the client leaves before the end."""
    items: queue.Queue = queue.Queue()

    def pump():
        try:
            for item in body:
                items.put(item)
        except BaseException as exc:  # noqa: BLE001 - handed to the request thread
            items.put(_Failure(exc))
        finally:
            items.put(_END)

    threading.Thread(target=pump, name="stream-pump", daemon=True).start()
    finished = False
    try:
        while True:
            try:
                item = items.get(timeout=interval)
            except queue.Empty:
                yield SSE_KEEPALIVE
                continue
            if pause:
                # stream_sleep_time: bots want the answer paced, one item per write.
                if item is _END:
                    finished = True
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                yield item
                time.sleep(pause)
                continue
            batch = []
            while True:
                if item is _END or isinstance(item, _Failure):
                    break
                batch.append(item)
                if len(batch) >= _BATCH:
                    break
                try:
                    item = items.get_nowait()
                except queue.Empty:
                    item = None
                    break
            if batch:
                yield b"".join(batch) if len(batch) > 1 else batch[0]
            if item is _END:
                finished = True
                return
            if isinstance(item, _Failure):
                raise item.exc
    finally:
        if not finished:
            on_abort()
