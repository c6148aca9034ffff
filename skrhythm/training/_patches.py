"""Patches of spectrograms, gathered a whole mini-batch at a time on the training device."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .._prediction import patch_starts

__all__ = ["PatchDataset", "PatchLoader", "tempo_patches", "tempo_patches_reference"]


def tempo_patches(spectrograms, tracks, starts, factors, patch_frames):
    """Patches cut at tempo factors: ``patch_frames * factor`` frames resampled to ``patch_frames``.

    Patch ``i`` reads track ``tracks[i]`` from frame ``starts[i]`` at a
    step of ``factors[i]`` frames, interpolating linearly between frames, so
    its content plays ``factors[i]`` times as fast (a factor above 1 is a
    faster tempo). A window that would run past the track's end starts
    earlier, and a factor too large for the track is lowered to the largest
    that fits. At a factor of exactly 1 the patch equals the plain window,
    bitwise. One gather for the whole batch: no Python code runs per patch.

    Parameters
    ----------
    spectrograms : tensor of shape (n_tracks, n_bands, n_frames)
    tracks, starts : int64 tensors of shape (n_patches,)
        Track and first frame of each patch.
    factors : float tensor of shape (n_patches,)
    patch_frames : int

    Returns
    -------
    patches : tensor of shape (n_patches, n_bands, patch_frames)
    """
    n_frames = spectrograms.shape[2]
    # positions in float64 (a few thousand numbers a batch): exact to far below a frame
    factors = factors.double().clamp(max=(n_frames - 1) / max(patch_frames - 1, 1))
    steps = torch.arange(patch_frames, device=factors.device, dtype=torch.float64)
    starts = torch.minimum(starts.double(), (n_frames - 1) - (patch_frames - 1) * factors)
    positions = starts[:, None] + steps * factors[:, None]  # (n_patches, patch_frames)
    left = positions.floor().clamp(0, n_frames - 1)
    weight = (positions - left).to(spectrograms.dtype)[:, None, :]
    left = left.long()
    right = (left + 1).clamp(max=n_frames - 1)
    rows = tracks[:, None]
    # (n_patches, patch_frames, n_bands) -> (n_patches, n_bands, patch_frames)
    at_left = spectrograms[rows, :, left].transpose(1, 2)
    at_right = spectrograms[rows, :, right].transpose(1, 2)
    return at_left * (1 - weight) + at_right * weight


def tempo_patches_reference(spectrogram, start, factor, patch_frames):
    """One patch of :func:`tempo_patches`, by :func:`numpy.interp` (float64), for the tests.

    Parameters
    ----------
    spectrogram : ndarray of shape (n_bands, n_frames)
    start : int
    factor : float
    patch_frames : int

    Returns
    -------
    patch : ndarray of shape (n_bands, patch_frames)
    """
    n_frames = spectrogram.shape[1]
    factor = min(factor, (n_frames - 1) / max(patch_frames - 1, 1))
    start = min(start, (n_frames - 1) - (patch_frames - 1) * factor)
    positions = start + np.arange(patch_frames) * factor
    return np.stack([np.interp(positions, np.arange(n_frames), band) for band in spectrogram])


class PatchDataset(Dataset):
    """Fixed-length, standardised patches of a stack of spectrograms, gathered by index.

    Item ``i`` is patch ``i % n_patches_per_track`` of track
    ``i // n_patches_per_track``. The spectrograms are stored once (on
    ``device``; on the CPU a NumPy array is shared, not copied) and patches are
    strided windows of them: :meth:`batch` gathers a whole mini-batch with one
    indexing operation and standardises it as ``(x - mean) / std``, so memory
    stays at one batch and no Python code runs per patch.

    Parameters
    ----------
    spectrograms : ndarray of shape (n_tracks, n_bands, n_frames), float32
    targets : ndarray of shape (n_tracks,) of int, or None
        Class indices; ``None`` for prediction (the items then carry -1).
    patch_frames, patch_hop : int
    mean, std : float, default=0.0 and 1.0
        Standardisation statistics.
    device : str or torch.device, default="cpu"
        Where the spectrograms, and so every batch, live.
    tempo_range : (float, float) or None, default=None
        Tempo augmentation: each patch of a batch is cut at a tempo factor
        drawn log-uniformly from this range (see :func:`tempo_patches`);
        ``None`` cuts the patches as they are.
    seed : int, default=0
        Seeds the tempo factors (a generator of the dataset's own).
    """

    def __init__(
        self, spectrograms, targets, patch_frames, patch_hop, mean=0.0, std=1.0, device="cpu",
        tempo_range=None, seed=0,
    ):
        self.spectrograms = torch.as_tensor(spectrograms).to(device)
        self.tempo_range = None if tempo_range is None else tuple(map(float, tempo_range))
        # its own generator: augmenting draws nothing from torch's global one
        self.generator = torch.Generator().manual_seed(int(seed))
        self.mean, self.std = mean, std
        n_tracks = len(self.spectrograms)
        if targets is None:
            targets = np.full(n_tracks, -1)
        self.targets = torch.as_tensor(np.asarray(targets, dtype=np.int64)).to(device)
        self.patch_frames = patch_frames
        self.starts = patch_starts(self.spectrograms.shape[2], patch_frames, patch_hop)
        # (n_tracks, n_bands, n_patches_per_track, patch_frames), a view
        self.windows = self.spectrograms.unfold(2, patch_frames, patch_hop)

    @property
    def device(self):
        return self.spectrograms.device

    @property
    def starts_on_device(self):
        """The patch starts as an int64 tensor on the dataset's device."""
        if getattr(self, "_starts", None) is None:
            self._starts = torch.as_tensor(np.asarray(self.starts), device=self.device)
        return self._starts

    @property
    def n_patches_per_track(self):
        return len(self.starts)

    def __len__(self):
        return len(self.spectrograms) * len(self.starts)

    def __getitem__(self, i):
        patches, targets = self.batch(torch.tensor([i], device=self.device))
        return patches[0], targets[0]

    def batch(self, indices):
        """Standardised patches and targets of the items ``indices`` (an int64 tensor).

        Returns
        -------
        patches : tensor of shape (len(indices), n_bands, patch_frames)
        targets : tensor of shape (len(indices),)
        """
        tracks = torch.div(indices, self.n_patches_per_track, rounding_mode="floor")
        which = indices - tracks * self.n_patches_per_track
        if self.tempo_range is None:
            patches = self.windows[tracks, :, which]
        else:
            low, high = np.log(self.tempo_range)
            factors = torch.exp(low + (high - low) * torch.rand(
                len(indices), generator=self.generator, dtype=torch.float64))
            patches = tempo_patches(self.spectrograms, tracks, self.starts_on_device[which],
                                    factors.to(self.device), self.patch_frames)
        if self.mean != 0.0 or self.std != 1.0:
            patches = (patches - self.mean) / self.std
        return patches, self.targets[tracks]


class PatchLoader:
    """Mini-batches of a :class:`PatchDataset`, gathered by index on its device.

    A drop-in for :class:`torch.utils.data.DataLoader` as skorch's
    ``iterator_train`` and ``iterator_valid``: it yields ``(patches,
    targets)`` batches in order, or in a new random order each pass with
    ``shuffle=True``. It draws from torch's global random generator exactly as
    a single-process ``DataLoader`` does (one draw per pass, and one more to
    seed the permutation when shuffling), so a seeded fit gives the same model
    as one through a ``DataLoader``.

    Parameters
    ----------
    dataset : PatchDataset
    batch_size : int, default=1
    shuffle : bool, default=False
    """

    def __init__(self, dataset, batch_size=1, shuffle=False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        n_items = len(self.dataset)
        torch.empty((), dtype=torch.int64).random_()  # DataLoader's per-pass base seed
        if self.shuffle:
            seed = int(torch.empty((), dtype=torch.int64).random_().item())
            order = torch.randperm(n_items, generator=torch.Generator().manual_seed(seed))
        else:
            order = torch.arange(n_items)
        order = order.to(self.dataset.device)
        for start in range(0, n_items, self.batch_size):
            yield self.dataset.batch(order[start : start + self.batch_size])
