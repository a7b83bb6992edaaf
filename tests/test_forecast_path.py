"""Inference stands beside training: a model forecast, from the command to the written file,
loads no module of the training stage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import shared_data_path
from ingest_fixtures import BOM, cli

FORECAST = """
import json, runpy, sys
sys.argv = ["nowcast", "--config", sys.argv[1], "forecast", "-p", "bom-radar"]
try:
    runpy.run_module("nowcast", run_name="__main__")
except SystemExit as stop:
    code = stop.code
loaded = sorted(name for name in sys.modules if name.startswith("nowcast."))
print(json.dumps({"code": code, "loaded": loaded}))
"""


def test_a_model_forecast_loads_no_training_module(tmp_path: Path) -> None:
    config = tmp_path / "nowcast.toml"
    config.write_text('archive = "archive.zarr"\n[output]\nforecasts = "forecasts"\n')
    env = {"NOWCAST_BOM_DIR": str(shared_data_path(*BOM))}
    span = ("--since", "2020-10-31T00:00Z", "--until", "2020-10-31T01:00Z")
    assert cli(config, "ingest", "-p", "bom-radar", *span, env=env).exit_code == 0
    done = subprocess.run(
        [sys.executable, "-c", FORECAST, str(config)],
        cwd=tmp_path,
        env={**env, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, None), done.stdout[-3000:]
    assert list((tmp_path / "forecasts" / "bom-radar").glob("*model-modernn-radar-guided.nc"))
    assert "nowcast.models.checkpoint" in result["loaded"]  # the model was loaded
    assert [name for name in result["loaded"] if name.startswith("nowcast.training")] == []
