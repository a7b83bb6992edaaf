"""The SQLite ingest ledger through `nowcast ingest`: a bad pipeline definition, fixed, rerun;
`--retry-rejected`; the legacy JSON-lines ledger migrated; one failing pipeline among two."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import shared_data_path
from ingest_fixtures import cli, write_settings

from nowcast.ingest.ledger import Ledger, ledger_path

FMI = ("radar", "fmi-pgm-20160928")
FILES = 3  # 14:45, 14:50, 14:55
WINDOW = ["--since", "2016-09-28T14:45Z", "--until", "2016-09-28T14:55Z"]
FMI_PIPELINE = """description = "FMI radar composite, dBZ"
[source]
kind = "directory"
path = "${FMI_DIR}"
pattern = "%Y%m%d%H%M_fmi.radar.composite.lowest_FIN_SUOMI1.pgm.gz"
format = "fmi_pgm"
cadence = "5min"
[grid]
shape = [32, 32]
[transform]
kind = "linear"
vmin = -10.0
vmax = 60.0
fill = -10.0
"""
GZIPPED = "[source.reader.importer_kwargs]\ngzipped = true\n"


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A settings file, a copy of three FMI files, and the pipeline without `gzipped`."""
    data = tmp_path / "fmi"
    data.mkdir()
    for path in sorted(shared_data_path(*FMI).glob("2016092814[45]*_fmi.*.pgm.gz")):
        shutil.copy(path, data)
    config = write_settings(tmp_path)
    (tmp_path / "pipelines" / "fmi.toml").write_text(FMI_PIPELINE)
    return config, {"FMI_DIR": str(data)}


def row(output: str, name: str) -> list[str]:
    """The summary table's cells for one pipeline: fetched, skipped, ..., frames."""
    line = next(line for line in output.splitlines() if line.startswith(f"│ {name} "))
    return [cell.strip() for cell in line.split("│")[2:8]]


def ledger(config: Path, name: str = "fmi") -> Ledger:
    return Ledger(config.parent / "archive" / "nowcast.zarr", name)


def test_bad_definition_fixed_then_rerun_ingests_everything(
    site: tuple[Path, dict[str, str]],
) -> None:
    config, env = site
    bad = cli(config, "ingest", "-p", "fmi", *WINDOW, env=env)
    assert bad.exit_code == 5, bad.output
    assert row(bad.output, "fmi") == ["0", "0", "0", "3", "0", "0"]
    assert "every input was rejected (3 now, 0 before" in bad.output
    again = cli(config, "ingest", "-p", "fmi", *WINDOW, env=env)
    assert again.exit_code == 5  # skipped as rejected before: still nothing ingested
    assert row(again.output, "fmi") == ["0", "3", "0", "0", "0", "0"]
    assert "(0 now, 3 before under this definition" in again.output
    pipeline = config.parent / "pipelines" / "fmi.toml"
    pipeline.write_text(FMI_PIPELINE + GZIPPED)
    fixed = cli(config, "ingest", "-p", "fmi", *WINDOW, env=env)
    assert fixed.exit_code == 0, fixed.output
    assert row(fixed.output, "fmi") == ["3", "0", "0", "0", "0", "3"]
    entries = list(ledger(config).entries())
    assert [e.status for e in entries].count("rejected") == FILES
    definitions = {e.status: e.definition for e in entries}
    assert definitions["rejected"] != definitions["fetched"]
    assert all(e.definition and len(e.definition) == 16 for e in entries)
    # The ledger sits beside the store, not inside it.
    assert ledger_path(config.parent / "archive" / "nowcast.zarr").is_file()
    assert not (config.parent / "archive" / "nowcast.zarr" / ".ledger").exists()


def test_retry_rejected_reads_them_again(site: tuple[Path, dict[str, str]]) -> None:
    config, env = site
    assert cli(config, "ingest", "-p", "fmi", *WINDOW, env=env).exit_code == 5
    retried = cli(config, "ingest", "-p", "fmi", *WINDOW, "--retry-rejected", env=env)
    assert retried.exit_code == 5
    assert row(retried.output, "fmi") == ["0", "0", "0", "3", "0", "0"]
    statuses = [e.status for e in ledger(config).entries()]
    assert statuses == ["rejected"] * (2 * FILES)
    assert "--retry-rejected" in cli(config, "ingest", "--help").output


def test_legacy_jsonl_ledger_is_migrated_once(site: tuple[Path, dict[str, str]]) -> None:
    config, env = site
    (config.parent / "pipelines" / "fmi.toml").write_text(FMI_PIPELINE + GZIPPED)
    assert cli(config, "ingest", "-p", "fmi", *WINDOW, env=env).exit_code == 0
    store = config.parent / "archive" / "nowcast.zarr"
    ledger_path(store).unlink()
    legacy = store / ".ledger" / "fmi.jsonl"
    legacy.parent.mkdir()
    old = {
        "at": "2030-01-01T00:00:00Z",
        "run": "old",
        "group": "fmi",
        "time": "2016-09-28T14:45:00Z",
        "status": "rejected",
        "reason": "undecodable",
        "source": "x.pgm.gz",
        "fingerprint": "1:2",
    }
    legacy.write_text(json.dumps(old) + "\n" + '{"torn": ' + "\n")
    shown = cli(config, "status", env=env)
    assert shown.exit_code == 0, shown.output
    assert "last ingest attempt for fmi: 2030-01-01T00:00:00Z (rejected)" in shown.output
    assert not legacy.exists() and legacy.with_name("fmi.jsonl.migrated").is_file()
    with sqlite3.connect(ledger_path(store)) as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM entries").fetchone()
    assert count == 1
    assert set(ledger(config).rejected(None)) == {("x.pgm.gz", "1:2")}


def test_one_failing_pipeline_does_not_stop_the_others(
    site: tuple[Path, dict[str, str]],
) -> None:
    config, env = site
    (config.parent / "pipelines" / "fmi.toml").write_text(FMI_PIPELINE + GZIPPED)
    broken = FMI_PIPELINE.replace("${FMI_DIR}", str(config.parent / "nowhere"))
    (config.parent / "pipelines" / "broken.toml").write_text(broken)
    result = cli(config, "ingest", "-p", "broken", "-p", "fmi", *WINDOW, env=env)
    assert result.exit_code == 4, result.output
    assert row(result.output, "fmi") == ["3", "0", "0", "0", "0", "3"]
    assert "ingest failed: broken:" in result.output and "nowhere" in result.output
    assert "fmi:" not in result.output.split("ingest failed:")[1]
    (failure,) = [e for e in ledger(config, "broken").entries() if e.status == "failed"]
    assert "nowhere" in failure.reason
    badkey = config.parent / "pipelines" / "badkey.toml"
    badkey.write_text(FMI_PIPELINE.replace("[grid]", "[grid]\ncolour = 1"))
    result = cli(config, "ingest", "-p", "badkey", "-p", "fmi", *WINDOW, env=env)
    assert result.exit_code == 2, result.output
    assert "badkey: ConfigError" in result.output and "colour" in result.output
    assert row(result.output, "fmi")[1] == "3"  # fmi still ran: all three already present
    (failure,) = list(ledger(config, "badkey").entries())
    assert failure.status == "failed" and "colour" in failure.reason
