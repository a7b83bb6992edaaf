"""The shipped radar checkpoint: small, carded, and used by `nowcast forecast -p bom-radar`."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import xarray as xr
from conftest import REPO, shared_data_path
from ingest_fixtures import BOM, cli

from nowcast.models.checkpoint import read_meta
from nowcast.models.registry import pretrained_checkpoint
from nowcast.models.space import RAIN_SPACE, recorded_space
from nowcast.verify.crossval import markdown_table

NAME = tomllib.loads((REPO / "pipelines" / "bom-radar.toml").read_text())["model"]["pretrained"]
SHIPPED = REPO / "models" / "pretrained" / NAME


def test_shipped_checkpoint_is_small_and_has_a_card() -> None:
    assert pretrained_checkpoint(NAME).resolve() == SHIPPED.resolve()
    weights = SHIPPED / "model.safetensors"
    assert weights.stat().st_size < 8 * 2**20
    card = (SHIPPED / "card.md").read_text()
    assert "leave-one-day-out" in card and "scripts/pretrained.sh" in card
    meta = read_meta(SHIPPED)
    assert meta.preset == NAME
    assert meta.extra["pipelines"] == [
        "bom-radar",
        "fmi-radar",
        "knmi-radar",
        "mch-radar",
        "saf-crr",
    ]
    assert meta.extra["retimed"] == ["saf-crr"]  # 15-min frames seen at the 10-min step
    assert meta.extra["step"] == "10min" and recorded_space(meta.normalisation) == RAIN_SPACE
    assert meta.model.guidance == "sprog"
    seen = [iv for name in ("train", "val") for iv in meta.extra["split"][name]["intervals"]]
    assert {group for group, _, _ in seen} == set(meta.extra["pipelines"])


def test_card_quotes_the_crossval_table_its_command_writes() -> None:
    table = pd.read_csv(SHIPPED / "crossval.csv")
    assert set(table["method"]) == {"model", "persistence", "extrapolation", "sprog"}
    assert table["day"].nunique() == 6
    printed = markdown_table(table)
    assert printed == (SHIPPED / "crossval.md").read_text()
    assert printed.split("\n\n")[0] in (SHIPPED / "card.md").read_text()


def test_fresh_install_forecasts_bom_with_the_shipped_checkpoint(tmp_path: Path) -> None:
    config = tmp_path / "nowcast.toml"
    config.write_text('archive = "archive.zarr"\n[output]\nforecasts = "forecasts"\n')
    env = {"NOWCAST_BOM_DIR": str(shared_data_path(*BOM))}
    since, until = "2020-10-31T00:00Z", "2020-10-31T02:00Z"
    ingested = cli(config, "ingest", "-p", "bom-radar", "--since", since, "--until", until, env=env)
    assert ingested.exit_code == 0, ingested.output
    result = cli(config, "forecast", "-p", "bom-radar", env=env)
    assert result.exit_code == 0, result.output
    assert "mean [kg m-2]" in result.output  # units shown, not read as a style
    status = cli(config, "status", env=env)
    assert status.exit_code == 0 and "precipitation [kg" in status.output
    (netcdf,) = (tmp_path / "forecasts" / "bom-radar").glob(f"*model-{NAME}.nc")
    with xr.open_dataset(netcdf) as forecast:
        assert forecast.sizes["lead_time"] == 6  # +10 min .. +1 h
        assert forecast["forecast"].attrs["units"] == "kg m-2"  # BOM's 10-min accumulation
        assert float(forecast["forecast"].max()) > 0.0


def test_the_card_table_is_spliced_between_its_markers(tmp_path: Path) -> None:
    card = tmp_path / "card.md"
    card.write_text("# card\n\n<!-- crossval -->\nold table\n<!-- /crossval -->\n\nprose\n")
    command = [sys.executable, str(REPO / "scripts" / "card_table.py"), str(card)]
    subprocess.run([*command, str(SHIPPED / "crossval.md")], check=True)
    text = card.read_text()
    table = (SHIPPED / "crossval.md").read_text().split("\n\n")[0]
    assert text == f"# card\n\n<!-- crossval -->\n{table}\n<!-- /crossval -->\n\nprose\n"
    card.write_text("no markers\n")
    refused = subprocess.run(
        [*command, str(SHIPPED / "crossval.md")], capture_output=True, text=True
    )
    assert refused.returncode != 0 and "crossval" in refused.stderr
    assert card.read_text() == "no markers\n"
