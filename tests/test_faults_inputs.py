"""Hostile file names and folders: unsafe storm ids, non-files, conflicts, odd and future times.

Each bad entry is quarantined or skipped with its reason while the good frames still land.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import shared_data_path
from ingest_fixtures import BOM, TYPHOON, TYPHOON_FILE, cli, write_settings, write_typhoon_frames

from nowcast.ingest.ledger import Ledger
from nowcast.store.archive import Archive

NAME = "66_20201031_{}00.prcp-c10.nc".format


def archive_of(config: Path) -> Archive:
    """The archive a test settings file points to."""
    return Archive(config.parent / "archive" / "nowcast.zarr")


def reasons(config: Path, pipeline: str) -> dict[str, str]:
    """Quarantined input name -> reason, from the quarantine's reason files."""
    folder = config.parent / "archive" / "quarantine" / pipeline
    notes = [json.loads(n.read_text()) for n in folder.glob("*.reason.json")]
    return {Path(n["source"]).name: n["reason"] for n in notes}


def ledger_of(config: Path, pipeline: str) -> list:
    """The pipeline's ledger entries."""
    return list(Ledger(archive_of(config).path, pipeline).entries())


def typhoon(tmp_path: Path, repo_root: Path, hours: int = 3) -> tuple[Path, Path, dict]:
    """A Digital Typhoon layout with storm 202224; (settings, images folder, env)."""
    root = tmp_path / "digital-typhoon"
    write_typhoon_frames(root, shared_data_path(*TYPHOON, TYPHOON_FILE), "202224", hours)
    config = write_settings(tmp_path, repo_root / "pipelines")
    return config, root / "image", {"NOWCAST_DIGITAL_TYPHOON_DIR": str(root)}


def test_unsafe_storm_ids_are_quarantined_while_good_frames_land(
    tmp_path: Path, repo_root: Path
) -> None:
    config, images, env = typhoon(tmp_path, repo_root)
    good = images / "202224" / "2022111112-202224-HMW8-1.h5"
    bad = {f"2022111112-{storm}-HMW8-1.h5" for storm in (".", "..", ".zgroup", ".zattrs")}
    (images / "000").mkdir()
    for name in bad:  # in a folder that sorts first
        shutil.copy(good, images / "000" / name)
    result = cli(config, "ingest", "-p", "digital-typhoon", env=env)
    assert result.exit_code == 0, result.output
    archive = archive_of(config)
    assert archive.groups() == ["digital-typhoon/202224"]
    assert len(archive.times("digital-typhoon/202224")) == 3
    found = reasons(config, "digital-typhoon")
    assert set(found) == bad
    assert all(r.startswith("unsafe storm id from the file name: name ") for r in found.values())
    assert "Zarr metadata name" in found["2022111112-.zattrs-HMW8-1.h5"]
    assert not (archive.path / "digital-typhoon" / ".zattrs").is_dir()
    rejected = [e for e in ledger_of(config, "digital-typhoon") if e.status == "rejected"]
    assert len(rejected) == 4 and {e.group for e in rejected} == {"digital-typhoon"}
    again = cli(config, "ingest", "-p", "digital-typhoon", env=env)
    assert again.exit_code == 0, again.output
    assert len(reasons(config, "digital-typhoon")) == 4  # not quarantined twice


def test_identical_copies_skip_and_conflicting_files_are_refused(
    tmp_path: Path, repo_root: Path
) -> None:
    config, images, env = typhoon(tmp_path, repo_root)
    storm = images / "202224"
    shutil.copy(storm / "2022111112-202224-HMW8-1.h5", storm / "2022111112-202224-HMW9-1.h5")
    # the 13:00 field named for 14:00, beside the real 14:00 file: neither wins by name
    shutil.copy(storm / "2022111113-202224-HMW8-1.h5", storm / "2022111114-202224-AAAA-1.h5")
    result = cli(config, "ingest", "-p", "digital-typhoon", env=env)
    assert result.exit_code == 0, result.output
    times = archive_of(config).times("digital-typhoon/202224")
    assert [t.hour for t in times] == [12, 13]
    found = reasons(config, "digital-typhoon")
    assert set(found) == {"2022111114-202224-AAAA-1.h5", "2022111114-202224-HMW8-1.h5"}
    for reason in found.values():
        assert reason.startswith("conflicting files for 2022-11-11T14:00:00Z")
        assert "AAAA-1.h5, 2022111114-202224-HMW8-1.h5" in reason
    skipped = [e.reason for e in ledger_of(config, "digital-typhoon") if e.status == "skipped"]
    assert skipped == ["identical copy of 2022111112-202224-HMW8-1.h5"]
    unchanged = cli(config, "ingest", "-p", "digital-typhoon", env=env)
    assert unchanged.exit_code == 0, unchanged.output
    quarantined = config.parent / "archive" / "quarantine" / "digital-typhoon"
    assert len(list(quarantined.glob("*.reason.json"))) == 2  # the same conflict: no new copies
    (storm / "2022111114-202224-AAAA-1.h5").unlink()  # as the message says: remove the wrong one
    resolved = cli(config, "ingest", "-p", "digital-typhoon", env=env)
    assert resolved.exit_code == 0, resolved.output
    times = archive_of(config).times("digital-typhoon/202224")
    assert [t.hour for t in times] == [12, 13, 14]  # with no --retry-rejected


def bom_folder(tmp_path: Path) -> Path:
    """Three good BOM frames (00:00 to 00:20) in a folder of their own."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    for hhmm in ("0000", "0010", "0020"):
        shutil.copy(shared_data_path(*BOM, NAME(hhmm)), folder / NAME(hhmm))
    return folder


def test_folders_and_dangling_links_are_skipped_not_fatal(tmp_path: Path, repo_root: Path) -> None:
    folder = bom_folder(tmp_path)
    (folder / NAME("0030")).mkdir()
    (folder / NAME("0040")).symlink_to(folder / "nowhere.nc")
    config = write_settings(tmp_path, repo_root / "pipelines")
    env = {"NOWCAST_BOM_DIR": str(folder)}
    result = cli(config, "ingest", "-p", "bom-radar", env=env)
    assert result.exit_code == 0, result.output
    assert len(archive_of(config).times("bom-radar")) == 3
    skipped = {
        Path(e.source).name: e.reason
        for e in ledger_of(config, "bom-radar")
        if e.status == "skipped"
    }
    assert set(skipped) == {NAME("0030"), NAME("0040")}
    assert all(r.startswith("not a regular file") for r in skipped.values())


def test_off_cadence_and_far_future_frames_are_refused(tmp_path: Path, repo_root: Path) -> None:
    folder = bom_folder(tmp_path)
    shutil.copy(folder / NAME("0000"), folder / "66_20201031_000500.prcp-c10.nc")
    shutil.copy(folder / NAME("0010"), folder / "66_20991031_000000.prcp-c10.nc")
    config = write_settings(tmp_path, repo_root / "pipelines")
    env = {"NOWCAST_BOM_DIR": str(folder)}
    result = cli(config, "ingest", "-p", "bom-radar", "--until", "2100-01-01T00:00Z", env=env)
    assert result.exit_code == 0, result.output
    archive = archive_of(config)
    assert [t.strftime("%Y%m%d%H%M") for t in archive.times("bom-radar")] == [
        "202010310000",
        "202010310010",
        "202010310020",
    ]
    found = reasons(config, "bom-radar")
    assert found["66_20201031_000500.prcp-c10.nc"].startswith(
        "off-cadence: 2020-10-31T00:05:00Z is not on the 600 s cadence"
    )
    assert "is more than ingest.max_future" in found["66_20991031_000000.prcp-c10.nc"]
    shutil.copy(folder / NAME("0020"), folder / NAME("0030"))
    routine = cli(config, "ingest", "-p", "bom-radar", env=env)
    assert routine.exit_code == 0, routine.output
    assert len(archive.times("bom-radar")) == 3  # 00:30 is a copy of 00:20: timestamp mismatch
    assert "timestamp mismatch" in reasons(config, "bom-radar")[NAME("0030")]


def test_a_far_future_frame_archived_earlier_does_not_stall_later_runs(
    tmp_path: Path, repo_root: Path
) -> None:
    folder = bom_folder(tmp_path)
    shutil.copy(folder / NAME("0010"), folder / "66_20991031_000000.prcp-c10.nc")
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    shipped = (repo_root / "pipelines" / "bom-radar.toml").read_text()
    lax = shipped.replace("[ingest]\n", '[ingest]\nmax_future = "30000d"\n').replace(
        "[checks]\n", "[checks]\ntime_tolerance_s = 4e9\n"
    )
    (pipelines / "bom-radar.toml").write_text(lax)  # lets the 2099 frame in, as before the fix
    (folder / NAME("0020")).rename(tmp_path / NAME("0020"))
    config = write_settings(tmp_path, pipelines)
    env = {"NOWCAST_BOM_DIR": str(folder)}
    until = ("--until", "2100-01-01T00:00Z")
    first = cli(config, "ingest", "-p", "bom-radar", "--until", "2020-10-31T00:10Z", env=env)
    assert first.exit_code == 0, first.output
    assert cli(config, "ingest", "-p", "bom-radar", *until, env=env).exit_code == 0
    archive = archive_of(config)
    assert archive.times("bom-radar")[-1].year == 2099
    (pipelines / "bom-radar.toml").write_text(shipped)
    (tmp_path / NAME("0020")).rename(folder / NAME("0020"))  # published late
    routine = cli(config, "ingest", "-p", "bom-radar", "--until", "2020-10-31T00:30Z", env=env)
    assert routine.exit_code == 0, routine.output
    assert "2020-10-31T00:20:00" in [t.isoformat() for t in archive.times("bom-radar")]


def test_non_utf8_bytes_in_a_storm_id_or_the_wildcard_part_are_handled_once(
    tmp_path: Path, repo_root: Path
) -> None:
    """A storm id with a non-UTF-8 byte is refused (not a safe name), a satellite part with one
    is refused by the Digital Typhoon reader (not its naming); each is quarantined once with
    its reason, the good frames land and every run exits 0."""
    import os

    config, images, env = typhoon(tmp_path, repo_root)
    good = images / "202224" / "2022111112-202224-HMW8-1.h5"
    bad_id = os.fsdecode(b"2022111112-2022\xff4-HMW8-1.h5")
    (images / "000").mkdir()
    shutil.copy(good, images / "000" / bad_id)
    odd_wildcard = os.fsdecode(b"2022111114-202224-HMW\xff-1.h5")
    (images / "202224" / "2022111114-202224-HMW8-1.h5").rename(images / "202224" / odd_wildcard)
    for _ in range(2):
        result = cli(config, "ingest", "-p", "digital-typhoon", env=env)
        assert result.exit_code == 0, result.output
    times = archive_of(config).times("digital-typhoon/202224")
    assert [t.hour for t in times] == [12, 13]
    quarantined = config.parent / "archive" / "quarantine" / "digital-typhoon"
    notes = [json.loads(n.read_text()) for n in quarantined.glob("*.reason.json")]
    assert len(notes) == 2  # the second run quarantined nothing again
    reasons = sorted(note["reason"] for note in notes)
    assert "is not named <YYYYMMDDHH>-<storm>-<satellite>-1.h5" in reasons[0]
    assert reasons[1].startswith("unsafe storm id from the file name")
