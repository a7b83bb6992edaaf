"""The standard Moving MNIST generator (Srivastava et al., 2015): digits bouncing in a canvas.

Each sequence places `digits` MNIST digits at uniform random positions of the free canvas
(canvas minus digit size), moves each along a uniform random direction by `step_length` of the
free canvas per frame, and at a border clamps the position and reverses that velocity
component, exactly as the reference code does. Positions are recorded after each step and
truncated to whole pixels; overlapping digits combine by pixel-wise maximum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SequenceSpec:
    """Shape of the generated sequences: 20 frames of 64x64 with two digits, by default."""

    frames: int = 20
    size: int = 64
    digits: int = 2
    step_length: float = 0.1


def bounce(start: np.ndarray, velocity: np.ndarray, frames: int, step_length: float) -> np.ndarray:
    """Positions in [0, 1] over `frames` steps from `start` (any shape), bouncing at 0 and 1."""
    position = np.array(start, dtype=np.float64)
    speed = np.array(velocity, dtype=np.float64)
    track = np.empty((frames, *position.shape), dtype=np.float64)
    for frame in range(frames):
        position = position + speed * step_length
        low, high = position <= 0.0, position >= 1.0
        position = np.where(low, 0.0, np.where(high, 1.0, position))
        speed = np.where(low | high, -speed, speed)
        track[frame] = position
    return track


def render(digits: np.ndarray, top: np.ndarray, left: np.ndarray, size: int) -> np.ndarray:
    """Paint `digits[s, k]` at pixel offsets `top/left[s, k, t]`: uint8 `(S, T, size, size)`."""
    count, per_sequence, frames = top.shape
    height, width = digits.shape[-2:]
    canvas = np.zeros((count, frames, size, size), dtype=np.uint8)
    for s in range(count):
        for k in range(per_sequence):
            for t in range(frames):
                y, x = top[s, k, t], left[s, k, t]
                window = canvas[s, t, y : y + height, x : x + width]
                np.maximum(window, digits[s, k], out=window)
    return canvas


def generate(
    pool: np.ndarray, count: int, rng: np.random.Generator, spec: SequenceSpec = SequenceSpec()
) -> np.ndarray:
    """`count` sequences drawn from the digit `pool` (N, h, w uint8): uint8 `(count, T, H, W)`."""
    free = spec.size - pool.shape[-1]
    shape = (count, spec.digits)
    chosen = pool[rng.integers(0, len(pool), size=shape)]
    start = rng.random((2, *shape))
    theta = rng.random(shape) * 2.0 * np.pi
    velocity = np.stack([np.sin(theta), np.cos(theta)])
    track = bounce(start, velocity, spec.frames, spec.step_length)
    pixels = (free * track).astype(np.int64)
    top, left = np.moveaxis(pixels[:, 0], 0, -1), np.moveaxis(pixels[:, 1], 0, -1)
    return render(chosen, top, left, spec.size)


def to_unit(frames: np.ndarray) -> np.ndarray:
    """uint8 frames as float32 in [0, 1]."""
    return frames.astype(np.float32) / np.float32(255.0)
