"""SIGKILL at each step of an append: plain xarray never sees uncommitted frames; no loss."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import REPO
from test_ingest_faults import archive_of, assert_whole_day, bom_setup, nowcast

from nowcast.ingest.ledger import Ledger

pytestmark = pytest.mark.slow

STEPS = (
    "resize:precipitation",
    "write:precipitation",
    "resize:time",
    "write:time",
    "commit",
    "consolidate",
)
KILLER = """
import os, signal, sys
import zarr
import nowcast.store.archive as archive
import nowcast.store.archive_writing as writing
from nowcast.cli.app import main

STEP = sys.argv[1]
appends = []

def kill_at(step):
    if len(appends) == 3 and step == STEP:  # the third batch: two are committed
        os.kill(os.getpid(), signal.SIGKILL)

def hook(name, original, label):
    def wrapped(self, *args, **kw):
        kill_at(label(self))
        return original(self, *args, **kw)
    setattr(zarr.Array, name, wrapped)

hook("resize", zarr.Array.resize, lambda a: "resize:" + a.basename)
hook("__setitem__", zarr.Array.__setitem__, lambda a: "write:" + a.basename)
append = archive.Archive._append_locked
def counted(self, *args, **kw):
    appends.append(1)
    return append(self, *args, **kw)
archive.Archive._append_locked = counted
commit = archive.Archive._commit
def commit_or_die(self, *args):
    kill_at("commit")
    return commit(self, *args)
archive.Archive._commit = commit_or_die
consolidate = writing.consolidate
def consolidate_or_die(path):
    kill_at("consolidate")
    return consolidate(path)
writing.consolidate = consolidate_or_die
sys.argv = ["nowcast", "ingest", "-p", "bom-radar"]
main()
"""


@pytest.mark.parametrize("step", STEPS)
def test_kill_at_each_append_step_hides_uncommitted_frames(tmp_path: Path, step: str) -> None:
    config, env = bom_setup(tmp_path, batch=16)
    script = tmp_path / "killer.py"
    script.write_text(textwrap.dedent(KILLER))
    killed = subprocess.run([sys.executable, str(script), step], env=env, cwd=REPO, check=False)
    assert killed.returncode == -signal.SIGKILL
    archive = archive_of(config)
    committed = archive.times("bom-radar")
    assert len(committed) == (48 if step == "consolidate" else 32)
    with xr.open_zarr(archive.path, group="bom-radar") as plain:
        seen = pd.DatetimeIndex(plain["time"].values)
        assert not seen.isna().any()
        assert seen.equals(committed[: len(seen)]) and len(seen) >= 32
        assert np.isfinite(plain["precipitation"].values).all()
    rerun = nowcast(env, "ingest", "-p", "bom-radar")
    output = rerun.communicate(timeout=180)[0]
    assert rerun.returncode == 0, output
    assert_whole_day(archive)
    with xr.open_zarr(archive.path, group="bom-radar") as plain:
        assert plain.sizes["time"] == 144
    fetched = {e.time for e in Ledger(archive.path, "bom-radar").entries() if e.status == "fetched"}
    assert len(fetched) == 144


@pytest.mark.parametrize("step", ["write:precipitation", "resize:time", "commit"])
def test_a_kill_while_a_group_is_first_created_leaves_no_group(tmp_path: Path, step: str) -> None:
    """The first batch is laid out beside the store and moved in whole: a kill before that
    leaves plain xarray a store without the group (not one it cannot open); a rerun fills it."""
    config, env = bom_setup(tmp_path, batch=16)
    script = tmp_path / "killer.py"
    first_batch = textwrap.dedent(KILLER).replace("len(appends) == 3", "len(appends) == 1")
    script.write_text(first_batch)
    killed = subprocess.run([sys.executable, str(script), step], env=env, cwd=REPO, check=False)
    assert killed.returncode == -signal.SIGKILL
    store = archive_of(config).path
    assert not (store / "bom-radar").exists()
    with xr.open_zarr(store) as plain:  # the root opens: nothing half-made inside
        assert "precipitation" not in plain
    rerun = nowcast(env, "ingest", "-p", "bom-radar")
    output = rerun.communicate(timeout=180)[0]
    assert rerun.returncode == 0, output
    with xr.open_zarr(store, group="bom-radar") as plain:
        assert plain.sizes["time"] == 144
    leftovers = [p.name for p in store.parent.iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers
