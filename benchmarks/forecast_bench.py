"""Forecast latency (model time apart from I/O) and forecast-to-map wall time, on this CPU.

Cases, each through `run_forecast` (the code path of `nowcast forecast`) on an archive of the
built-in synthetic typhoon with an untrained `modernn-typhoon` checkpoint (weights do not change
the time):
- 64x64, 8 hourly frames in -> 4 out (the operational preset);
- 64x64, 48 frames in -> 24 out (the 10-minute radar shape: the same model, more steps);
- 256x256, 8 -> 4 (group norm runs on any grid).
Forecast-to-map is `run_forecast` plus `render_forecast` (PNG + GIF) for the 64x64 case.
Medians over `--repeats`; merged into `benchmarks/results/cpu.json` under "forecast".
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from record import machine_record, merge_results  # noqa: E402 - beside this script

from nowcast.core.threads import pin_threads  # noqa: E402
from nowcast.forecasting.run import ForecastRequest, run_forecast  # noqa: E402
from nowcast.ingest.run import run_ingest  # noqa: E402
from nowcast.models.checkpoint import CheckpointMeta, checkpoint_folder, save_checkpoint  # noqa: E402
from nowcast.models.preset import SequenceConfig  # noqa: E402
from nowcast.models.registry import build_from_config, load_preset  # noqa: E402
from nowcast.products.render import render_forecast  # noqa: E402
from nowcast.settings.config import Settings  # noqa: E402 - after the path set-up above

TARGET_MAP_S = 10.0


def site(root: Path, pixels: int, frames_in: int, frames_out: int, cadence: str) -> Settings:
    """An archive of the demo typhoon on a `pixels` grid and a checkpoint for its window."""
    pipelines = root / "pipelines"
    pipelines.mkdir(parents=True)
    text = (REPO / "pipelines" / "demo.toml").read_text()
    history = pd.Timedelta(cadence) * frames_in
    horizon = pd.Timedelta(cadence) * frames_out
    text = text.replace("shape = [64, 64]", f"shape = [{pixels}, {pixels}]")
    text = text.replace("pixels = 128", f"pixels = {max(128, pixels)}")
    text = text.replace("shape = [128, 128]", f"shape = [{max(128, pixels)}, {max(128, pixels)}]")
    text = text.replace('cadence = "1h"', f'cadence = "{cadence}"')
    text = text.replace('history = "8h"', f'history = "{history.isoformat()}"')
    text = text.replace('horizon = "4h"', f'horizon = "{horizon.isoformat()}"')
    (pipelines / "demo.toml").write_text(text)
    settings = Settings.model_validate(
        {
            "archive": str(root / "a.zarr"),
            "pipelines_dir": str(pipelines),
            "device": "cpu",
            "output": {
                "forecasts": str(root / "f"),
                "products": str(root / "p"),
                "checkpoints": str(root / "c"),
            },
        }
    )
    end = pd.Timestamp("2024-09-02T00:00")
    run_ingest(settings, ["demo"], since=end - history - pd.Timedelta(cadence), until=end)
    preset = load_preset("modernn-typhoon")
    model = build_from_config(preset.model)
    meta = CheckpointMeta(
        model=preset.model,
        sequence=SequenceConfig(input_frames=frames_in, output_frames=frames_out),
        preset=preset.name,
        extra={"step": cadence},
    )
    save_checkpoint(checkpoint_folder(settings, "demo") / "best", model, meta)
    return settings


def measure(settings: Settings, since: str, repeats: int, render: bool) -> dict[str, float]:
    """Median model seconds, I/O seconds and (optionally) forecast-to-map seconds."""
    model_s, io_s, total_s = [], [], []
    for _ in range(repeats + 1):
        started = time.perf_counter()
        result = run_forecast(settings, ForecastRequest(pipeline="demo", since=since))
        if render:
            render_forecast(result.netcdf, settings.output.products, ("png", "gif"))
        total_s.append(time.perf_counter() - started)
        model_s.append(result.model_seconds)
        io_s.append(result.io_seconds)
    warm = slice(1, None)
    return {
        "model_s": round(statistics.median(model_s[warm]), 4),
        "io_s": round(statistics.median(io_s[warm]), 4),
        "total_s": round(statistics.median(total_s[warm]), 4),
    }


def main() -> int:
    """Run each case, print a table and merge the numbers into the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 repeats")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads")
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    pin_threads(args.threads)
    cases = {
        "64x64_8in_4out_1h": (64, 8, 4, "1h", "8h", False),
        "64x64_48in_24out_10min": (64, 48, 24, "10min", "8h", False),
        "256x256_8in_4out_1h": (256, 8, 4, "1h", "8h", False),
        "forecast_to_map_64x64": (64, 8, 4, "1h", "8h", True),
    }
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (pixels, frames_in, frames_out, cadence, since, render) in cases.items():
            settings = site(Path(tmp) / name, pixels, frames_in, frames_out, cadence)
            results[name] = measure(settings, since, repeats, render)
            row = results[name]
            print(
                f"{name:28s} model {row['model_s'] * 1000:8.1f} ms   I/O {row['io_s'] * 1000:7.1f}"
                f" ms   total {row['total_s'] * 1000:8.1f} ms",
                flush=True,
            )
    map_s = results["forecast_to_map_64x64"]["total_s"]
    print(
        f"forecast-to-map {map_s:.2f} s (target < {TARGET_MAP_S:.0f} s): "
        f"{'met' if map_s < TARGET_MAP_S else 'NOT met'}"
    )
    record = {
        "cases": results,
        "repeats": repeats,
        "threads": torch.get_num_threads(),
        **machine_record(),
        "command": "python benchmarks/forecast_bench.py " + " ".join(sys.argv[1:]),
    }
    merge_results("forecast", record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
