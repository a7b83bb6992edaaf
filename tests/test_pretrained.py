"""The shipped radar checkpoint: small, carded, and used by `nowcast forecast -p bom-radar`."""

from __future__ import annotations

import json
from pathlib import Path

import xarray as xr
from conftest import REPO, shared_data_path
from ingest_fixtures import BOM, cli

from nowcast.models.registry import pretrained_checkpoint
from nowcast.training.checkpoint import read_meta

SHIPPED = REPO / "models" / "pretrained" / "modernn-radar-small"


def test_shipped_checkpoint_is_small_and_has_a_card() -> None:
    assert pretrained_checkpoint("modernn-radar-small").resolve() == SHIPPED.resolve()
    weights = SHIPPED / "model.safetensors"
    assert weights.stat().st_size < 5 * 2**20
    card = (SHIPPED / "card.md").read_text()
    assert "held-out day" in card and "scripts/pretrained.sh" in card
    meta = read_meta(SHIPPED)
    assert meta.preset == "modernn-radar-small" and meta.extra["pipeline"] == "bom-radar"
    assert json.loads((SHIPPED / "model.json").read_text())["extra"]["step"] == "1h"


def test_fresh_install_forecasts_bom_with_the_shipped_checkpoint(tmp_path: Path) -> None:
    config = tmp_path / "nowcast.toml"
    config.write_text('archive = "archive.zarr"\n[output]\nforecasts = "forecasts"\n')
    env = {"NOWCAST_BOM_DIR": str(shared_data_path(*BOM))}
    since, until = "2020-10-31T00:00Z", "2020-10-31T08:00Z"
    ingested = cli(config, "ingest", "-p", "bom-radar", "--since", since, "--until", until, env=env)
    assert ingested.exit_code == 0, ingested.output
    result = cli(config, "forecast", "-p", "bom-radar", env=env)
    assert result.exit_code == 0, result.output
    (netcdf,) = (tmp_path / "forecasts" / "bom-radar").glob("*model-modernn-radar-small.nc")
    with xr.open_dataset(netcdf) as forecast:
        assert forecast.sizes["lead_time"] == 4  # +1 h .. +4 h
