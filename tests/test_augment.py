"""Spatial augmentation: a turned or cropped window's target is the turned or cropped target."""

from __future__ import annotations

import pytest
import torch

from nowcast.training.augment import SYMMETRIES, augment_batch, crop, dihedral


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
