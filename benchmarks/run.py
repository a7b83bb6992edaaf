"""Run every benchmark script in this folder, one after another, in fresh processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPTS = ("model_bench.py", "ingest_bench.py", "forecast_bench.py", "ensemble_bench.py")


def main() -> int:
    """Run each benchmark with the arguments given to this script; return the worst exit code."""
    here = Path(__file__).resolve().parent
    worst = 0
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        completed = subprocess.run([sys.executable, str(here / script), *sys.argv[1:]], check=False)
        worst = max(worst, completed.returncode)
    return worst


if __name__ == "__main__":
    sys.exit(main())
