"""Curation: deduplication and filters over a corpus, kept and removed documents written
with their reasons (`cooc dedup ...`, `cooc filter ...`). See `cooc.curate.step`."""
