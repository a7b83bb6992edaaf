"""Ensemble cost: a 20-member, 1 h ensemble on the 64x64 grid of the repository's real BOM
frames (10-min cadence: 6 leads), through `run_forecast` (the path of `nowcast forecast
--ensemble 20` and `--baseline steps`), on `--threads` cores.

Per method (the model's ensemble with the shipped radar checkpoint, pysteps STEPS): median wall
seconds of the forecast itself (`model_seconds`, no I/O) over `--repeats`, the peak of the
arrays numpy allocates during one forecast (tracemalloc) beside the bound the tool enforces
(`ensemble_bytes`, against `ensemble.max_memory_mb`), and the peak resident size of the
process. Target: under 10 s on 2 cores. Merged into `benchmarks/results/cpu.json` under
"ensemble".
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import tracemalloc
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from record import machine_record, merge_results  # noqa: E402 - beside this script

from nowcast.core.threads import pin_threads  # noqa: E402
from nowcast.forecasting.ensemble import ensemble_bytes  # noqa: E402
from nowcast.forecasting.run import ForecastRequest, run_forecast  # noqa: E402
from nowcast.ingest.run import run_ingest  # noqa: E402
from nowcast.settings.config import EnsembleSettings, Settings  # noqa: E402

FRAMES = REPO / "tests" / "data" / "bom-66-20201031"
INIT = pd.Timestamp("2020-10-31T09:30")
TARGET_S = 10.0
METHODS = {"model-ensemble": {}, "steps": {"baseline": "steps"}}


def site(root: Path, members: int) -> Settings:
    """The ten frames ingested into an archive under `root`."""
    incoming = root / "incoming"
    shutil.copytree(FRAMES, incoming, ignore=shutil.ignore_patterns("*.md"))
    text = (REPO / "pipelines" / "bom-radar.toml").read_text()
    pipelines = root / "pipelines"
    pipelines.mkdir()
    (pipelines / "bom-radar.toml").write_text(text.replace("${NOWCAST_BOM_DIR}", str(incoming)))
    settings = Settings.model_validate(
        {
            "archive": str(root / "a.zarr"),
            "pipelines_dir": str(pipelines),
            "pipelines": ["bom-radar"],
            "output": {"forecasts": str(root / "f"), "checkpoints": str(root / "c")},
            "ensemble": EnsembleSettings(members=members).model_dump(),
        }
    )
    run_ingest(settings, ["bom-radar"], since=INIT - pd.Timedelta("30min"), until=INIT)
    return settings


def main() -> int:
    """Time both ensembles, print a table, merge the record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 repeats")
    parser.add_argument("--threads", type=int, default=2, help="cores (torch and pysteps)")
    parser.add_argument("--members", type=int, default=20)
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    pin_threads(args.threads)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as folder:
        settings = site(Path(folder), args.members)
        for method, extra in METHODS.items():
            request = ForecastRequest(pipeline="bom-radar", at=INIT, ensemble=args.members, **extra)
            run_forecast(settings, request)  # warm: imports, checkpoint, FFT plans
            seconds = [run_forecast(settings, request).model_seconds for _ in range(repeats)]
            tracemalloc.start()
            result = run_forecast(settings, request)
            traced = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            steps, ny, nx = (result.dataset.sizes[d] for d in ("lead_time", "y", "x"))
            results[method] = {
                "median_s": round(statistics.median(seconds), 3),
                "seconds": [round(s, 3) for s in seconds],
                "members": args.members,
                "grid": [ny, nx],
                "leads": steps,
                "peak_traced_mb": round(traced / 2**20, 1),
                "bound_mb": round(ensemble_bytes(args.members, steps, ny, nx) / 2**20, 1),
                "under_target": statistics.median(seconds) < TARGET_S,
            }
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for method, row in results.items():
        print(
            f"{method:15s} {row['members']} members x {row['leads']} leads on "
            f"{row['grid'][0]}x{row['grid'][1]}: median {row['median_s']:.2f} s "
            f"(target < {TARGET_S:g} s), numpy peak {row['peak_traced_mb']} MB "
            f"(bound {row['bound_mb']} MB)"
        )
    print(f"process peak RSS {peak_rss_mb:.0f} MB, {args.threads} cores")
    record = {
        **results,
        "threads": args.threads,
        "peak_rss_mb": round(peak_rss_mb),
        **machine_record(),
    }
    merge_results("ensemble", record)
    return 0 if all(r["under_target"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
