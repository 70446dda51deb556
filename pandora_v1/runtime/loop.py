"""Keeping a gevent worker's event loop free while one request does heavy work.

Every stream of a worker shares its one event loop: a request that computes
for a second stalls all of them for that second. Work that releases the GIL
(tiktoken's encoder) goes to gevent's thread pool (``off_loop``); long
stretches of Python work on one big input are cut up with ``pause``, which
lets the other greenlets run. Outside gevent (gthread, sync workers, tests)
both simply run in place.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _hub():
    from gevent import monkey

    if not monkey.is_module_patched("threading"):
        return None
    import gevent

    return gevent.get_hub()


def off_loop(func: Callable[[], T]) -> T:
    """``func()`` in gevent's thread pool (the greenlet waits, the loop runs on), or here."""
    hub = _hub()
    return func() if hub is None else hub.threadpool.apply(func)


def pause() -> None:
    """Let the loop's other greenlets run, between two heavy steps.

    A timer, not ``sleep(0)``: that only runs the callbacks already queued,
    and a greenlet waiting on a socket would still wait.
    """
    if _hub() is not None:
        import gevent

        gevent.sleep(0.001)
