"""Low-level helpers for kernels that numba does not expose."""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def prefetch(typingctx, arr, idx):
    """Hint the CPU to load arr[idx] into cache (LLVM's llvm.prefetch: read, high locality).

    Only a hint: it never faults, so an index past the end is harmless, but callers keep it
    in range anyway. Used where a kernel chases indices into a large array (memory-latency
    bound) and knows the addresses a few iterations ahead.
    """
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        arrty = signature.args[0]
        ary = context.make_array(arrty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, arrty, ary, [args[1]],
                                       wraparound=False, boundscheck=False)
        i8p = builder.bitcast(ptr, ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [i8p, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def load_u64(typingctx, arr, idx):
    """The 8 bytes arr[idx:idx + 8] of a uint8 array as one uint64, little-endian (the
    byte order of every platform numba supports): one unaligned load where numba would
    emit eight byte loads. The caller keeps idx + 8 <= len(arr): nothing is checked."""
    if not (isinstance(arr, types.Array) and arr.dtype == types.uint8):
        return None
    sig = types.uint64(arr, idx)

    def codegen(context, builder, signature, args):
        arrty = signature.args[0]
        ary = context.make_array(arrty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, arrty, ary, [args[1]],
                                       wraparound=False, boundscheck=False)
        i64 = ir.IntType(64)
        load = builder.load(builder.bitcast(ptr, i64.as_pointer()), align=1)
        return load

    return sig, codegen



@intrinsic
def pread_bytes(typingctx, fd, arr, idx, nbytes, offset):
    """libc pread(fd, &arr[idx], nbytes, offset): bytes read, 0 at the end of the file, -1 on
    an error. A kernel reads spans of a file into its own buffer with it, where a memory map
    would count every page the kernel maps around a read (up to a large folio) in the RSS.
    The caller keeps arr[idx:] at least nbytes long: nothing is checked."""
    if not isinstance(arr, types.Array):
        return None
    sig = types.int64(fd, arr, idx, nbytes, offset)

    def codegen(context, builder, signature, args):
        arrty = signature.args[1]
        ary = context.make_array(arrty)(context, builder, args[1])
        ptr = cgutils.get_item_pointer(context, builder, arrty, ary, [args[2]],
                                       wraparound=False, boundscheck=False)
        i8p = builder.bitcast(ptr, ir.IntType(8).as_pointer())
        i64 = ir.IntType(64)
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(i64, [i32, i8p.type, i64, i64])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "pread")
        fd32 = builder.trunc(context.cast(builder, args[0], signature.args[0], types.int64), i32)
        n = context.cast(builder, args[3], signature.args[3], types.int64)
        off = context.cast(builder, args[4], signature.args[4], types.int64)
        return builder.call(fn, [fd32, i8p, n, off])

    return sig, codegen
