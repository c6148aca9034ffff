"""The baseline CNNs of Pons, Lidy & Serra (CBMI 2016): Time, Time-freq and Black-box.

All three read a patch of ``(n_bands, n_frames)`` log-mel values (40 bands x
80 frames in the paper) and return logits. Every convolution is valid (no
padding), stride 1, with a bias and a ReLU; weights are Glorot-uniform and
biases zero; dropout (0.5) precedes every dense layer; the softmax is left to
the loss. The dense layers are :class:`~skrhythm.nn.layers.BatchInvariantLinear`,
so a patch's logits do not depend on the other patches of its batch.

Unlike the O-net / P-net, which pool over all time positions, these networks
keep the time (or band) axis in their features, so the size of their dense
layer, and hence the module, depends on ``n_frames``: a module built for
``n_frames`` accepts inputs of exactly that many frames.

Parameter counts for 40 bands, 80 frames and 8 classes (the paper's table):
Time 7,336; Time-freq 196,816; Black-box 3,275,312.
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import BatchInvariantLinear

__all__ = ["BlackBoxCNN", "TimeCNN", "TimeFreqCNN"]


def _glorot(module):
    """Glorot-uniform weights and zero biases for every conv and dense layer."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)


def _check_size(name, value, minimum, what):
    if value < minimum:
        raise ValueError(f"{name}={value} is too small: {what} needs at least {minimum}")


def _dense_head(n_features, hidden, n_classes, dropout):
    """Dropout -> dense ``hidden`` + ReLU -> dropout -> dense ``n_classes``."""
    return nn.Sequential(
        nn.Dropout(dropout),
        BatchInvariantLinear(n_features, hidden),
        nn.ReLU(),
        nn.Dropout(dropout),
        BatchInvariantLinear(hidden, n_classes),
    )


class _PatchCNN(nn.Module):
    """Shared size checks and input handling (shape check, channel axis of Conv2d)."""

    def __init__(self, n_bands, n_frames, n_classes, min_bands, min_frames):
        super().__init__()
        self.min_bands = int(min_bands)
        self.min_frames = int(min_frames)
        self.n_bands = int(n_bands)
        self.n_frames = int(n_frames)
        self.n_classes = int(n_classes)
        _check_size("n_classes", self.n_classes, 1, "the output layer")
        _check_size("n_bands", self.n_bands, self.min_bands, type(self).__name__)
        _check_size("n_frames", self.n_frames, self.min_frames, type(self).__name__)

    def _as_image(self, x):
        """Check a ``(batch, n_bands, n_frames)`` input; return it as ``(batch, 1, ...)``."""
        if x.ndim != 3 or tuple(x.shape[1:]) != (self.n_bands, self.n_frames):
            raise ValueError(
                f"{type(self).__name__} expects input of shape (batch, {self.n_bands}, "
                f"{self.n_frames}), got {tuple(x.shape)}"
            )
        return x.unsqueeze(1)


class _TimeBranch(nn.Module):
    """``n_filters`` 1-by-``length`` filters, max-pooled over all bands."""

    def __init__(self, n_bands, n_frames, n_filters, length):
        super().__init__()
        self.conv = nn.Conv2d(1, n_filters, (1, length))
        self.pool = nn.MaxPool2d((n_bands, 1))
        self.n_outputs = n_filters * (n_frames - length + 1)

    def forward(self, x):
        return self.pool(torch.relu(self.conv(x))).flatten(1)


class TimeCNN(_PatchCNN):
    """Time baseline: 1-by-60 filters max-pooled over all bands, then a dense layer.

    ``(1, n_bands, n_frames)`` -> ``n_filters`` filters 1 x ``length`` ->
    max-pool (``n_bands``, 1) -> ``n_filters x 1 x (n_frames - length + 1)``
    (32 x 1 x 21 for 80 frames) -> dropout -> dense ``n_classes``.

    Parameters
    ----------
    n_bands : int
        Mel bands of the input.
    n_frames : int
        Frames of the input; at least ``length``.
    n_classes : int
        Number of outputs (logits).
    dropout : float, default=0.5
        Dropout before the dense layer.
    n_filters : int, default=32
        Number of time filters.
    length : int, default=60
        Filter length in frames.

    Attributes
    ----------
    min_frames : int
        Shortest ``n_frames`` accepted: ``length``.
    """

    def __init__(self, n_bands, n_frames, n_classes, dropout=0.5, *, n_filters=32, length=60):
        super().__init__(n_bands, n_frames, n_classes, min_bands=1, min_frames=length)
        self.time = _TimeBranch(self.n_bands, self.n_frames, n_filters, self.min_frames)
        self.dropout = nn.Dropout(dropout)
        self.dense = BatchInvariantLinear(self.time.n_outputs, self.n_classes)
        _glorot(self)

    def forward(self, x):
        return self.dense(self.dropout(self.time(self._as_image(x))))


class TimeFreqCNN(_PatchCNN):
    """Time-freq baseline: a time branch and a frequency branch, then two dense layers.

    Time branch as :class:`TimeCNN` (``time_filters`` x 1 x
    ``n_frames - time_length + 1``); frequency branch: ``freq_filters``
    filters ``freq_length`` x 1 -> max-pool (1, ``n_frames``) ->
    ``freq_filters x (n_bands - freq_length + 1) x 1`` (32 x 9 x 1 for 40
    bands). Both are flattened and concatenated (960 values for 40 x 80) ->
    dropout -> dense ``hidden`` + ReLU -> dropout -> dense ``n_classes``.

    Parameters
    ----------
    n_bands : int
        Mel bands of the input; at least ``freq_length``.
    n_frames : int
        Frames of the input; at least ``time_length``.
    n_classes : int
        Number of outputs (logits).
    dropout : float, default=0.5
        Dropout before each dense layer.
    time_filters, time_length : int, default=32 and 60
        Number and length (frames) of the 1-by-n time filters.
    freq_filters, freq_length : int, default=32 and 32
        Number and height (bands) of the m-by-1 frequency filters.
    hidden : int, default=200
        Units of the hidden dense layer.

    Attributes
    ----------
    min_frames : int
        Shortest ``n_frames`` accepted: ``time_length``.
    """

    def __init__(
        self,
        n_bands,
        n_frames,
        n_classes,
        dropout=0.5,
        *,
        time_filters=32,
        time_length=60,
        freq_filters=32,
        freq_length=32,
        hidden=200,
    ):
        super().__init__(n_bands, n_frames, n_classes, freq_length, time_length)
        self.time = _TimeBranch(self.n_bands, self.n_frames, time_filters, self.min_frames)
        self.freq_conv = nn.Conv2d(1, freq_filters, (self.min_bands, 1))
        self.freq_pool = nn.MaxPool2d((1, self.n_frames))
        n_features = self.time.n_outputs + freq_filters * (self.n_bands - self.min_bands + 1)
        self.head = _dense_head(n_features, hidden, self.n_classes, dropout)
        _glorot(self)

    def forward(self, x):
        x = self._as_image(x)
        freq = self.freq_pool(torch.relu(self.freq_conv(x))).flatten(1)
        return self.head(torch.cat([self.time(x), freq], dim=1))


class BlackBoxCNN(_PatchCNN):
    """Black-box baseline: 12-by-8 filters, pooling over 4 bands, two dense layers.

    ``(1, n_bands, n_frames)`` -> ``n_filters`` filters ``kernel`` (12 x 8)
    -> max-pool (``pool_bands``, 1) ->
    ``n_filters x floor((n_bands - 11) / 4) x (n_frames - 7)`` (32 x 7 x 73 for
    40 x 80) -> dropout -> dense ``hidden`` + ReLU -> dropout -> dense
    ``n_classes``.

    The band pooling floors, as Lasagne's and PyTorch's default max-pooling
    do: band positions that do not fill a last group of ``pool_bands`` are
    dropped (for 40 bands, 29 positions give 7 groups and the 29th is unused).

    Parameters
    ----------
    n_bands : int
        Mel bands of the input; at least ``kernel[0] + pool_bands - 1``.
    n_frames : int
        Frames of the input; at least ``kernel[1]``.
    n_classes : int
        Number of outputs (logits).
    dropout : float, default=0.5
        Dropout before each dense layer.
    n_filters : int, default=32
        Number of filters.
    kernel : tuple of int, default=(12, 8)
        Filter size (bands, frames).
    pool_bands : int, default=4
        Band positions max-pooled together.
    hidden : int, default=200
        Units of the hidden dense layer.

    Attributes
    ----------
    min_frames : int
        Shortest ``n_frames`` accepted: ``kernel[1]``.
    """

    def __init__(
        self,
        n_bands,
        n_frames,
        n_classes,
        dropout=0.5,
        *,
        n_filters=32,
        kernel=(12, 8),
        pool_bands=4,
        hidden=200,
    ):
        kernel_bands, kernel_frames = (int(k) for k in kernel)
        super().__init__(
            n_bands, n_frames, n_classes, kernel_bands + int(pool_bands) - 1, kernel_frames
        )
        self.conv = nn.Conv2d(1, n_filters, (kernel_bands, kernel_frames))
        self.pool = nn.MaxPool2d((pool_bands, 1))
        n_groups = (self.n_bands - kernel_bands + 1) // pool_bands
        n_features = n_filters * n_groups * (self.n_frames - kernel_frames + 1)
        self.head = _dense_head(n_features, hidden, self.n_classes, dropout)
        _glorot(self)

    def forward(self, x):
        return self.head(self.pool(torch.relu(self.conv(self._as_image(x)))).flatten(1))
