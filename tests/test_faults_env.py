"""Commands that read only the archive run without the source's environment variables."""

from __future__ import annotations

from pathlib import Path

from conftest import shared_data_path
from ingest_fixtures import BOM, cli, write_settings


def test_forecast_needs_only_the_archive(tmp_path: Path, repo_root: Path) -> None:
    config = write_settings(tmp_path, repo_root / "pipelines")
    env = {"NOWCAST_BOM_DIR": str(shared_data_path(*BOM))}
    window = ("--since", "2020-10-31T00:00Z", "--until", "2020-10-31T08:00Z")
    assert cli(config, "ingest", "-p", "bom-radar", *window, env=env).exit_code == 0
    missing = cli(config, "ingest", "-p", "bom-radar")
    assert missing.exit_code == 2 and "NOWCAST_BOM_DIR" in missing.output
    result = cli(config, "forecast", "-p", "bom-radar", "--baseline", "persistence")
    assert result.exit_code == 0, result.output
    assert "NOWCAST_BOM_DIR" not in result.output
    assert ".nc" in result.output
