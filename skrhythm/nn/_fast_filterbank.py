"""Fused 1-by-n correlation and sub-band max-pooling on the CPU (numba kernels).

The forward kernel correlates, for every sample, sub-band and filter, the
filter with each band of the sub-band and keeps only the running maximum and
its position, so the full ``(batch, filters, bands, time)`` activation is
never stored. The backward kernels use these argmax positions: the pooled
output depends on one input window per (sample, filter, sub-band), so the
weight gradient is a gather of those windows and the input gradient a scatter
of the weights. For prediction, a windows kernel correlates whole tracks once
and pools every patch of them from these correlations (a sliding-window
maximum).

The correlations are computed in register tiles: an LLVM intrinsic keeps
``_VECTORS`` vectors of ``_LANES`` consecutive outputs in registers while it
runs over the taps, one vector multiply-add per tap and vector, and returns
the tile's maximum, so the argmax scan reads only the tiles that can raise
the running maximum. Each output is summed over the taps in ascending order
with multiply-adds contracted exactly as in the plain loop
(``llvm.fmuladd``), so the results are bitwise those of
:func:`_correlate_plain`, the obvious scalar loop kept beside it for the
tests.

Every output element is computed by one thread with a fixed summation order
that depends only on its own sample, so the result of a sample does not depend
on the rest of the batch. The kernels are compiled lazily (on first use, for
each dtype) and run on at most ``torch.get_num_threads()`` numba threads.

Unless ``NUMBA_THREADING_LAYER`` is set, numba's "workqueue" threading layer
is selected (if numba has not started its threads yet): the "omp" layer numba
would otherwise pick terminates any process forked after using it, which
breaks ``multiprocessing`` with the fork start method. The workqueue layer
does not support concurrent launches, so a lock serialises kernel launches
from concurrent Python threads (for instance joblib's threading backend).
"""

from __future__ import annotations

import os
import threading

import numba
import numpy as np
import torch
from llvmlite import ir
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from ._pooled_correlation import PooledCorrelation

__all__ = ["pooled_correlation", "pooled_correlation_windows"]

_LAUNCH_LOCK = threading.Lock()

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"


_LANES = 8  # outputs per vector: one AVX2 register of float32
_VECTORS = 8  # vectors per tile: enough independent multiply-add chains to hide their latency
_TILE = _LANES * _VECTORS


def _make_tile(n_vectors):
    """A numba intrinsic correlating one tile of ``n_vectors * _LANES`` outputs.

    ``tile(y, t, xr, w, offset, n)`` sets ``y[t + i] = sum_k w[offset + k] *
    xr[t + i + k]`` for ``i < n_vectors * _LANES`` (``k`` ascending, one
    ``llvm.fmuladd`` per tap, accumulators in registers) and returns the
    largest of these outputs, ignoring NaN (``-inf`` if there is none). The
    caller guarantees that every index is in bounds: nothing is checked.
    """

    @intrinsic
    def tile(typingctx, y, t, xr, w, offset, n):
        signature = y.dtype(y, types.intp, xr, w, types.intp, types.intp)

        def codegen(context, builder, signature, args):
            y, t, xr, w, offset, n = args
            y_type, _, xr_type, w_type, _, _ = signature.args
            scalar = context.get_value_type(y_type.dtype)
            vector = ir.VectorType(scalar, _LANES)
            bits = 64 if isinstance(scalar, ir.DoubleType) else 32
            fmuladd = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(vector, [vector] * 3),
                f"llvm.fmuladd.v{_LANES}f{bits}",
            )
            y_base = builder.gep(context.make_array(y_type)(context, builder, y).data, [t])
            x_base = builder.gep(context.make_array(xr_type)(context, builder, xr).data, [t])
            w_base = builder.gep(context.make_array(w_type)(context, builder, w).data, [offset])
            zero = ir.Constant(vector, [ir.Constant(scalar, 0.0)] * _LANES)
            accumulators = [cgutils.alloca_once_value(builder, zero) for _ in range(n_vectors)]
            splat = ir.Constant(ir.VectorType(ir.IntType(32), _LANES), [0] * _LANES)
            with cgutils.for_range(builder, n) as loop:
                k = loop.index
                w_k = builder.insert_element(
                    ir.Constant(vector, ir.Undefined),
                    builder.load(builder.gep(w_base, [k])),
                    ir.Constant(ir.IntType(32), 0),
                )
                w_k = builder.shuffle_vector(w_k, ir.Constant(vector, ir.Undefined), splat)
                for v, accumulator in enumerate(accumulators):
                    at = builder.gep(x_base, [builder.add(k, ir.Constant(k.type, v * _LANES))])
                    x_k = builder.load(builder.bitcast(at, vector.as_pointer()), align=1)
                    total = builder.call(fmuladd, [w_k, x_k, builder.load(accumulator)])
                    builder.store(total, accumulator)
            minus_inf = ir.Constant(scalar, float("-inf"))
            top = ir.Constant(vector, [minus_inf] * _LANES)
            for v, accumulator in enumerate(accumulators):
                total = builder.load(accumulator)
                at = builder.gep(y_base, [ir.Constant(t.type, v * _LANES)])
                builder.store(total, builder.bitcast(at, vector.as_pointer()), align=1)
                top = builder.select(builder.fcmp_ordered(">", total, top), total, top)
            result = minus_inf
            for lane in range(_LANES):
                value = builder.extract_element(top, ir.Constant(ir.IntType(32), lane))
                result = builder.select(builder.fcmp_ordered(">", value, result), value, result)
            return result

        return signature, codegen

    return tile


_tile_1, _tile_2, _tile_3, _tile_4, _tile_5, _tile_6, _tile_7, _tile_8 = (
    _make_tile(n_vectors) for n_vectors in range(1, _VECTORS + 1)
)


@njit(inline="always")
def _tile(n_vectors, y, t, xr, w, offset, n):
    """Correlate ``n_vectors`` (1 to ``_VECTORS``) vectors of outputs from ``t``; their maximum."""
    if n_vectors == 1:
        return _tile_1(y, t, xr, w, offset, n)
    if n_vectors == 2:
        return _tile_2(y, t, xr, w, offset, n)
    if n_vectors == 3:
        return _tile_3(y, t, xr, w, offset, n)
    if n_vectors == 4:
        return _tile_4(y, t, xr, w, offset, n)
    if n_vectors == 5:
        return _tile_5(y, t, xr, w, offset, n)
    if n_vectors == 6:
        return _tile_6(y, t, xr, w, offset, n)
    if n_vectors == 7:
        return _tile_7(y, t, xr, w, offset, n)
    return _tile_8(y, t, xr, w, offset, n)


@njit(inline="always")
def _scan(y, lo, hi, best, best_at, base):
    """Running maximum over ``y[lo:hi]`` in order, strict ``>``: first position of a tie wins."""
    for t in range(lo, hi):
        if y[t] > best:
            best = y[t]
            best_at = base + t
    return best, best_at


@njit(inline="always")
def _tile_scan(n_vectors, y, t, xr, w, offset, n, best, best_at, base):
    """Correlate a tile, then scan it only if its maximum can raise ``best``."""
    if _tile(n_vectors, y, t, xr, w, offset, n) > best:
        return _scan(y, t, t + n_vectors * _LANES, best, best_at, base)
    return best, best_at


@njit(inline="always", fastmath={"contract"})
def _correlate_scan(y, xr, w, offset, n, n_out, best, best_at, base):
    """``y[t] = sum_k w[offset + k] * xr[t + k]`` for ``t < n_out``, and the running maximum.

    Returns ``best`` and ``best_at`` updated as by scanning ``y[:n_out]`` in
    order for values strictly above ``best`` (``best_at = base + t``). Full
    tiles run from ``t = 0``; the remainder is one tile that ends at
    ``n_out`` and overlaps the previous one (its outputs are computed again,
    identically, and cannot raise the maximum again), so no tap reads past
    ``xr[n_out + n - 2]``. Only rows shorter than one vector run the scalar
    loop.
    """
    t = 0
    while t + _TILE <= n_out:
        best, best_at = _tile_scan(_VECTORS, y, t, xr, w, offset, n, best, best_at, base)
        t += _TILE
    if t == n_out:
        return best, best_at
    n_vectors = (n_out - t + _LANES - 1) // _LANES
    if n_out >= n_vectors * _LANES:
        start = n_out - n_vectors * _LANES
        return _tile_scan(n_vectors, y, start, xr, w, offset, n, best, best_at, base)
    # Here t == 0 and n_out < _TILE is not a multiple of _LANES.
    if n_vectors > 1:
        best, best_at = _tile_scan(n_vectors - 1, y, 0, xr, w, offset, n, best, best_at, base)
    if n_out >= _LANES:
        return _tile_scan(1, y, n_out - _LANES, xr, w, offset, n, best, best_at, base)
    _correlate_plain(y[:n_out], xr, w, offset, n, n_out)
    return _scan(y, 0, n_out, best, best_at, base)


@njit(inline="always", fastmath={"contract"})
def _correlate(y, xr, w, offset, n, n_out):
    """``y[t] = sum_k w[offset + k] * xr[t + k]`` for ``t < n_out`` (register tiles)."""
    _correlate_scan(y, xr, w, offset, n, n_out, np.inf, 0, 0)


@njit(fastmath={"contract"})
def _correlate_plain(y, xr, w, offset, n, n_out):
    """The obvious loop for :func:`_correlate`, one output at a time, taps ascending."""
    for t in range(n_out):
        total = y.dtype.type(0)
        for k in range(n):
            total = total + w[offset + k] * xr[t + k]
        y[t] = total


@njit(parallel=True, cache=False, fastmath={"contract"})
def _forward_kernel(x, w, lengths, offsets, pool_bands, n_subbands):
    n_batch, _, n_frames = x.shape
    n_filters = lengths.shape[0]
    maxima = np.empty((n_batch, n_filters, n_subbands), x.dtype)
    argmax = np.empty((n_batch, n_filters, n_subbands), np.int64)
    for task in prange(n_batch * n_subbands):
        b = task // n_subbands
        s = task % n_subbands
        y = np.empty(n_frames, x.dtype)
        for f in range(n_filters):
            n = lengths[f]
            n_out = n_frames - n + 1
            best = -np.inf
            best_at = s * pool_bands * n_frames
            for band in range(s * pool_bands, (s + 1) * pool_bands):
                best, best_at = _correlate_scan(
                    y, x[b, band], w, offsets[f], n, n_out, best, best_at, band * n_frames
                )
            maxima[b, f, s] = best
            argmax[b, f, s] = best_at
    return maxima, argmax


@njit(parallel=True, cache=False, fastmath={"contract"})
def _windows_kernel(x, w, lengths, offsets, pool_bands, n_subbands, starts, patch_frames):
    n_batch, _, n_frames = x.shape
    n_filters = lengths.shape[0]
    n_patches = starts.shape[0]
    sorted_starts = np.unique(starts)
    maxima = np.empty((n_batch, n_patches, n_filters, n_subbands), x.dtype)
    for task in prange(n_batch * n_subbands):
        b = task // n_subbands
        s = task % n_subbands
        first = s * pool_bands
        y = np.empty(n_frames, x.dtype)
        band_max = np.empty(n_frames, x.dtype)
        for f in range(n_filters):
            n = lengths[f]
            n_window = patch_frames - n + 1
            # band_max[t]: largest correlation at time t over the bands of the
            # sub-band, for t in the union of the patches' windows only
            i = 0
            while i < sorted_starts.shape[0]:
                lo = sorted_starts[i]
                hi = lo + n_window
                i += 1
                while i < sorted_starts.shape[0] and sorted_starts[i] <= hi:
                    hi = sorted_starts[i] + n_window
                    i += 1
                segment_max = band_max[lo:hi]
                segment = y[lo:hi]
                _correlate(segment_max, x[b, first, lo:], w, offsets[f], n, hi - lo)
                for band in range(first + 1, first + pool_bands):
                    _correlate(segment, x[b, band, lo:], w, offsets[f], n, hi - lo)
                    for t in range(hi - lo):
                        if segment[t] > segment_max[t]:
                            segment_max[t] = segment[t]
            for p in range(n_patches):
                best = -np.inf
                for t in range(starts[p], starts[p] + n_window):
                    if band_max[t] > best:
                        best = band_max[t]
                maxima[b, p, f, s] = best
    return maxima


@njit(parallel=True, cache=False)
def _weight_grad_kernel(x, grad, argmax, lengths, offsets, grad_w):
    n_batch, _, n_frames = x.shape
    n_filters, n_subbands = grad.shape[1], grad.shape[2]
    for f in prange(n_filters):
        o = offsets[f]
        for b in range(n_batch):
            for s in range(n_subbands):
                g = grad[b, f, s]
                if g != 0:
                    band, t = divmod(argmax[b, f, s], n_frames)
                    for k in range(lengths[f]):
                        grad_w[o + k] += g * x[b, band, t + k]


@njit(parallel=True, cache=False)
def _input_grad_kernel(w, grad, argmax, lengths, offsets, grad_x):
    n_batch, _, n_frames = grad_x.shape
    n_filters, n_subbands = grad.shape[1], grad.shape[2]
    for b in prange(n_batch):
        for f in range(n_filters):
            o = offsets[f]
            for s in range(n_subbands):
                g = grad[b, f, s]
                if g != 0:
                    band, t = divmod(argmax[b, f, s], n_frames)
                    for k in range(lengths[f]):
                        grad_x[b, band, t + k] += g * w[o + k]


def _launch(kernel, *args):
    """Run a parallel kernel on as many numba threads as torch uses (at least one)."""
    n_threads = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    with _LAUNCH_LOCK:
        numba.set_num_threads(n_threads)
        return kernel(*args)


class _NumbaKernels:
    """The CPU backend of :class:`~skrhythm.nn._pooled_correlation.PooledCorrelation`.

    ``geometry`` is ``(lengths, offsets, pool_bands, n_subbands)`` with int64
    numpy arrays.
    """

    @staticmethod
    def forward(x, w, geometry):
        maxima, argmax = _launch(_forward_kernel, x.numpy(), w.numpy(), *geometry)
        return torch.from_numpy(maxima), torch.from_numpy(argmax)

    @staticmethod
    def input_grad(w, grad, argmax, geometry, x):
        return _through_argmax(_input_grad_kernel, w, grad, argmax, geometry, torch.zeros_like(x))

    @staticmethod
    def weight_grad(x, grad, argmax, geometry, w):
        return _through_argmax(_weight_grad_kernel, x, grad, argmax, geometry, torch.zeros_like(w))


def _through_argmax(kernel, data, grad, argmax, geometry, out):
    """Run a backward kernel (scatter of ``w`` or gather of ``x`` at the argmax) into ``out``."""
    lengths, offsets = geometry[:2]
    _launch(kernel, data.numpy(), grad.numpy(), argmax.numpy(), lengths, offsets, out.numpy())
    return out


def pooled_correlation(x, w, lengths, offsets, pool_bands, n_subbands):
    """Sub-band max of valid 1-by-n correlations, differentiable through the argmax.

    Parameters
    ----------
    x : torch.Tensor
        CPU input of shape ``(batch, n_bands, n_frames)``, float32 or float64.
    w : torch.Tensor
        All filters concatenated into one 1-d tensor of the dtype of ``x``.
    lengths, offsets : numpy.ndarray of int64
        Length of each filter and the position of its first weight in ``w``.
    pool_bands : int
        Bands per sub-band; sub-band ``s`` covers bands
        ``s * pool_bands`` to ``(s + 1) * pool_bands - 1``.
    n_subbands : int
        Number of sub-bands; bands from ``n_subbands * pool_bands`` on are
        ignored (and get zero gradient).

    Returns
    -------
    torch.Tensor
        Shape ``(batch, len(lengths), n_subbands)``: for each filter and
        sub-band, the largest correlation over the bands of the sub-band and
        all valid time positions (no bias, no ReLU).
    """
    geometry = (lengths, offsets, pool_bands, n_subbands)
    return PooledCorrelation.apply(x, w, _NumbaKernels, geometry)


def pooled_correlation_windows(
    x, w, lengths, offsets, pool_bands, n_subbands, starts, patch_frames
):
    """:func:`pooled_correlation` of every patch of whole tracks, each track correlated once.

    Each filter is correlated once with each band of a track, at the
    positions that some patch covers; the pooled value of a patch is the
    maximum of these correlations over the patch's bands and valid positions
    (a sliding-window maximum), so frames shared by overlapping patches are
    not correlated again. Each correlation is summed in the same order as in
    :func:`pooled_correlation`, so the result is bitwise that of
    :func:`pooled_correlation` on the patches. Inference only: nothing is
    recorded for autograd.

    Parameters
    ----------
    x : torch.Tensor
        CPU tracks of shape ``(batch, n_bands, n_frames)``, float32 or float64.
    w, lengths, offsets, pool_bands, n_subbands
        As in :func:`pooled_correlation`.
    starts : numpy.ndarray of int64
        First frame of each patch, in any order; every patch must lie in the
        track: ``0 <= starts`` and ``starts + patch_frames <= n_frames``.
    patch_frames : int
        Frames per patch, at least ``max(lengths)``.

    Returns
    -------
    torch.Tensor
        Shape ``(batch, len(starts), len(lengths), n_subbands)``: the output of
        :func:`pooled_correlation` for ``x[:, :, start : start + patch_frames]``
        at each start.
    """
    x = x.detach().contiguous().numpy()
    w = w.detach().contiguous().numpy()
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    maxima = _launch(
        _windows_kernel, x, w, lengths, offsets, pool_bands, n_subbands, starts, int(patch_frames)
    )
    return torch.from_numpy(maxima)
