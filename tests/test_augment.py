"""Augmentation: a turned, cropped or rain-scaled window's target is its target changed alike."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nowcast.core.errors import ConfigError
from nowcast.models.preset import TrainingRecipe
from nowcast.store.rain import RAIN_RATE_SCALE
from nowcast.store.transform import Transform
from nowcast.training.augment import (
    SYMMETRIES,
    augment_batch,
    augment_draws,
    crop,
    dihedral,
    rain_gain,
)


def test_the_eight_symmetries_are_distinct_and_invertible() -> None:
    frame = torch.arange(16.0).reshape(1, 4, 4)
    images = {tuple(dihedral(frame, k).flatten().tolist()) for k in range(SYMMETRIES)}
    assert len(images) == SYMMETRIES
    assert torch.equal(dihedral(dihedral(frame, 1), 3), frame)
    assert torch.equal(dihedral(dihedral(frame, 5), 5), frame)


@pytest.mark.parametrize("size", [None, 5])
def test_augmented_window_target_is_the_augmented_target(size: int | None) -> None:
    inputs = 3
    batch = torch.rand(4, 6, 1, 8, 8)
    seed = torch.Generator().manual_seed(7)
    augmented = augment_batch(batch, seed, size, flips=True)
    replay = torch.Generator().manual_seed(7)
    for window, original in zip(augmented, batch, strict=True):
        top = left = 0
        if size is not None:
            top = int(torch.randint(8 - size + 1, (1,), generator=replay))
            left = int(torch.randint(8 - size + 1, (1,), generator=replay))
        k = int(torch.randint(SYMMETRIES, (1,), generator=replay))
        expected = dihedral(crop(original, top, left, size or 8), k)
        assert torch.equal(window[inputs:], expected[inputs:])
        assert torch.equal(window[:inputs], expected[:inputs])


def test_crop_larger_than_grid_is_refused() -> None:
    with pytest.raises(ValueError, match="larger"):
        augment_batch(torch.zeros(1, 2, 1, 4, 4), torch.Generator(), 5)


def test_rain_gain_multiplies_every_rain_rate_and_keeps_dry_dry() -> None:
    rates = np.array([0.0, 0.15, 1.0, 8.0, 60.0], dtype=np.float32)
    window = torch.from_numpy(RAIN_RATE_SCALE.to_model(rates)).reshape(1, 1, 1, 5)
    doubled = RAIN_RATE_SCALE.to_physical(rain_gain(window, 2.0, RAIN_RATE_SCALE).numpy())
    np.testing.assert_allclose(doubled.ravel(), [0.0, 0.3, 2.0, 16.0, 100.0], rtol=1e-4)
    halved = RAIN_RATE_SCALE.to_physical(rain_gain(window, 0.5, RAIN_RATE_SCALE).numpy())
    np.testing.assert_allclose(halved.ravel(), [0.0, 0.0, 0.5, 4.0, 30.0], rtol=1e-4)
    with pytest.raises(ConfigError, match="log10"):
        rain_gain(window, 2.0, Transform(kind="linear", vmin=170, vmax=300))


def test_gain_draws_are_one_factor_per_window_within_the_range() -> None:
    draws = augment_draws(64, torch.Generator().manual_seed(3), (8, 8), None, True, (0.5, 2.0))
    factors = [draw[3] for draw in draws]
    assert all(0.5 <= f <= 2.0 for f in factors) and min(factors) < 0.8 < 1.25 < max(factors)
    again = augment_draws(64, torch.Generator().manual_seed(3), (8, 8), None, True, (0.5, 2.0))
    assert draws == again


def test_gain_range_must_be_positive_and_ordered() -> None:
    with pytest.raises(ValueError, match="gain"):
        TrainingRecipe(gain=(2.0, 0.5))
    with pytest.raises(ValueError, match="gain"):
        TrainingRecipe(gain=(0.0, 2.0))
    assert TrainingRecipe(gain=(0.5, 2.0)).gain == (0.5, 2.0)
