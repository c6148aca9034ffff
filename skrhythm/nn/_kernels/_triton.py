"""Fused 1-by-n correlation and sub-band max-pooling on the GPU (Triton kernels).

The GPU twin of :mod:`skrhythm.nn._kernels._numba`. The forward kernel gives
each program one sample, one sub-band and a block of ``BLOCK_F`` filters (the
tile shape is tuned per input shape on the GPU, see :func:`_forward_configs`); it
walks the sub-band's bands in ``BLOCK_T``-frame tiles and keeps, per filter,
only the running maximum and its position: the ``(batch, filters, bands,
time)`` activation is never stored. Each tile's ``(BLOCK_F, BLOCK_T)``
correlations are a sum of matrix products over ``BLOCK_K`` taps at a time:
the block's weights ``(BLOCK_F, BLOCK_K)`` times the row's Hankel tile
``(BLOCK_K, BLOCK_T)``, whose element ``[k, t]`` is frame ``t0 + k0 + k + t``.
On NVIDIA GPUs ``tl.dot`` with ``input_precision="ieee"`` computes these in
float32 fused multiply-adds, tap after tap in ascending order as the numba
kernels do, with every operand loaded once per block of filters and taps
(tensor-core TF32 would round the inputs to 10 bits). (For AMD's CDNA GPUs,
MI200 and MI300, Triton compiles it to the matrix cores' float32
instructions, which add the taps in groups of four: the same values within
float tolerance, not bitwise.) Float64 input, for which some Triton
releases have no ``tl.dot``, is correlated tap by tap in the same order. Filters of a block may
differ in length: taps past a filter's length have zero weight and time
positions past its last valid one are masked, so blocks of similar lengths
(the O-net and P-net are built in ascending length) waste little work.
:func:`compile_forward` and :func:`compile_backward` build the machine code
for a GPU without one.

The backward kernels go through the argmax positions: the weight gradient is a
gather of one window per (sample, filter, sub-band), reduced in fixed chunks of
samples and then summed, so it is deterministic; the input gradient (needed
only when the input requires a gradient, never in training) is a scatter with
atomic additions, so its last bits may vary between runs.

Every output element is computed by one program from its own sample only, so
a sample's output does not depend on the rest of the batch. Kernels run on
CUDA tensors, or on CPU tensors under Triton's interpreter
(``TRITON_INTERPRET=1`` set before Triton is imported), which the tests use.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._autograd import PooledCorrelation
from ._triton_compile import DTYPES, POINTERS, compile_for_gpu, launch

__all__ = ["pooled_correlation", "interpreted", "compile_forward", "compile_backward"]

WEIGHT_GRAD_CHUNK = 16


def interpreted():
    """Whether Triton runs kernels in its CPU interpreter (``TRITON_INTERPRET=1``)."""
    return triton.knobs.runtime.interpret


#: (filters, frames, taps, warps) of the forward kernel's tiles, tuned over on a GPU.
FORWARD_TILES = [
    (16, 128, 16, 4), (16, 64, 16, 2), (32, 64, 16, 4), (32, 128, 16, 4), (64, 64, 16, 4),
    (64, 128, 16, 8),
]  # fmt: skip


def _forward_configs():
    """The forward kernel's configurations: every tile on a GPU, the first in the interpreter.

    On a GPU Triton times them all at the first call for each (frames,
    filters) shape and keeps the fastest; the interpreter checks correctness,
    not speed, and the tests run every tile through it directly.
    """
    configs = [
        triton.Config({"BLOCK_F": f, "BLOCK_T": t, "BLOCK_K": k}, num_warps=w)
        for f, t, k, w in FORWARD_TILES
    ]
    return configs[:1] if interpreted() else configs


@triton.autotune(configs=_forward_configs(), key=["n_frames", "n_filters"])
@triton.jit
def _forward_kernel(
    x_ptr, w_ptr, lengths_ptr, offsets_ptr, maxima_ptr, argmax_ptr,
    n_bands, n_frames, n_filters, pool_bands, n_subbands,
    DTYPE: tl.constexpr, BLOCK_F: tl.constexpr, BLOCK_T: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    task = tl.program_id(0)
    b = task // n_subbands
    s = task % n_subbands
    f = tl.program_id(1) * BLOCK_F + tl.arange(0, BLOCK_F)
    f_mask = f < n_filters
    lengths = tl.load(lengths_ptr + f, mask=f_mask, other=0)
    offsets = tl.load(offsets_ptr + f, mask=f_mask, other=0)
    max_length = tl.max(lengths, axis=0)
    min_length = tl.min(tl.where(f_mask, lengths, max_length), axis=0)
    last_start = n_frames - lengths  # last valid position of each filter
    best = tl.full([BLOCK_F], float("-inf"), DTYPE)
    best_at = tl.zeros([BLOCK_F], tl.int32) + s * pool_bands * n_frames
    t_local = tl.arange(0, BLOCK_T)
    k_local = tl.arange(0, BLOCK_K)
    for band in range(s * pool_bands, (s + 1) * pool_bands):
        row = x_ptr + (b * n_bands + band) * n_frames
        for t0 in range(0, n_frames - min_length + 1, BLOCK_T):
            acc = tl.zeros([BLOCK_F, BLOCK_T], DTYPE)
            for k0 in range(0, max_length, BLOCK_K):
                if DTYPE == tl.float64:  # some Triton releases have no float64 tl.dot
                    for k in range(k0, k0 + BLOCK_K):
                        w_k = tl.load(w_ptr + offsets + k, mask=f_mask & (k < lengths), other=0.0)
                        at = t0 + k + t_local
                        x_k = tl.load(row + at, mask=at < n_frames, other=0.0)
                        acc += w_k[:, None] * x_k[None, :]
                else:
                    # (filters, taps) weights, zero past each filter's length, times the
                    # (taps, frames) Hankel tile of the row: [k, t] = row[t0 + k0 + k + t]
                    k = k0 + k_local
                    w_mask = f_mask[:, None] & (k[None, :] < lengths[:, None])
                    weights = tl.load(w_ptr + offsets[:, None] + k[None, :], mask=w_mask,
                                      other=0.0)  # fmt: skip
                    at = t0 + k[:, None] + t_local[None, :]
                    windows = tl.load(row + at, mask=at < n_frames, other=0.0)
                    acc = tl.dot(weights, windows, acc, input_precision="ieee")
            t = t0 + t_local
            acc = tl.where(t[None, :] <= last_start[:, None], acc, float("-inf"))
            tile_best, tile_at = tl.max(
                acc, axis=1, return_indices=True, return_indices_tie_break_left=True
            )
            better = tile_best > best
            best = tl.where(better, tile_best, best)
            best_at = tl.where(better, band * n_frames + t0 + tile_at, best_at)
    out = (b * n_filters + f) * n_subbands + s
    tl.store(maxima_ptr + out, best, mask=f_mask)
    tl.store(argmax_ptr + out, best_at, mask=f_mask)


def compile_forward(tile, dtype=torch.float32, capability=90):
    """The forward kernel of one tuned tile, compiled for a GPU that need not be present.

    See :func:`skrhythm.nn._kernels._triton_compile.compile_for_gpu`;
    ``benchmarks/inspect_triton.py`` reads the machine code.

    Parameters
    ----------
    tile : tuple of int
        ``(filters, frames, taps, warps)``, an entry of :data:`FORWARD_TILES`.
    dtype : torch.dtype, default=torch.float32
    capability : int, default=90
        Compute capability times ten: 90 for the H100 and H200.

    Returns
    -------
    triton.compiler.CompiledKernel
    """
    block_f, block_t, block_k, num_warps = tile
    pointer = POINTERS[dtype]
    signature = {
        "x_ptr": pointer, "w_ptr": pointer, "lengths_ptr": "*i32", "offsets_ptr": "*i32",
        "maxima_ptr": pointer, "argmax_ptr": "*i32", "n_bands": "i32", "n_frames": "i32",
        "n_filters": "i32", "pool_bands": "i32", "n_subbands": "i32", "DTYPE": "constexpr",
        "BLOCK_F": "constexpr", "BLOCK_T": "constexpr", "BLOCK_K": "constexpr",
    }  # fmt: skip
    constants = {"DTYPE": DTYPES[dtype], "BLOCK_F": block_f, "BLOCK_T": block_t,
                 "BLOCK_K": block_k}  # fmt: skip
    return compile_for_gpu(_forward_kernel.fn, signature, constants, num_warps, capability)


@triton.jit
def _weight_grad_kernel(
    x_ptr, grad_ptr, argmax_ptr, lengths_ptr, offsets_ptr, partial_ptr,
    n_batch, sample_size, n_filters, n_subbands, n_weights,
    DTYPE: tl.constexpr, CHUNK: tl.constexpr, BLOCK_K: tl.constexpr,
):  # fmt: skip
    f = tl.program_id(0)
    chunk = tl.program_id(1)
    length = tl.load(lengths_ptr + f)
    offset = tl.load(offsets_ptr + f)
    k = tl.arange(0, BLOCK_K)
    k_mask = k < length
    acc = tl.zeros([BLOCK_K], DTYPE)
    for b in range(chunk * CHUNK, tl.minimum(chunk * CHUNK + CHUNK, n_batch)):
        for s in range(0, n_subbands):
            out = (b * n_filters + f) * n_subbands + s
            g = tl.load(grad_ptr + out)
            at = tl.load(argmax_ptr + out)
            window = tl.load(x_ptr + b * sample_size + at + k, mask=k_mask, other=0.0)
            acc += g * window
    tl.store(partial_ptr + chunk * n_weights + offset + k, acc, mask=k_mask)


@triton.jit
def _input_grad_kernel(
    w_ptr, grad_ptr, argmax_ptr, lengths_ptr, offsets_ptr, grad_x_ptr,
    sample_size, n_filters, n_subbands,
    BLOCK_K: tl.constexpr,
):  # fmt: skip
    b = tl.program_id(0)
    f = tl.program_id(1)
    length = tl.load(lengths_ptr + f)
    offset = tl.load(offsets_ptr + f)
    k = tl.arange(0, BLOCK_K)
    k_mask = k < length
    w = tl.load(w_ptr + offset + k, mask=k_mask, other=0.0)
    for s in range(0, n_subbands):
        out = (b * n_filters + f) * n_subbands + s
        g = tl.load(grad_ptr + out)
        at = tl.load(argmax_ptr + out)
        tl.atomic_add(grad_x_ptr + b * sample_size + at + k, g * w, mask=k_mask)


def compile_backward(dtype=torch.float32, capability=90, block_k=256):
    """The backward kernels, compiled for a GPU that need not be present.

    See :func:`skrhythm.nn._kernels._triton_compile.compile_for_gpu`.

    Parameters
    ----------
    dtype : torch.dtype, default=torch.float32
    capability : int, default=90
        Compute capability times ten.
    block_k : int, default=256
        Taps per program: the longest filter as a power of two (256 for the
        P-net's 216 frames).

    Returns
    -------
    dict of str to triton.compiler.CompiledKernel
        ``"weight_grad"`` and ``"input_grad"``.
    """
    pointer = POINTERS[dtype]
    shared = {"grad_ptr": pointer, "argmax_ptr": "*i32", "lengths_ptr": "*i32",
              "offsets_ptr": "*i32"}  # fmt: skip
    weight_grad = {
        "x_ptr": pointer, **shared, "partial_ptr": pointer, "n_batch": "i32",
        "sample_size": "i32", "n_filters": "i32", "n_subbands": "i32", "n_weights": "i32",
        "DTYPE": "constexpr", "CHUNK": "constexpr", "BLOCK_K": "constexpr",
    }  # fmt: skip
    input_grad = {
        "w_ptr": pointer, **shared, "grad_x_ptr": pointer, "sample_size": "i32",
        "n_filters": "i32", "n_subbands": "i32", "BLOCK_K": "constexpr",
    }  # fmt: skip
    constants = {"DTYPE": DTYPES[dtype], "CHUNK": WEIGHT_GRAD_CHUNK, "BLOCK_K": block_k}
    return {
        "weight_grad": compile_for_gpu(_weight_grad_kernel, weight_grad, constants,
                                       capability=capability),  # fmt: skip
        "input_grad": compile_for_gpu(_input_grad_kernel, input_grad, {"BLOCK_K": block_k},
                                      capability=capability),  # fmt: skip
    }


class _TritonKernels:
    """The GPU backend of :class:`~skrhythm.nn._kernels._autograd.PooledCorrelation`.

    ``geometry`` is ``(lengths, offsets, pool_bands, n_subbands, max_length)``
    with the lengths and offsets as int32 tensors on the device of the input.
    """

    @staticmethod
    def forward(x, w, geometry):
        lengths, offsets, pool_bands, n_subbands, _ = geometry
        n_batch, n_bands, n_frames = x.shape
        n_filters = len(lengths)
        maxima = torch.empty(n_batch, n_filters, n_subbands, dtype=x.dtype, device=x.device)
        argmax = torch.empty(n_batch, n_filters, n_subbands, dtype=torch.int32, device=x.device)
        def grid(meta):
            return (n_batch * n_subbands, triton.cdiv(n_filters, meta["BLOCK_F"]))

        launch(
            _forward_kernel, grid, x, w, lengths, offsets, maxima, argmax,
            n_bands, n_frames, n_filters, pool_bands, n_subbands, DTYPE=DTYPES[x.dtype],
        )  # fmt: skip
        return maxima, argmax

    @staticmethod
    def weight_grad(x, grad, argmax, geometry, w):
        lengths, offsets = geometry[:2]
        n_batch, n_bands, n_frames = x.shape
        n_filters, n_subbands = grad.shape[1:]
        n_chunks = triton.cdiv(n_batch, WEIGHT_GRAD_CHUNK)
        partial = torch.empty(n_chunks, len(w), dtype=x.dtype, device=x.device)
        launch(
            _weight_grad_kernel, (n_filters, n_chunks), x, grad, argmax, lengths, offsets,
            partial, n_batch, n_bands * n_frames, n_filters, n_subbands, len(w),
            DTYPE=DTYPES[x.dtype], CHUNK=WEIGHT_GRAD_CHUNK, BLOCK_K=_block_k(geometry),
        )  # fmt: skip
        return partial.sum(dim=0)

    @staticmethod
    def input_grad(w, grad, argmax, geometry, x):
        lengths, offsets = geometry[:2]
        n_batch, n_bands, n_frames = x.shape
        n_filters, n_subbands = grad.shape[1:]
        grad_x = torch.zeros_like(x)
        launch(
            _input_grad_kernel, (n_batch, n_filters), w, grad, argmax, lengths, offsets,
            grad_x, n_bands * n_frames, n_filters, n_subbands, BLOCK_K=_block_k(geometry),
        )  # fmt: skip
        return grad_x


def _block_k(geometry):
    """Taps per program of the backward kernels: the longest filter, as a power of two."""
    return triton.next_power_of_2(geometry[4])


def pooled_correlation(x, w, lengths, offsets, pool_bands, n_subbands, max_length):
    """Sub-band max of valid 1-by-n correlations on the GPU, differentiable through the argmax.

    The arguments and the result are those of
    :func:`skrhythm.nn._kernels._numba.pooled_correlation`, except that
    ``lengths`` and ``offsets`` are int32 tensors on the device of ``x`` (a
    CUDA device, or the CPU under Triton's interpreter), ``max_length`` is
    ``max(lengths)`` (known on the host, so no device sync is needed) and
    ``x`` is float32 or float64.
    """
    if x.dtype not in DTYPES:
        raise TypeError(f"the Triton filter bank takes float32 or float64 input, got {x.dtype}")
    if x.device.type != "cuda" and not interpreted():
        raise ValueError(
            f'implementation="triton" needs a CUDA tensor (got one on {x.device}); '
            "set TRITON_INTERPRET=1 before importing triton to run it on the CPU"
        )
    geometry = (lengths, offsets, int(pool_bands), int(n_subbands), int(max_length))
    return PooledCorrelation.apply(x, w, _TritonKernels, geometry)
