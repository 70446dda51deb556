"""GPT info, scheduled jobs and the accounts answer."""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from apscheduler.triggers.date import DateTrigger

from pandora_v1.auth.exchange import CredentialService
from pandora_v1.blueprints.accounts import plans
from pandora_v1.errors import APIError
from pandora_v1.models.gpts import GptCatalog
from pandora_v1.runtime import config
from pandora_v1.runtime.config import ModelEntry
from pandora_v1.runtime.store import StoreUnavailable
from pandora_v1.serve import jobs
from pandora_v1.upstream.client import UpstreamClient
from tests.conftest import ACCESS_TOKEN
from tests.fake_upstream import default_accounts
from tests.test_credentials import settings_for

GPT = ModelEntry("classic", "gpt-4-gizmo", True, "g-classic")


def catalog(fake, store, gpts=(), **extra):
    settings = settings_for(fake, **extra)
    if gpts:
        settings = config.parse({"upstream_base_url": fake.url, **extra}, gpts=gpts)
    creds = CredentialService(settings, store)
    return GptCatalog(settings, store, UpstreamClient(settings), creds), creds


def gizmo_fetches(fake, gizmo_id=None):
    return [r for r in fake.requests if "/backend-api/gizmos/" in r.path
            and (gizmo_id is None or r.path.endswith(gizmo_id))]


def test_gpt_info_is_fetched_once_and_shared(fake, store):
    from pandora_v1.auth.credentials import Credentials

    fake.gizmo_names["g-classic"] = "ChatGPT Classic"
    gpts, _ = catalog(fake, store)
    info = gpts.info(GPT, Credentials(ACCESS_TOKEN))
    assert (info["id"], info["name"]) == ("g-classic", "ChatGPT Classic")
    other, _ = catalog(fake, store)             # another worker or instance
    assert other.info(GPT, Credentials(ACCESS_TOKEN))["name"] == "ChatGPT Classic"
    assert len(gizmo_fetches(fake)) == 1
    assert gizmo_fetches(fake)[0].headers["authorization"] == f"Bearer {ACCESS_TOKEN}"


def test_key_for_gpts_info_may_be_a_refresh_token(fake, store):
    from pandora_v1.auth.credentials import Credentials

    fake.require_issued = True
    gpts, _ = catalog(fake, store, key_for_gpts_info="rt-gpts-key")
    gpts.info(GPT, Credentials("eyJ.not.issued"))     # the key is used, not the request's token
    sent = gizmo_fetches(fake)[0].headers["authorization"]
    assert sent == f"Bearer {fake.exchanges[0].access_token}"
    assert fake.exchanges[0].refresh_token == "rt-gpts-key"


def test_a_gpt_that_cannot_be_fetched_is_404_naming_it(fake, store):
    from pandora_v1.auth.credentials import Credentials

    fake.missing_gizmos.add("g-classic")
    gpts, _ = catalog(fake, store)
    with pytest.raises(APIError) as info:
        gpts.info(GPT, Credentials(ACCESS_TOKEN))
    assert (info.value.status, info.value.code, info.value.param) == (404, "model_not_found", "model")
    assert "`classic`" in info.value.message and "g-classic" in info.value.message
    assert gpts.cached("g-classic") is None


def test_upstream_down_is_not_a_missing_gpt_and_is_retried(fake, store):
    from pandora_v1.auth.credentials import Credentials

    gpts, _ = catalog(fake, store, upstream_api_prefix="p")
    fake.prefix_status["p"] = 502
    with pytest.raises(APIError) as info:
        gpts.info(GPT, Credentials(ACCESS_TOKEN))
    assert info.value.status == 502
    del fake.prefix_status["p"]
    assert gpts.info(GPT, Credentials(ACCESS_TOKEN))["id"] == "g-classic"
    assert len(gizmo_fetches(fake)) == 2


def test_refresh_needs_the_key_and_counts(fake, store):
    configured = (GPT, ModelEntry("gone", "gpt-4-gizmo", True, "g-gone"))
    without, _ = catalog(fake, store, gpts=configured)
    assert without.refresh().skipped
    gpts, _ = catalog(fake, store, gpts=configured, key_for_gpts_info=ACCESS_TOKEN)
    fake.missing_gizmos.add("g-gone")
    store.set_json("gizmo:g-cached", {"id": "g-cached"})
    report = gpts.refresh()
    assert (report.updated, report.failed, report.skipped) == (2, 1, False)
    assert sorted(r.path.rsplit("/", 1)[1] for r in gizmo_fetches(fake)) == ["g-cached", "g-classic", "g-gone"]


# --------------------------------------------------------------------- jobs

def test_run_exclusive_runs_once_per_window(store):
    calls = []
    assert jobs.run_exclusive(store, "demo", 0.3, lambda: calls.append(1)) is True
    assert jobs.run_exclusive(store, "demo", 0.3, lambda: calls.append(2)) is False
    time.sleep(0.4)
    assert jobs.run_exclusive(store, "demo", 0.3, lambda: calls.append(3)) is True
    assert jobs.run_exclusive(store, "everywhere", None, lambda: calls.append(4))
    assert jobs.run_exclusive(store, "everywhere", None, lambda: calls.append(5))
    assert calls == [1, 3, 4, 5]


def test_a_failing_job_is_logged_not_raised(store, caplog):
    def broken():
        raise RuntimeError("boom")

    assert jobs.run_exclusive(store, "broken", 60, broken) is True
    assert "job broken failed" in caplog.text and "boom" in caplog.text

    class DeadStore:
        def add(self, *args):
            raise StoreUnavailable("Redis at h:1", "refused")

    assert jobs.run_exclusive(DeadStore(), "x", 60, broken) is False
    assert "job x skipped" in caplog.text


def test_schedulers_of_several_workers_run_a_job_once(store):
    """Three workers' schedulers fire the same job at the same moment: one runs it."""
    ran = []
    done = threading.Event()
    when = datetime.now(timezone.utc) + timedelta(seconds=0.5)

    def work():
        ran.append(threading.get_ident())
        done.set()

    schedulers = [jobs.build_scheduler([jobs.Job("once", DateTrigger(when), work, lock_ttl=60)], store)
                  for _ in range(3)]
    for scheduler in schedulers:
        scheduler.start()
    try:
        assert done.wait(5)
        time.sleep(0.5)                 # the others fired too, and found the lock
    finally:
        for scheduler in schedulers:
            scheduler.shutdown(wait=True)
    assert len(ran) == 1


def test_daily_trigger_follows_time_and_timezone():
    schedule = config.parse({"refresh_schedule": {"time": "03:00", "timezone": "Asia/Shanghai"}}).refresh_schedule
    trigger = jobs.daily_trigger(schedule)
    now = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)      # 20:00 in Shanghai
    fire = trigger.get_next_fire_time(None, now)
    assert fire.astimezone(timezone.utc) == datetime(2024, 5, 1, 19, 0, tzinfo=timezone.utc)
    default = jobs.daily_trigger(config.parse({}).refresh_schedule)
    assert default.get_next_fire_time(None, now).astimezone(timezone.utc) == \
        datetime(2024, 5, 2, 3, 0, tzinfo=timezone.utc)


def test_default_jobs_follow_the_config(fake, store):
    services = SimpleNamespace(settings=config.parse({}))
    assert [job.name for job in jobs.default_jobs(services)] == ["gpts_warm_up", "media_cleanup", "live_snapshot",
                                                                   "idle_sessions", "daily_refresh"]
    services.settings = config.parse({"refresh_schedule": {"enabled": False}, "continuity": {"enabled": False}})
    assert [job.name for job in jobs.default_jobs(services)] == ["gpts_warm_up", "media_cleanup", "live_snapshot"]


def test_daily_refresh_logs_its_counts(fake, store, caplog):
    gpts, creds = catalog(fake, store, key_for_gpts_info=ACCESS_TOKEN)
    creds.access_token("rt-daily-1")
    creds.access_token("rt-daily-2")
    fake.revoked.add("rt-daily-2")
    caplog.set_level(logging.INFO)
    jobs.daily_refresh(SimpleNamespace(credentials=creds, gpts=gpts))
    assert "daily refresh: 1 refresh tokens renewed, 1 failed, 0 idle forgotten; GPT info: 0 updated, " \
           "0 failed" in caplog.text


# ----------------------------------------------------------------- accounts

def test_accounts_answer_becomes_plus_and_team_lists():
    answer = {"accounts": default_accounts()}
    answer["accounts"]["free-1"] = {"account": {"account_id": "free-1", "plan_type": "free"}}
    result = plans(answer)
    assert result == {"plus": ["7c9e6679-7425-40de-944b-e07fc1f90ae7"],
                      "team": ["16fd2706-8baf-433b-82eb-8c7fada847da"]}
    with pytest.raises(APIError) as info:
        plans({"detail": "nope"})
    assert info.value.status == 502


def test_an_unusable_key_for_gpts_info_falls_back_to_the_request_key(fake, store, caplog):
    from pandora_v1.auth.credentials import Credentials

    settings = config.parse({"upstream_base_url": fake.url, "key_for_gpts_info": "fk-pandoranext-share"})
    gpts = GptCatalog(settings, store, UpstreamClient(settings), CredentialService(settings, store))
    assert "key_for_gpts_info is not an access token" in caplog.text
    gpts.info(GPT, Credentials(ACCESS_TOKEN))
    assert gizmo_fetches(fake)[0].headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert gpts.refresh().skipped
