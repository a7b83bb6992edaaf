"""`nowcast validate --mmnist --compare`: presets trained alike and reported side by side."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import shared_data_path
from typer.testing import CliRunner

from nowcast.cli.app import app

runner = CliRunner()
MODELS = ("modernn-mmnist-small", "convlstm-mmnist-small")
OUTPUTS = ("compare.json", "report.md", "per_frame.png", "samples.png", "curves.png")


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


def test_compare_trains_both_presets_alike_and_reports_them(tmp_path: Path) -> None:
    mnist = shared_data_path("mnist")
    out = tmp_path / "compare"
    args = ["--mmnist", "--compare", *MODELS, "--mnist-dir", str(mnist), "--no-download"]
    args += ["--threads", "1", "--iterations", "3", "--batch-size", "2", "--test-size", "4"]
    result = invoke(tmp_path, *args, "--seed", "3", "--out", str(out))
    # Three iterations beat no floor: the comparison is written, and the exit code says so.
    assert result.exit_code == 5, result.output
    assert "did not pass every check" in result.output and "Traceback" not in result.output
    for name in OUTPUTS:
        assert (out / name).is_file(), name
    record = json.loads((out / "compare.json").read_text())
    assert list(record["models"]) == list(MODELS)
    assert record["seed"] == 3 and record["budget"]["iterations"] == 3
    assert record["repeat_command"].startswith(
        "nowcast validate --mmnist --compare modernn-mmnist-small convlstm-mmnist-small "
        "--budget quick --iterations 3 --batch-size 2 --test-size 4 --seed 3 --threads 1"
    )
    runs = {name: json.loads((out / name / "metrics.json").read_text()) for name in MODELS}
    for name, run in runs.items():
        assert run["model"]["preset"] == name
        assert run["training"]["iterations"] == 3 and run["training"]["batch_size"] == 2
        assert record["models"][name]["mean"] == run["results"]["model"]["mean"]
        assert record["rows"][name] == run["results"]["model"]["mean"]
    # Both models are scored on the same test sequences, so the baselines agree exactly.
    first, second = (runs[name]["results"]["all_zero"]["mean"] for name in MODELS)
    assert first == second == record["baselines"]["all zero"]["mean"]
    # Matched width and depth: ConvLSTM-small has fewer parameters (no detail context blocks).
    sizes = [record["models"][name]["parameters"] for name in MODELS]
    assert sizes[0] == 980_016 and 0 < sizes[1] < sizes[0]
    report = (out / "report.md").read_text()
    assert "## Verdict at this budget" in report and "MoDeRNN (paper)" in report
    assert "ConvLSTM (paper)" in report and "per-frame sums" in report
    mse = [record["models"][name]["mean"]["mse"] for name in MODELS]
    assert f"- MSE: {MODELS[0]} {mse[0]:.1f} vs {MODELS[1]} {mse[1]:.1f}" in report
    assert "convlstm-mmnist-small" in result.output and "all zero" in result.output


def test_a_resumed_compare_reuses_a_model_trained_alone_and_matches_a_fresh_one(
    tmp_path: Path,
) -> None:
    mnist = shared_data_path("mnist")
    common = ["--mmnist", "--mnist-dir", str(mnist), "--no-download", "--threads", "1"]
    common += ["--iterations", "2", "--batch-size", "2", "--test-size", "4", "--seed", "5"]
    fresh, resumed = tmp_path / "fresh", tmp_path / "resumed"
    assert invoke(tmp_path, *common, "--compare", *MODELS, "--out", str(fresh)).exit_code == 5
    # The first model trained on its own (e.g. in a parallel process), into the compare's folder.
    alone = invoke(tmp_path, *common, "--model", MODELS[0], "--out", str(resumed / MODELS[0]))
    assert alone.exit_code == 5, alone.output
    trained_alone = (resumed / MODELS[0] / "training" / "metrics.csv").read_text()
    alone_s = json.loads((resumed / MODELS[0] / "metrics.json").read_text())["training"]["wall_s"]
    result = invoke(tmp_path, *common, "--compare", *MODELS, "--resume", "--out", str(resumed))
    assert result.exit_code == 5, result.output
    assert (resumed / MODELS[0] / "training" / "metrics.csv").read_text() == trained_alone
    record = json.loads((resumed / "compare.json").read_text())
    # The finished model's training time is that of its own run, not the resume's few seconds.
    assert record["models"][MODELS[0]]["training"]["wall_s"] == alone_s
    rows = [json.loads((out / "compare.json").read_text())["rows"] for out in (fresh, resumed)]
    assert rows[0].keys() == rows[1].keys()
    for name in rows[0]:
        for metric, value in rows[0][name].items():
            assert rows[1][name][metric] == pytest.approx(value, rel=1e-6), (name, metric)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--compare", "modernn-mmnist-small"], "at least two model presets, got 1"),
        (["--compare", MODELS[0], "nosuch"], "unknown model preset 'nosuch'; valid presets:"),
        (["--compare", *MODELS, "--model", MODELS[0]], "--model cannot be used with --compare"),
        (["--compare", *MODELS, "--checkpoint", "x"], "--checkpoint cannot be used"),
        (["--compare", MODELS[0], MODELS[0]], "got a model twice"),
        (list(MODELS), "model names as arguments need --compare"),
        (["--budget", "weekly"], "'weekly' is not one of 'quick',"),
        (["--iterations", "0"], "--iterations must be at least 1, got 0"),
    ],
)
def test_bad_compare_or_budget_is_a_usage_error(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = invoke(tmp_path, "--mmnist", *args, "--out", str(tmp_path / "run"))
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()
