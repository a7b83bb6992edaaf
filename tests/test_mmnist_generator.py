"""The Moving MNIST generator: shapes, range, bounce physics, overlap and determinism."""

from __future__ import annotations

import numpy as np

from nowcast.mmnist.data import SequenceSpec, bounce, generate, render, to_unit


def square_digits(count: int, value: int = 255) -> np.ndarray:
    """Digit stand-ins: 28x28 squares of one value."""
    return np.full((count, 28, 28), value, dtype=np.uint8)


def test_shapes_type_and_range() -> None:
    pool = np.random.default_rng(1).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    sequences = generate(pool, 5, np.random.default_rng(0))
    assert sequences.shape == (5, 20, 64, 64) and sequences.dtype == np.uint8
    unit = to_unit(sequences)
    assert unit.dtype == np.float32 and unit.min() >= 0.0 and unit.max() <= 1.0


def test_bounce_on_a_hand_checked_trajectory() -> None:
    # Step 0.1 of the free canvas; clamp at the border and reverse, as the reference code does.
    up = bounce(np.array([0.85]), np.array([1.0]), 5, 0.1)[:, 0]
    assert np.allclose(up, [0.95, 1.0, 0.9, 0.8, 0.7])
    down = bounce(np.array([0.15]), np.array([-1.0]), 4, 0.1)[:, 0]
    assert np.allclose(down, [0.05, 0.0, 0.1, 0.2])
    pixels = (36 * up).astype(int)
    assert pixels.tolist() == [34, 36, 32, 28, 25]


def test_render_places_digits_and_overlaps_by_maximum() -> None:
    digits = np.stack([square_digits(1, 200)[0], square_digits(1, 100)[0]])[None]
    top = np.array([[[0], [10]]])
    left = np.array([[[0], [20]]])
    frame = render(digits, top, left, 64)[0, 0]
    assert frame[0, 0] == 200 and frame[27, 27] == 200
    assert frame[37, 47] == 100 and frame[28, 47] == 100
    assert frame[15, 25] == 200  # overlap: max, not sum
    assert frame[40, 10] == 0 and frame.max() == 200


def test_generated_motion_is_one_step_per_frame() -> None:
    spec = SequenceSpec(digits=1)
    sequence = generate(square_digits(1), 1, np.random.default_rng(3), spec)[0]
    corners = [np.argwhere(frame > 0).min(axis=0) for frame in sequence]
    moves = np.abs(np.diff(np.array(corners), axis=0))
    assert moves.max() <= 4  # 0.1 of the 36-pixel free canvas, truncated to whole pixels
    assert moves.sum() > 0


def test_same_seed_same_sequences() -> None:
    pool = np.random.default_rng(1).integers(0, 256, (50, 28, 28), dtype=np.uint8)
    first = generate(pool, 3, np.random.default_rng(42))
    again = generate(pool, 3, np.random.default_rng(42))
    other = generate(pool, 3, np.random.default_rng(43))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)
