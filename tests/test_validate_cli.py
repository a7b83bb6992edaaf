"""`nowcast validate --mmnist` through the CLI: usage, missing digits, a tiny end-to-end run."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from nowcast.cli.app import app

TEST_DATA = Path(
    os.environ.get("NOWCAST_TEST_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
MNIST = TEST_DATA / "mnist"
needs_mnist = pytest.mark.skipif(
    not (MNIST / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"MNIST test digits not found at {MNIST} (set NOWCAST_TEST_DATA)",
)
OUTPUTS = ("metrics.json", "report.md", "per_frame.png", "samples.png", "curve.png")
runner = CliRunner()


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


def test_without_a_harness_is_a_usage_error(tmp_path: Path) -> None:
    result = invoke(tmp_path)
    assert result.exit_code == 2
    assert "--mmnist" in result.output


def test_missing_mnist_exits_3_naming_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    result = invoke(tmp_path, "--mmnist", "--mnist-dir", str(empty), "--no-download")
    assert result.exit_code == 3
    message = " ".join(result.output.split())
    assert "train-images-idx3-ubyte.gz" in message and str(empty) in message
    assert "Traceback" not in result.output


@needs_mnist
def test_tiny_run_writes_every_output_then_evaluates_its_checkpoint(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = invoke(
        tmp_path,
        "--mmnist",
        "--mnist-dir",
        str(MNIST),
        "--no-download",
        "--threads",
        "1",
        "--iterations",
        "4",
        "--test-size",
        "8",
        "--batch-size",
        "2",
        "--out",
        str(out),
    )
    record = json.loads((out / "metrics.json").read_text())
    # Four iterations cannot beat the floors: the run reports it and exits 5, not 0.
    assert record["checks"]["passes"] is False
    assert "All checks passed: no" in result.output
    assert result.exit_code == 5, result.output
    assert "validation failed" in result.output and "Traceback" not in result.output
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    assert (out / "training" / "last" / "model.safetensors").is_file()
    record = json.loads((out / "metrics.json").read_text())
    assert record["training"]["iterations"] == 4
    # The quick budget's last quarter trains with the SSIM term: iteration 4 of 4 here.
    assert record["training"]["final_loss_from"] == 4
    with (out / "training" / "metrics.csv").open() as handle:
        objectives = [row["objective"] for row in csv.DictReader(handle)]
    assert objectives == ["l1+l2"] * 3 + ["l1+l2+ssim"]
    assert "then l1+l2+ssim" in (out / "report.md").read_text()
    assert record["data"]["test_sequences"] == 8
    assert set(record["results"]) == {"model", "copy_last_frame", "all_zero"}
    assert len(record["results"]["model"]["per_frame"]["mse"]) == 10
    assert "per-frame sums" in record["convention"] and record["code_version"]
    assert "MoDeRNN (paper)" in (out / "report.md").read_text()
    assert "all zero" in result.output

    # A checkpoint scored on a file in the standard layout needs no MNIST digits at all.
    sequences = tmp_path / "mnist_test_seq.npy"
    np.save(sequences, np.random.default_rng(0).integers(0, 256, (20, 4, 64, 64), dtype=np.uint8))
    again = tmp_path / "again"
    result = invoke(
        tmp_path,
        "--mmnist",
        "--no-download",
        "--checkpoint",
        str(out / "training"),
        "--test-file",
        str(sequences),
        "--out",
        str(again),
    )
    record = json.loads((again / "metrics.json").read_text())
    assert result.exit_code == (0 if record["checks"]["passes"] else 5), result.output
    assert record["training"]["stopped_by"] == "loaded checkpoint"
    assert record["model"]["preset"] == "modernn-mmnist-small"
    assert record["data"]["test_sequences"] == 4
