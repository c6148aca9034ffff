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
vectors of ``_LANES`` consecutive outputs of up to ``_GROUP`` filters in
registers while it runs over the taps, loading each vector of the input once
for all the filters of the group (one vector multiply-add per tap, vector and
filter), and returns each filter's largest output, so the argmax scan reads
only the tiles that can raise the running maximum. The forward kernel groups
consecutive filters by ascending length; the input rows are copied with
zero padding so that whole tiles never read out of bounds (the outputs past
a filter's valid range are never scanned). Each output is summed over the
taps in ascending order with multiply-adds contracted exactly as in the
plain loop (``llvm.fmuladd``), so the results are bitwise those of
:func:`_correlate_plain`, the obvious loop kept beside them for the tests.

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
from numba.core import cgutils, event
from numba.extending import intrinsic

from . import COMPILE_NOTICE
from ._autograd import PooledCorrelation

__all__ = ["pooled_correlation", "pooled_correlation_windows", "prepare_kernels"]

_LAUNCH_LOCK = threading.Lock()

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"


_LANES = 8  # outputs per vector: one AVX2 register of float32
_VECTORS = 8  # vectors per tile of one filter: chains enough to hide the multiply-add latency
_TILE = _LANES * _VECTORS
_GROUP = 4  # filters per group: each vector of the input read once serves all of them
_GROUP_VECTORS = 4  # vectors per filter in a tile of a group
_GROUP_TILE = _LANES * _GROUP_VECTORS
# A zero that numba types as int64, not as the literal 0, so that both kernels call
# _correlate_scan with one signature (one compilation).
_ZERO = np.int64(0)


def _make_tile(n_filters, n_vectors):
    """A numba intrinsic correlating one tile of outputs of a group of filters.

    ``tile(y, row, t, xr, w, offsets, lengths, first)`` correlates the filters
    ``first`` to ``first + n_filters - 1`` (lengths ascending) with ``xr``: for
    filter ``first + j`` and ``i < n_vectors * _LANES`` it sets
    ``y[j * row + t + i] = sum_k w[offsets[first + j] + k] * xr[t + i + k]``,
    ``k`` ascending, one ``llvm.fmuladd`` per tap (contracted exactly as in
    the plain loop), the accumulators in registers. Each vector of ``xr`` is
    loaded once per tap for all the filters that still have taps. It returns
    the largest output of each filter, ignoring NaN (``-inf`` if there is
    none). The caller guarantees that every index is in bounds: nothing is
    checked.
    """

    @intrinsic
    def tile(typingctx, y, row, t, xr, w, offsets, lengths, first):
        result = types.UniTuple(y.dtype, n_filters)
        signature = result(y, types.intp, types.intp, xr, w, offsets, lengths, types.intp)

        def codegen(context, builder, signature, args):
            y, row, t, xr, w, offsets, lengths, first = args
            y_type, _, _, xr_type, w_type, offsets_type, lengths_type, _ = signature.args
            scalar = context.get_value_type(y_type.dtype)
            vector = ir.VectorType(scalar, _LANES)
            bits = 64 if isinstance(scalar, ir.DoubleType) else 32
            fmuladd = cgutils.get_or_insert_function(
                builder.module,
                ir.FunctionType(vector, [vector] * 3),
                f"llvm.fmuladd.v{_LANES}f{bits}",
            )

            def data(array_type, array):
                return context.make_array(array_type)(context, builder, array).data

            def integer(value):
                return ir.Constant(t.type, value)

            def element(array_type, array, j):
                at = builder.gep(data(array_type, array), [builder.add(first, integer(j))])
                return context.cast(builder, builder.load(at), array_type.dtype, types.intp)

            x_base = builder.gep(data(xr_type, xr), [t])
            y_bases, w_bases, n_taps = [], [], []
            for j in range(n_filters):
                y_at = builder.add(t, builder.mul(row, integer(j)))
                y_bases.append(builder.gep(data(y_type, y), [y_at]))
                offset = element(offsets_type, offsets, j)
                w_bases.append(builder.gep(data(w_type, w), [offset]))
                n_taps.append(element(lengths_type, lengths, j))
            zero = ir.Constant(vector, [ir.Constant(scalar, 0.0)] * _LANES)
            accumulators = [
                [cgutils.alloca_once_value(builder, zero) for _ in range(n_vectors)]
                for _ in range(n_filters)
            ]
            splat = ir.Constant(ir.VectorType(ir.IntType(32), _LANES), [0] * _LANES)
            # Taps lengths[j - 1] to lengths[j] - 1 concern the filters j onwards.
            first_tap = integer(0)
            for j in range(n_filters):
                with cgutils.for_range(builder, n_taps[j], start=first_tap) as loop:
                    k = loop.index
                    x_k = []
                    for v in range(n_vectors):
                        at = builder.gep(x_base, [builder.add(k, integer(v * _LANES))])
                        x_k.append(builder.load(builder.bitcast(at, vector.as_pointer()), align=1))
                    for i in range(j, n_filters):
                        w_k = builder.insert_element(
                            ir.Constant(vector, ir.Undefined),
                            builder.load(builder.gep(w_bases[i], [k])),
                            ir.Constant(ir.IntType(32), 0),
                        )
                        w_k = builder.shuffle_vector(w_k, ir.Constant(vector, ir.Undefined), splat)
                        for accumulator, x_kv in zip(accumulators[i], x_k):
                            total = builder.call(fmuladd, [w_k, x_kv, builder.load(accumulator)])
                            builder.store(total, accumulator)
                first_tap = n_taps[j]
            minus_inf = ir.Constant(scalar, float("-inf"))
            maxima = []
            for y_base, filter_accumulators in zip(y_bases, accumulators):
                top = ir.Constant(vector, [minus_inf] * _LANES)
                for v, accumulator in enumerate(filter_accumulators):
                    total = builder.load(accumulator)
                    at = builder.gep(y_base, [integer(v * _LANES)])
                    builder.store(total, builder.bitcast(at, vector.as_pointer()), align=1)
                    top = builder.select(builder.fcmp_ordered(">", total, top), total, top)
                half = _LANES // 2  # halve the vector: its lanes hold no NaN
                while half:
                    mask = [(lane + half) % _LANES for lane in range(_LANES)]
                    other = builder.shuffle_vector(top, top, ir.Constant(splat.type, mask))
                    top = builder.select(builder.fcmp_ordered(">", other, top), other, top)
                    half //= 2
                maxima.append(builder.extract_element(top, ir.Constant(ir.IntType(32), 0)))
            return context.make_tuple(builder, signature.return_type, maxima)

        return signature, codegen

    return tile


_single_tile = _make_tile(1, _VECTORS)
_pair_tile, _triple_tile, _quad_tile = (_make_tile(n, _GROUP_VECTORS) for n in (2, 3, 4))


@njit(inline="always")
def _scan(y, lo, hi, best, best_at, base):
    """Running maximum over ``y[lo:hi]`` in order, strict ``>``: first position of a tie wins."""
    for t in range(lo, hi):
        if y[t] > best:
            best = y[t]
            best_at = base + t
    return best, best_at


@njit(inline="always")
def _scan_tile(maxima, y, row, t, width, lengths, first, hi, best, best_at, base):
    """Scan the new outputs of each filter of a tile, if its maximum can raise the running one."""
    for j in range(len(maxima)):
        if maxima[j] > best[j]:
            end = min(t + width, hi - (lengths[first + j] - lengths[first]))
            best[j], best_at[j] = _scan(y[j * row :], t, end, best[j], best_at[j], base)


@njit(fastmath={"contract"})  # not inlined: compiled once for both kernels
def _correlate_scan(size, y, row, xp, w, offsets, lengths, first, lo, hi, best, best_at, base):
    """Correlate ``size`` (1 to ``_GROUP``) filters with a padded row in register tiles.

    Filter ``first + j`` (lengths ascending) is correlated with ``xp`` into
    row ``j`` of ``y`` (rows ``row`` apart): ``y[j * row + t] = sum_k
    w[offsets[first + j] + k] * xp[t + k]`` for ``lo <= t < hi_j``, where
    ``hi_j = hi - (lengths[first + j] - lengths[first])`` (with ``hi`` the
    count of valid outputs of the shortest filter, every ``hi_j`` is the
    count of its filter). Whole tiles run from ``lo`` on, so up to one tile of
    outputs beyond ``hi_j`` is written too (values of no use): ``xp`` must be
    readable up to ``hi + _TILE + lengths[first + size - 1]`` and the rows of
    ``y`` long enough. ``best[j]`` and ``best_at[j]`` are updated as by
    scanning ``y[j * row + lo : j * row + hi_j]`` in order for values strictly
    above ``best[j]`` (``best_at[j] = base + t``); a tile whose maximum
    cannot raise ``best[j]`` is not scanned.
    """
    if size == 1:
        for t in range(lo, hi, _TILE):
            maxima = _single_tile(y, row, t, xp, w, offsets, lengths, first)
            _scan_tile(maxima, y, row, t, _TILE, lengths, first, hi, best, best_at, base)
    elif size == 2:
        for t in range(lo, hi, _GROUP_TILE):
            maxima = _pair_tile(y, row, t, xp, w, offsets, lengths, first)
            _scan_tile(maxima, y, row, t, _GROUP_TILE, lengths, first, hi, best, best_at, base)
    elif size == 3:
        for t in range(lo, hi, _GROUP_TILE):
            maxima = _triple_tile(y, row, t, xp, w, offsets, lengths, first)
            _scan_tile(maxima, y, row, t, _GROUP_TILE, lengths, first, hi, best, best_at, base)
    else:
        for t in range(lo, hi, _GROUP_TILE):
            maxima = _quad_tile(y, row, t, xp, w, offsets, lengths, first)
            _scan_tile(maxima, y, row, t, _GROUP_TILE, lengths, first, hi, best, best_at, base)


@njit(fastmath={"contract"})
def _correlate_plain(y, xr, w, offset, n, n_out):
    """The obvious loop for one filter, one output at a time, taps ascending (for the tests)."""
    for t in range(n_out):
        total = y.dtype.type(0)
        for k in range(n):
            total = total + w[offset + k] * xr[t + k]
        y[t] = total


@njit(inline="always")
def _padded_rows(x, b, first_band, n_bands, pad):
    """Bands ``first_band`` onwards of sample ``b``, each followed by ``pad`` zeros."""
    n_frames = x.shape[2]
    rows = np.zeros((n_bands, n_frames + pad), x.dtype)
    for i in range(n_bands):
        rows[i, :n_frames] = x[b, first_band + i]
    return rows


@njit(parallel=True, cache=True, fastmath={"contract"})
def _forward_kernel(x, w, lengths, offsets, filters, pool_bands, n_subbands):
    """Pooled maxima and their positions, for the filters by ascending length.

    ``lengths`` and ``offsets`` list the filters by ascending length and
    ``filters`` their indices in the output. Consecutive filters of that list
    are correlated in groups of ``_GROUP`` (fewer at the end), the group's
    filters sharing every load of the input.
    """
    n_batch, _, n_frames = x.shape
    n_filters = lengths.shape[0]
    pad = _TILE + lengths[-1]
    maxima = np.empty((n_batch, n_filters, n_subbands), x.dtype)
    argmax = np.empty((n_batch, n_filters, n_subbands), np.int64)
    for task in prange(n_batch * n_subbands):
        b = task // n_subbands
        s = task % n_subbands
        rows = _padded_rows(x, b, s * pool_bands, pool_bands, pad)
        y = np.empty(_GROUP * (n_frames + pad), x.dtype)
        best = np.empty(_GROUP, np.float64)
        best_at = np.empty(_GROUP, np.int64)
        for first in range(0, n_filters, _GROUP):
            size = min(_GROUP, n_filters - first)
            best[:] = -np.inf
            best_at[:] = s * pool_bands * n_frames
            n_out = n_frames - lengths[first] + 1
            for i in range(pool_bands):
                base = (s * pool_bands + i) * n_frames
                _correlate_scan(
                    size, y, n_frames + pad, rows[i], w, offsets, lengths, first, _ZERO, n_out,
                    best, best_at, base,
                )  # fmt: skip
            for j in range(size):
                maxima[b, filters[first + j], s] = best[j]
                argmax[b, filters[first + j], s] = best_at[j]
    return maxima, argmax


@njit(parallel=True, cache=True, fastmath={"contract"})
def _windows_kernel(x, w, lengths, offsets, filters, pool_bands, n_subbands, starts, patch_frames):
    """Pooled maxima of every patch of whole tracks; filters as in :func:`_forward_kernel`."""
    n_batch, _, n_frames = x.shape
    n_filters = lengths.shape[0]
    n_patches = starts.shape[0]
    sorted_starts = np.unique(starts)
    pad = _TILE + lengths[-1]
    row = n_frames + pad
    maxima = np.empty((n_batch, n_patches, n_filters, n_subbands), x.dtype)
    for task in prange(n_batch * n_subbands):
        b = task // n_subbands
        s = task % n_subbands
        rows = _padded_rows(x, b, s * pool_bands, pool_bands, pad)
        y = np.empty(_GROUP * row, x.dtype)
        band_max = np.empty(_GROUP * row, x.dtype)
        no_scan = np.full(_GROUP, np.inf)  # correlations only: nothing can exceed it
        no_position = np.zeros(_GROUP, np.int64)
        for first in range(0, n_filters, _GROUP):
            size = min(_GROUP, n_filters - first)
            # band_max[j * row + t]: largest correlation of filter first + j at
            # time t over the bands of the sub-band, for t in the union of the
            # patches' windows of the group's shortest filter (which hold those
            # of the longer ones) only
            n_window = patch_frames - lengths[first] + 1
            i = 0
            while i < sorted_starts.shape[0]:
                lo = sorted_starts[i]
                hi = lo + n_window
                i += 1
                while i < sorted_starts.shape[0] and sorted_starts[i] <= hi:
                    hi = sorted_starts[i] + n_window
                    i += 1
                _correlate_scan(
                    size, band_max, row, rows[0], w, offsets, lengths, first, lo, hi,
                    no_scan, no_position, _ZERO,
                )  # fmt: skip
                for band in range(1, pool_bands):
                    _correlate_scan(
                        size, y, row, rows[band], w, offsets, lengths, first, lo, hi,
                        no_scan, no_position, _ZERO,
                    )  # fmt: skip
                    for j in range(size):
                        for t in range(j * row + lo, j * row + hi):  # a select: vectorised
                            band_max[t] = y[t] if y[t] > band_max[t] else band_max[t]
            for j in range(size):
                n_window_j = patch_frames - lengths[first + j] + 1
                for p in range(n_patches):
                    best = -np.inf
                    for t in range(j * row + starts[p], j * row + starts[p] + n_window_j):
                        if band_max[t] > best:
                            best = band_max[t]
                    maxima[b, p, filters[first + j], s] = best
    return maxima


@njit(parallel=True, cache=True)
def _weight_grad_kernel(x, grad, argmax, lengths, offsets, grad_w):
    n_batch, _, n_frames = x.shape
    n_filters, n_subbands = grad.shape[1], grad.shape[2]
    for f in prange(n_filters):
        n = lengths[f]
        total = np.zeros(n, grad_w.dtype)  # a local sum: its loop vectorises
        for b in range(n_batch):
            for s in range(n_subbands):
                g = grad[b, f, s]
                if g != 0:
                    band = argmax[b, f, s] // n_frames
                    window = x[b, band, argmax[b, f, s] - band * n_frames :]
                    for k in range(n):
                        total[k] += g * window[k]
        grad_w[offsets[f] : offsets[f] + n] += total


@njit(parallel=True, cache=True)
def _input_grad_kernel(w, grad, argmax, lengths, offsets, grad_x):
    n_batch, _, n_frames = grad_x.shape
    n_filters, n_subbands = grad.shape[1], grad.shape[2]
    for b in prange(n_batch):
        for f in range(n_filters):
            n = lengths[f]
            weights = w[offsets[f] : offsets[f] + n]
            for s in range(n_subbands):
                g = grad[b, f, s]
                if g != 0:
                    band = argmax[b, f, s] // n_frames
                    window = grad_x[b, band, argmax[b, f, s] - band * n_frames :]
                    for k in range(n):
                        window[k] += g * weights[k]


def _launch(kernel, *args):
    """Run a parallel kernel on as many numba threads as torch uses (at least one)."""
    n_threads = max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS))
    with _LAUNCH_LOCK:
        numba.set_num_threads(n_threads)
        return kernel(*args)


class _NumbaKernels:
    """The CPU backend of :class:`~skrhythm.nn._kernels._autograd.PooledCorrelation`.

    ``geometry`` is ``(lengths, offsets, pool_bands, n_subbands)`` with int64
    numpy arrays.
    """

    @staticmethod
    def forward(x, w, geometry):
        lengths, offsets, pool_bands, n_subbands = geometry
        maxima, argmax = _launch(
            _forward_kernel, x.numpy(), w.numpy(), *_by_length(lengths, offsets), pool_bands,
            n_subbands,
        )  # fmt: skip
        return torch.from_numpy(maxima), torch.from_numpy(argmax)

    @staticmethod
    def input_grad(w, grad, argmax, geometry, x):
        return _through_argmax(_input_grad_kernel, w, grad, argmax, geometry, torch.zeros_like(x))

    @staticmethod
    def weight_grad(x, grad, argmax, geometry, w):
        return _through_argmax(_weight_grad_kernel, x, grad, argmax, geometry, torch.zeros_like(w))


def _by_length(lengths, offsets):
    """The filters' lengths and offsets by ascending length, and their indices (the kernels')."""
    filters = np.argsort(lengths, kind="stable")
    return lengths[filters], offsets[filters], filters


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
        _windows_kernel, x, w, *_by_length(lengths, offsets), pool_bands, n_subbands, starts,
        int(patch_frames),
    )  # fmt: skip
    return torch.from_numpy(maxima)


def prepare_kernels(*, training=True, notify=None):
    """Compile or load the float32 kernels; see :func:`skrhythm.nn.prepare_kernels`."""
    notice = _CompileNotice(notify)
    with event.install_listener("numba:compile", notice):
        x = torch.zeros((1, 4, 64))
        lengths, offsets = np.array([2, 3]), np.array([0, 2])
        w = torch.zeros(5, requires_grad=training)
        if training:
            pooled_correlation(x, w, lengths, offsets, 4, 1).sum().backward()
        pooled_correlation_windows(x, w, lengths, offsets, 4, 1, np.array([0, 8]), 16)


class _CompileNotice(event.Listener):
    """Calls ``notify`` once, when numba starts compiling (a cache load compiles nothing)."""

    def __init__(self, notify):
        self.tell = notify  # (Listener.notify is the method numba calls)

    def on_start(self, event):
        if self.tell is not None:
            tell, self.tell = self.tell, None
            tell(COMPILE_NOTICE)

    def on_end(self, event):
        pass
