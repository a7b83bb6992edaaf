"""Fault tests in real processes: concurrent ingests, and SIGKILL in the middle of an append."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, shared_data_path
from ingest_fixtures import BOM, write_settings

from nowcast.ingest.ledger import Ledger
from nowcast.store.archive import Archive

pytestmark = pytest.mark.slow


def bom_setup(tmp_path: Path, batch: int) -> tuple[Path, dict[str, str]]:
    """Settings with the shipped BOM pipeline, committing every `batch` frames."""
    shipped = (REPO / "pipelines" / "bom-radar.toml").read_text()
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "bom-radar.toml").write_text(
        shipped.replace("[ingest]\n", f"[ingest]\nbatch = {batch}\n")
    )
    config = write_settings(tmp_path, pipelines)
    env = {
        **os.environ,
        "NOWCAST_BOM_DIR": str(shared_data_path(*BOM)),
        "NOWCAST_CONFIG": str(config),
        "NOWCAST_ARCHIVE": "",
    }
    return config, env


def nowcast(env: dict[str, str], *args: str) -> subprocess.Popen:
    """Start `python -m nowcast ...` as its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "nowcast", *args],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def archive_of(config: Path) -> Archive:
    """The archive a test settings file points to."""
    return Archive(config.parent / "archive" / "nowcast.zarr")


def assert_whole_day(archive: Archive) -> None:
    """All 144 frames, each valid time once, every value in mm within the transform's range."""
    series = archive.read("bom-radar")
    times = series.time.values
    assert len(times) == 144 and len(np.unique(times)) == 144
    values = series.values
    assert np.isfinite(values).all() and 0 <= values.min() < values.max() <= 20


def test_two_concurrent_ingests_neither_duplicate_nor_corrupt(tmp_path: Path) -> None:
    config, env = bom_setup(tmp_path, batch=8)
    first, second = (
        nowcast(env, "ingest", "-p", "bom-radar"),
        nowcast(env, "ingest", "-p", "bom-radar"),
    )
    outputs = [p.communicate(timeout=120)[0] for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    archive = archive_of(config)
    assert_whole_day(archive)
    entries = list(Ledger(archive.path, "bom-radar").entries())
    fetched = [e.time for e in entries if e.status == "fetched"]
    assert len(fetched) == 144 and len(set(fetched)) == 144


KILLER = """
import os, signal, sys
from nowcast.store.archive import Archive
from nowcast.cli.app import main

commits = []
commit = Archive._commit

def commit_then_die(self, node, length):
    commits.append(length)
    if len(commits) == 3:  # data chunks of the third batch are written, the commit is not
        os.kill(os.getpid(), signal.SIGKILL)
    commit(self, node, length)

Archive._commit = commit_then_die
sys.argv = ["nowcast", "ingest", "-p", "bom-radar"]
main()
"""


def test_sigkill_between_data_and_commit_keeps_committed_frames(tmp_path: Path) -> None:
    config, env = bom_setup(tmp_path, batch=16)
    script = tmp_path / "killer.py"
    script.write_text(textwrap.dedent(KILLER))
    killed = subprocess.run([sys.executable, str(script)], env=env, cwd=REPO, check=False)
    assert killed.returncode == -signal.SIGKILL
    archive = archive_of(config)
    crashed = archive.read("bom-radar")
    assert crashed.sizes["time"] == 32  # two committed batches, the third is invisible
    zarray = json.loads((archive.path / "bom-radar" / "precipitation" / ".zarray").read_text())
    assert zarray["shape"][0] == 48  # ... although its chunks were written
    before = crashed.values
    rerun = nowcast(env, "ingest", "-p", "bom-radar")
    output = rerun.communicate(timeout=120)[0]
    assert rerun.returncode == 0, output
    assert_whole_day(archive)
    np.testing.assert_array_equal(archive.read("bom-radar").values[:32], before)


def test_sigkill_at_a_random_moment_then_rerun_completes(tmp_path: Path) -> None:
    config, env = bom_setup(tmp_path, batch=4)
    attrs = config.parent / "archive" / "nowcast.zarr" / "bom-radar" / ".zattrs"
    process = nowcast(env, "ingest", "-p", "bom-radar")
    # Waits for the 8th commit, not for a time: on a loaded machine the ingest may need more
    # than a minute to get there (the bound only keeps a hung run from hanging the suite).
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if (
            attrs.is_file()
            and json.loads(attrs.read_text() or "{}").get("nowcast_committed", 0) >= 8
        ):
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    archive = archive_of(config)
    survived = archive.read("bom-radar")
    assert 8 <= survived.sizes["time"] <= 144
    assert np.isfinite(survived.values).all()
    rerun = nowcast(env, "ingest", "-p", "bom-radar", "--since", "2020-10-31T00:00Z")
    output = rerun.communicate(timeout=120)[0]
    assert rerun.returncode == 0, output
    assert_whole_day(archive)
