"""`nowcast schedule`: jobs fire and survive failures, restarts keep the store, one per archive."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import torch
import xarray as xr
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from conftest import REPO
from filelock import FileLock
from ingest_fixtures import cli

from nowcast.core.errors import ConfigError
from nowcast.core.timeutil import now_utc
from nowcast.ingest import run as ingest
from nowcast.models.checkpoint import CheckpointMeta, save_checkpoint
from nowcast.models.preset import ModelConfig, SequenceConfig
from nowcast.models.registry import build_from_config
from nowcast.scheduler import jobs
from nowcast.scheduler.daemon import build_scheduler
from nowcast.scheduler.lock import lock_path, scheduler_lock
from nowcast.scheduler.plan import ScheduleOptions, job_specs
from nowcast.scheduler.view import scheduler_lines
from nowcast.settings.config import ENV_OVERRIDES, Settings, load_settings
from nowcast.store.heartbeat import read_heartbeat

HOURS = 12  # frames the demo source holds when ingest starts: enough for 8 in, 4 out
LONG_INGEST_HOURS = 72  # an ingest that is surely still running when SIGTERM arrives
WAIT_S = 120


def demo_pipeline(folder: Path, name: str, now: pd.Timestamp, hours: int) -> Path:
    """The built-in demo pipeline starting `hours - 1` hours before `now`: bounded ingest."""
    start = now.floor("h") - pd.Timedelta(hours=hours - 1)
    text = (REPO / "pipelines" / "demo.toml").read_text()
    assert "# start = " in text
    text = text.replace("# start = ", f"start = {start.strftime('%Y-%m-%dT%H:%M:%SZ')}  # ")
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def make_site(
    root: Path, pipelines: list[str], now: pd.Timestamp | None = None, hours: int = HOURS
) -> Path:
    """A site: nowcast.toml and its pipelines, with archive and outputs inside; the config."""
    (root / "pipelines").mkdir(parents=True)
    for name in pipelines:
        demo_pipeline(root / "pipelines", name, now if now is not None else now_utc(), hours)
    config = root / "nowcast.toml"
    config.write_text(
        'archive = "archive/nowcast.zarr"\npipelines_dir = "pipelines"\n'
        f"pipelines = {json.dumps(pipelines)}\n"
        '[schedule]\nstate_dir = "state"\ndaily_product_utc = "06:00"\n'
    )
    return config


def tiny_checkpoint(folder: Path) -> Path:
    """A small untrained MoDeRNN saved as a real checkpoint: 8 hourly frames in, 4 out."""
    torch.manual_seed(0)
    config = ModelConfig(hidden=8, num_layers=1, patch=4, norm="group", height=64, width=64)
    meta = CheckpointMeta(
        model=config,
        sequence=SequenceConfig(input_frames=8, output_frames=4),
        preset="modernn-typhoon",
    )
    return save_checkpoint(folder, build_from_config(config), meta)


def wait_for(condition: Callable[[], bool], what: str, seconds: float = WAIT_S) -> None:
    """Poll until `condition()` holds, or fail naming what never happened."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.1)


def stored_jobs(state_dir: Path) -> dict[str, float]:
    """Job id -> next run time (epoch seconds), read straight from the SQLite job store."""
    with sqlite3.connect(state_dir / "jobs.sqlite") as db:
        return dict(db.execute("SELECT id, next_run_time FROM apscheduler_jobs").fetchall())


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the caller's NOWCAST_* variables from the jobs, which read os.environ."""
    for variable in [*ENV_OVERRIDES, "NOWCAST_CONFIG"]:
        monkeypatch.delenv(variable, raising=False)


@pytest.mark.usefixtures("clean_env")
def test_jobs_fire_and_a_failing_job_does_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The clock stands at 12:30 UTC yesterday, so the forecast is a 12 UTC one for the daily
    # sheet whatever the time of day the test runs; the daily job runs "the next day", so the
    # last complete day is the frozen clock's.
    frozen = now_utc().floor("D") - pd.Timedelta(hours=11, minutes=30)
    monkeypatch.setattr(ingest, "now_utc", lambda: frozen)
    monkeypatch.setattr(jobs, "last_complete_day", lambda: frozen.date())
    config = make_site(tmp_path, ["demo", "flaky"], frozen)
    settings = load_settings(config, environ={})
    tiny_checkpoint(settings.output.checkpoints / "demo")
    options = ScheduleOptions(config=str(config), every_seconds=2, run_now=True)
    scheduler = build_scheduler(settings, options, BackgroundScheduler)
    (tmp_path / "pipelines" / "flaky.toml").write_text("[source\n")  # broken after start-up
    events: list[tuple[str, bool]] = []

    def collect(event: JobExecutionEvent) -> None:
        events.append((event.job_id, event.exception is None))

    def recovered() -> bool:
        """After ingest:flaky first raised, it was retried and ingest:demo ran twice more."""
        seen = list(events)
        if ("ingest:flaky", False) not in seen:
            return False
        after = seen[seen.index(("ingest:flaky", False)) :]
        return after.count(("ingest:flaky", False)) >= 2 and after.count(("ingest:demo", True)) >= 2

    def beat() -> dict:
        return read_heartbeat(settings.schedule.state_dir / "heartbeat.json") or {}

    def finished(job: str) -> bool:
        entry = beat().get("jobs", {}).get(job, {})
        return "last_success" in entry or "last_error" in entry

    scheduler.add_listener(collect, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    scheduler.start()
    try:
        wait_for(lambda: finished("forecast:demo"), "the forecast after the first ingest")
        wait_for(recovered, "ingest:demo succeeding after ingest:flaky raised")
        scheduler.modify_job("daily", next_run_time=datetime.now(UTC))  # as the scheduler runs it
        wait_for(lambda: finished("daily"), "the daily product")
    finally:
        scheduler.shutdown(wait=True)

    heartbeat = beat()
    assert heartbeat["stopped_at"] and heartbeat["pid"] == os.getpid()
    states = heartbeat["jobs"]
    for job in ("ingest:demo", "forecast:demo", "daily", "verify"):
        assert "last_success" in states[job], (job, states[job])
    assert "ConfigError" in states["ingest:flaky"]["last_error"]["summary"]
    assert heartbeat["last_error"]["job"] == "ingest:flaky"
    assert "fetched 0, skipped 4" in states["ingest:demo"]["last_success"]["summary"]  # later
    day = frozen.date().isoformat()
    stem = f"demo_{frozen.strftime('%Y%m%d')}T1200Z_model-modernn-typhoon"
    assert (settings.output.forecasts / "demo" / f"{stem}.nc").is_file()
    for suffix in (".png", ".gif"):
        assert (settings.output.products / "demo" / f"{stem}{suffix}").stat().st_size > 0
    daily = settings.output.products / "daily" / day
    assert (daily / "index.html").is_file() and (daily / f"demo_{day}.png").is_file()

    shown = cli(config, "status")
    assert shown.exit_code == 0, shown.output
    assert "scheduler: stopped" in shown.output
    assert "forecast:demo" in shown.output and "last scheduler error: ingest:flaky" in shown.output


@pytest.mark.usefixtures("clean_env")
def test_a_scheduled_ensemble_follows_the_forecast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With `[ensemble] scheduled = true` the ingest job's forecast step writes the model's
    # forecast, then its ensemble at the same init, with maps and probability maps of both.
    frozen = now_utc().floor("D") - pd.Timedelta(hours=11, minutes=30)
    monkeypatch.setattr(ingest, "now_utc", lambda: frozen)
    config = make_site(tmp_path, ["demo"], frozen)
    config.write_text(config.read_text() + "[ensemble]\nscheduled = true\nmembers = 3\n")
    settings = load_settings(config, environ={})
    tiny_checkpoint(settings.output.checkpoints / "demo")

    ingested, forecast = jobs.ingest_job(str(config), None, "demo")

    assert ingested.status == "ok", ingested.summary
    assert forecast.status == "ok" and "4 product(s)" in forecast.summary, forecast.summary
    stem = f"demo_{frozen.strftime('%Y%m%d')}T1200Z_model"
    assert (settings.output.forecasts / "demo" / f"{stem}-modernn-typhoon.nc").is_file()
    with xr.open_dataset(
        settings.output.forecasts / "demo" / f"{stem}-ensemble-modernn-typhoon.nc"
    ) as ds:
        assert ds.sizes["realization"] == 3 and ds.attrs["method"] == "model-ensemble"
    products = settings.output.products / "demo"
    for name in (
        f"{stem}-modernn-typhoon.png",
        f"{stem}-modernn-typhoon.gif",
        f"{stem}-ensemble-modernn-typhoon.png",
        f"{stem}-ensemble-modernn-typhoon_probability.png",
    ):
        assert (products / name).stat().st_size > 0, name


def test_restart_keeps_one_copy_of_each_job_and_its_next_run(tmp_path: Path) -> None:
    config = make_site(tmp_path, ["demo", "radar"])
    settings = load_settings(config, environ={})
    state = settings.schedule.state_dir

    def run_once(settings: Settings, options: ScheduleOptions) -> None:
        scheduler = build_scheduler(settings, options, BackgroundScheduler)
        scheduler.start(paused=True)
        scheduler.shutdown()

    run_once(settings, ScheduleOptions(config=str(config)))
    first = stored_jobs(state)
    assert sorted(first) == ["daily", "ingest:demo", "ingest:radar", "verify"]
    run_once(settings, ScheduleOptions(config=str(config)))
    assert stored_jobs(state) == first  # same ids, next runs kept rather than postponed

    fewer = settings.model_copy(update={"pipelines": ["demo"]})
    run_once(fewer, ScheduleOptions(config=str(config), every_seconds=30))
    changed = stored_jobs(state)
    assert sorted(changed) == ["daily", "ingest:demo", "verify"]
    assert changed["ingest:demo"] < first["ingest:demo"]  # a new interval: rescheduled
    assert changed["daily"] == first["daily"]


def test_job_plan_follows_the_configuration(tmp_path: Path) -> None:
    config = make_site(tmp_path, ["demo"])
    settings = load_settings(config, environ={})
    specs = {spec.id: spec for spec in job_specs(settings, ScheduleOptions(config=str(config)))}
    assert set(specs) == {"ingest:demo", "verify", "daily"}
    assert specs["ingest:demo"].trigger.interval.total_seconds() == 3600  # demo every_minutes
    assert specs["ingest:demo"].args == (str(config), None, "demo")
    assert specs["verify"].trigger.interval.total_seconds() == 3600
    assert str(specs["daily"].trigger) == "cron[hour='6', minute='0']"
    fast = job_specs(settings, ScheduleOptions(every_seconds=5, run_now=True))
    assert {s.id: s.trigger.interval.total_seconds() for s in fast if s.id != "daily"} == {
        "ingest:demo": 5,
        "verify": 5,
    }
    assert [s.id for s in fast if s.run_now] == ["ingest:demo"]


def test_one_scheduler_per_archive(tmp_path: Path) -> None:
    archive = tmp_path / "archive" / "nowcast.zarr"
    with scheduler_lock(archive) as held:
        assert held == lock_path(archive) == tmp_path / "archive" / "nowcast.zarr.scheduler.lock"
        with pytest.raises(ConfigError, match="already running") as refused:
            with scheduler_lock(tmp_path / "archive" / ".." / "archive" / "nowcast.zarr"):
                pass
        assert refused.value.exit_code == 2
    with scheduler_lock(archive):
        pass


@pytest.mark.usefixtures("clean_env")
def test_daemon_stops_cleanly_on_sigterm_and_refuses_a_second_one(tmp_path: Path) -> None:
    config = make_site(tmp_path, ["demo"], hours=LONG_INGEST_HOURS)
    settings = load_settings(config, environ={})
    command = [sys.executable, "-m", "nowcast", "--config", str(config), "schedule", "--run-now"]
    daemon = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    log: list[str] = []

    def read_until(text: str) -> None:
        for line in daemon.stderr or []:
            log.append(line)
            if text in line:
                return
        pytest.fail(f"daemon exited before logging {text!r}:\n{''.join(log)}")

    try:
        read_until("scheduler started")
        second = cli(config, "schedule")
        assert second.exit_code == 2, second.output
        assert "already running" in second.output and len(second.output.splitlines()) == 1
        read_until("demo: ingesting")  # the first ingest is under way
        daemon.send_signal(signal.SIGTERM)
        _, rest = daemon.communicate(timeout=WAIT_S)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    log.append(rest)
    assert daemon.returncode == 0, "".join(log)
    text = "".join(log)
    heartbeat = read_heartbeat(settings.schedule.state_dir / "heartbeat.json")
    assert heartbeat is not None and heartbeat["stopped_at"]
    # The running ingest stopped after its current frame: every frame fetched is archived.
    ingested = heartbeat["jobs"]["ingest:demo"]
    summary = (ingested.get("last_error") or ingested["last_success"])["summary"]
    fetched = re.search(r"fetched (\d+), .* \1 frames archived", summary)
    assert fetched, summary
    if int(fetched.group(1)):  # frames arrived before the stop: the forecast step still ran
        assert text.index("SIGTERM: stopping") < text.index("no trained model"), text
        skipped = heartbeat["jobs"]["forecast:demo"]["last_skipped"]["summary"]
        assert "no trained model" in skipped
    released = FileLock(lock_path(settings.archive))
    released.acquire(blocking=False)
    released.release()
    assert sorted(stored_jobs(settings.schedule.state_dir)) == ["daily", "ingest:demo", "verify"]


def test_schedule_help_documents_its_options(tmp_path: Path) -> None:
    shown = cli(tmp_path / "absent.toml", "schedule", "--help")
    assert shown.exit_code == 0
    for option in ("--every-seconds", "--run-now", "SIGTERM"):
        assert option in shown.output


def test_status_lines_tell_running_stopped_and_silent_apart() -> None:
    now = datetime(2024, 9, 1, 12, 0, tzinfo=UTC)
    beat = {"pid": 7, "host": "h", "started_at": "2024-09-01T06:00:00Z", "stopped_at": None}
    running = scheduler_lines({**beat, "alive_at": "2024-09-01T11:59:30Z"}, now)
    assert running == [
        "scheduler: running since 2024-09-01 06:00Z, last beat 2024-09-01 11:59Z (pid 7 on h)"
    ]
    silent = scheduler_lines({**beat, "alive_at": "2024-09-01T11:00:00Z"}, now)
    assert "silent since 2024-09-01 11:00Z" in silent[0]
    error = {"job": "verify", "at": "2024-09-01T11:00:00Z", "message": "boom"}
    stopped = scheduler_lines({**beat, "stopped_at": "2024-09-01T11:30:00Z", "last_error": error})
    assert stopped == [
        "scheduler: stopped 2024-09-01 11:30Z (pid 7 on h)",
        "last scheduler error: verify 2024-09-01 11:00Z: boom",
    ]
