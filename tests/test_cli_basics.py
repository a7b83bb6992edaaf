"""The CLI's global behaviour: help, version, config show/check, status, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nowcast.cli.app import app
from nowcast.core.version import __version__

runner = CliRunner()


def invoke(*args: str, env: dict[str, str] | None = None):  # noqa: ANN201 - CliRunner Result
    """Run the CLI in-process with a clean NOWCAST_* environment."""
    base = {"NOWCAST_CONFIG": "", "NOWCAST_ARCHIVE": "", "NOWCAST_DEVICE": ""}
    return runner.invoke(app, list(args), env={**base, **(env or {})})


def test_help_lists_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("config", "status"):
        assert command in result.output


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"nowcast {__version__}"


def test_config_show_fills_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("config", "show")
    assert result.exit_code == 0
    shown = json.loads(result.output)
    assert shown["device"] == "auto"
    assert shown["output"]["forecasts"].endswith("runs/forecasts")


def test_config_check_accepts_a_good_file(tmp_path: Path) -> None:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "demo.toml").write_text("")
    config = tmp_path / "nowcast.toml"
    config.write_text('pipelines = ["demo"]\n')
    result = invoke("config", "check", str(config))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('archve = "a.zarr"\n', "archve: unknown key"),
        ("[schedule]\nverify_every_minutes = 'often'\n", "schedule.verify_every_minutes"),
        ('pipelines_dir = "missing-folder"\n', "pipelines_dir: folder not found"),
        ('pipelines = ["nosuch"]\n', "no pipeline file nosuch.toml"),
    ],
)
def test_config_check_rejects_bad_files(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "pipelines").mkdir()
    config = tmp_path / "bad.toml"
    config.write_text(text)
    result = invoke("config", "check", str(config))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0]


def test_config_check_missing_file(tmp_path: Path) -> None:
    result = invoke("config", "check", str(tmp_path / "nope.toml"))
    assert result.exit_code == 2
    assert "config file not found" in result.output


def test_status_without_archive(tmp_path: Path) -> None:
    result = invoke("--archive", str(tmp_path / "none.zarr"), "status")
    assert result.exit_code == 3
    assert "no archive yet at" in result.output


def test_console_script_runs_without_traceback(tmp_path: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "nowcast", "config", "check", str(tmp_path / "nope.toml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert process.returncode == 2
    assert "Traceback" not in process.stderr
    assert process.stderr.startswith("error: config file not found")


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["forecast", "--fill", "cubic"], "--fill"),
        (["forecast", "--baseline", "climatology"], "--baseline"),
        (["forecast", "--device", "tpu"], "--device"),
        (["train", "-p", "demo", "--device", "gpu"], "--device"),
    ],
)
def test_a_value_outside_an_option_choices_is_refused_before_anything_runs(
    tmp_path: Path, args: list[str], option: str
) -> None:
    result = runner.invoke(app, ["--archive", str(tmp_path / "none.zarr"), *args])
    assert result.exit_code == 2
    assert f"Invalid value for '{option}'" in result.output
    assert not (tmp_path / "none.zarr").exists()
