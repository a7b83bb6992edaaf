"""The one atomic write: a failed write leaves the old version; concurrent writers never collide."""

from __future__ import annotations

from pathlib import Path

import pytest

from nowcast.core.files import atomic_path, temporary_sibling, write_text_atomic


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = write_text_atomic(tmp_path / "card.md", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.md"]


def test_a_folder_replaces_a_folder_whole(tmp_path: Path) -> None:
    target = tmp_path / "best"
    for version in ("1", "2"):
        with atomic_path(target) as staging:
            staging.mkdir()
            (staging / "weights").write_text(version)
    assert (target / "weights").read_text() == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]


def test_temporary_names_are_unique_and_keep_the_suffix(tmp_path: Path) -> None:
    names = {temporary_sibling(tmp_path / "map.png") for _ in range(100)}
    assert len(names) == 100
    assert all(name.suffix == ".png" and name.name.startswith(".map.") for name in names)
