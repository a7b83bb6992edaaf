"""From a source to the archive: pipelines, sources, readers, grid, checks, archive."""
