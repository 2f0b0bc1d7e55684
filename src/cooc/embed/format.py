"""The on-disk layout of a vectors artefact (`X.vec/`), format version 1. This docstring is
its one description.

    manifest.json   JSON, UTF-8 (below)
    vectors.f32     <f4 [V, dim]  row i is the vector of token i (vocab.json's order)
    token_ids.i64   <i8 [V]       token i's id in the vocabulary of its source (the index and
                                  its tokenizer: what `#ID` names); -1 where it has none
    counts.u64      <u8 [V]       token i's occurrences in the corpus (0: unknown)
    vocab.json      the V display texts, a JSON list of strings ('surrogatepass' UTF-8)

All arrays are raw little-endian, C order, no header: each is memory-mapped as it lies.
Rows of vectors made from an index are ordered by decreasing count (ties by token id), as
word2vec writes its vocabulary: the first N rows are the N most frequent tokens.

manifest.json (the one manifest shape of `cooc.formats.manifest`):

    magic            "COOC-VECTORS"
    format_version   1
    created_by       "cooc <version>"
    vocab_size, dim  V and the vectors' width
    config           how the vectors were made: "method" ("ppmi-svd", ...), its settings,
                     the source (index path, its manifest_sha256, tokenizer, window) and
                     what the method reports (e.g. the singular values)
    files            [{"name", "file", "dtype", "shape", "bytes", "sha256"}], in the order above
    manifest_sha256  sha256 of the rest of the manifest (`cooc.formats.manifest`)

Opening checks magic, version, the manifest's checksum, every file's name, dtype, shape and
size; `Vectors.verify()` adds every file's sha256, finite vectors and unique token ids. The
writer builds the folder as `<target>.tmp-<pid>` and swaps it into place
(`cooc.formats.artefact`).
"""

from __future__ import annotations

MAGIC = "COOC-VECTORS"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VOCAB = "vocab.json"
# name -> (file, dtype, columns: 0 for [V], "dim" for [V, dim])
ARRAYS = {
    "vectors": ("vectors.f32", "<f4", "dim"),
    "token_ids": ("token_ids.i64", "<i8", 0),
    "counts": ("counts.u64", "<u8", 0),
}
