"""On-disk formats: the artefact lifecycle (temporary folder, checksums, fsync, swap) and the
manifest helpers every artefact uses."""
