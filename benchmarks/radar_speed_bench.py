"""Shipped radar model speed: one 256x256 forecast on CPU (issue #21 asks for under 1 s).

Builds the `modernn-radar-small` preset at 256x256 (its weights fit any grid: group norm, a
convolutional network) and times `predict` at batch 1 without autograd, for bom-radar's 8 in /
4 out and the short radar pipelines' 6 in / 12 out. Prints medians over `--repeats` runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nowcast.models.registry import build_from_config, load_preset  # noqa: E402


def median_seconds(model: torch.nn.Module, frames_in: int, frames_out: int, repeats: int) -> float:
    """Median wall time of one forecast of `frames_out` frames from `frames_in` random frames."""
    history = torch.rand(1, frames_in, 1, 256, 256)
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
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    preset = load_preset("modernn-radar-small")
    torch.manual_seed(0)
    model = build_from_config(preset.model.model_copy(update={"height": 256, "width": 256}))
    model.eval()
    worst = 0.0
    for frames_in, frames_out in ((8, 4), (6, 12)):
        seconds = median_seconds(model, frames_in, frames_out, args.repeats)
        worst = max(worst, seconds)
        print(f"256x256, {frames_in} in {frames_out} out, {args.threads} threads: {seconds:.3f} s")
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
