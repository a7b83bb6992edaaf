"""Pipeline files: the shipped ones load, and mistakes are errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nowcast.core.errors import ConfigError
from nowcast.ingest.pipeline import (
    list_pipelines,
    load_pipeline,
    make_reader,
    make_source,
    read_pipeline,
)
from nowcast.ingest.readers import get_reader
from nowcast.ingest.sources import get_source
from nowcast.settings.config import Settings

ENV = {
    "NOWCAST_BOM_DIR": "/data/bom",
    "NOWCAST_MCH_DIR": "/data/mch",
    "NOWCAST_SAF_DIR": "/data/saf",
    "NOWCAST_DIGITAL_TYPHOON_DIR": "/data/dt",
    "NOWCAST_KNMI_DIR": "/data/knmi",
    "NOWCAST_FMI_DIR": "/data/fmi",
}
# Radar pipelines (and the HTTP radar template) nowcast 30 min in, 1 h out; the satellite ones 8 h
# in, 4 h out.
SHORT_WINDOWS = {"knmi-radar", "fmi-radar", "mch-radar", "bom-radar", "http-template", "saf-crr"}
MINIMAL = """
[source]
kind = "directory"
path = "frames"
pattern = "%Y%m%d%H%M.nc"
format = "netcdf"
variable = "rain"
cadence = "5min"
"""


@pytest.fixture()
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment variables the shipped pipelines refer to."""
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)


def settings_for(folder: Path) -> Settings:
    """Settings whose pipelines folder is `folder`."""
    return Settings(pipelines_dir=folder, archive=folder / "a.zarr")


def write(folder: Path, name: str, text: str) -> Path:
    """Write one pipeline file."""
    path = folder / f"{name}.toml"
    path.write_text(text)
    return path


def test_shipped_pipelines_load(repo_root: Path, env: None) -> None:
    settings = settings_for(repo_root / "pipelines")
    names = list_pipelines(settings)
    assert {"demo", "bom-radar", "mch-radar", "saf-crr", "digital-typhoon", "http-template"} <= set(
        names
    )
    for name in names:
        config = load_pipeline(settings, name)
        assert config.name == name
        window = ("30min", "1h") if name in SHORT_WINDOWS else ("8h", "4h")
        assert pd.Timedelta(config.forecast.history) == pd.Timedelta(window[0])
        assert pd.Timedelta(config.forecast.horizon) == pd.Timedelta(window[1])
        assert config.schedule.every_minutes > 0
        make_source(config)
        assert (make_reader(config) is None) == (config.source.kind == "synthetic")


def test_demo_is_hourly_64x64(repo_root: Path) -> None:
    config = load_pipeline(settings_for(repo_root / "pipelines"), "demo")
    assert config.cadence == pd.Timedelta("1h")
    assert config.grid.shape == (64, 64)
    assert config.source.kind == "synthetic"


def test_relative_path_is_relative_to_the_pipeline_file(tmp_path: Path) -> None:
    config = read_pipeline(write(tmp_path, "radar", MINIMAL))
    assert Path(config.source.options["path"]) == tmp_path / "frames"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("cadence", "cadense"), "source.cadence: Field required"),
        (('pattern = "%Y%m%d%H%M.nc"', 'pattern = "%Y.nc"\ncolour = 1'), "colour: unknown key"),
        (('format = "netcdf"', 'format = "netcdf4"'), "unknown format 'netcdf4'; valid: "),
        (('kind = "directory"', 'kind = "ftp"'), "unknown source kind 'ftp'; valid: directory"),
        (('pattern = "%Y%m%d%H%M.nc"', 'pattern = "frames.nc"'), "has no time codes"),
        (('cadence = "5min"', 'cadence = "often"'), "source.cadence"),
        (('variable = "rain"', 'variable = "rain"\n[grid]\nshape = [0, 64]'), "grid"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    path = write(tmp_path, "bad", MINIMAL.replace(*edit))
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(")):
        read_pipeline(path)


def test_reader_options_are_checked(tmp_path: Path) -> None:
    text = MINIMAL + "\n[source.reader]\ntime_varible = 'valid_time'\n"
    with pytest.raises(ConfigError, match=r"\[source.reader\]: time_varible: unknown key"):
        read_pipeline(write(tmp_path, "bad", text))


def test_unset_environment_variable_is_a_config_error(
    repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOWCAST_BOM_DIR", raising=False)
    with pytest.raises(ConfigError, match="NOWCAST_BOM_DIR is not set"):
        load_pipeline(settings_for(repo_root / "pipelines"), "bom-radar")


def test_missing_pipeline_lists_available(tmp_path: Path) -> None:
    write(tmp_path, "radar", MINIMAL)
    with pytest.raises(ConfigError, match=r"no pipeline 'nope'.*available: radar"):
        load_pipeline(settings_for(tmp_path), "nope")


def test_name_must_match_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="differs from the file name"):
        read_pipeline(write(tmp_path, "radar", 'name = "other"\n' + MINIMAL))


def test_registries_list_valid_names() -> None:
    with pytest.raises(ConfigError, match="valid: .*mch_gif.*netcdf"):
        get_reader("gif")
    with pytest.raises(ConfigError, match="valid: directory, himawari, http, synthetic"):
        get_source("s3")
