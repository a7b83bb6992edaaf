"""Full and read-only file systems: one bounded line naming the path and the fix, never a trace."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest
from conftest import shared_data_path
from ingest_fixtures import BOM, cli, write_settings

import nowcast.ingest as ingest
from nowcast.store.archive import Archive

NAME = "66_20201031_{}00.prcp-c10.nc".format


def site(tmp_path: Path, repo_root: Path) -> tuple[Path, dict[str, str]]:
    """Settings with the shipped pipelines and one BOM frame to ingest."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    shutil.copy(shared_data_path(*BOM, NAME("0000")), folder / NAME("0000"))
    return write_settings(tmp_path, repo_root / "pipelines"), {"NOWCAST_BOM_DIR": str(folder)}


@pytest.mark.parametrize(
    ("code", "advice"),
    [(errno.ENOSPC, "the file system is full"), (errno.EROFS, "the file system is read-only")],
)
def test_full_or_read_only_archive_names_the_path(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch, code: int, advice: str
) -> None:
    config, env = site(tmp_path, repo_root)
    chunk = tmp_path / "archive" / "nowcast.zarr" / "bom-radar" / "precipitation" / "0.0.0"

    def fail(*_: object, **__: object) -> None:
        raise OSError(code, "simulated", str(chunk))

    monkeypatch.setattr(Archive, "append_new", fail)
    result = cli(config, "ingest", "-p", "bom-radar", env=env)
    assert result.exit_code == 1, result.output
    (line,) = [row for row in result.output.splitlines() if row.startswith("error:")]
    assert f"cannot write {chunk}: simulated; {advice}" in line
    assert "Traceback" not in result.output and "disable" not in result.output


def test_an_unexpected_error_is_one_bounded_line(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, env = site(tmp_path, repo_root)

    def fail(*_: object, **__: object) -> None:
        raise OSError(errno.EROFS, "read-only\nfile system " + "x" * 2000, "/srv/out/a.nc")

    monkeypatch.setattr(ingest, "run_ingest", fail)
    result = cli(config, "ingest", "-p", "bom-radar", env=env)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) <= 420
    assert lines[0].startswith("error: cannot write /srv/out/a.nc: read-only file system xxx")


@pytest.mark.parametrize(
    ("sqlite_says", "read_only", "advice"),
    [
        ("database or disk is full", False, "the file system is full"),
        ("attempt to write a readonly database", True, "the file system is read-only"),
        ("unable to open database file", False, "permission denied"),
    ],
)
def test_a_ledger_that_cannot_be_written_names_its_path(
    tmp_path: Path,
    repo_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    sqlite_says: str,
    read_only: bool,
    advice: str,
) -> None:
    import os
    import sqlite3

    from nowcast.ingest import ledger

    config, env = site(tmp_path, repo_root)
    real_statvfs = os.statvfs

    def refuse(*_: object, **__: object) -> None:
        raise sqlite3.OperationalError(sqlite_says)

    def statvfs(path: object) -> object:
        found = real_statvfs(path)
        flags = found.f_flag | os.ST_RDONLY if read_only else found.f_flag & ~os.ST_RDONLY
        return type("StatVfs", (), {"f_flag": flags})()

    monkeypatch.setattr(ledger.sqlite3, "connect", refuse)
    monkeypatch.setattr(ledger.os, "statvfs", statvfs)
    result = cli(config, "ingest", "-p", "bom-radar", env=env)
    assert result.exit_code == 1, result.output
    where = tmp_path / "archive" / "nowcast.ledger.sqlite"
    (line,) = [row for row in result.output.splitlines() if row.startswith("error:")]
    assert f"cannot write {where}" in line and advice in line, result.output
    assert "Traceback" not in result.output and "OperationalError" not in result.output


def test_a_full_disk_error_without_a_file_name_names_the_archive(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, env = site(tmp_path, repo_root)

    def fail(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Archive, "append_new", fail)
    result = cli(config, "ingest", "-p", "bom-radar", env=env)
    assert result.exit_code == 1, result.output
    (line,) = [row for row in result.output.splitlines() if row.startswith("error:")]
    store = tmp_path / "archive" / "nowcast.zarr"
    assert f"cannot write a file in {store}: No space left on device;" in line
    assert "the file system is full" in line


def test_a_disk_full_after_some_commits_reports_the_frames_that_landed(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The summary counts what the archive holds, not 0, when a later commit fails."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    for hhmm in ("0000", "0010", "0020", "0030"):
        shutil.copy(shared_data_path(*BOM, NAME(hhmm)), folder / NAME(hhmm))
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    shipped = (repo_root / "pipelines" / "bom-radar.toml").read_text()
    (pipelines / "bom-radar.toml").write_text(
        shipped.replace("[ingest]\n", "[ingest]\nbatch = 2\n")
    )
    config = write_settings(tmp_path, pipelines)
    real = Archive.append_new
    calls = []

    def second_fails(self: Archive, *args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Archive, "append_new", second_fails)
    result = cli(
        config,
        "ingest",
        "-p",
        "bom-radar",
        "--since",
        "2020-10-31T00:00Z",
        env={"NOWCAST_BOM_DIR": str(folder)},
    )
    assert result.exit_code == 1, result.output
    row = next(line for line in result.output.splitlines() if "bom-radar" in line and "│" in line)
    assert row.split("│")[7].strip() == "2", result.output  # the frames column


def test_a_full_disk_while_a_group_is_first_created_leaves_no_group(
    tmp_path: Path, repo_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0 frames committed: plain xarray finds a store without the group, not a broken one."""
    import xarray as xr

    config, env = site(tmp_path, repo_root)

    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Archive, "_append_locked", full)
    result = cli(config, "ingest", "-p", "bom-radar", env=env)
    assert result.exit_code == 1, result.output
    store = tmp_path / "archive" / "nowcast.zarr"
    assert not (store / "bom-radar").exists()
    with xr.open_zarr(store) as plain:
        assert "precipitation" not in plain
    assert [p.name for p in store.parent.iterdir() if p.name.startswith(".")] == []
