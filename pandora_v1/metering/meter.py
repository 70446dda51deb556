"""The meter: who a request is, whether its key's caps let it through, what it used.

    identify(caller)   at auth (auth/exchange.py's hook): an expired key is refused
    admit(model)       before anything reaches the upstream: models, the daily caps, in flight, rpm
    finish(...)        when the answer ended (a stream: its last byte): the book, the metrics

Caps are checked in that order; the ones that only read (models, daily
quotas) before the ones that take a place (in flight, rpm), so a refused
request holds nothing. A request in progress is never cut: the one that
crosses the token cap completes. Places in flight are leases that end with
the request, or after the longest a request can run should a worker die.
"""
from __future__ import annotations

import logging
import time
import uuid
from datetime import date, datetime, timezone
from fnmatch import fnmatchcase

from flask import Flask, Response, g, request

from ..runtime.store import Store, StoreUnavailable
from . import book, caps
from .ledger import Caller, Ledger, RateState, begin, current

log = logging.getLogger(__name__)

WINDOW = 60.0                # rpm: a rolling minute
METRIC_KEYS = 100            # distinct key labels in /metrics; the rest are "other"


class Meter:
    def __init__(self, settings, store: Store, metrics=None, clock=time.time):
        self.store, self.metrics, self.clock = store, metrics, clock
        self.policies = {p.name: p for p in settings.key_policies}
        self.models = {entry.alias for entry in settings.models + settings.gpts}
        # The longest a request can hold its place in flight (a worker that died frees it then).
        self.lease = settings.max_answer_seconds + settings.async_wait_seconds + settings.read_timeout + 60
        self._labels: dict[str, str] = {}

    # ----------------------------------------------------------- the caps

    def identify(self, caller: Caller) -> None:
        ledger = current()
        ledger.caller = caller
        policy = caller.policy
        if policy is not None and policy.expires_at is not None and self.clock() >= policy.expires_at:
            raise self._refuse(ledger, "expires", f"The API key `{caller.name}` expired at {policy.expires} "
                                                  "(expires); it is no longer accepted.")

    def admit(self, model: str, *, images: bool = False) -> None:
        """Let the request through or refuse it (a ``caps.Refusal``); ``images``: it asks for images."""
        ledger = current()
        ledger.model = model
        policy = ledger.caller.policy if ledger.caller is not None else None
        if policy is None or not policy.capped:
            ledger.admitted = True
            return
        name, now = policy.name, self.clock()
        if policy.models is not None and not any(fnmatchcase(model, allowed) for allowed in policy.models):
            raise self._refuse(ledger, "models", f"The model `{model}` does not exist or you do not have access "
                                                 f"to it. Key `{name}` may use {', '.join(policy.models)} (models).")
        state = ledger.rate = RateState(rpm=policy.rpm, tokens_per_day=policy.tokens_per_day)
        if policy.tokens_per_day is not None or (images and policy.images_per_day is not None):
            spent = book.spent(self.store, book.day_of(ledger.started), name)
            midnight = caps.to_midnight(now)
            if policy.tokens_per_day is not None:
                state.tokens_left = max(0, policy.tokens_per_day - spent["tokens"])
                state.tokens_reset = midnight
                if not state.tokens_left:
                    raise self._refuse(ledger, "tokens_per_day", (
                        f"The daily token quota of key `{name}` is used up: {spent['tokens']} of "
                        f"{policy.tokens_per_day} tokens today (tokens_per_day). It renews at 00:00 UTC, "
                        f"in {caps.in_words(midnight)}."), midnight, now)
            if images and policy.images_per_day is not None and spent["images"] >= policy.images_per_day:
                raise self._refuse(ledger, "images_per_day", (
                    f"The daily image quota of key `{name}` is used up: {spent['images']} of "
                    f"{policy.images_per_day} images today (images_per_day). It renews at 00:00 UTC, "
                    f"in {caps.in_words(midnight)}."), midnight, now)
        if policy.concurrent is not None:
            slot = uuid.uuid4().hex
            if not self.store.window_take(f"inflight:{name}", slot, now, now - self.lease, policy.concurrent,
                                          self.lease).taken:
                raise self._refuse(ledger, "concurrent", (
                    f"Too many requests in flight for key `{name}`: at most {policy.concurrent} at once "
                    "(concurrent). Try again when one has finished."), 1, now)
            ledger.slot = slot
        if policy.rpm is not None:
            window = self.store.window_take(f"rpm:{name}", uuid.uuid4().hex, now, now - WINDOW, policy.rpm, WINDOW + 1)
            self._requests(state, window, now)
            if not window.taken:
                self._release(ledger)
                raise self._refuse(ledger, "rpm", (
                    f"Rate limit reached for key `{name}`: {policy.rpm} requests per minute (rpm). "
                    f"Try again in {caps.in_words(state.requests_reset)}."), state.requests_reset, now)
        ledger.admitted = True

    def _refuse(self, ledger: Ledger, cap: str, message: str, retry_after: float | None = None,
                now: float = 0.0) -> caps.Refusal:
        ledger.rejected = cap
        state, own = ledger.rate, None      # the refusal carries its own cap's headers, nothing left
        if state is not None and cap == "rpm":
            own = RateState(rpm=state.rpm, requests_reset=state.requests_reset)
        elif state is not None and cap == "tokens_per_day":
            own = RateState(tokens_per_day=state.tokens_per_day, tokens_reset=state.tokens_reset)
        return caps.refusal(ledger.family, cap, message, retry_after, own, now)

    @staticmethod
    def _requests(state: RateState, window, now: float) -> None:
        assert state.rpm is not None
        state.requests_left = max(0, state.rpm - window.count)
        state.requests_reset = max(0.0, window.oldest + WINDOW - now) if window.oldest is not None else 0.0

    def _release(self, ledger: Ledger) -> None:
        if ledger.slot is not None and ledger.caller is not None and ledger.caller.policy is not None:
            self.store.window_drop(f"inflight:{ledger.caller.policy.name}", ledger.slot)
            ledger.slot = None

    def headers(self, ledger: Ledger) -> dict[str, str]:
        """The rate-limit headers of this answer: a capped key's, on every answer it gets."""
        policy = ledger.caller.policy if ledger.caller is not None else None
        if policy is None or (policy.rpm is None and policy.tokens_per_day is None):
            return {}
        now = self.clock()
        state = ledger.rate
        if state is None or (not ledger.admitted and ledger.rejected != "rpm"):
            # failed before admit, or refused before the rpm window was read: what the caps stand at
            state = RateState(rpm=policy.rpm, tokens_per_day=policy.tokens_per_day)
            if policy.rpm is not None:
                self._requests(state, self.store.window_take(f"rpm:{policy.name}", None, now, now - WINDOW,
                                                             policy.rpm), now)
            if policy.tokens_per_day is not None:
                spent = book.spent(self.store, book.day_of(ledger.started), policy.name)["tokens"]
                state.tokens_left = max(0, policy.tokens_per_day - spent)
                state.tokens_reset = caps.to_midnight(now)
        return caps.rate_headers(ledger.family, state, now)

    # ------------------------------------------------------- the figures

    def report(self, start: date, end: date, key: str | None = None) -> dict:
        """``GET /v1/usage``: the buckets of ``key`` (every key's when None) and their totals; a
        single key's caps and what today used of them."""
        rows = book.buckets(self.store, start, end, key)
        out: dict = {"object": "list", "data": rows, "totals": book.totals(rows)}
        if key is not None:
            out["limits"] = self.limits(key)
        return out

    def limits(self, name: str) -> dict:
        """A key's caps (null where none is set) and what today used of the daily ones."""
        policy = self.policies.get(name)
        spent = book.spent(self.store, book.day_of(self.clock()), name)
        get = (lambda field: getattr(policy, field)) if policy is not None else (lambda field: None)
        return {"rpm": get("rpm"), "concurrent": get("concurrent"),
                "tokens_per_day": get("tokens_per_day"), "tokens_today": spent["tokens"],
                "images_per_day": get("images_per_day"), "images_today": spent["images"],
                "models": list(policy.models) if policy is not None and policy.models is not None else None,
                "expires": get("expires")}

    def admin_report(self, start: date, end: date) -> dict:
        """``/admin/usage.json``: every key's buckets, each key's caps and today, the last requests."""
        out = self.report(start, end)
        today = datetime.fromtimestamp(self.clock(), timezone.utc).date()
        todays = book.buckets(self.store, today, today)
        names = list(self.policies) + sorted({row["key"] for row in todays + out["data"]} - set(self.policies))
        out["keys"] = [{"key": name, "today": book.totals([r for r in todays if r["key"] == name]),
                        "limits": self.limits(name)} for name in names]
        out["recent"] = book.recent(self.store)
        return out

    # ---------------------------------------------------------- the end

    def finish(self, ledger: Ledger, status: int, route: str) -> None:
        """Account for a request that ended (once): the book, the last requests, the metrics."""
        if ledger.closed:
            return
        ledger.closed = True
        seconds = time.perf_counter() - ledger.clock
        caller = ledger.caller
        try:
            self._release(ledger)
            if caller is None:
                return
            counts = self._counts(ledger, status)
            if not counts:
                return
            model = self._model(ledger, status)
            book.add(self.store, book.day_of(ledger.started), caller.name, model, counts)
            book.push_recent(self.store, {
                "time": datetime.fromtimestamp(ledger.started, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "key": caller.name, "route": route, "model": model, "status": status,
                "input_tokens": ledger.input_tokens, "output_tokens": ledger.output_tokens,
                "duration_ms": round(seconds * 1000, 1)})
        except StoreUnavailable as exc:
            log.warning("usage of %s not written down: %s", caller.name if caller else "-", exc)
            return
        self._count_metrics(ledger, caller.name, model, status)

    @staticmethod
    def _counts(ledger: Ledger, status: int) -> dict[str, int]:
        """What a request adds to its key's counts. Direct mode (no policy): any JWT-shaped string
        passes as an access token until the upstream says otherwise, so a credential is someone
        only once the upstream was asked with it and did not refuse it (401); else every made-up
        token would get a bucket of its own."""
        direct = ledger.caller is None or ledger.caller.policy is None
        if ledger.rejected:
            return {"rejected": 1}
        if direct and (status == 401 or not ledger.admitted):
            return {}
        if ledger.admitted:
            return {"requests": 1, "input_tokens": ledger.input_tokens, "output_tokens": ledger.output_tokens,
                    "images": ledger.images, "searches": ledger.searches, "errors": int(status >= 400)}
        return {"errors": 1} if status >= 400 and status != 401 else {}

    def _model(self, ledger: Ledger, status: int) -> str:
        """The model a bucket is named by: a configured one, or one that answered (a GPT by id);
        anything else a client sent is "-" (no bucket per made-up name)."""
        model = ledger.model
        if model and (model in self.models or (ledger.admitted and status < 400)):
            return model
        return "-"

    def _count_metrics(self, ledger: Ledger, name: str, model: str, status: int) -> None:
        metrics = self.metrics
        if metrics is None:
            return
        key = self.label(name)
        if ledger.rejected:
            metrics.key_rejected.labels(key, ledger.rejected).inc()
            return
        metrics.key_requests.labels(key, model, str(status)).inc()
        for kind, n in (("input", ledger.input_tokens), ("output", ledger.output_tokens)):
            if n:
                metrics.key_tokens.labels(key, model, kind).inc(n)

    def label(self, name: str) -> str:
        """``name`` as a metrics label: the first METRIC_KEYS names (shared by every worker and
        instance through the store) are themselves, the rest ``other``."""
        found = self._labels.get(name)
        if found is None:
            now = self.clock()
            try:
                taken = self.store.window_take("metric-keys", name, now, float("-inf"), METRIC_KEYS).taken
            except StoreUnavailable:
                return "other"
            found = self._labels[name] = name if taken else "other"
        return found


def install(app: Flask, meter: Meter) -> None:
    """A ledger per request; the rate-limit headers on its answer; the accounting when it ended
    (``call_on_close``: a stream's body has been sent, or was never started, by then)."""
    @app.before_request
    def open_ledger():
        g.ledger = begin(caps.family_of(request.path), meter.clock())

    @app.after_request
    def close_ledger(response: Response) -> Response:
        ledger = g.get("ledger")
        if ledger is None:
            return response
        if ledger.model is None and isinstance(g.get("model"), str):
            ledger.model = g.model    # refused by validation before admit: the model it named
        try:
            for name, value in meter.headers(ledger).items():
                response.headers.setdefault(name, value)
        except StoreUnavailable as exc:
            log.warning("no rate-limit headers: %s", exc)
        route = request.url_rule.rule if request.url_rule else "unmatched"
        response.call_on_close(lambda: meter.finish(ledger, response.status_code, route))
        return response
