"""A small served site on disk for `nowcast serve` tests, screenshots and the benchmark.

Synthetic forecasts on a lat/lon grid (a rain blob moving east), written in the forecast-file
contract by `forecast_fixtures.write_forecast`, plus stored scores, a scheduler heartbeat, a
rendered product, a daily sheet, a secret outside the served folders and a symlink to it.
All times are fixed: CLOCK is "now" for the app.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
from forecast_fixtures import forecast_dataset, write_forecast

from nowcast.settings.config import OutputSettings, ScheduleSettings, Settings
from nowcast.verify.runner import TABLE_FILE
from nowcast.verify.table import ScoreRow, ScoreTable

CLOCK = pd.Timestamp("2024-09-01T07:10")
NEWEST = pd.Timestamp("2024-09-01T07:00")
RADAR = "demo-radar"
SATELLITE = "demo-ir"
LEADS = (30, 60, 90, 120)
SECRET = "top-secret-content"


def settings_for(root: Path) -> Settings:
    """Settings whose every folder is under `root`."""
    return Settings(
        archive=root / "archive.zarr",
        output=OutputSettings(
            forecasts=root / "forecasts",
            products=root / "products",
            verification=root / "verification",
            checkpoints=root / "checkpoints",
        ),
        schedule=ScheduleSettings(state_dir=root / "scheduler"),
    )


def blob(ny: int, nx: int, centre_x: float, peak: float) -> np.ndarray:
    """A Gaussian rain cell (mm/h) centred at column `centre_x`, NaN in one corner."""
    yy, xx = np.mgrid[0:ny, 0:nx]
    field = peak * np.exp(-(((xx - centre_x) / (nx / 8)) ** 2 + ((yy - ny / 2) / (ny / 5)) ** 2))
    field[:3, :3] = np.nan
    return field


def synthetic(pipeline: str, init: pd.Timestamp, ny: int = 40, nx: int = 60) -> object:
    """One forecast dataset: rain (mm/h) or brightness temperature (K) over southern Japan."""
    x = np.linspace(128.0, 134.0, nx)
    y = np.linspace(35.0, 31.0, ny)
    hours = (init - NEWEST).total_seconds() / 3600
    field = blob(ny, nx, nx / 3 + 4 * hours, 30.0)
    if pipeline == SATELLITE:
        field = 290.0 - 3 * field
        attrs = {"units": "K", "standard_name": "toa_brightness_temperature"}
    else:
        attrs = {"units": "mm/h", "standard_name": "rainfall_rate", "long_name": "rain rate"}
    info = {"pipeline": pipeline, "model": f"modernn-{pipeline}", "method": "model"}
    crs = pyproj.CRS("EPSG:4326")
    return forecast_dataset(field, x, y, crs, init, attrs, info, shift_px=4, lead_minutes=LEADS)


def write_scores(folder: Path, pipeline: str) -> None:
    """MAE and CSI per lead for model, persistence and extrapolation over two cases."""
    rows = []
    for case, init in enumerate(("2024-09-01T05:00Z", "2024-09-01T06:00Z")):
        for lead in LEADS:
            for method, scale in (("model", 0.8), ("persistence", 1.2), ("extrapolation", 1.0)):
                growth = lead / 60
                mae = scale * (0.5 + 0.3 * growth) + 0.01 * case
                csi = max(0.0, 0.9 - 0.2 * growth * scale)
                rows.append(ScoreRow(pipeline, init, lead, method, "MAE", mae))
                rows.append(ScoreRow(pipeline, init, lead, method, "CSI", csi, threshold=1.0))
    ScoreTable(folder / TABLE_FILE).upsert(rows)


def write_heartbeat(settings: Settings, root: Path) -> None:
    """A scheduler heartbeat whose summaries name absolute paths (the API must not show them)."""
    beat = {
        "pid": 4242,
        "host": "forecast-host",
        "archive": str(settings.archive),
        "started_at": "2024-09-01T00:00:00Z",
        "alive_at": "2024-09-01T07:09:00Z",
        "stopped_at": None,
        "jobs": {
            f"forecast:{RADAR}": {
                "last_success": {
                    "at": "2024-09-01T07:01:00Z",
                    "summary": f"wrote {root}/forecasts/{RADAR}/{RADAR}_20240901T0700Z.nc",
                }
            },
            f"ingest:{SATELLITE}": {
                "last_error": {
                    "at": "2024-09-01T06:55:00Z",
                    "summary": f"source timed out reading {root}/incoming/ir.h5",
                }
            },
        },
        "last_error": {
            "job": f"ingest:{SATELLITE}",
            "at": "2024-09-01T06:55:00Z",
            "message": f"source timed out reading {root}/incoming/ir.h5",
        },
    }
    path = settings.schedule.state_dir / "heartbeat.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(beat), encoding="utf-8")


def build_site(root: Path, radar_forecasts: int = 4) -> Settings:
    """Forecasts of two pipelines (radar hourly up to NEWEST, one satellite), and the rest."""
    settings = settings_for(root)
    forecasts = settings.output.forecasts
    for back in range(radar_forecasts):
        write_forecast(synthetic(RADAR, NEWEST - timedelta(hours=back)), forecasts)
    write_forecast(synthetic(SATELLITE, NEWEST - timedelta(hours=1)), forecasts)
    write_scores(settings.output.verification, RADAR)
    write_heartbeat(settings, root)
    products = settings.output.products
    (products / RADAR).mkdir(parents=True)
    day = products / "daily" / "2024-09-01"
    day.mkdir(parents=True)
    (day / "index.html").write_text("<html><body>daily 2024-09-01</body></html>\n")
    tiny_png = bytes.fromhex("89504e470d0a1a0a")
    (day / f"{RADAR}_2024-09-01.png").write_bytes(tiny_png)
    (root / "secret.png").write_text(SECRET)
    (products / "escape.png").symlink_to(root / "secret.png")
    return settings
