"""A hung upstream under the scheduler: one run is delayed, `status` shows the error, stop works."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import shared_data_path
from ingest_fixtures import BOM, faulty_server
from test_faults_http import PIPELINE

from nowcast.core.stop import clear_stop, request_stop
from nowcast.scheduler import jobs
from nowcast.scheduler.view import scheduler_lines, scheduler_table
from nowcast.settings.config import ENV_OVERRIDES
from nowcast.store.heartbeat import Heartbeat, read_heartbeat

NAME = "66_20201031_{}00.prcp-c10.nc".format
HUNG = {NAME(f"{h:02d}{m}0"): ["drip"] for h in range(24) for m in range(6)}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the caller's NOWCAST_* variables from the jobs, which read os.environ."""
    for variable in [*ENV_OVERRIDES, "NOWCAST_CONFIG"]:
        monkeypatch.delenv(variable, raising=False)


def site(tmp_path: Path, base: str, budget: str) -> Path:
    """A site whose only pipeline reads the faulty server, with a small run budget."""
    (tmp_path / "pipelines").mkdir()
    # the BOM day's file for the same time of day: every recent step has a (hung) file
    text = PIPELINE.format(base=base, cap=3600.0).replace("%Y%m%d_%H", "20201031_%H")
    text += f'\n[ingest]\ninitial = "1h"\nmax_failures = 10\nrun_budget = "{budget}"\n'
    (tmp_path / "pipelines" / "bom-http.toml").write_text(text)
    config = tmp_path / "nowcast.toml"
    config.write_text(
        'archive = "archive/nowcast.zarr"\npipelines_dir = "pipelines"\n'
        'pipelines = ["bom-http"]\n[schedule]\nstate_dir = "state"\n'
    )
    return config


def test_hung_upstream_ends_at_the_run_budget_and_status_shows_the_error(
    tmp_path: Path,
) -> None:
    with faulty_server(shared_data_path(*BOM), dict(HUNG)) as base:
        config = site(tmp_path, base, "3s")
        began = time.monotonic()
        outcomes = jobs.ingest_job(str(config), None, "bom-http")
        took = time.monotonic() - began
    assert took < 10.0  # 3 s budget + one 2 s fetch deadline, not hours
    (outcome,) = outcomes
    assert outcome.status == "error"
    assert "run budget ingest.run_budget = 3 s spent" in outcome.summary
    path = tmp_path / "state" / "heartbeat.json"
    Heartbeat(path, tmp_path / "archive").record(outcomes)
    table = scheduler_table(read_heartbeat(path) or {})
    errors = [cell for column in table.columns for cell in column._cells if "budget" in cell]
    assert errors and "ingest.run_budget = 3 s spent" in errors[0]


def test_a_stop_request_ends_the_ingest_after_its_current_frame(tmp_path: Path) -> None:
    with faulty_server(shared_data_path(*BOM), {}) as base:
        config = site(tmp_path, base, "15min")
        request_stop()
        try:
            (outcome,) = jobs.ingest_job(str(config), None, "bom-http")
        finally:
            clear_stop()
    assert outcome.status == "error" and "stopped by a signal" in outcome.summary


def test_status_says_a_killed_scheduler_died_at_once() -> None:
    gone = subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert gone.returncode == 0
    pid = subprocess.Popen([sys.executable, "-c", "pass"])
    pid.wait()
    beat = {"pid": pid.pid, "host": socket.gethostname(), "started_at": "2024-09-01T06:00:00Z"}
    lines = scheduler_lines({**beat, "alive_at": "2024-09-01T11:59:30Z", "stopped_at": None})
    assert lines[0].startswith("scheduler: died after 2024-09-01 11:59Z without stopping cleanly")


def test_two_sigterms_during_a_hung_fetch_stop_the_daemon_cleanly(tmp_path: Path) -> None:
    with faulty_server(shared_data_path(*BOM), dict(HUNG)) as base:
        config = site(tmp_path, base, "15min")
        command = [sys.executable, "-m", "nowcast", "--config", str(config), "schedule"]
        daemon = subprocess.Popen(
            [*command, "--run-now"], stderr=subprocess.PIPE, text=True, cwd=tmp_path
        )
        log: list[str] = []
        try:
            for line in daemon.stderr or []:
                log.append(line)
                if "bom-http: ingesting" in line:
                    break
            time.sleep(0.5)  # inside the first (hung) fetch
            began = time.monotonic()
            daemon.send_signal(signal.SIGTERM)
            daemon.send_signal(signal.SIGTERM)
            _, rest = daemon.communicate(timeout=60)
            took = time.monotonic() - began
        finally:
            if daemon.poll() is None:
                daemon.kill()
    text = "".join(log) + rest
    assert daemon.returncode == 0, text
    assert "Traceback" not in text
    assert took < 10.0  # the fetch's 2 s deadline, then the stop
    heartbeat = read_heartbeat(tmp_path / "state" / "heartbeat.json")
    assert heartbeat is not None and heartbeat["stopped_at"]
    assert "stopped by a signal" in heartbeat["jobs"]["ingest:bom-http"]["last_error"]["summary"]
