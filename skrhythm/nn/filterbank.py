"""A bank of 1-by-n time filters of several lengths, max-pooled per sub-band.

This is the first (and only) convolutional layer of the O-net and P-net of
Pons & Serra (ICASSP 2017): every filter spans one mel band and ``n`` frames,
is applied as a valid convolution with a bias and a ReLU, and is max-pooled
over ``pool_bands`` adjacent bands and over all time positions, so that each
filter yields one value per sub-band.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._kernels import FAST, IMPLEMENTATIONS, TRITON, resolve, triton_missing

__all__ = ["FilterBank1xN", "n_subbands", "uses_cpu_kernels"]


def uses_cpu_kernels(module):
    """Whether a torch module's forward pass runs the numba kernels.

    True when one of its filter banks resolves to ``FAST`` on the device of
    its weights, i.e. :func:`skrhythm.nn.prepare_kernels` prepares what it
    runs.
    """
    return any(isinstance(m, FilterBank1xN)
               and m.resolved_implementation(m.weight.device) == FAST
               for m in module.modules())


def n_subbands(n_bands, pool_bands):
    """Number of pooled sub-bands: ``n_bands // pool_bands``, at least one.

    With fewer bands than ``pool_bands`` all bands form a single sub-band;
    otherwise trailing bands that do not fill a sub-band are dropped (as in
    the original Lasagne code; 40 bands / 4 gives 10 sub-bands exactly).
    """
    return max(1, n_bands // pool_bands)


class FilterBank1xN(nn.Module):
    """1-by-n convolutions of several lengths followed by sub-band max-pooling.

    Parameters
    ----------
    lengths : sequence of int
        Filter lengths in frames, one entry per group of filters.
    counts : sequence of int
        Number of filters of each length (same size as ``lengths``).
    n_bands : int
        Number of mel bands of the input.
    pool_bands : int, default=4
        Bands max-pooled together into one sub-band.
    implementation : {"auto", "fast", "triton", "reference"}, default="auto"
        How the forward pass is computed. ``"reference"`` is one
        :func:`torch.nn.functional.conv2d` per length followed by
        :func:`torch.nn.functional.max_pool2d`: slow and obviously correct.
        ``"fast"`` (CPU tensors) fuses the correlations with the max-pooling
        in numba kernels that never store the full activation, and
        back-propagates through the pooled argmax positions only;
        ``"triton"`` (CUDA tensors, or CPU tensors under Triton's
        interpreter) does the same in Triton kernels. With both, each
        sample's output is independent of the rest of the batch. ``"auto"``
        picks, at every forward call, ``"fast"`` for CPU input, ``"triton"``
        for CUDA input when Triton is installed, and ``"reference"``
        otherwise.

    Attributes
    ----------
    weight : torch.nn.Parameter of shape (sum(lengths[i] * counts[i]),)
        Every filter's taps, concatenated: the filters of ``lengths[0]``
        first, each filter's taps in order.
    bias : torch.nn.Parameter of shape (sum(counts),)
        One bias per filter, in the same order.

    Notes
    -----
    Input ``(batch, n_bands, n_frames)`` with ``n_frames >= max(lengths)``;
    output ``(batch, sum(counts), n_subbands)``.

    Two flat parameters, not one per length: a training step's autograd,
    gradient accumulation and optimiser then handle two tensors instead of
    two per filter length (86 for the O-net + P-net), which is most of a
    small batch's host time. :attr:`weights` and :attr:`biases` give the
    per-length views.
    """

    def __init__(self, lengths, counts, n_bands, pool_bands=4, implementation="auto"):
        super().__init__()
        if len(lengths) != len(counts) or not lengths:
            raise ValueError("lengths and counts must be non-empty and of the same size")
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}"
            )
        self.lengths = tuple(int(n) for n in lengths)
        self.counts = tuple(int(c) for c in counts)
        self.n_bands = int(n_bands)
        self.pool_bands = min(int(pool_bands), self.n_bands)
        self.n_subbands = n_subbands(self.n_bands, int(pool_bands))
        self.implementation = implementation
        # Per-filter length and offset into the concatenated weights.
        self._filter_lengths = np.repeat(np.asarray(self.lengths, np.int64), self.counts)
        offsets = np.cumsum(self._filter_lengths) - self._filter_lengths
        self._filter_offsets = offsets.astype(np.int64)
        # The same on the module's device, for the Triton kernels (not saved in state_dict).
        for name, value in (("lengths", self._filter_lengths), ("offsets", self._filter_offsets)):
            tensor = torch.as_tensor(value, dtype=torch.int32)
            self.register_buffer(f"_filter_{name}_int32", tensor, persistent=False)
        self.weight = nn.Parameter(torch.empty(int(self._filter_lengths.sum())))
        self.bias = nn.Parameter(torch.empty(self.n_filters))
        self.reset_parameters()

    @property
    def weights(self):
        """Views of :attr:`weight`, one ``(count, length)`` matrix per filter length."""
        sizes = [n * c for n, c in zip(self.lengths, self.counts)]
        return tuple(chunk.view(c, n) for chunk, n, c in
                     zip(self.weight.split(sizes), self.lengths, self.counts))  # fmt: skip

    @property
    def biases(self):
        """Views of :attr:`bias`, one vector of ``count`` biases per filter length."""
        return self.bias.split(self.counts)

    @property
    def n_filters(self):
        return sum(self.counts)

    @property
    def n_outputs(self):
        """Number of pooled features: filters times sub-bands."""
        return self.n_filters * self.n_subbands

    def reset_parameters(self):
        """He-uniform weights (fan-in ``n``) and zero biases, as in the paper's code."""
        with torch.no_grad():
            for w in self.weights:
                nn.init.kaiming_uniform_(w, nonlinearity="relu")
            nn.init.zeros_(self.bias)

    def forward(self, x):
        if x.ndim != 3 or x.shape[1] != self.n_bands:
            raise ValueError(
                f"expected input of shape (batch, {self.n_bands}, n_frames), got {tuple(x.shape)}"
            )
        if x.shape[2] < max(self.lengths):
            raise ValueError(
                f"input has {x.shape[2]} frames, "
                f"fewer than the longest filter ({max(self.lengths)})"
            )
        if x.dtype != self.weight.dtype:
            raise TypeError(
                f"input dtype {x.dtype} differs from the weights' dtype {self.weight.dtype}"
            )
        implementation = self.resolved_implementation(x.device)
        if implementation == FAST:
            return self._forward_fast(x)
        if implementation == TRITON:
            return self._forward_triton(x)
        return self._forward_reference(x)

    def resolved_implementation(self, device):
        """The implementation a forward pass on ``device`` uses (``"auto"`` resolved)."""
        return resolve(self.implementation, device)

    def _forward_fast(self, x):
        # Imported here so that numba is loaded only when the fast path is used.
        from ._kernels._numba import pooled_correlation

        return self._fused(pooled_correlation, x, self._fast_geometry(x))

    def _fast_geometry(self, x):
        """Filter lengths, offsets and pooling for the numba kernels, which need CPU tensors."""
        if x.device.type != "cpu":
            raise ValueError(f'implementation="{FAST}" needs a CPU tensor, got one on {x.device}')
        return (self._filter_lengths, self._filter_offsets, self.pool_bands, self.n_subbands)

    def _forward_triton(self, x):
        reason = triton_missing()
        if reason is not None:
            raise RuntimeError(f'implementation="{TRITON}" cannot run: {reason}')
        # Imported here so that Triton is loaded only when this path is used.
        from ._kernels._triton import pooled_correlation

        lengths = self._filter_lengths_int32.to(x.device)
        offsets = self._filter_offsets_int32.to(x.device)
        geometry = (lengths, offsets, self.pool_bands, self.n_subbands, max(self.lengths))
        return self._fused(pooled_correlation, x, geometry)

    def _fused(self, pooled_correlation, x, geometry):
        """Bias and ReLU on the pooled maxima of a fused kernel backend."""
        return F.relu(pooled_correlation(x, self.weight, *geometry) + self.bias[:, None])

    def _forward_reference(self, x):
        x = x[:, None, : self.n_subbands * self.pool_bands]
        pooled = []
        for w, b in zip(self.weights, self.biases):
            y = F.relu(F.conv2d(x, w[:, None, None, :], b))
            y = F.max_pool2d(y, kernel_size=(self.pool_bands, y.shape[-1]))
            pooled.append(y[..., 0])
        return torch.cat(pooled, dim=1)

    @torch.no_grad()
    def forward_windows(self, x, starts, patch_frames):
        """Outputs of the patches of whole tracks, for prediction (no gradients).

        Equal to the forward pass on the patches
        ``x[:, :, start : start + patch_frames]`` of every track for every
        start. With the fast implementation each track is correlated once and
        every patch is pooled from these correlations by a sliding-window
        maximum, bitwise equal to the fast forward on each patch; the other
        implementations gather the patches and run the forward pass on them.

        Parameters
        ----------
        x : torch.Tensor
            Tracks of shape ``(batch, n_bands, n_frames)``.
        starts : array-like of int, shape (n_patches,)
            First frame of each patch, in any order; every patch must lie in
            the tracks.
        patch_frames : int
            Frames per patch, at least the longest filter.

        Returns
        -------
        torch.Tensor
            Shape ``(batch, n_patches, n_filters, n_subbands)``, after bias and
            ReLU.
        """
        if x.ndim != 3 or x.shape[1] != self.n_bands:
            raise ValueError(
                f"expected input of shape (batch, {self.n_bands}, n_frames), got {tuple(x.shape)}"
            )
        if x.dtype != self.weight.dtype:
            raise TypeError(
                f"input dtype {x.dtype} differs from the weights' dtype {self.weight.dtype}"
            )
        patch_frames = int(patch_frames)
        if not max(self.lengths) <= patch_frames <= x.shape[2]:
            raise ValueError(
                f"patch_frames must be between the longest filter ({max(self.lengths)}) "
                f"and the track length ({x.shape[2]}), got {patch_frames}"
            )
        starts = torch.as_tensor(starts).cpu()
        integers = not (
            starts.is_floating_point() or starts.is_complex() or starts.dtype == torch.bool
        )
        if starts.ndim != 1 or not (integers or len(starts) == 0):  # [] is float
            raise ValueError(
                "starts must be a 1-d array of integers, "
                f"got shape {tuple(starts.shape)} and dtype {starts.dtype}"
            )
        starts = starts.to(torch.int64)
        if len(starts) and (starts.min() < 0 or starts.max() + patch_frames > x.shape[2]):
            raise ValueError(
                f"every patch must lie in the {x.shape[2]} frames of the tracks: "
                f"starts between 0 and {x.shape[2] - patch_frames}"
            )
        if self.resolved_implementation(x.device) == FAST:
            from ._kernels._numba import pooled_correlation_windows

            geometry = self._fast_geometry(x) + (starts.numpy(), patch_frames)
            return self._fused(pooled_correlation_windows, x, geometry)
        frames = (starts[:, None] + torch.arange(patch_frames)).to(x.device)
        patches = x[:, :, frames].transpose(1, 2).reshape(-1, self.n_bands, patch_frames)
        out = self.forward(patches)
        return out.reshape(len(x), len(starts), self.n_filters, self.n_subbands)
