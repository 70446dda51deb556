"""The per-request ledger: who called, whether the caps let the request through, what it used.

``begin`` opens one at the start of every request (meter.py's hook). It is
reachable as ``current()`` from anywhere the request runs, a stream's body
included (a context variable: each request's greenlet or thread has its own,
and a streamed body is sent from the one that took the request, after Flask's
``g`` is gone). The encoders of every API report the usage they sent
(``answered``); the request's end writes it down (meter.py).
"""
from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass

from ..runtime.config import KeyPolicy


@dataclass(frozen=True)
class Caller:
    """Who a request is: a client key's name (or the masked id of the key or credential it sent),
    the upstream account it uses, and the key's caps (gateway keys only)."""
    name: str
    account: str
    policy: KeyPolicy | None = None


@dataclass
class RateState:
    """What the rate-limit headers of this answer say (caps.rate_headers)."""
    rpm: int | None = None
    requests_left: int = 0
    requests_reset: float = 0.0          # seconds until a request is free again
    tokens_per_day: int | None = None
    tokens_left: int = 0
    tokens_reset: float = 0.0            # seconds to the next UTC midnight


@dataclass(eq=False)
class Ledger:
    family: str = "openai"               # the API's shape (caps.py): "openai" or "anthropic"
    started: float = 0.0                 # wall clock at the start: the UTC day it is counted in
    clock: float = 0.0                   # perf_counter at the start: the duration
    caller: Caller | None = None         # set once the key is known (auth)
    model: str | None = None             # the client-facing model asked for
    admitted: bool = False               # passed the caps (meter.admit): counted in ``requests``
    rejected: str | None = None          # the cap that refused it: counted in ``rejected``
    noted: bool = False                  # the answer's usage is in (``answered``)
    input_tokens: int = 0
    output_tokens: int = 0
    images: int = 0
    searches: int = 0
    slot: str | None = None              # its place among the key's requests in flight
    rate: RateState | None = None
    closed: bool = False                 # accounted for (once)

    def answered(self, input_tokens: int, output_tokens: int, images: int = 0, searches: int = 0) -> None:
        """The usage the client received (or, a stream without usage, what was counted anyway),
        with the images it was shown and the upstream searches run. Once per request: the first
        report is the answer's; a clean-up reporting again changes nothing."""
        if self.noted:
            return
        self.noted = True
        self.input_tokens, self.output_tokens = int(input_tokens), int(output_tokens)
        self.images += int(images)
        self.searches += int(searches)

    def add_images(self, count: int) -> None:
        """Images returned besides an answer's (a tool of a route of its own)."""
        self.images += int(count)

    def add_searches(self, count: int = 1) -> None:
        """An upstream search run for this request (each ``web_search_call``, each Anthropic
        ``web_search`` use)."""
        self.searches += int(count)


_current: ContextVar[Ledger | None] = ContextVar("pandora_v1_ledger", default=None)


def begin(family: str = "openai", started: float | None = None) -> Ledger:
    """A new request's ledger; ``started`` (its wall clock time, default now) is the day it counts in."""
    ledger = Ledger(family=family, started=time.time() if started is None else started, clock=time.perf_counter())
    _current.set(ledger)
    return ledger


def current() -> Ledger:
    """This request's ledger; outside a request (a test, a bench) a fresh one nobody reads."""
    ledger = _current.get()
    return ledger if ledger is not None else Ledger()
