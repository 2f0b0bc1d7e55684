"""Bit primitives over little-endian uint64 word arrays, shared by every succinct structure
(the index block codec, Elias-Fano sequences, Rice-coded counts, the LM trie)."""

import numpy as np
from numba import njit
from numba.core.extending import intrinsic
from numba.cpython.unsafe.numbers import leading_zeros

_JIT = dict(cache=True, nogil=True)
_ONE = np.uint64(1)


@intrinsic
def popcount(typingctx, x):
    sig = x(x)

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return sig, codegen


@njit(**_JIT)
def bit_length(x):
    """Bits needed for x >= 0 (0 for 0)."""
    if x <= 0:
        return 0
    return 64 - np.int64(leading_zeros(np.uint64(x)))


@njit(**_JIT)
def get_bits(words, pos, width):
    """`width` (0..63) bits at bit position `pos`, as int64; word index clamped into `words`.
    Branch-free (the next word is read whether the bits reach it or not): a branch on
    sh + width > 64 is mispredicted at random positions, 8.4 ns a read instead of 3.2."""
    if width == 0:
        return np.int64(0)
    last = words.shape[0] - 1
    i = min(pos >> 6, last)
    sh = np.uint64(pos & 63)
    v = (words[i] >> sh) | ((words[min(i + 1, last)] << (np.uint64(63) - sh)) << _ONE)
    return np.int64(v & ((_ONE << np.uint64(width)) - _ONE))


@njit(**_JIT)
def put_bits(words, pos, v, width):
    """OR `width` bits of v (int64, < 2**width) in at bit position pos (words pre-zeroed)."""
    if width == 0:
        return
    i = pos >> 6
    sh = pos & 63
    u = np.uint64(v)
    words[i] |= u << np.uint64(sh)
    if sh + width > 64:
        words[i + 1] |= u >> np.uint64(64 - sh)


@njit(**_JIT)
def set_bit(words, pos):
    words[pos >> 6] |= _ONE << np.uint64(pos & 63)
