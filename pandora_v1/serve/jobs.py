"""Scheduled jobs (APScheduler), run once across workers and instances.

Every Gunicorn worker starts a scheduler (``start`` from gunicorn_conf.py's
``post_worker_init``); each job takes a lock in the shared store before it
runs, so with several workers or instances on one store it runs once.

To add a job, append a ``Job`` in ``default_jobs``:

    Job("media_cleanup", CronTrigger(hour="*/6"), lambda: media.clean_up(), lock_ttl=3600)

``lock_ttl`` is how long the lock is held after the job starts: no other
worker runs the same job within that window, so it must be shorter than the
interval between runs and longer than the clocks of two instances differ.
``None`` runs the job in every worker.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ..answer.continuity import Sessions, check_every
from ..runtime import live
from ..runtime import store as store_module

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    trigger: Any                       # an APScheduler trigger
    func: Callable[[], Any]
    lock_ttl: float | None = 3600.0    # None: every worker runs it


def run_exclusive(store: store_module.Store, name: str, lock_ttl: float | None,
                  func: Callable[[], Any]) -> bool:
    """Run ``func`` unless another worker or instance already ran ``name`` within ``lock_ttl``.

    The lock is not given back: it marks the run for its window. Returns
    whether this call ran the job. Errors are logged, never raised: a job must
    not take the scheduler (or the worker) down.
    """
    try:
        if lock_ttl is not None and not store_module.acquire(store, f"job:{name}", lock_ttl):
            log.debug("job %s: already run elsewhere", name)
            return False
    except store_module.StoreUnavailable as exc:
        log.warning("job %s skipped: %s", name, exc)
        return False
    log.info("job %s started in worker %d", name, os.getpid())
    try:
        func()
    except store_module.StoreUnavailable as exc:
        log.warning("job %s stopped: %s", name, exc)
    except Exception:  # noqa: BLE001 - one failing job must not stop the others
        log.exception("job %s failed", name)
    return True


def build_scheduler(jobs: Iterable[Job], store: store_module.Store):
    """A BackgroundScheduler (not started) with each job wrapped in ``run_exclusive``."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone=timezone.utc, job_defaults={
        "coalesce": True, "max_instances": 1, "misfire_grace_time": 300})
    for job in jobs:
        scheduler.add_job(run_exclusive, job.trigger, args=(store, job.name, job.lock_ttl, job.func),
                          id=job.name, name=job.name, replace_existing=True)
    return scheduler


def daily_trigger(schedule):
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger(hour=schedule.hour, minute=schedule.minute, second=schedule.second,
                       timezone=schedule.tzinfo())


def daily_refresh(services) -> None:
    """Re-exchange every known refresh token and fetch GPT info again; log the counts."""
    tokens = services.credentials.refresh_all()
    gpts = services.gpts.refresh()
    log.info("daily refresh: %d refresh tokens renewed, %d failed, %d idle forgotten; GPT info: %s",
             tokens.renewed, tokens.failed, tokens.forgotten,
             "skipped (no key_for_gpts_info)" if gpts.skipped
             else f"{gpts.updated} updated, {gpts.failed} failed")


def warm_up_gpts(services) -> None:
    """Soon after start: fetch the configured GPTs' info; failures are retried later."""
    ids = [entry.gizmo_id for entry in services.settings.gpts]
    if not ids:
        return
    report = services.gpts.refresh(ids)
    if report.skipped:
        log.info("GPT info is fetched on first use (no key_for_gpts_info)")
    else:
        log.info("GPT info at start-up: %d fetched, %d failed", report.updated, report.failed)


def hide_idle_sessions(services) -> None:
    """With the hide setting, a continued conversation is hidden once its session is idle for the TTL."""
    hidden = Sessions(services.store, services.settings.continuity.ttl).hide_idle(services.upstream.hide_conversation)
    if hidden:
        log.info("idle sessions: %d conversations hidden", hidden)


def default_jobs(services) -> list[Job]:
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    jobs = [Job("gpts_warm_up", DateTrigger(datetime.now(timezone.utc) + timedelta(seconds=1)),
                lambda: warm_up_gpts(services), lock_ttl=300.0)]
    # Saved images and files older than media_retention_days go, checked every hour.
    jobs.append(Job("media_cleanup", IntervalTrigger(hours=1),
                    lambda: services.media.delete_older_than(services.settings.media_retention_days),
                    lock_ttl=600.0))
    # The status page's per-minute activity: every worker tries, the first of the minute writes.
    jobs.append(Job("live_snapshot", CronTrigger(second=0),
                    lambda: live.history_for(services.metrics).snapshot(), lock_ttl=None))
    # Sessions idle past continuity.ttl: their conversations are hidden (when hiding was asked for).
    continuity = services.settings.continuity
    if continuity.enabled:
        every = check_every(continuity.ttl)
        jobs.append(Job("idle_sessions", IntervalTrigger(seconds=every), lambda: hide_idle_sessions(services),
                        lock_ttl=every * 0.8))
    schedule = services.settings.refresh_schedule
    if schedule.enabled:
        jobs.append(Job("daily_refresh", daily_trigger(schedule), lambda: daily_refresh(services),
                        lock_ttl=3600.0))
    return jobs


def start(services) -> Any:
    """Start the scheduler of an app's ``Services`` (once per worker); kept there."""
    if services.scheduler is None:
        scheduler = build_scheduler(default_jobs(services), services.store)
        scheduler.start()
        services.scheduler = scheduler
        for job in scheduler.get_jobs():
            log.debug("job %s: next run %s", job.name, job.next_run_time)
    return services.scheduler


def next_runs(services) -> list[dict]:
    """Each scheduled job of this worker and when it runs next (UTC, ISO 8601), soonest first."""
    if services.scheduler is None:
        return []
    runs = [{"name": job.name, "next_run": job.next_run_time.astimezone(timezone.utc).isoformat()}
            for job in services.scheduler.get_jobs() if job.next_run_time is not None]
    return sorted(runs, key=lambda run: run["next_run"])


def stop(services) -> None:
    if services.scheduler is not None:
        services.scheduler.shutdown(wait=False)
        services.scheduler = None
