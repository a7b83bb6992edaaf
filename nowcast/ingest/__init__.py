"""From a source to the archive: pipelines, sources, readers, checks, quarantine, backfill."""
