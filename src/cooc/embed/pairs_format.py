"""The on-disk layout of a skip-gram pairs artefact (`X.pairs/`), format version 1. This
docstring is its one description.

    manifest.json        JSON, UTF-8 (below)
    vocab.parquet        one row per dense id 0..V-1, most frequent first (ties by token id):
                           id        int32    the dense id the pairs use
                           token_id  int64    its id in the tokenizer's vocabulary
                           text      string   its display text
                           count     int64    its occurrences in the corpus
                           unigram   float64  count^0.75 / sum(count^0.75): the distribution
                                              word2vec draws negatives from (the unigram table)
                           keep      float64  its subsampling keep probability (1: sample 0)
    pairs-00000.parquet  the pairs, in corpus order: int32 columns `target` (the center word)
    pairs-00001.parquet  and `context` (a word of its window), dense ids; every shard but the
    ...                  last holds exactly `shard_pairs` pairs, in row groups of at most
                         `chunk_pairs`

Parquet files are plain Apache Parquet (pyarrow writes them; pandas, polars, DuckDB, Spark
and `torch.utils.data` pipelines read them), so the artefact is the hand-off to trainers
outside cooc; `cooc embed sgns-torch` is one.

manifest.json (the one manifest shape of `cooc.formats.manifest`):

    magic            "COOC-PAIRS"
    format_version   1
    created_by       "cooc <version>"
    vocab_size       V
    pairs            the number of pairs in all shards
    shards           [{"file", "pairs"}] in order
    config           window, dynamic_window, min_count, sample, seed, shard_pairs,
                     chunk_pairs, tokenizer, source; corpus_words (in-vocabulary words) and
                     kept_words (after subsampling)
    files            [{"name", "file", "dtype": null, "shape": [rows], "bytes", "sha256"}]:
                     vocab, then the shards
    manifest_sha256  sha256 of the rest of the manifest (`cooc.formats.manifest`)

Opening checks magic, version, the manifest's checksum and every file's presence, size and
sha256 (once per machine, `cooc.formats.checked`); reading a shard checks its columns, its
row count and that every id is below V. The writer builds the folder as
`<target>.tmp-<pid>` and swaps it into place (`cooc.formats.artefact`). Pairs are one pass:
a trainer makes its epochs by reading the shards again.
"""

from __future__ import annotations

MAGIC = "COOC-PAIRS"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VOCAB = "vocab.parquet"
VOCAB_COLUMNS = ("id", "token_id", "text", "count", "unigram", "keep")
PAIR_COLUMNS = ("target", "context")


def shard_file(i: int) -> str:
    return f"pairs-{i:05d}.parquet"
