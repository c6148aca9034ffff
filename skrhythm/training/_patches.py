"""Patches of spectrograms, gathered a whole mini-batch at a time on the training device."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .._prediction import patch_starts

__all__ = ["PatchDataset", "PatchLoader"]


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
    """

    def __init__(
        self, spectrograms, targets, patch_frames, patch_hop, mean=0.0, std=1.0, device="cpu"
    ):
        self.spectrograms = torch.as_tensor(spectrograms).to(device)
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
        patches = self.windows[tracks, :, indices - tracks * self.n_patches_per_track]
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
