"""Training memory: peak RSS of a run reading a synthetic archive through the bounded cache.

Writes a `--frames` synthetic archive (64x64 float32 squares, 10-minute cadence), then trains
`--iterations` steps of a small MoDeRNN (batch 8, 8 in + 4 out), validating and checkpointing
three times, in a fresh process twice: `model`, on batches already in memory (the model's own
memory: torch, weights, activations, optimiser, the validation compute), and `archive`, on
random windows of the compact window index read through `WindowReader` with `--cache-mb`, in the
training process, validating on 64 windows spread over the archive as `nowcast train` does. Both
children import the same modules, then record their baseline RSS (interpreter, torch, nowcast,
before any model or data); each peak is the child's peak RSS (`ru_maxrss`), and each child also
records the two parts of its RSS at the end, anonymous memory and mapped library files. The
target: archive peak <= model peak + cache bound, which is archive peak - baseline <= (model
peak - baseline) + bound while the two baselines agree; both baselines are recorded to show that
they do. With `--repeats N` the pair runs N times, one after the other; the figures say in how
many pairs the target held and whether it holds between the medians of the two peaks (each peak
moves by a few MB between runs of the same code). Results go to `benchmarks/results/cpu.json`
under "train_memory".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]  # the package, and test-only helpers

from record import machine_record, merge_results  # noqa: E402 - beside this script

SIZE = 64
BATCH = 8


def child(mode: str, archive_path: Path, cache_mb: float, iterations: int) -> None:
    """One training run; prints peak RSS (MB) and what the reader did, as JSON."""
    import torch
    from synthetic_squares import CADENCE

    from nowcast.models import ModelConfig, SequenceConfig, TrainingRecipe, build_model
    from nowcast.store.archive import Archive
    from nowcast.store.zarr_threads import read_threads
    from nowcast.training import Trainer
    from nowcast.training.run import EVAL_WINDOWS, validation_loss
    from nowcast.training.windows import TrainingBatches, WindowReader, WindowSpec, find_windows

    baseline = current_rss_mb()
    torch.set_num_threads(1)
    spec = WindowSpec(8, 4, CADENCE)
    model = build_model(ModelConfig(hidden=16, num_layers=2, patch=4, height=SIZE, width=SIZE))
    recipe = TrainingRecipe(lr=1e-3, batch_size=BATCH, iterations=iterations)
    sequence = SequenceConfig(input_frames=8, output_frames=4)
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(model, recipe, out, "cpu", sequence=sequence, progress=False)
        reader = None
        if mode == "model":
            fixed = torch.rand(BATCH, 12, 1, SIZE, SIZE)
            source = lambda iteration, generator: fixed  # noqa: E731 - the in-memory case
            validate = in_memory_validation(fixed, spec, EVAL_WINDOWS // BATCH)
        else:
            archive = Archive(archive_path)
            reader = WindowReader(archive, spec, cache_mb)
            windows = find_windows(archive, ["squares"], spec)
            source = TrainingBatches(reader, windows, BATCH)
            validate = validation_loss(reader, windows, spec)
        started = time.perf_counter()
        trainer.fit(source, iterations, every=max(1, iterations // 3), validate=validate)
        wall = time.perf_counter() - started
    record = {
        "baseline_rss_mb": baseline,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "end_rss_anon_mb": status_mb("RssAnon"),
        "end_rss_file_mb": status_mb("RssFile"),
        "wall_s": round(wall, 1),
    }
    if reader is not None:
        record.update(
            cache_mb=round(reader.cache.nbytes / 2**20, 1),
            cache_limit_mb=round(reader.cache.limit_bytes / 2**20, 2),
            read_threads=read_threads(),
            cache_hits=reader.cache.hits,
            cache_misses=reader.cache.misses,
            windows_read=reader.reads,
        )
    print(json.dumps(record))


def in_memory_validation(batch: Any, spec: Any, runs: int) -> Callable[[Any], float]:
    """The model-only run's validator: the archive run's validation compute (`runs` batches of
    the `spec`'s frames in and out) on the batch it already holds."""

    def score(model: Any) -> float:
        error = 0.0
        for _ in range(runs):
            predicted = model.predict(batch[:, : spec.input_frames], spec.output_frames)
            error += float(((predicted - batch[:, spec.input_frames :]) ** 2).mean())
        return error / runs

    return score


def status_mb(field: str) -> float:
    """One memory field of this process now (MB), from /proc/self/status (Linux): `VmRSS`, or
    its parts `RssAnon` (heap, arrays, tensors) and `RssFile` (pages of mapped library files)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no {field} in /proc/self/status")


def current_rss_mb() -> float:
    """This process's resident memory now (MB)."""
    return status_mb("VmRSS")


def run_child(mode: str, archive: Path, cache_mb: float, iterations: int) -> dict:
    """`child` in a fresh interpreter, so each peak is its own."""
    command = [sys.executable, __file__, "--child", mode, "--archive", str(archive)]
    command += ["--cache-mb", str(cache_mb), "--iterations", str(iterations)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800)
    if done.returncode:
        raise SystemExit(f"{mode} run failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def pair(archive: Path, cache_mb: float, iterations: int) -> dict:
    """The model-only run, then the archive run, and how far the second exceeds the first."""
    model = run_child("model", archive, cache_mb, iterations)
    reading = run_child("archive", archive, cache_mb, iterations)
    extra = reading["peak_rss_mb"] - model["peak_rss_mb"]
    return {
        "model_only": model,
        "from_archive": reading,
        "model_own_mb": round(model["peak_rss_mb"] - model["baseline_rss_mb"], 1),
        "extra_over_model_mb": round(extra, 1),
        "extra_beyond_cache_mb": round(extra - cache_mb, 1),
        "within_bound": extra <= cache_mb,
    }


def main() -> int:
    """Write the archive, run both cases, print and merge the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--cache-mb", type=float, default=32.0)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=1, help="model/archive pairs to run")
    parser.add_argument("--child", choices=("model", "archive"))
    parser.add_argument("--archive", type=Path)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.archive, args.cache_mb, args.iterations)
        return 0
    from synthetic_squares import write_squares_archive

    with tempfile.TemporaryDirectory(prefix="nowcast-train-memory-") as folder:
        path = Path(folder) / "archive.zarr"
        started = time.perf_counter()
        write_squares_archive(path, args.frames, SIZE)
        written = time.perf_counter() - started
        runs = [pair(path, args.cache_mb, args.iterations) for _ in range(args.repeats)]
    model_median = round(statistics.median(run["model_only"]["peak_rss_mb"] for run in runs), 2)
    archive_median = round(statistics.median(run["from_archive"]["peak_rss_mb"] for run in runs), 2)
    results = {
        "frames": args.frames,
        "grid": f"{SIZE}x{SIZE} float32",
        "iterations": args.iterations,
        "batch": BATCH,
        "cache_bound_mb": args.cache_mb,
        "whole_group_mb": round(args.frames * SIZE * SIZE * 4 / 2**20, 1),
        "archive_write_s": round(written, 1),
        "runs": runs,
        "pairs_within_bound": sum(run["within_bound"] for run in runs),
        "pair_extra_beyond_cache_mb_max": max(run["extra_beyond_cache_mb"] for run in runs),
        "model_peak_median_mb": model_median,
        "archive_peak_median_mb": archive_median,
        "extra_beyond_cache_at_medians_mb": round(archive_median - model_median - args.cache_mb, 2),
        "within_bound_at_medians": archive_median <= model_median + args.cache_mb,
        **machine_record(),
    }
    print(json.dumps(results, indent=2))
    merge_results("train_memory", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
