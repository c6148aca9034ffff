"""The O-net / P-net architecture of Pons & Serra (ICASSP 2017)."""

from __future__ import annotations

import torch
from torch import nn

from .filterbank import FilterBank1xN
from .layers import BatchInvariantLinear

__all__ = ["DROPOUT", "MusicCNN", "NETWORK_PARAMETERS", "ONET_FILTERS", "ONET_LENGTHS",
           "PNET_FILTERS", "PNET_LENGTHS", "POOL_BANDS", "network_arguments"]

#: O-net filter lengths in frames: 6, 11, ..., 41 (onsets, up to a beat at 60 bpm).
ONET_LENGTHS = tuple(range(6, 42, 5))
#: O-net filters of each length.
ONET_FILTERS = 5
#: P-net filter lengths in frames: 46, 51, ..., 216 (patterns up to 5 beats at 60 bpm).
PNET_LENGTHS = tuple(range(46, 217, 5))
#: P-net filters of each length.
PNET_FILTERS = 1
#: Mel bands max-pooled into one sub-band.
POOL_BANDS = 4
#: Dropout rate before the dense layer.
DROPOUT = 0.5

#: The parameters of :class:`skrhythm.MusicCNNClassifier` that are :class:`MusicCNN`'s
#: arguments, with the argument each one is.
NETWORK_PARAMETERS = {
    "n_onet": "n_onet", "n_pnet": "n_pnet", "onet_lengths": "onet_lengths",
    "onet_filters": "onet_filters", "pnet_lengths": "pnet_lengths",
    "pnet_filters": "pnet_filters", "pool_bands": "pool_bands", "dropout": "dropout",
    "filterbank": "implementation",
}


def network_arguments(params):
    """:class:`MusicCNN`'s keyword arguments from a classifier's parameters.

    The one translation from :class:`skrhythm.MusicCNNClassifier`'s
    parameters (``params``, a mapping such as ``get_params()`` or a saved
    state) to the network it builds, used when it fits and when a saved
    model is read without scikit-learn.
    """
    arguments = {argument: params[name] for name, argument in NETWORK_PARAMETERS.items()}
    for name in ("onet_lengths", "pnet_lengths"):
        arguments[name] = tuple(arguments[name])
    return arguments


class MusicCNN(nn.Module):
    """Single-layer CNN of 1-by-n filters: ``n_onet`` O-nets and ``n_pnet`` P-nets.

    Filter bank (valid 1-by-n convolutions, bias, ReLU, max-pool over
    ``pool_bands`` bands and all time positions) -> concatenation -> dropout
    -> dense layer to the classes (logits; the softmax is in the loss).

    Parameters
    ----------
    n_bands : int
        Mel bands of the input.
    n_classes : int
        Number of outputs.
    n_onet, n_pnet : int
        Copies of the O-net and of the P-net filter sets.
    onet_lengths, pnet_lengths : sequence of int
        Filter lengths of one O-net and one P-net.
    onet_filters, pnet_filters : int
        Filters per length in one O-net (5) and one P-net (1).
    pool_bands : int, default=4
        Bands pooled into one sub-band.
    dropout : float, default=0.5
        Dropout before the dense layer.
    implementation : str, default="auto"
        Filter-bank implementation, see :class:`FilterBank1xN`.
    """

    def __init__(
        self,
        n_bands,
        n_classes,
        n_onet=1,
        n_pnet=1,
        onet_lengths=ONET_LENGTHS,
        onet_filters=ONET_FILTERS,
        pnet_lengths=PNET_LENGTHS,
        pnet_filters=PNET_FILTERS,
        pool_bands=POOL_BANDS,
        dropout=DROPOUT,
        implementation="auto",
    ):
        super().__init__()
        groups = [(n, n_onet * onet_filters) for n in onet_lengths]
        groups += [(n, n_pnet * pnet_filters) for n in pnet_lengths]
        groups = [(n, c) for n, c in groups if c > 0]
        if not groups:
            raise ValueError("the network has no filters: n_onet and n_pnet are both 0")
        lengths, counts = zip(*groups)
        self.filterbank = FilterBank1xN(lengths, counts, n_bands, pool_bands, implementation)
        self.dropout = nn.Dropout(dropout)
        self.dense = BatchInvariantLinear(self.filterbank.n_outputs, n_classes)
        nn.init.xavier_uniform_(self.dense.weight)
        nn.init.zeros_(self.dense.bias)

    @property
    def min_frames(self):
        """Shortest input (frames) the network accepts: its longest filter."""
        return max(self.filterbank.lengths)

    def forward(self, x):
        features = self.filterbank(x).flatten(1)
        return self.dense(self.dropout(features))

    @torch.no_grad()
    def forward_windows(self, x, starts, patch_frames):
        """Logits of the patches of whole tracks, for prediction (no gradients).

        Equal to :meth:`forward` on the patches
        ``x[:, :, start : start + patch_frames]`` of every track for every
        start, with the filter bank's :meth:`FilterBank1xN.forward_windows`
        (each track correlated once). In evaluation mode with the fast filter
        bank, each patch's logits are bitwise those of :meth:`forward` on that
        patch alone.

        Parameters
        ----------
        x : torch.Tensor
            Tracks of shape ``(batch, n_bands, n_frames)``.
        starts : array-like of int, shape (n_patches,)
            First frame of each patch; every patch must lie in the tracks.
        patch_frames : int
            Frames per patch, at least :attr:`min_frames`.

        Returns
        -------
        torch.Tensor
            Logits of shape ``(batch, n_patches, n_classes)``.
        """
        features = self.filterbank.forward_windows(x, starts, patch_frames)
        n_tracks, n_patches = features.shape[:2]
        features = features.reshape(n_tracks * n_patches, self.filterbank.n_outputs)
        logits = self.dense(self.dropout(features))
        return logits.reshape(n_tracks, n_patches, self.dense.out_features)
