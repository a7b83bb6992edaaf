"""Training engine: learning, scheduled sampling, checkpoints, bit-identical resume."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from synthetic_squares import moving_squares

import nowcast
from nowcast.core.errors import ConfigError, DataMissingError
from nowcast.core.metrics import ssim_per_frame
from nowcast.models import ModelConfig, SequenceConfig, TrainingRecipe, build_model
from nowcast.models.checkpoint import (
    CheckpointMeta,
    CheckpointMismatchError,
    load_model,
    load_weights,
    save_checkpoint,
)
from nowcast.models.device import resolve_device
from nowcast.training import ScheduledSampler, Trainer, engine, sequence_loss
from nowcast.training.ssim import ssim

TINY = ModelConfig(hidden=8, num_layers=1, patch=2, height=16, width=16, norm="group")
SEQUENCE = SequenceConfig(input_frames=4, output_frames=4)


def _trainer(out_dir: Path, seed: int = 0, **recipe: object) -> Trainer:
    """A CPU trainer for the tiny model, its weights initialised from `seed`."""
    torch.manual_seed(seed)
    settings = {"lr": 1e-2, "batch_size": 4, "iterations": 12, **recipe}
    return Trainer(
        build_model(TINY),
        TrainingRecipe(**settings),
        out_dir,
        "cpu",
        sequence=SEQUENCE,
        preset_name="tiny",
        normalisation={"offset": 0.0, "scale": 1.0},
        extra={"split": "unit-test"},
        progress=False,
    )


def test_sampler_decays_linearly_then_stops() -> None:
    sampler = ScheduledSampler(total_iterations=100, stop_fraction=0.5, seed=0)
    assert [sampler.probability(i) for i in (0, 25, 50, 90)] == [1.0, 0.5, 0.0, 0.0]
    assert torch.equal(sampler.mask(0, 3, 4), torch.ones(3, 4))
    assert sampler.mask(50, 3, 4) is None
    state = sampler.state_dict()
    first = sampler.mask(25, 64, 9)
    sampler.load_state_dict(state)
    assert torch.equal(sampler.mask(25, 64, 9), first)
    assert 0.3 < first.mean().item() < 0.7


def test_loss_is_l1_plus_l2() -> None:
    prediction, target = torch.full((1, 2, 1, 2, 2), 0.5), torch.zeros(1, 2, 1, 2, 2)
    assert sequence_loss(prediction, target).item() == pytest.approx(0.5 + 0.25)
    assert sequence_loss(prediction, target, "l2").item() == pytest.approx(0.25)


def test_ssim_loss_matches_skimage_and_adds_one_minus_ssim() -> None:
    """The training SSIM is the harness's skimage SSIM, so the objective and the score agree."""
    rng = np.random.default_rng(0)
    target = rng.random((2, 3, 1, 64, 64))
    prediction = np.clip(target + 0.2 * rng.standard_normal(target.shape), 0, 1)
    prediction[0, 0] = 0.0
    expected = ssim_per_frame(prediction, target).mean()
    pred_t, target_t = torch.from_numpy(prediction), torch.from_numpy(target)
    assert ssim(pred_t, target_t).item() == pytest.approx(expected, abs=1e-5)
    combined = sequence_loss(pred_t, target_t, "l1+l2+ssim").item()
    assert combined == pytest.approx(
        sequence_loss(pred_t, target_t).item() + 1 - expected, abs=1e-5
    )
    assert sequence_loss(target_t, target_t, "l1+l2+ssim").item() == pytest.approx(0, abs=1e-6)


def test_unknown_or_repeated_loss_terms_are_refused() -> None:
    frames = torch.zeros(1, 2, 1, 8, 8)
    for kind in ("l3", "l1+l1", ""):
        with pytest.raises(ValueError, match="unknown loss"):
            sequence_loss(frames, frames, kind)


def test_final_loss_takes_over_for_the_last_fraction(tmp_path: Path, monkeypatch) -> None:
    kinds: list[str] = []

    def recording(
        prediction: torch.Tensor,
        target: torch.Tensor,
        kind: str,
        valid: torch.Tensor | None,
        weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        kinds.append(kind)
        assert valid is None  # moving squares have data everywhere
        return sequence_loss(prediction, target, kind, valid, weights)

    monkeypatch.setattr(engine, "sequence_loss", recording)
    trainer = _trainer(tmp_path, iterations=8, final_loss="l1+l2+ssim", final_fraction=0.25)
    result = trainer.fit(moving_squares(4, 8), every=4)
    assert kinds == ["l1+l2"] * 6 + ["l1+l2+ssim"] * 2
    with (tmp_path / "metrics.csv").open() as handle:
        assert [row["objective"] for row in csv.DictReader(handle)] == kinds
    assert all(math.isfinite(loss) for loss in result.losses)


def test_training_drives_the_loss_down(tmp_path: Path) -> None:
    """150 steps on bouncing squares: well below the first loss and the blank-frame baseline."""
    source = moving_squares(8, 8, square=6, speed=1.0)
    batch = source(0, torch.Generator().manual_seed(0))
    blank = sequence_loss(torch.zeros_like(batch[:, 1:]), batch[:, 1:]).item()
    result = _trainer(tmp_path, batch_size=8, iterations=150).fit(source, every=75)
    final = sum(result.losses[-20:]) / 20
    assert final / result.losses[0] < 0.5
    assert final < 0.6 * blank
    with (tmp_path / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 150 and rows[-1]["iteration"] == "150" and float(rows[0]["lr"]) == 1e-2
    assert float(rows[-1]["lr"]) < 1e-3 and float(rows[-1]["teacher_prob"]) == 0.0


def test_resume_after_kill_is_bit_identical(tmp_path: Path) -> None:
    source = moving_squares(4, 8)

    def killed_at_six(iteration: int, generator: torch.Generator) -> torch.Tensor:
        if iteration == 6:
            raise KeyboardInterrupt("simulated kill")
        return source(iteration, generator)

    options = {"reverse_augment": True, "sampling_stop": 0.75}
    uninterrupted = _trainer(tmp_path / "full", **options)
    expected = uninterrupted.fit(source, every=4)
    with pytest.raises(KeyboardInterrupt):
        _trainer(tmp_path / "run", **options).fit(killed_at_six, every=4)
    assert load_file(str(tmp_path / "run" / "last" / "model.safetensors"))
    first_session = [float(r["elapsed_s"]) for r in _metric_rows(tmp_path / "run")]
    resumed_trainer = _trainer(tmp_path / "run", seed=123, **options)
    resumed = resumed_trainer.fit(source, every=4, resume=True)
    assert resumed.iteration == expected.iteration == 12
    assert resumed.losses == expected.losses
    # The elapsed training time goes on from the kept rows (iterations 1-4), not from zero.
    elapsed = [float(r["elapsed_s"]) for r in _metric_rows(tmp_path / "run")]
    assert elapsed[:4] == first_session[:4] and elapsed == sorted(elapsed)
    assert resumed.seconds >= elapsed[-1] > first_session[3]
    resumed_weights = resumed_trainer.model.state_dict()
    for name, weight in uninterrupted.model.state_dict().items():
        assert torch.equal(weight, resumed_weights[name]), name
    with pytest.raises(ConfigError, match="same number of iterations"):
        _trainer(tmp_path / "run", **options).fit(source, 20, resume=True)


def _metric_rows(run: Path) -> list[dict[str, str]]:
    """The rows of a run folder's metrics.csv."""
    with (run / "metrics.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_checkpoint_files_sidecar_and_load_model(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, iterations=4)
    trainer.fit(moving_squares(4, 8), validate=lambda model: 1.0, every=2)
    last, best = tmp_path / "last", tmp_path / "best"
    assert sorted(p.name for p in last.iterdir()) == [
        "model.json",
        "model.safetensors",
        "training_state.pt",
    ]
    assert sorted(p.name for p in best.iterdir()) == ["model.json", "model.safetensors"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    sidecar = json.loads((last / "model.json").read_text())
    assert sidecar["model"] == TINY.model_dump() and sidecar["preset"] == "tiny"
    assert sidecar["normalisation"] == {"offset": 0.0, "scale": 1.0}
    assert sidecar["extra"] == {"split": "unit-test"} and sidecar["iteration"] == 4
    assert sidecar["code_version"] == nowcast.__version__ and sidecar["metrics"]["val"] == 1.0
    state = torch.load(last / "training_state.pt", weights_only=True)
    assert isinstance(state["torch_rng"], torch.Tensor) and state["iteration"] == 4
    frames = torch.rand(1, 8, 1, 16, 16)
    for where in (last, last / "model.safetensors", tmp_path):
        model, meta = load_model(where, "cpu")
        assert meta.iteration == (4 if where != tmp_path else 2)
    model, _ = load_model(last)
    with torch.no_grad():
        torch.testing.assert_close(model(frames, 4), trainer.model.eval()(frames, 4))


def test_mismatched_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    model = build_model(TINY)
    save_checkpoint(tmp_path / "ckpt", model, CheckpointMeta(model=TINY))
    other = build_model(TINY.model_copy(update={"hidden": 4}))
    with pytest.raises(CheckpointMismatchError, match="hidden: model 4, checkpoint 8"):
        load_weights(other, tmp_path / "ckpt")
    with pytest.raises(DataMissingError, match="no checkpoint"):
        load_model(tmp_path / "missing")


def test_interrupted_swap_falls_back_to_previous_checkpoint(tmp_path: Path) -> None:
    model = build_model(TINY)
    save_checkpoint(tmp_path / "last", model, CheckpointMeta(model=TINY, iteration=7))
    (tmp_path / "last").rename(tmp_path / "last.old")
    _, meta = load_model(tmp_path / "last")
    assert meta.iteration == 7
    save_checkpoint(tmp_path / "last", model, CheckpointMeta(model=TINY, iteration=8))
    assert load_model(tmp_path / "last")[1].iteration == 8


def test_early_stopping_keeps_the_best(tmp_path: Path) -> None:
    scores = iter([3.0, 1.0, 2.0, 2.5, 0.1])
    result = _trainer(tmp_path, iterations=10).fit(
        moving_squares(4, 8), validate=lambda model: next(scores), every=2, patience=2
    )
    assert result.stopped_early and result.iteration == 8
    assert result.best_metric == 1.0 and result.best_iteration == 4
    assert load_model(tmp_path / "best")[1].iteration == 4


def test_iterable_source_and_shape_check(tmp_path: Path) -> None:
    batches = [moving_squares(4, 8)(i, torch.Generator().manual_seed(i)) for i in range(3)]
    assert _trainer(tmp_path / "a", iterations=5).fit(batches, every=5).iteration == 5
    assert _trainer(tmp_path / "b", iterations=5).fit(iter(batches), every=5).iteration == 3
    with pytest.raises(ConfigError, match="batches must be"):
        _trainer(tmp_path / "c").fit([torch.rand(4, 6, 1, 16, 16)])


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_with_bf16(tmp_path: Path) -> None:
    torch.manual_seed(0)
    trainer = Trainer(
        build_model(TINY),
        TrainingRecipe(batch_size=4, iterations=3),
        tmp_path,
        "cuda",
        sequence=SEQUENCE,
        amp=True,
        progress=False,
    )
    result = trainer.fit(moving_squares(4, 8), every=3)
    assert all(torch.isfinite(torch.tensor(result.losses)))
