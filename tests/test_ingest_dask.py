"""Backfill on Dask: a local cluster with a worker killed midway, a given scheduler, the rule."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr
from conftest import shared_data_path
from distributed import Client, LocalCluster
from ingest_fixtures import TYPHOON, TYPHOON_FILE, cli, write_settings, write_typhoon_frames

from nowcast.ingest import backfill as backfill_module
from nowcast.ingest.backfill import Backfill
from nowcast.ingest.ledger import Ledger
from nowcast.ingest.run import run_ingest
from nowcast.settings.config import load_settings
from nowcast.store.archive import COMMITTED, Archive

GROUP = "digital-typhoon/202224"
START = pd.Timestamp("2022-11-11T12:00")
# The ingest of the twelve hours from START, as a user types it.
HALF_DAY = (
    "ingest",
    "-p",
    "digital-typhoon",
    "--since",
    "2022-11-11T12:00Z",
    "--until",
    "2022-11-12T00:00Z",
)


def typhoon_setup(tmp_path: Path, repo_root: Path, hours: int) -> tuple[Path, dict[str, str]]:
    """`hours` tiny (64x64) Digital-Typhoon-layout frames and the shipped pipeline cut to fit."""
    root = tmp_path / "digital-typhoon"
    write_typhoon_frames(root, shared_data_path(*TYPHOON, TYPHOON_FILE), "202224", hours, 64)
    shipped = (repo_root / "pipelines" / "digital-typhoon.toml").read_text()
    tiny = shipped.replace("shape = [512, 512]", "shape = [64, 64]")
    tiny = tiny.replace("shape = [64, 64]\n\n[transform]", "shape = [16, 16]\n\n[transform]")
    config = write_settings(tmp_path)
    (tmp_path / "pipelines" / "digital-typhoon.toml").write_text(tiny)
    return config, {"NOWCAST_DIGITAL_TYPHOON_DIR": str(root)}


def stored_times(config: Path) -> np.ndarray:
    """The group's time array in the order the writer stored it (committed part only)."""
    node = zarr.open_group(str(config.parent / "archive" / "nowcast.zarr"), mode="r")[GROUP]
    length = int(node.attrs[COMMITTED])
    return np.asarray(node["time"][:length], dtype=np.int64)


def local_cluster(workers: int) -> LocalCluster:
    """A cluster bound to 127.0.0.1 only, one thread per worker process."""
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )


def test_a_killed_worker_loses_nothing(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hours = 150
    config, env = typhoon_setup(tmp_path, repo_root, hours)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = load_settings(config)
    backfill = Backfill(workers=2)
    killed: list[int] = []

    def kill_one_worker_midway(name: str, done: int, total: int) -> None:
        if done == hours // 3 and not killed:
            pids = backfill.client().run(os.getpid)
            killed.append(sorted(pids.values())[0])
            os.kill(killed[0], signal.SIGKILL)

    try:
        report = run_ingest(
            settings,
            ["digital-typhoon"],
            START,
            START + pd.Timedelta(hours=hours),
            progress=kill_one_worker_midway,
            backfill=backfill,
        )
        alive = set(backfill.client().run(os.getpid).values())
    finally:
        backfill.close()
    assert killed and killed[0] not in alive
    assert report.exit_code == 0 and report.pipelines[0].fetched == hours
    expected = pd.date_range(START, periods=hours, freq="1h").as_unit("ns").asi8
    np.testing.assert_array_equal(stored_times(config), expected)
    archive = Archive(config.parent / "archive" / "nowcast.zarr")
    frames = archive.read(GROUP)
    assert frames.sizes == {"time": hours, "y": 16, "x": 16}
    assert np.isfinite(frames.isel(time=-1).values).all()
    along_track = 20.0 + 0.2 * np.arange(hours)  # the track CSV's latitude, hour by hour
    np.testing.assert_allclose(frames.center_lat.values, along_track, atol=1e-4)
    assert frames.attrs["storm_id"] == "202224"
    statuses = [e.status for e in Ledger(archive.path, "digital-typhoon").entries()]
    assert statuses.count("fetched") == hours


def test_ingest_on_a_given_scheduler(tmp_path: Path, repo_root: Path) -> None:
    config, env = typhoon_setup(tmp_path, repo_root, hours=12)
    with local_cluster(1) as cluster, Client(cluster) as client:
        result = cli(config, *HALF_DAY, "--scheduler", cluster.scheduler_address, env=env)
        decoders = client.run(lambda: sorted(name for name, _ in backfill_module._decoders))
    assert result.exit_code == 0, result.output
    assert list(decoders.values()) == [["digital-typhoon"]]
    expected = pd.date_range(START, periods=12, freq="1h").as_unit("ns").asi8
    np.testing.assert_array_equal(stored_times(config), expected)
    rerun = cli(config, *HALF_DAY, env=env)
    assert rerun.exit_code == 0, rerun.output
    np.testing.assert_array_equal(stored_times(config), expected)


def test_an_unreachable_scheduler_exits_4_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backfill_module, "CONNECT_TIMEOUT_S", 1)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    config = write_settings(tmp_path)
    result = cli(config, "ingest", "-p", "demo", "--scheduler", address)
    assert result.exit_code == 4
    assert f"cannot reach the Dask scheduler at {address}" in result.output
    assert "Traceback" not in result.output


def test_the_scheduler_setting_and_its_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backfill_module, "CONNECT_TIMEOUT_S", 1)
    config = write_settings(tmp_path)
    with config.open("a") as handle:
        handle.write('[backfill]\nscheduler = "tcp://127.0.0.1:9"\n[training]\ncache_mb = 64\n')
    settings = load_settings(config, environ={})
    assert settings.backfill.scheduler == "tcp://127.0.0.1:9" and settings.training.cache_mb == 64
    result = cli(config, "ingest", "-p", "demo")
    assert result.exit_code == 4 and "tcp://127.0.0.1:9" in result.output
    overridden = load_settings(config, environ={"NOWCAST_SCHEDULER": "tcp://10.0.0.1:8786"})
    assert overridden.backfill.scheduler == "tcp://10.0.0.1:8786"
    config.write_text(config.read_text().replace("tcp://127.0.0.1:9", "dask-scheduler"))
    assert cli(config, "config", "check", str(config)).exit_code == 2


def test_live_runs_stay_in_process() -> None:
    assert not Backfill(threshold=256).wants(24)
    assert Backfill(threshold=256).wants(257)
    assert Backfill(workers=1).wants(1)
    assert Backfill(scheduler="tcp://127.0.0.1:8786").wants(1)
    assert not Backfill(workers=1).wants(0)
