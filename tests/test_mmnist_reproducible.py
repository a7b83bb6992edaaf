"""A Moving MNIST budget is iterations, batch and seed: the same command gives the same run,
however busy the machine, and a time limit fails the run instead of shortening it."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import shared_data_path
from typer.testing import CliRunner

from nowcast.cli.app import app

runner = CliRunner()
# A busy loop that ends by itself even if the test dies before killing it.
HOG = "import time\nend = time.monotonic() + 300\nwhile time.monotonic() < end:\n    pass\n"


@pytest.fixture(autouse=True)
def torch_threads() -> Iterator[None]:
    """`--threads` sets a process-wide torch setting; put it back for the other tests."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def invoke(tmp_path: Path, *args: str):  # noqa: ANN201 - CliRunner Result
    """Run `nowcast validate` in-process with an empty cache and no config file."""
    env = {"NOWCAST_CONFIG": "", "NOWCAST_DEVICE": "", "NOWCAST_CACHE": str(tmp_path / "cache")}
    return runner.invoke(app, ["validate", *args], env=env)


def with_out(command: str, out: Path) -> list[str]:
    """The arguments after `nowcast validate` of a recorded command, writing to `out`."""
    args = shlex.split(command)[2:]
    args[args.index("--out") + 1] = str(out)
    return args


def test_recorded_command_repeats_the_run_under_cpu_load(tmp_path: Path) -> None:
    mnist = shared_data_path("mnist")
    first = tmp_path / "first"
    args = ["--mmnist", "--mnist-dir", str(mnist), "--no-download", "--threads", "1"]
    args += ["--iterations", "3", "--batch-size", "2", "--test-size", "4", "--seed", "7"]
    result = invoke(tmp_path, *args, "--out", str(first))
    assert result.exit_code == 5, result.output
    before = json.loads((first / "metrics.json").read_text())
    command = before["repeat_command"]
    assert "--iterations 3" in command and "--seed 7" in command and "--threads 1" in command

    hog = subprocess.Popen([sys.executable, "-c", HOG])
    try:
        again = tmp_path / "again"
        result = invoke(tmp_path, *with_out(command, again))
    finally:
        hog.kill()
        hog.wait()
    assert result.exit_code == 5, result.output
    after = json.loads((again / "metrics.json").read_text())
    assert after["training"]["iterations"] == before["training"]["iterations"] == 3
    assert after["training"]["stopped_by"] == "iteration count"
    assert after["repeat_command"] == command.replace(str(first), str(again))
    for key in ("model", "copy_last_frame", "all_zero"):
        for metric, value in before["results"][key]["mean"].items():
            assert after["results"][key]["mean"][metric] == pytest.approx(value, rel=1e-6)
    assert "tested: relative difference below 1e-6" in after["reproducibility"]


def test_time_limit_fails_the_run_instead_of_shortening_it(tmp_path: Path) -> None:
    mnist = shared_data_path("mnist")
    out = tmp_path / "run"
    args = ["--mmnist", "--mnist-dir", str(mnist), "--no-download", "--threads", "1"]
    args += ["--iterations", "100000", "--batch-size", "1", "--test-size", "2"]
    result = invoke(tmp_path, *args, "--time-limit", "1", "--out", str(out))
    assert result.exit_code == 5, result.output
    message = " ".join(result.output.split())
    assert "reached the --time-limit of 1 s after" in message
    assert "of 100,000 iterations; nothing was scored" in message
    assert "Traceback" not in result.output
    assert not (out / "metrics.json").exists()
    assert (out / "training" / "last").is_dir()
