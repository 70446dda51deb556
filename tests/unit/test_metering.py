"""metering/ without a server: the caps' order and what a refusal holds, the refusals' shapes per
API family (OpenAI's, and Anthropic's for /v1/messages, which lands with the Messages API), the
rate-limit headers, the book's days, the bounded metric labels, the upstream limits' resets."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from pandora_v1.errors import APIError
from pandora_v1.metering import book, caps, ledger, limits
from pandora_v1.metering.ledger import Caller, RateState
from pandora_v1.metering.meter import METRIC_KEYS, Meter
from pandora_v1.runtime import config
from pandora_v1.runtime.store import SQLiteStore
from pandora_v1.upstream.limits import limits_of

KEY = "sk-alice-0123456789abcdef"
NOON = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc).timestamp()


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path):
    backend = SQLiteStore(tmp_path / "store.sqlite3")
    yield backend
    backend.close()


def meter_for(store, clock, **caps_):
    settings = config.parse({"upstream_accounts": {"main": {"access_token": "eyJ.a.b"}},
                             "client_keys": {KEY: {"account": "main", "name": "alice", **caps_}}})
    return Meter(settings, store, clock=clock), settings.key_policies[0]


def request(meter, policy, family="openai"):
    ledger.begin(family, meter.clock())
    meter.identify(Caller(policy.name, policy.account, policy))
    return ledger.current()


def test_rpm_is_a_rolling_minute_and_a_refused_request_holds_nothing(store):
    clock = Clock(NOON)
    meter, policy = meter_for(store, clock, rpm=2, concurrent=5)
    for _ in range(2):
        request(meter, policy)
        meter.admit("gpt-4o")
        clock.now += 10
    refused = request(meter, policy)
    with pytest.raises(caps.Refusal) as info:
        meter.admit("gpt-4o")
    error = info.value
    assert (error.status, error.type, error.code) == (429, "requests", "rate_limit_exceeded")
    assert error.headers == {"x-ratelimit-limit-requests": "2", "x-ratelimit-remaining-requests": "0",
                             "x-ratelimit-reset-requests": "40s", "retry-after": "40"}
    assert "`alice`" in error.message and "rpm" in error.message and "40 s" in error.message
    assert refused.rejected == "rpm" and not refused.admitted and refused.slot is None   # its place in flight went back
    assert store.window_take("inflight:alice", None, clock.now, 0, 5).count == 2
    clock.now = NOON + 60.5                      # the first request left the window
    request(meter, policy)
    meter.admit("gpt-4o")


def test_concurrent_places_end_with_the_request(store):
    clock = Clock(NOON)
    meter, policy = meter_for(store, clock, concurrent=1)
    first = request(meter, policy)
    meter.admit("gpt-4o")
    request(meter, policy)
    with pytest.raises(caps.Refusal) as info:
        meter.admit("gpt-4o")
    assert info.value.headers == {"retry-after": "1"} and info.value.code == "rate_limit_exceeded"
    meter.finish(first, 200, "/v1/chat/completions")
    second = request(meter, policy)
    meter.admit("gpt-4o")
    meter.finish(second, 200, "/v1/chat/completions")
    # With an rpm cap too, a refusal in flight says what is left of the minute (it took none of it).
    both, rpm = meter_for(store, clock, concurrent=1, rpm=5)
    request(both, rpm)
    both.admit("gpt-4o")
    refused = request(both, rpm)
    with pytest.raises(caps.Refusal):
        both.admit("gpt-4o")
    assert both.headers(refused)["x-ratelimit-remaining-requests"] == "4"


def test_the_daily_caps_read_what_the_day_spent(store):
    clock = Clock(NOON)
    meter, policy = meter_for(store, clock, tokens_per_day=100, images_per_day=1)
    crossing = request(meter, policy)
    meter.admit("gpt-4o")
    crossing.answered(60, 50, images=1)       # the request that crosses the cap completes ...
    meter.finish(crossing, 200, "/v1/chat/completions")
    request(meter, policy)
    with pytest.raises(caps.Refusal) as info:  # ... the next is refused
        meter.admit("gpt-4o")
    error = info.value
    assert (error.status, error.type, error.code) == (429, "insufficient_quota", "insufficient_quota")
    assert error.headers == {"x-ratelimit-limit-tokens": "100", "x-ratelimit-remaining-tokens": "0",
                             "x-ratelimit-reset-tokens": "12h0m0s", "retry-after": str(12 * 3600)}
    assert "110 of 100 tokens" in error.message and "00:00 UTC" in error.message
    meter2, policy2 = meter_for(store, clock, images_per_day=1)
    request(meter2, policy2)
    meter2.admit("gpt-4o")                     # text: the image cap does not apply
    request(meter2, policy2)
    with pytest.raises(caps.Refusal) as info:
        meter2.admit("gpt-4o", images=True)
    assert info.value.code == "insufficient_quota" and info.value.headers == {"retry-after": str(12 * 3600)}
    # With an rpm cap too, the token refusal says what is left of the minute (after_request adds it).
    meter3, policy3 = meter_for(store, clock, tokens_per_day=100, rpm=9)
    refused = request(meter3, policy3)
    with pytest.raises(caps.Refusal) as info:
        meter3.admit("gpt-4o")
    assert "x-ratelimit-remaining-requests" not in info.value.headers
    assert meter3.headers(refused)["x-ratelimit-remaining-requests"] == "9"
    clock.now = NOON + 12 * 3600 + 1            # the next UTC day
    request(meter, policy)
    meter.admit("gpt-4o")


def test_models_and_expiry(store):
    clock = Clock(NOON)
    meter, policy = meter_for(store, clock, models=["gpt-4o*"], expires="2026-12-02")
    request(meter, policy)
    meter.admit("gpt-4o-mini")
    request(meter, policy)
    with pytest.raises(caps.Refusal) as info:
        meter.admit("o1")
    error = info.value
    assert (error.status, error.type, error.code, error.param) == (404, "invalid_request_error",
                                                                   "model_not_found", "model")
    assert error.message.startswith("The model `o1` does not exist or you do not have access to it.")
    clock.now = datetime(2026, 12, 3, tzinfo=timezone.utc).timestamp()   # the end of its last day
    ledger.begin(started=clock.now)
    with pytest.raises(caps.Refusal) as info:
        meter.identify(Caller(policy.name, policy.account, policy))
    assert (info.value.status, info.value.code) == (401, "invalid_api_key") and "expired" in info.value.message


def test_the_anthropic_shape_on_the_messages_route(store):
    """/v1/messages (the Messages API lands on its own branch): the same refusals in Anthropic's shape."""
    assert caps.family_of("/v1/messages") == caps.family_of("/666/v1/messages/count_tokens") == "anthropic"
    assert caps.family_of("/v1/chat/completions") == "openai"
    clock = Clock(NOON)
    meter, policy = meter_for(store, clock, rpm=1)
    request(meter, policy, "anthropic")
    meter.admit("gpt-4o")
    request(meter, policy, "anthropic")
    with pytest.raises(caps.Refusal) as info:
        meter.admit("gpt-4o")
    error = info.value
    body = error.body()
    assert set(body) == {"type", "error", "request_id"} and body["type"] == "error"
    assert body["error"] == {"type": "rate_limit_error", "message": error.message}
    assert body["request_id"].startswith("req_")
    assert error.status == 429 and error.headers == {
        "anthropic-ratelimit-requests-limit": "1", "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2026-12-02T12:01:00Z", "retry-after": "60"}
    for cap, kind in (("models", "not_found_error"), ("expires", "authentication_error"),
                      ("tokens_per_day", "rate_limit_error"), ("concurrent", "rate_limit_error")):
        assert caps.refusal("anthropic", cap, "m").body()["error"]["type"] == kind
        assert set(caps.refusal("openai", cap, "m").body()["error"]) == {"message", "type", "param", "code"}
    tokens = caps.rate_headers("anthropic", RateState(tokens_per_day=10, tokens_left=4, tokens_reset=30.2), NOON)
    assert tokens == {"anthropic-ratelimit-tokens-limit": "10", "anthropic-ratelimit-tokens-remaining": "4",
                      "anthropic-ratelimit-tokens-reset": "2026-12-02T12:00:31Z"}


def test_every_answer_to_a_capped_key_says_what_is_left(store):
    clock = Clock(NOON)
    meter, policy = meter_for(store, clock, rpm=5, tokens_per_day=1000)
    done = request(meter, policy)
    meter.admit("gpt-4o")
    done.answered(100, 20)
    meter.finish(done, 200, "/v1/chat/completions")
    clock.now += 15
    assert meter.headers(done) == {   # as admitted: one of five taken, nothing spent before it
        "x-ratelimit-limit-requests": "5", "x-ratelimit-remaining-requests": "4",
        "x-ratelimit-reset-requests": "1m0s", "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "1000", "x-ratelimit-reset-tokens": "12h0m0s"}
    failed = request(meter, policy)   # e.g. a body that failed validation: what the caps stand at
    assert meter.headers(failed) == {
        "x-ratelimit-limit-requests": "5", "x-ratelimit-remaining-requests": "4",
        "x-ratelimit-reset-requests": "45s", "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "880", "x-ratelimit-reset-tokens": "11h59m45s"}
    meter_none, uncapped = meter_for(store, clock)
    assert meter_none.headers(request(meter_none, uncapped)) == {}


def test_the_book_counts_per_key_model_and_day(store):
    clock = Clock(NOON)
    meter, policy = meter_for(store, clock, rpm=100)
    for model, status, tokens in (("gpt-4o", 200, (10, 5)), ("gpt-4o", 502, (0, 0)), ("o1-mini", 200, (3, 4))):
        entry = request(meter, policy)
        meter.admit(model)
        entry.answered(*tokens, searches=1 if model == "o1-mini" else 0)
        meter.finish(entry, status, "/v1/chat/completions")
    invalid = request(meter, policy)          # a 400 before admit, for a made-up model name
    invalid.model = "no-such-model"
    meter.finish(invalid, 400, "/v1/chat/completions")
    ledger.begin(started=clock.now)           # before auth: not counted at all
    meter.finish(ledger.current(), 401, "/v1/chat/completions")
    rows = book.buckets(store, date(2026, 12, 1), date(2026, 12, 2))
    assert [(r["date"], r["key"], r["model"]) for r in rows] == [
        ("2026-12-02", "alice", "-"), ("2026-12-02", "alice", "gpt-4o"), ("2026-12-02", "alice", "o1-mini")]
    assert [{k: r[k] for k in book.COUNTERS} for r in rows] == [
        dict(requests=0, input_tokens=0, output_tokens=0, images=0, searches=0, errors=1, rejected=0),
        dict(requests=2, input_tokens=10, output_tokens=5, images=0, searches=0, errors=1, rejected=0),
        dict(requests=1, input_tokens=3, output_tokens=4, images=0, searches=1, errors=0, rejected=0)]
    assert book.totals(rows)["requests"] == 3
    assert book.buckets(store, date(2026, 12, 2), date(2026, 12, 2), "bob") == []
    recent = book.recent(store)
    assert [(r["status"], r["model"]) for r in recent] == [(400, "-"), (200, "o1-mini"), (502, "gpt-4o"),
                                                           (200, "gpt-4o")]
    assert set(recent[0]) == {"time", "key", "route", "model", "status", "input_tokens", "output_tokens",
                              "duration_ms"}


def test_answered_counts_once(store):
    entry = ledger.begin()
    entry.answered(10, 20, images=2, searches=1)
    entry.answered(99, 99, images=5)              # a clean-up reporting again changes nothing
    entry.add_searches()
    assert (entry.input_tokens, entry.output_tokens, entry.images, entry.searches) == (10, 20, 2, 2)


def test_dates_of_the_usage_endpoint():
    today = date(2026, 12, 2)
    assert book.date_range(None, None, today) == (today, today)
    assert book.date_range("2025-12-02", "2026-12-02", today) == (date(2025, 12, 2), today)   # 366 days
    for start, end, param in (("2025-12-01", "2026-12-02", "start_date"), ("2026-13-01", None, "start_date"),
                              ("20261202", None, "start_date"), (None, "yesterday", "end_date"),
                              ("2026-12-03", "2026-12-02", "end_date")):
        with pytest.raises(APIError) as info:
            book.date_range(start, end, today)
        assert info.value.status == 400 and info.value.param == param


def test_at_most_100_keys_have_a_metric_label_of_their_own(store, tmp_path):
    clock = Clock(NOON)
    meter, _ = meter_for(store, clock)
    labels = [meter.label(f"key-{n}") for n in range(METRIC_KEYS + 5)]
    assert labels[:METRIC_KEYS] == [f"key-{n}" for n in range(METRIC_KEYS)]
    assert labels[METRIC_KEYS:] == ["other"] * 5
    other_worker, _ = meter_for(SQLiteStore(store.path), clock)     # shared through the store
    assert other_worker.label("key-7") == "key-7" and other_worker.label("key-new") == "other"


def test_duration_formats():
    assert [caps.duration(s) for s in (0, 0.25, 1, 12.2, 60, 360, 3723)] == \
        ["0s", "250ms", "1s", "13s", "1m0s", "6m0s", "1h2m3s"]
    assert caps.in_words(12) == "12 s" and caps.in_words(290) == "5 min" and caps.in_words(12000) == "3 h 20 min"


def test_upstream_limits_and_their_resets(store):
    now = NOON
    body = {"limits_progress": [
        {"feature_name": "image_gen", "remaining": 0, "reset_after": "2026-12-02T14:30:00+00:00"},
        {"feature_name": "deep_research", "remaining": 3, "reset_after": 3600},
        {"feature_name": "file_upload", "remaining": 0, "reset_after": NOON + 60},
        {"feature_name": 7}, "junk"]}
    assert limits_of(body, now) == [("image_gen", 0, NOON + 2.5 * 3600), ("deep_research", 3, NOON + 3600),
                                           ("file_upload", 0, NOON + 60)]
    assert limits_of({"limits_progress": None}, now) == [] and limits_of([], now) == []
    limits.note(store, "image_gen", "You've hit the free plan limit.", NOON + 3600, account="main", now=time_now())
    limits.note(store, "gpt-4o", "limit of messages per hour", None, account="team", now=time_now())
    shown = limits.current(store)
    assert [(e["account"], e["feature"]) for e in shown] == [("main", "image_gen"), ("team", "gpt-4o")]
    assert shown[0]["reset_at"] == "2026-12-02T13:00:00Z" and shown[1]["reset_at"] is None


def time_now() -> float:
    import time

    return time.time()
