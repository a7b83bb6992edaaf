"""Which jobs `nowcast schedule` runs and when: fixed ids, triggers and catch-up windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from nowcast.ingest import load_pipeline
from nowcast.settings import Settings

JOBS = "nowcast.scheduler.jobs"
# A daily product may still be made this long after its time (a restart at noon still makes it).
DAILY_GRACE_SECONDS = 12 * 3600


@dataclass(frozen=True)
class ScheduleOptions:
    """How the daemon was started: what each job reloads, and the operator's overrides."""

    config: str | None = None
    archive: str | None = None
    every_seconds: int | None = None
    run_now: bool = False


@dataclass(frozen=True)
class JobSpec:
    """One stored job: a fixed id (so restarts replace it), a function reference, plain args."""

    id: str
    func: str
    args: tuple[str | None, ...]
    trigger: BaseTrigger
    misfire_grace_time: int
    run_now: bool = False


def every(seconds: int) -> IntervalTrigger:
    """An interval trigger in UTC."""
    return IntervalTrigger(seconds=seconds, timezone=UTC)


def job_specs(settings: Settings, options: ScheduleOptions) -> list[JobSpec]:
    """Ingest per pipeline (forecast follows inside), verify, and the daily product.

    A run that is late by more than its own interval is dropped (the next one comes anyway);
    with coalescing, a backlog of missed runs fires once.
    """
    base = (options.config, options.archive)
    specs = []
    for name in settings.pipelines:
        pipeline = load_pipeline(settings, name)
        seconds = options.every_seconds or pipeline.schedule.every_minutes * 60
        specs.append(
            JobSpec(
                f"ingest:{name}",
                f"{JOBS}:ingest_job",
                (*base, name),
                every(seconds),
                seconds,
                options.run_now,
            )
        )
    seconds = options.every_seconds or settings.schedule.verify_every_minutes * 60
    specs.append(JobSpec("verify", f"{JOBS}:verify_job", base, every(seconds), seconds))
    hour, minute = (int(part) for part in settings.schedule.daily_product_utc.split(":"))
    daily = CronTrigger(hour=hour, minute=minute, timezone=UTC)
    specs.append(JobSpec("daily", f"{JOBS}:daily_job", base, daily, DAILY_GRACE_SECONDS))
    return specs
