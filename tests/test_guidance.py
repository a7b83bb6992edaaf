"""Extrapolation-guided MoDeRNN: starts as pysteps extrapolation, learns a correction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nowcast.models import ModelConfig, build_model
from nowcast.models.baselines import extrapolation
from nowcast.models.checkpoint import CheckpointMeta, load_model, save_checkpoint
from nowcast.models.guidance import MODEL_SCALE, step_guesses

GUIDED = ModelConfig(
    hidden=8, num_layers=1, patch=4, dcb_iterations=1, norm="group", guidance="extrapolation"
)


def moving_block(batch: int = 2, frames: int = 9) -> torch.Tensor:
    """A rain block moving 2 pixels right per frame, on the model scale."""
    window = torch.zeros(batch, frames, 1, 32, 32)
    for t in range(frames):
        window[:, t, 0, 10:18, 4 + 2 * t : 12 + 2 * t] = 0.6
    return window


def test_an_untrained_guided_model_forecasts_the_extrapolation() -> None:
    model = build_model(GUIDED.model_copy(update={"height": 32, "width": 32})).eval()
    history = moving_block()[:, :3]
    predicted = model.predict(history, 6)
    expected = extrapolation(history[0, :, 0].numpy(), 6, MODEL_SCALE)
    np.testing.assert_allclose(predicted[0, :, 0].numpy(), expected, atol=1e-6)
    plain = build_model(GUIDED.model_copy(update={"height": 32, "width": 32, "guidance": "none"}))
    assert "extrapolation-guided" in model.summary() and "guided" not in plain.summary()


def test_guesses_are_persistence_while_reading_then_extrapolation() -> None:
    window = moving_block()
    guesses = step_guesses(window, 3)
    assert guesses.shape == (2, 8, 1, 32, 32)
    torch.testing.assert_close(guesses[:, :2], window[:, :2])
    moved = guesses[0, 2:, 0].numpy()
    np.testing.assert_allclose(
        moved, extrapolation(window[0, :3, 0].numpy(), 6, MODEL_SCALE), atol=1e-6
    )
    assert float((guesses[0, 2:, 0] - window[0, 3:, 0]).abs().mean()) < float(
        (window[0, 2:3, 0] - window[0, 3:, 0]).abs().mean()
    )  # extrapolation follows the block better than persistence


def test_training_moves_the_guided_model_away_from_plain_extrapolation() -> None:
    torch.manual_seed(0)
    model = build_model(GUIDED.model_copy(update={"height": 32, "width": 32}))
    window = moving_block()
    output = model(window, 3)
    loss = ((output - window[:, 1:]) ** 2).mean()
    loss.backward()
    assert model.head.weight.grad is not None and model.head.weight.grad.abs().sum() > 0
    assert model.embed.weight.shape[1] == 2 * 16  # frame and guess, each patched 4x4


def test_a_guided_checkpoint_reloads_guided(tmp_path) -> None:  # noqa: ANN001
    model = build_model(GUIDED)
    save_checkpoint(tmp_path / "best", model, CheckpointMeta(model=GUIDED))
    loaded, meta = load_model(tmp_path / "best", torch.device("cpu"))
    assert meta.model.guidance == "extrapolation" and loaded.guided


def test_guidance_needs_a_known_kind() -> None:
    with pytest.raises(ValueError, match="guidance"):
        ModelConfig(guidance="nwp")
