"""The on-disk layout of a cooc index, format version 1. This docstring is its one description.

An index is a directory:

    manifest.json         JSON, UTF-8 (below)
    row_ptr.bin           <i8 [V+1]   entries of row a are row_ptr[a] .. row_ptr[a+1]-1
    row_word.bin          <i8 [V+1]   row a's bits are data words row_word[a] .. row_word[a+1]-1
    skip.bin              <u4 [NB, 2] per block: (first neighbour rank, bit offset in its row)
    data.bin              <u8 [W+1]   the blocks' bit strings; W = row_word[V], plus one zero word
    rank.bin              <u4 [V]     token id -> rank (the id space the blocks are written in)
    token_of_rank.bin     <u4 [V]     rank -> token id (inverse permutation of rank.bin)
    occurrences.bin       <u8 [V]     occurrences of each token in the corpus
    windows.bin           <u8 [V]     windows containing each token
    text_offsets.bin      <u8 [V+1]   token a's display text is text[text_offsets[a]:...[a+1]]
    text.bin              |u1 [T]     display texts, UTF-8 ('surrogatepass': any Python str)

All arrays are raw little-endian, C order, no header: each is memory-mapped as it lies.
NB = num_blocks (below), T = total UTF-8 bytes of the texts.

The matrix is a symmetric count matrix over token ids 0..V-1 stored in both directions: row a
holds (b, count(a, b)) for every b with count >= 1, and row b holds (a, the same count).
Rows are indexed by token id; neighbours are stored as *ranks*: tokens sorted by decreasing
degree (number of neighbours), ties by token id. Frequent tokens get small ranks, so the
rows of rare tokens (lists of frequent tokens) become small dense numbers. Readers map ranks
back through token_of_rank and return rows sorted by token id.

Row a, with d = row_ptr[a+1] - row_ptr[a] entries sorted by rank, is cut into ceil(d / 128)
blocks of BLOCK_SIZE = 128 entries (the last one shorter); blocks of all rows are numbered
consecutively, so row a owns blocks blk_ptr[a] .. blk_ptr[a+1]-1 with blk_ptr the prefix sum
of ceil(d / 128) (computed on open, not stored). Row a's bit string starts on word
row_word[a] and is padded with 0 bits to a whole word; its blocks follow each other with no
gap from bit 0, block b starting at bit skip[b, 1] of the row. A block of n entries with ranks
r_0 < ... < r_{n-1} (r_0 is skip[b, 0]) and counts c_0..c_{n-1} is, least significant bit of
each 64-bit word first, fields least significant bit first:

    if n > 1:  l (5 bits), hz (8 bits)
    code (6 bits)
    if n > 1:  for i = 1..n-1, y_i = r_i - r_0 - i (non-decreasing, >= 0):
                   low bits: the l low bits of each y_i, one after the other
                   high bits (only if hz > 0): n-1+hz bits, bit (y_i >> l) + i - 1 set for each i
               (Elias-Fano; hz = y_{n-1} >> l; hz == 0 means every y_i < 2**l)
    counts, v_j = c_j - 1:
        code 0..32:  v_j in `code` bits each (bit-packed)
        code 33..63: Rice, k = code - 33: the k low bits of each v_j, one after the other,
                     then for each j: (v_j >> k) zero bits and a one bit

Counts are < 2**32. The writer picks the cheapest l and code (any valid choice decodes).
num_pairs = (num_entries - num_diagonal) / 2 + num_diagonal.

manifest.json:

    magic            "COOC-INDEX"
    format_version   1
    created_by       "cooc <version>"
    vocab_size, num_entries, num_diagonal, num_blocks, block_size
    id_order         "degree-rank"
    checksum         "sha256"
    payload_bits     {"ids": .., "counts": .., "padding": ..}: how data.bin splits (headers
                     included with their part)
    files            [{"name", "file", "dtype", "shape", "bytes", "sha256"}], in the order above
                     (the one entry shape of every folder format, `cooc.formats.manifest`;
                     indexes written before list them as `arrays`, with `nbytes`: still read)
    meta             the caller's dict (config, tokenizer, corpus stats, ...), opaque here

There is no timestamp: the same matrix, statistics, texts and meta give the same directory,
byte for byte, whatever the writer's chunking (put a date in `meta` if you want one; the
arrays never depend on the cooc version that wrote them as long as format_version is 1).
The writer builds the directory as `<target>.tmp-<pid>` and swaps it into place
(`cooc.formats.artefact`); a leftover `*.tmp-<pid>` or `*.old-<pid>` directory is an
interrupted write, removed by the next writer of that index.
"""

from __future__ import annotations

MAGIC = "COOC-INDEX"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
BLOCK_SIZE = 128
CHECKSUM = "sha256"
ID_ORDER = "degree-rank"
# keeps every row's bit string under 2**32 bits (skip offsets are uint32)
MAX_VOCAB = 1 << 25

# name -> (dtype, shape in terms of the sizes below); order = order in the manifest
ARRAYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "row_ptr": ("<i8", ("V+1",)),
    "row_word": ("<i8", ("V+1",)),
    "skip": ("<u4", ("NB", "2")),
    "data": ("<u8", ("W+1",)),
    "rank": ("<u4", ("V",)),
    "token_of_rank": ("<u4", ("V",)),
    "occurrences": ("<u8", ("V",)),
    "windows": ("<u8", ("V",)),
    "text_offsets": ("<u8", ("V+1",)),
    "text": ("|u1", ("T",)),
}


def file_name(name: str) -> str:
    return f"{name}.bin"


def expected_shape(name: str, vocab_size: int, num_blocks: int, num_words: int,
                   text_bytes: int) -> tuple[int, ...]:
    """Shape of array `name` for the given sizes (num_words excludes the guard word)."""
    sizes = {"V": vocab_size, "V+1": vocab_size + 1, "NB": num_blocks, "2": 2,
             "W+1": num_words + 1, "T": text_bytes}
    return tuple(sizes[s] for s in ARRAYS[name][1])
