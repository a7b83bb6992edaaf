"""What every benchmark stores beside its figures, and where: one results file per device."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

CPU_RESULTS = Path(__file__).resolve().parent / "results" / "cpu.json"


def machine_record(load: float | None = None) -> dict:
    """CPU count, 1-minute load (given, or now), platform and UTC time of a measurement."""
    return {
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0] if load is None else load, 2),
        "machine": platform.platform(),
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def merge_results(key: str, results: dict, path: Path = CPU_RESULTS) -> None:
    """Write `results` under `key` in the results file, keeping every other key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    merged = json.loads(path.read_text()) if path.is_file() else {}
    merged[key] = results
    path.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
