"""Settings: defaults, TOML, environment expansion and overrides, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from nowcast.core.errors import ConfigError
from nowcast.settings.config import load_settings
from nowcast.settings.envexpand import expand_string


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.archive == tmp_path / "archive/nowcast.zarr"
    assert settings.device == "auto"
    assert settings.pipelines == ["demo"]


def test_relative_paths_follow_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "site" / "nowcast.toml"
    config.parent.mkdir()
    config.write_text('archive = "data/a.zarr"\n[output]\nproducts = "/srv/maps"\n')
    settings = load_settings(config, environ={})
    assert settings.archive == config.parent / "data/a.zarr"
    assert settings.output.products == Path("/srv/maps")


def test_environment_expansion_and_overrides(tmp_path: Path) -> None:
    config = tmp_path / "nowcast.toml"
    config.write_text('archive = "${ROOT}/a.zarr"\nmodel = "${MODEL:-modernn-typhoon}"\n')
    settings = load_settings(config, environ={"ROOT": "/data", "NOWCAST_DEVICE": "cpu"})
    assert settings.archive == Path("/data/a.zarr")
    assert settings.model == "modernn-typhoon"
    assert settings.device == "cpu"
    overridden = load_settings(config, environ={"ROOT": "/x", "NOWCAST_ARCHIVE": "/y/b.zarr"})
    assert overridden.archive == Path("/y/b.zarr")


def test_archive_argument_wins_over_environment(tmp_path: Path) -> None:
    settings = load_settings(
        None, environ={"NOWCAST_ARCHIVE": "/env.zarr"}, archive=tmp_path / "cli.zarr"
    )
    assert settings.archive == tmp_path / "cli.zarr"


def test_unset_variable_without_default_is_named() -> None:
    with pytest.raises(ConfigError, match="NOWCAST_BOM_DIR"):
        expand_string("${NOWCAST_BOM_DIR}/x", environ={})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('archiv = "a.zarr"\n', "archiv: unknown key"),
        ("[output]\nforcasts = 'x'\n", "output.forcasts: unknown key"),
        ('device = "tpu"\n', "device: Input should be 'auto', 'cpu' or 'cuda'"),
        ("pipelines = 3\n", "pipelines: Input should be a valid list"),
        ("archive = [\n", "not valid TOML"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: Path, text: str, expected: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(")) as error:
        load_settings(config, environ={})
    assert error.value.exit_code == 2
    assert "\n" not in str(error.value)
