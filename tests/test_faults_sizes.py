"""Sizes are checked before allocation; corrupt or unsafe model files are refused in one line."""

from __future__ import annotations

import json
import resource
import shutil
from pathlib import Path

import h5py
import netCDF4
import pytest
import torch
from conftest import shared_data_path
from ingest_fixtures import BOM, TYPHOON, TYPHOON_FILE, cli, write_settings, write_typhoon_frames
from test_scheduler import tiny_checkpoint

from nowcast.core.errors import DataMissingError
from nowcast.models.checkpoint import (
    STATE_FILE,
    CheckpointMismatchError,
    load_model,
    load_training_state,
)

NAME = "66_20201031_{}00.prcp-c10.nc".format
GIB = 1 << 30


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_oversized_sidecar_is_refused_before_the_model_is_built(tmp_path: Path) -> None:
    folder = tiny_checkpoint(tmp_path / "ckpt")
    sidecar = folder / "model.json"
    meta = json.loads(sidecar.read_text())
    meta["model"]["hidden"] = 2048
    sidecar.write_text(json.dumps(meta))
    before = peak_rss_bytes()
    with pytest.raises(CheckpointMismatchError, match="more than max_model_parameters") as caught:
        load_model(folder)
    assert peak_rss_bytes() - before < GIB
    assert str(folder) in str(caught.value) and "\n" not in str(caught.value)


def test_pickled_training_state_is_refused_without_unsafe_advice(tmp_path: Path) -> None:
    folder = tiny_checkpoint(tmp_path / "ckpt")
    torch.save({"optimiser": Path("not a tensor")}, folder / STATE_FILE)
    with pytest.raises(DataMissingError) as caught:
        load_training_state(folder)
    message = str(caught.value)
    assert "weights_only" not in message and str(folder) in message and "\n" not in message


def bom_site(tmp_path: Path, repo_root: Path) -> tuple[Path, Path, dict[str, str]]:
    """Settings with the shipped pipelines and a folder holding BOM 00:00 and 00:10."""
    folder = tmp_path / "incoming"
    folder.mkdir()
    for hhmm in ("0000", "0010"):
        shutil.copy(shared_data_path(*BOM, NAME(hhmm)), folder / NAME(hhmm))
    config = write_settings(tmp_path, repo_root / "pipelines")
    return config, folder, {"NOWCAST_BOM_DIR": str(folder)}


def test_huge_netcdf_variables_are_refused_from_the_header(tmp_path: Path, repo_root: Path) -> None:
    config, folder, env = bom_site(tmp_path, repo_root)
    for hhmm, shape in (("0020", (100, 2048, 2048)), ("0030", (6000, 6000))):
        with netCDF4.Dataset(folder / NAME(hhmm), "w") as ds:  # 1.6 GB and 144 MB if read
            dims = [f"d{i}" for i in range(len(shape))]
            for dim, size in zip(dims, shape, strict=True):
                ds.createDimension(dim, size)
            ds.createVariable("precipitation", "f4", dims, zlib=True)
    before = peak_rss_bytes()
    result = cli(config, "ingest", "-p", "bom-radar", env=env)
    assert result.exit_code == 0, result.output
    assert peak_rss_bytes() - before < GIB
    notes = (tmp_path / "archive" / "quarantine" / "bom-radar").glob("*.reason.json")
    found = {
        json.loads(n.read_text())["source"]: json.loads(n.read_text())["reason"] for n in notes
    }
    assert "not one 2D frame" in found[str(folder / NAME("0020"))]
    assert "more than [source.reader] max_pixels = 25000000" in found[str(folder / NAME("0030"))]


def test_corrupt_sidecar_is_one_line_in_status(tmp_path: Path, repo_root: Path) -> None:
    config, _, env = bom_site(tmp_path, repo_root)
    assert cli(config, "ingest", "-p", "bom-radar", env=env).exit_code == 0
    folder = tiny_checkpoint(tmp_path / "models" / "checkpoints" / "bom-radar")
    (folder / "model.json").write_text('{"model": {"hidden": "many"')
    result = cli(config, "status", env=env)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "model for bom-radar: corrupt checkpoint sidecar:" in text
    assert "model.json" in text and "copy the checkpoint folder again" in text


def test_oversized_synthetic_grid_is_refused_even_in_a_dry_run(tmp_path: Path) -> None:
    config = write_settings(tmp_path)
    (tmp_path / "pipelines" / "big.toml").write_text(
        '[source]\nkind = "synthetic"\ncadence = "1h"\npixels = 16000\n\n[grid]\nshape = [64, 64]\n'
    )
    before = peak_rss_bytes()
    result = cli(config, "ingest", "-p", "big", "--dry-run")
    assert result.exit_code == 2, result.output
    assert "pixels" in result.output and "2048" in result.output
    assert peak_rss_bytes() - before < GIB


def test_forecast_refuses_an_oversized_or_corrupt_checkpoint_in_one_line(
    tmp_path: Path, repo_root: Path
) -> None:
    config, _, env = bom_site(tmp_path, repo_root)
    assert cli(config, "ingest", "-p", "bom-radar", env=env).exit_code == 0
    config.write_text(config.read_text() + "max_model_parameters = 1000\n")
    folder = tiny_checkpoint(tmp_path / "models" / "checkpoints" / "bom-radar")
    large = cli(config, "forecast", "-p", "bom-radar")
    assert large.exit_code == 2, large.output
    assert "more than max_model_parameters = 1,000" in large.output
    (folder / "model.json").write_text("{")
    corrupt = cli(config, "forecast", "-p", "bom-radar")
    assert corrupt.exit_code == 3, corrupt.output
    (line,) = corrupt.output.strip().splitlines()
    assert line.startswith("error: corrupt checkpoint sidecar:") and "model.json" in line


def test_huge_hdf5_dataset_is_refused_from_its_header(tmp_path: Path, repo_root: Path) -> None:
    root = tmp_path / "digital-typhoon"
    write_typhoon_frames(root, shared_data_path(*TYPHOON, TYPHOON_FILE), "202224", hours=2)
    huge = root / "image" / "202224" / "2022111114-202224-HMW8-1.h5"
    with h5py.File(huge, "w") as handle:  # 1.6 GB if read; a few KB on disk
        handle.create_dataset("Infrared", shape=(100, 2048, 2048), dtype="f4", chunks=True)
    config = write_settings(tmp_path, repo_root / "pipelines")
    before = peak_rss_bytes()
    env = {"NOWCAST_DIGITAL_TYPHOON_DIR": str(root)}
    result = cli(config, "ingest", "-p", "digital-typhoon", env=env)
    assert result.exit_code == 0, result.output
    assert peak_rss_bytes() - before < GIB
    notes = (tmp_path / "archive" / "quarantine" / "digital-typhoon").glob("*.reason.json")
    (reason,) = [json.loads(note.read_text())["reason"] for note in notes]
    assert "dataset 'Infrared' has shape (100, 2048, 2048), not one 2D frame" in reason


def test_a_huge_rejected_file_is_recorded_but_not_copied(tmp_path: Path, repo_root: Path) -> None:
    config, folder, env = bom_site(tmp_path, repo_root)
    junk = folder / NAME("0020")
    with junk.open("wb") as handle:  # 100 MiB of junk, sparse on disk
        handle.truncate(100 * 2**20)
    result = cli(config, "ingest", "-p", "bom-radar", env=env)
    assert result.exit_code == 0, result.output
    quarantined = tmp_path / "archive" / "quarantine" / "bom-radar"
    (note,) = quarantined.glob("*.reason.json")
    record = json.loads(note.read_text())
    assert record["source"] == str(junk)
    assert record["not_kept"] == f"{100 * 2**20} bytes, over the {64 * 2**20}-byte bound"
    assert "file" not in record
    assert sum(p.stat().st_size for p in quarantined.iterdir()) < 10_000
    assert junk.exists()  # the source keeps its originals


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        ("huge_sidecar", "more than a sidecar's 1,048,576"),
        ("endless_sequence", "output_frames"),
        ("forged_weights", "corrupt checkpoint weights:"),
    ],
)
def test_a_damaged_checkpoint_exits_with_the_checkpoint_code(
    tmp_path: Path, repo_root: Path, damage: str, said: str
) -> None:
    """Each case exits 3 (data missing: the checkpoint) in one line, reading nothing huge."""
    config, _, env = bom_site(tmp_path, repo_root)
    assert cli(config, "ingest", "-p", "bom-radar", env=env).exit_code == 0
    folder = tiny_checkpoint(tmp_path / "models" / "checkpoints" / "bom-radar")
    sidecar = folder / "model.json"
    if damage == "huge_sidecar":
        with sidecar.open("r+b") as handle:  # 1 GiB, sparse on disk
            handle.truncate(GIB)
    elif damage == "endless_sequence":
        meta = json.loads(sidecar.read_text())
        meta["sequence"]["output_frames"] = 10**9
        sidecar.write_text(json.dumps(meta))
    else:
        weights = folder / "model.safetensors"
        forged = b'{"w": {"dtype": "F32", "shape": [1000000000], "data_offsets": [0, 4]}}'
        weights.write_bytes(len(forged).to_bytes(8, "little") + forged + b"\0" * 4)
    before = peak_rss_bytes()
    result = cli(config, "forecast", "-p", "bom-radar")
    assert peak_rss_bytes() - before < GIB // 4
    assert result.exit_code == 3, result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error: corrupt checkpoint") and said in line, line
