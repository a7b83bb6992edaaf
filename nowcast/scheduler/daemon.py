"""The scheduler itself: jobs, heartbeat listeners, and a clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import UTC, datetime
from functools import partial
from types import FrameType
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_SCHEDULER_SHUTDOWN,
    EVENT_SCHEDULER_STARTED,
    JobExecutionEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from nowcast.core import clear_stop, request_stop
from nowcast.scheduler.lock import scheduler_lock
from nowcast.scheduler.plan import ScheduleOptions, every, job_specs
from nowcast.scheduler.store import install_jobs, job_store
from nowcast.settings import Settings
from nowcast.store import BEAT_SECONDS, Heartbeat, Outcome, heartbeat_path

log = logging.getLogger(__name__)

# Enough threads that one slow source does not hold up the other pipelines, few enough for a
# small host; each job still runs at most once at a time.
WORKERS = 3
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_job_event(heartbeat: Heartbeat, event: JobExecutionEvent) -> None:
    """Record a finished job's outcomes; log a job that raised, which runs again next time."""
    if event.exception is None:
        if event.retval:  # the heartbeat's own beat returns nothing
            heartbeat.record(event.retval)
        return
    message = f"{type(event.exception).__name__}: {event.exception}"
    log.error("job %s failed: %s (it runs again at its next time)", event.job_id, message)
    log.debug("job %s failed:\n%s", event.job_id, event.traceback)
    heartbeat.record([Outcome(event.job_id, "error", message)])


def build_scheduler(
    settings: Settings,
    options: ScheduleOptions,
    scheduler_class: type[BaseScheduler] = BlockingScheduler,
) -> BaseScheduler:
    """A stopped scheduler holding the configured jobs, writing the heartbeat as they finish."""
    scheduler = scheduler_class(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(WORKERS)},
        job_defaults={"coalesce": True, "max_instances": 1},
    )
    heartbeat = Heartbeat(heartbeat_path(settings.schedule.state_dir), settings.archive)
    store = job_store(settings.schedule.state_dir)
    install_jobs(scheduler, store, job_specs(settings, options), datetime.now(UTC))
    scheduler.add_jobstore(MemoryJobStore(), "memory")
    scheduler.add_job(
        heartbeat.beat, every(BEAT_SECONDS), id="heartbeat", jobstore="memory", name="heartbeat"
    )
    scheduler.add_listener(partial(on_job_event, heartbeat), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.add_listener(heartbeat.started, EVENT_SCHEDULER_STARTED)
    scheduler.add_listener(heartbeat.stopped, EVENT_SCHEDULER_SHUTDOWN)
    return scheduler


class GracefulStop:
    """SIGTERM/SIGINT -> a stop request and `scheduler.shutdown(wait=True)` on a helper thread.

    A running ingest ends after its current frame (each fetch has its own deadline); the
    running jobs finish and nothing is left half-written; the handler itself only starts
    the thread, so it never blocks on locks the interrupted main loop may hold.
    """

    def __init__(self, scheduler: BaseScheduler) -> None:
        self.scheduler = scheduler
        self.thread: threading.Thread | None = None
        self.previous: dict[int, Any] = {}

    def install(self, *_: object) -> None:
        """Take over the stop signals (a listener for the scheduler's start, main thread)."""
        clear_stop()
        for signum in STOP_SIGNALS:
            self.previous[signum] = signal.signal(signum, self.request)

    def request(self, signum: int, _frame: FrameType | None) -> None:
        """Begin the shutdown once; later signals are ignored (a handler never logs: reentry)."""
        if self.thread is not None:
            return
        request_stop()  # a running ingest ends after its current frame
        name = signal.Signals(signum).name
        self.thread = threading.Thread(target=self._stop, args=(name,), name="nowcast-stop")
        self.thread.start()

    def _stop(self, name: str) -> None:
        """Shut the scheduler down, waiting for the running jobs (on the helper thread)."""
        log.info("%s: stopping once the running jobs finish", name)
        self.scheduler.shutdown()

    def finish(self) -> None:
        """Wait for the shutdown to complete and give the signals back."""
        if self.thread is not None:
            self.thread.join()
        clear_stop()
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def route_scheduler_logs() -> None:
    """Send APScheduler's warnings (missed runs) through nowcast's log handlers.

    A job that raised is logged once, by `on_job_event`, so the executor's own copy is muted.
    """
    handlers = logging.getLogger("nowcast").handlers
    scheduler_log = logging.getLogger("apscheduler")
    scheduler_log.handlers[:] = handlers
    scheduler_log.setLevel(logging.WARNING)
    scheduler_log.propagate = False
    logging.getLogger("apscheduler.executors").setLevel(logging.CRITICAL)


def run_daemon(settings: Settings, options: ScheduleOptions) -> None:
    """Hold the archive's scheduler lock and run the jobs until SIGTERM or SIGINT."""
    with scheduler_lock(settings.archive) as lock:
        route_scheduler_logs()
        scheduler = build_scheduler(settings, options)
        stop = GracefulStop(scheduler)
        scheduler.add_listener(stop.install, EVENT_SCHEDULER_STARTED)
        jobs = ", ".join(job.id for job in scheduler.get_jobs() if job.id != "heartbeat")
        log.info("scheduler started for %s (lock %s): %s", settings.archive, lock, jobs)
        try:
            scheduler.start()
        finally:
            stop.finish()
        log.info("scheduler stopped")
