"""Forecast files `nowcast forecast` writes (ensembles included) pass the IOOS compliance
checker's CF 1.8 test."""

from __future__ import annotations

from pathlib import Path

import netCDF4
import pytest
import xarray as xr
from conftest import REPO, shared_data_path
from ingest_fixtures import BOM, cli

checker = pytest.importorskip("compliance_checker.suite", reason="compliance-checker not installed")

ERROR = 3  # the checker's weight of a failed check it reports as an error (BaseCheck.HIGH)
WARNING = 2  # ... and as a warning (BaseCheck.MEDIUM)
TEN_MINUTES = "time: sum (interval: 10 minutes)"


def cf_problems(path: Path, weight: int) -> list[str]:
    """What the CF 1.8 check reports at `weight` (errors or warnings) for a NetCDF file."""
    suite = checker.CheckSuite()
    suite.load_all_available_checkers()
    dataset = suite.load_dataset(str(path))
    results, crashed = suite.run_all(dataset, ["cf:1.8"], skip_checks=[])["cf:1.8"]
    assert not crashed, crashed
    return [
        f"{result.name}: {'; '.join(result.msgs)}"
        for result in results
        if result.weight == weight and result.value[0] < result.value[1]
    ]


def forecast_site(folder: Path, pipeline: str, since: str, until: str) -> Path:
    """A site folder whose archive holds `pipeline` frames ingested through the CLI."""
    config = folder / "nowcast.toml"
    config.write_text(
        f'archive = "archive.zarr"\npipelines_dir = "{REPO / "pipelines"}"\n'
        f'pipelines = ["{pipeline}"]\n'
    )
    env = {"NOWCAST_BOM_DIR": str(shared_data_path(*BOM))} if pipeline == "bom-radar" else {}
    result = cli(config, "ingest", "--since", since, "--until", until, env=env)
    assert result.exit_code == 0, result.output
    return config


def baseline_forecast(config: Path, since: str, baseline: str = "persistence", *extra: str) -> Path:
    """The NetCDF file `nowcast forecast --baseline <baseline>` writes."""
    out = config.parent / "out"
    result = cli(
        config, "forecast", "--since", since, "--baseline", baseline, "--out", str(out), *extra
    )
    assert result.exit_code == 0, result.output
    (path,) = out.rglob("*.nc")
    return path


@pytest.fixture(scope="module")
def bom_forecast_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A forecast of the real BOM radar (10-minute rain amounts in kg m-2)."""
    site = tmp_path_factory.mktemp("bom")
    config = forecast_site(site, "bom-radar", "2020-10-31T00:00Z", "2020-10-31T01:50Z")
    return baseline_forecast(config, "1h")


@pytest.fixture(scope="module")
def demo_forecast_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A forecast of the demo pipeline (hourly brightness temperature in K)."""
    site = tmp_path_factory.mktemp("demo")
    config = forecast_site(site, "demo", "2024-09-04T16:00Z", "2024-09-05T00:00Z")
    return baseline_forecast(config, "8h")


@pytest.fixture(scope="module")
def bom_ensemble_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A STEPS ensemble of the real BOM radar: members on a `realization` axis, probabilities
    on a `threshold` axis."""
    site = tmp_path_factory.mktemp("bom-ensemble")
    config = forecast_site(site, "bom-radar", "2020-10-31T00:00Z", "2020-10-31T01:50Z")
    return baseline_forecast(config, "1h", "steps", "--ensemble", "3")


@pytest.mark.parametrize("name", ["bom_forecast_file", "demo_forecast_file", "bom_ensemble_file"])
def test_forecast_files_pass_the_cf_checker(name: str, request: pytest.FixtureRequest) -> None:
    path = request.getfixturevalue(name)
    assert cf_problems(path, ERROR) == []
    assert cf_problems(path, WARNING) == []


def test_times_are_a_cf_type_and_coordinates_have_no_fill(bom_forecast_file: Path) -> None:
    with netCDF4.Dataset(bom_forecast_file) as raw:
        for name in ("time", "forecast_reference_time", "lead_time"):
            assert raw[name].dtype == "int32", name
        assert raw["time"].units == "minutes since 1970-01-01"
        for name in ("x", "y"):
            assert "_FillValue" not in raw[name].ncattrs(), name
        assert (
            raw.history.startswith("nowcast ")
            and "persistence forecast of bom-radar" in raw.history
        )


def test_rain_amounts_say_their_period(bom_forecast_file: Path) -> None:
    with xr.open_dataset(bom_forecast_file) as dataset:
        assert dataset["forecast"].attrs["cell_methods"] == TEN_MINUTES
        assert dataset["observation"].attrs["cell_methods"] == TEN_MINUTES
        assert str(dataset["time"].values[0]) == "2020-10-31T02:00:00.000000000"
    archive = bom_forecast_file.parents[2] / "archive.zarr"
    with xr.open_zarr(archive, group="bom-radar") as stored:
        assert stored["precipitation"].attrs["cell_methods"] == TEN_MINUTES


def test_temperatures_carry_no_cell_methods(demo_forecast_file: Path) -> None:
    with xr.open_dataset(demo_forecast_file) as dataset:
        assert dataset["forecast"].attrs["units"] == "K"
        assert "cell_methods" not in dataset["forecast"].attrs


def test_ensemble_axes_are_cf_coordinates(bom_ensemble_file: Path) -> None:
    with xr.open_dataset(bom_ensemble_file) as dataset:
        realization = dataset["realization"]
        assert realization.attrs["standard_name"] == "realization"
        assert realization.attrs["units"] == "1" and realization.size == 3
        assert dataset["threshold"].attrs["units"] == "mm/h"
        assert dataset["probability"].attrs["units"] == "1"
