"""Radar model speed: one forecast on CPU, 64x64 or 256x256 (`--grid`), under 1 s wanted.

Builds the radar presets (`modernn-radar-small`, and `modernn-radar-guided`, which also runs
pysteps' motion estimate and S-PROG nowcast for its guesses) at the grid (group norm and
convolutions fit any grid) and times `predict` at batch 1 without
autograd, for the shipped 3 in / 6 out (30 min in, 1 h out at 10 min) and 6 in / 12 out (at
5 min). The history is a smooth rain field moving 2 pixels a frame, as radar rain moves, not
noise (motion estimation on noise finds thousands of features and is far slower than on rain).
Prints medians over `--repeats` runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nowcast.models.registry import build_from_config, load_preset  # noqa: E402

PRESETS = ("modernn-radar-small", "modernn-radar-guided")
CASES = ((3, 6), (6, 12))
GRID = 256


def moving_rain(frames: int, grid: int) -> torch.Tensor:
    """(1, frames, 1, grid, grid) model-scale rain cells drifting 2 pixels right per frame."""
    field = gaussian_filter(np.random.default_rng(0).random((grid, grid + 2 * frames)), 8)
    field = np.clip((field - field.mean()) / field.std() * 0.3, 0.0, 1.0).astype(np.float32)
    window = np.stack([field[:, 2 * t : 2 * t + grid] for t in range(frames)])
    return torch.from_numpy(window)[None, :, None]


def median_seconds(
    model: torch.nn.Module, frames_in: int, frames_out: int, repeats: int, grid: int
) -> float:
    """Median wall time of one forecast of `frames_out` frames from `frames_in` frames."""
    history = moving_rain(frames_in, grid)
    times = []
    with torch.inference_mode():
        model.predict(history, frames_out)
        for _ in range(repeats):
            started = time.perf_counter()
            model.predict(history, frames_out)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> int:
    """Time the cases and print one line each; exit 1 when any is 1 s or slower."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per case")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--grid", type=int, default=GRID, help="grid size in pixels")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    worst = 0.0
    for name in PRESETS:
        torch.manual_seed(0)
        preset = load_preset(name)
        size = {"height": args.grid, "width": args.grid}
        model = build_from_config(preset.model.model_copy(update=size))
        model.eval()
        for frames_in, frames_out in CASES:
            seconds = median_seconds(model, frames_in, frames_out, args.repeats, args.grid)
            worst = max(worst, seconds)
            shape = f"{args.grid}x{args.grid}, {frames_in} in {frames_out} out"
            case = f"{shape}, {args.threads} threads"
            print(f"{name}, {case}: {seconds:.3f} s")
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
