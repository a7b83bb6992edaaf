"""The scheduler's SQLite job store, and putting the planned jobs in it without duplicates."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler

from nowcast.scheduler.plan import JobSpec

log = logging.getLogger(__name__)

JOBSTORE_FILE = "jobs.sqlite"
STORE = "default"


def job_store(state_dir: Path) -> SQLAlchemyJobStore:
    """The job store at `<state_dir>/jobs.sqlite` (created on first use)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    return SQLAlchemyJobStore(url=f"sqlite:///{state_dir / JOBSTORE_FILE}")


def unchanged(job: Job, spec: JobSpec) -> bool:
    """Whether a stored job is the planned one: same function, arguments and timetable."""
    return (
        job.func_ref == spec.func
        and job.args == spec.args
        and str(job.trigger) == str(spec.trigger)
    )


def install_jobs(
    scheduler: BaseScheduler, store: SQLAlchemyJobStore, specs: list[JobSpec], now: datetime
) -> None:
    """Add the planned jobs to a stopped scheduler under their fixed ids.

    A job whose timetable is unchanged keeps its stored next run time, so a restart neither
    postpones it nor loses a run that fell due while the daemon was down; jobs no longer
    planned (a pipeline taken out of the config) are removed.
    """
    scheduler.add_jobstore(store, STORE)
    store.start(scheduler, STORE)  # opened early to read what the previous run left
    stored = {job.id: job for job in store.get_all_jobs()}
    planned = {spec.id for spec in specs}
    for job_id in sorted(stored.keys() - planned):
        log.info("removing job %s: no longer configured", job_id)
        store.remove_job(job_id)
    for spec in specs:
        previous = stored.get(spec.id)
        timing = {}
        if spec.run_now:
            timing["next_run_time"] = now
        elif previous is not None and unchanged(previous, spec):
            timing["next_run_time"] = previous.next_run_time
        scheduler.add_job(
            spec.func,
            spec.trigger,
            args=spec.args,
            id=spec.id,
            name=spec.id,
            jobstore=STORE,
            replace_existing=True,
            misfire_grace_time=spec.misfire_grace_time,
            **timing,
        )
