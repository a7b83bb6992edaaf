"""Groups written by release 0.1 in the model scale, rewritten in physical units."""

from __future__ import annotations

import os
import shutil

import numpy as np

from nowcast.store.archive_layout import (
    COMPRESSOR,
    PHYSICAL,
    SCALE,
    VARIABLE,
    consolidate,
    create_array,
    legacy_transform,
)


class ArchiveMigration:
    """The migration part of `Archive`."""

    def needs_migration(self, group: str) -> bool:
        """Whether a group is of the old form (values stored on the model scale)."""
        node = self._group(group)
        return legacy_transform(node[str(node.attrs[VARIABLE])].attrs) is not None

    def migrate(self, group: str) -> bool:
        """Rewrite an old model-scale group in physical units; False when already physical.

        The physical copy is written beside the old array and swapped in by two renames, so
        an interrupted migration leaves the old array (read as before) or fails loudly.
        """
        self._group(group)
        with self.lock:
            node = self._root("a")[group]
            name = str(node.attrs[VARIABLE])
            array = node[name]
            legacy = legacy_transform(array.attrs)
            if legacy is None:
                return False
            copy = create_array(
                node,
                f"{name}_migrating",
                shape=array.shape,
                chunks=array.chunks,
                dtype="float32",
                compressor=COMPRESSOR,
                fill_value=np.nan,
                overwrite=True,
            )
            step = array.chunks[0]
            for start in range(0, array.shape[0], step):
                stop = min(start + step, array.shape[0])
                copy[start:stop] = legacy.to_physical(array[start:stop])
            copy.attrs.put({**array.attrs.asdict(), SCALE: PHYSICAL})
            folder = self.path / group
            os.replace(folder / name, folder / f"{name}_legacy")
            os.replace(folder / f"{name}_migrating", folder / name)
            shutil.rmtree(folder / f"{name}_legacy")
            consolidate(self.path)
            return True
