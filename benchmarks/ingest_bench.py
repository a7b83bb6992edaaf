"""Ingest throughput: frames per second from 512x512 files on disk into the archive at 64x64.

Two cases through the shipped pipelines and `run_ingest` (the code path of `nowcast ingest`):
- `bom_netcdf`: the BOM Rainfields day, 144 NetCDF files (int16, zlib) -> 64x64 block mean;
- `digital_typhoon_h5`: Digital Typhoon HDF5 frames (float64, gzip 9) in the archive layout,
  made from the one real file -> 64x64 block mean, one storm group.
Each case runs once cold (pyproj and readers initialise), then `--repeats` times warm into
fresh archives; the median warm wall-clock rate is the headline, with frames per CPU-second
beside it (what one idle core would do, whatever else the machine runs). Results are merged into
`benchmarks/results/cpu.json` under "ingest" (other benchmarks write other keys there).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from record import CPU_RESULTS, machine_record, merge_results  # noqa: E402 - beside this script

from nowcast.ingest.run import run_ingest  # noqa: E402
from nowcast.settings.config import Settings  # noqa: E402 - after the path set-up above

TARGET_FPS = 100.0


def data_root() -> Path:
    """The shared test data: $NOWCAST_TEST_DATA or ../shared/data beside the repository."""
    return Path(os.environ.get("NOWCAST_TEST_DATA") or REPO.parent / "shared" / "data")


def typhoon_layout(root: Path, real_file: Path, frames: int) -> Path:
    """`frames` hourly Digital Typhoon files in the real layout, made from the real one."""
    storm = root / "image" / "202224"
    storm.mkdir(parents=True)
    with h5py.File(real_file, "r") as handle:
        source = handle["Infrared"]
        values, attrs, chunks = source[...], dict(source.attrs), source.chunks
    start = np.datetime64("2022-11-11T12")
    for hour in range(frames):
        stamp = (start + np.timedelta64(hour, "h")).astype(object).strftime("%Y%m%d%H")
        with h5py.File(storm / f"{stamp}-202224-HMW8-1.h5", "w") as handle:
            data = handle.create_dataset(
                "Infrared",
                data=np.roll(values, hour, axis=1),
                chunks=chunks,
                compression="gzip",
                compression_opts=9,
            )
            data.attrs.update(attrs)
    return root


def measure(pipeline: str, env: dict[str, str], repeats: int) -> dict[str, float]:
    """Cold and warm (median of `repeats`) frames/s of one pipeline into fresh archives."""
    os.environ.update(env)
    rates, cpu_rates = [], []
    frames = 0
    for _ in range(repeats + 1):
        with tempfile.TemporaryDirectory(prefix="nowcast-bench-") as folder:
            settings = Settings(
                archive=Path(folder) / "archive.zarr", pipelines_dir=REPO / "pipelines"
            )
            start, cpu_start = time.perf_counter(), time.process_time()
            report = run_ingest(settings, [pipeline])
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        frames = report.pipelines[0].fetched
        if frames == 0 or report.exit_code:
            raise SystemExit(f"{pipeline}: ingest failed: {report.pipelines[0].errors}")
        rates.append(frames / elapsed)
        cpu_rates.append(frames / cpu)
    return {
        "frames": frames,
        "cold_fps": round(rates[0], 1),
        "warm_fps_median": round(statistics.median(rates[1:]), 1),
        "warm_fps_all": [round(rate, 1) for rate in rates[1:]],
        "warm_frames_per_cpu_second": round(statistics.median(cpu_rates[1:]), 1),
    }


def main() -> int:
    """Run both cases, print frames/s, merge the numbers into cpu.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="warm runs per case")
    parser.add_argument("--typhoon-frames", type=int, default=144, help="HDF5 frames to make")
    args, _ = parser.parse_known_args()
    data = data_root()
    bom = data / "radar" / "bom-prcp-c10-66-20201031"
    real = data / "typhoon" / "digital-typhoon" / "2022111112-202224-HMW8-1.h5"
    if not bom.is_dir() or not real.is_file():
        print(f"ingest_bench: test data not found under {data} (set NOWCAST_TEST_DATA); skipped")
        return 0
    cases = {}
    cases["bom_netcdf"] = measure("bom-radar", {"NOWCAST_BOM_DIR": str(bom)}, args.repeats)
    with tempfile.TemporaryDirectory(prefix="nowcast-typhoon-") as folder:
        root = typhoon_layout(Path(folder), real, args.typhoon_frames)
        env = {"NOWCAST_DIGITAL_TYPHOON_DIR": str(root)}
        cases["digital_typhoon_h5"] = measure("digital-typhoon", env, args.repeats)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    results = {
        "unit": "frames/s, 512x512 files on disk -> 64x64 frames committed to the Zarr archive",
        "target_fps": TARGET_FPS,
        "cases": cases,
        "python": platform.python_version(),
        **machine_record(load),
    }
    for name, case in cases.items():
        verdict = "ok" if case["warm_fps_median"] >= TARGET_FPS else "below target"
        print(
            f"ingest {name}: {case['warm_fps_median']:.0f} frames/s warm (median of "
            f"{args.repeats}), {case['cold_fps']:.0f} cold, "
            f"{case['warm_frames_per_cpu_second']:.0f} per CPU-second, {case['frames']} frames "
            f"[target {TARGET_FPS:.0f}: {verdict}; 1-min load {load:.1f} on {os.cpu_count()} CPUs]"
        )
    merge_results("ingest", results)
    print(f"ingest_bench: results merged into {CPU_RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
