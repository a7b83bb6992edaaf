"""Backfill on Dask: frames/s of `nowcast ingest --since/--until` with 1 and 2 local workers.

The Digital Typhoon pipeline on `--frames` files in the real layout (HDF5, float64, the real
file's gzip level), made from the one real file: `--distinct` rolled images written, the rest
copies of them under later hours (decoding costs the same). Each repeat ingests the whole
period into a fresh archive through `run_ingest` with a `Backfill` (the CLI's code path); runs
with 1 and 2 workers alternate, so a load change hits both, and medians are reported, with the
in-process (no Dask) rate beside them. Cluster start-up is timed apart. The writer's CPU time
per frame (this process) bounds what any number of workers can reach; the projection for the
full archive (189,364 frames) uses it and the workers' frames per CPU-second (a rate that a
shared machine's load changes little), with one core left to the scheduler and writer.
Results are merged into `benchmarks/results/cpu.json` under "backfill".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from record import machine_record, merge_results  # noqa: E402 - beside this script

from nowcast.ingest.backfill import Backfill  # noqa: E402
from nowcast.ingest.run import run_ingest  # noqa: E402
from nowcast.settings.config import Settings  # noqa: E402 - after the path set-up above

FULL_ARCHIVE = 189_364
START = pd.Timestamp("2022-11-11T12:00")


def data_root() -> Path:
    """The shared test data: $NOWCAST_TEST_DATA or ../shared/data beside the repository."""
    return Path(os.environ.get("NOWCAST_TEST_DATA") or REPO.parent / "shared" / "data")


def typhoon_layout(root: Path, real_file: Path, frames: int, distinct: int) -> Path:
    """`frames` hourly files of storm 202224 in the real layout, and its track CSV."""
    storm = root / "image" / "202224"
    storm.mkdir(parents=True)
    with h5py.File(real_file, "r") as handle:
        source = handle["Infrared"]
        values, attrs = source[...], dict(source.attrs)
        chunks, level = source.chunks, source.compression_opts
    times = pd.date_range(START, periods=frames + 1, freq="1h")
    written: list[Path] = []
    for hour in range(frames):
        path = storm / f"{times[hour]:%Y%m%d%H}-202224-HMW8-1.h5"
        if hour < distinct:
            with h5py.File(path, "w") as handle:
                data = handle.create_dataset(
                    "Infrared",
                    data=np.roll(values, (hour * 3, hour * 2), axis=(0, 1)),
                    chunks=chunks,
                    compression="gzip",
                    compression_opts=level,
                )
                data.attrs.update(attrs)
        else:
            shutil.copyfile(written[hour % distinct], path)
        written.append(path)
    rows = ["year,month,day,hour,grade,lat,lng,pressure,wind"]
    for hour, time_ in enumerate(times):
        lat, lon = 20.0 + 0.001 * hour, 135.0 - 0.001 * hour
        rows.append(
            f"{time_.year},{time_.month},{time_.day},{time_.hour},3,{lat:.3f},{lon:.3f},990,50"
        )
    (root / "metadata").mkdir()
    (root / "metadata" / "202224.csv").write_text("\n".join(rows) + "\n")
    return root


def one_run(frames: int, workers: int | None) -> dict[str, float]:
    """Ingest every frame into a fresh archive: wall s, this process's and the workers' CPU s,
    and the cluster's start-up s."""
    backfill = Backfill(workers=workers) if workers else None
    with tempfile.TemporaryDirectory(prefix="nowcast-backfill-") as folder:
        settings = Settings(archive=Path(folder) / "archive.zarr", pipelines_dir=REPO / "pipelines")
        try:
            started = time.perf_counter()
            before: dict[str, float] = {}
            if backfill is not None:
                backfill.client().wait_for_workers(workers, timeout=120)
                before = backfill.client().run(time.process_time)
            ready = time.perf_counter()
            cpu = time.process_time()
            until = START + pd.Timedelta(hours=frames - 1)
            report = run_ingest(settings, ["digital-typhoon"], START, until, backfill=backfill)
            wall, cpu = time.perf_counter() - ready, time.process_time() - cpu
            worker_cpu = 0.0
            if backfill is not None:
                after = backfill.client().run(time.process_time)
                worker_cpu = sum(after[w] - before.get(w, 0.0) for w in after)
        finally:
            if backfill is not None:
                backfill.close()
    fetched = report.pipelines[0].fetched
    if fetched != frames or report.exit_code:
        raise SystemExit(f"backfill failed: {fetched} of {frames}: {report.pipelines[0].errors}")
    return {
        "wall_s": wall,
        "writer_cpu_s": cpu,
        "worker_cpu_s": worker_cpu,
        "startup_s": ready - started,
    }


def main() -> int:
    """Alternate 1- and 2-worker runs (and in-process), print the figures, merge into cpu.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000, help="frames to backfill")
    parser.add_argument("--distinct", type=int, default=48, help="distinct images written")
    parser.add_argument("--repeats", type=int, default=3, help="runs per case")
    args = parser.parse_args()
    real = data_root() / "typhoon" / "digital-typhoon" / "2022111112-202224-HMW8-1.h5"
    if not real.is_file():
        print(f"backfill_bench: {real} not found (set NOWCAST_TEST_DATA); skipped")
        return 0
    runs: dict[str, list[dict[str, float]]] = {"in_process": [], "1_worker": [], "2_workers": []}
    with tempfile.TemporaryDirectory(prefix="nowcast-typhoon-") as folder:
        root = typhoon_layout(Path(folder), real, args.frames, args.distinct)
        os.environ["NOWCAST_DIGITAL_TYPHOON_DIR"] = str(root)
        one_run(min(args.frames, 50), None)  # warm-up: imports, pyproj, page cache
        for repeat in range(args.repeats):
            for case, workers in (("1_worker", 1), ("2_workers", 2), ("in_process", None)):
                runs[case].append(one_run(args.frames, workers))
                print(
                    f"repeat {repeat + 1} {case}: {args.frames / runs[case][-1]['wall_s']:.1f} fps",
                    flush=True,
                )
    cases = {}
    for case, results in runs.items():
        walls = [r["wall_s"] for r in results]
        cases[case] = {
            "fps_median": round(args.frames / statistics.median(walls), 1),
            "fps_all": [round(args.frames / w, 1) for w in walls],
            "writer_cpu_ms_per_frame": round(
                1000 * statistics.median(r["writer_cpu_s"] for r in results) / args.frames, 2
            ),
            "worker_cpu_ms_per_frame": round(
                1000 * statistics.median(r["worker_cpu_s"] for r in results) / args.frames, 2
            ),
            "cluster_startup_s": round(statistics.median(r["startup_s"] for r in results), 2),
        }
    speedup = cases["2_workers"]["fps_median"] / cases["1_worker"]["fps_median"]
    per_core = cases["2_workers"]["fps_median"] / 2
    per_cpu_second = 1000 / cases["2_workers"]["worker_cpu_ms_per_frame"]
    writer_cap = 1000 / cases["2_workers"]["writer_cpu_ms_per_frame"]
    projection = {}
    for name, cores in (("one 32-core node", 31), ("4 nodes x 32 cores", 4 * 32 - 1)):
        rate = min(cores * per_cpu_second, writer_cap)
        projection[name] = {
            "decode_workers": cores,
            "frames_per_s": round(rate, 1),
            "hours": round(FULL_ARCHIVE / rate / 3600, 2),
            "bound": "writer" if rate == writer_cap else "decode",
        }
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results = {
        "unit": "frames/s, Digital Typhoon HDF5 512x512 -> 64x64 frames committed to Zarr",
        "frames": args.frames,
        "cases": cases,
        "speedup_2_vs_1_worker": round(speedup, 2),
        "fps_per_core_2_workers": round(per_core, 1),
        "frames_per_worker_cpu_second": round(per_cpu_second, 1),
        "writer_cap_fps": round(writer_cap, 1),
        "projection_full_archive": projection,
        **machine_record(load),
    }
    print(json.dumps(results, indent=2))
    merge_results("backfill", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
