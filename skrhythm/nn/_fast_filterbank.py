"""Fused 1-by-n correlation and sub-band max-pooling on the CPU (numba kernels).

The forward kernel computes, for every sample, sub-band and filter, the valid
correlation of the filter with each band of the sub-band into a small scratch
row and keeps only the running maximum and its position, so the full
``(batch, filters, bands, time)`` activation is never stored. The backward
kernels use these argmax positions: the pooled output depends on one input
window per (sample, filter, sub-band), so the weight gradient is a gather of
those windows and the input gradient a scatter of the weights. For prediction,
a windows kernel correlates whole tracks once and pools every patch of them
from these correlations (a sliding-window maximum).

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
from numba import njit, prange

from ._pooled_correlation import PooledCorrelation

__all__ = ["pooled_correlation", "pooled_correlation_windows"]

_LAUNCH_LOCK = threading.Lock()

if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"


@njit(inline="always", fastmath={"contract"})
def _correlate(y, xr, w, offset, n, n_out):
    """``y[t] = sum_k w[offset + k] * xr[t + k]`` for ``t < n_out``, k ascending.

    The loop over ``k`` is unrolled by four (same summation order) so that each
    pass over ``y`` does four multiply-adds per load and store of ``y``.
    """
    for t in range(n_out):
        y[t] = 0
    k = 0
    while k + 4 <= n:
        w0 = w[offset + k]
        w1 = w[offset + k + 1]
        w2 = w[offset + k + 2]
        w3 = w[offset + k + 3]
        for t in range(n_out):
            y[t] = (
                y[t] + w0 * xr[k + t] + w1 * xr[k + 1 + t] + w2 * xr[k + 2 + t] + w3 * xr[k + 3 + t]
            )
        k += 4
    while k < n:
        wk = w[offset + k]
        for t in range(n_out):
            y[t] = y[t] + wk * xr[k + t]
        k += 1


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
                _correlate(y, x[b, band], w, offsets[f], n, n_out)
                for t in range(n_out):
                    if y[t] > best:
                        best = y[t]
                        best_at = band * n_frames + t
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
