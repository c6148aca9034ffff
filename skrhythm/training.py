"""Training machinery shared by the CNN estimators: patches and skorch callbacks."""

from __future__ import annotations

import copy

import numpy as np
import torch
from skorch.callbacks import Callback
from torch.utils.data import Dataset

__all__ = ["PaperLRSchedule", "KeepBestModel", "PatchDataset", "patch_starts"]


def patch_starts(n_frames, patch_frames, patch_hop):
    """First frames of every full patch of a track.

    Patches start at ``0, hop, 2 * hop, ...`` as long as they fit, so a track
    of ``n_frames >= patch_frames`` frames gives
    ``1 + (n_frames - patch_frames) // patch_hop`` patches. The original code
    stops one patch earlier (a 1292-frame track gives 4 patches at hop 250 and
    13 at hop 80 there, 5 and 14 here).

    Parameters
    ----------
    n_frames, patch_frames, patch_hop : int

    Returns
    -------
    starts : ndarray of int
    """
    if n_frames < patch_frames:
        raise ValueError(f"a track of {n_frames} frames holds no {patch_frames}-frame patch")
    return np.arange(0, n_frames - patch_frames + 1, patch_hop)


class PatchDataset(Dataset):
    """Fixed-length, standardised patches of a stack of spectrograms.

    Item ``i`` is patch ``i % n_patches_per_track`` of track
    ``i // n_patches_per_track``, standardised as ``(x - mean) / std`` when it
    is read: the spectrograms are neither copied nor standardised as a whole,
    so memory stays at one patch per item (a view when ``mean=0, std=1``).

    Parameters
    ----------
    spectrograms : ndarray of shape (n_tracks, n_bands, n_frames), float32
    targets : ndarray of shape (n_tracks,) of int, or None
        Class indices; ``None`` for prediction (the items then carry -1).
    patch_frames, patch_hop : int
    mean, std : float, default=0.0 and 1.0
        Standardisation statistics.
    """

    def __init__(self, spectrograms, targets, patch_frames, patch_hop, mean=0.0, std=1.0):
        self.spectrograms = torch.as_tensor(spectrograms)
        self.mean, self.std = mean, std
        n_tracks = len(self.spectrograms)
        if targets is None:
            targets = np.full(n_tracks, -1)
        self.targets = torch.as_tensor(np.asarray(targets, dtype=np.int64))
        self.patch_frames = patch_frames
        self.starts = patch_starts(self.spectrograms.shape[2], patch_frames, patch_hop).tolist()

    @property
    def n_patches_per_track(self):
        return len(self.starts)

    def __len__(self):
        return len(self.spectrograms) * len(self.starts)

    def __getitem__(self, i):
        track, k = divmod(i, len(self.starts))
        start = self.starts[k]
        patch = self.spectrograms[track, :, start : start + self.patch_frames]
        if self.mean != 0.0 or self.std != 1.0:
            patch = (patch - self.mean) / self.std
        return patch, self.targets[track]


class PaperLRSchedule(Callback):
    """Learning-rate halving and stopping rule of Pons & Serra's code.

    Epochs whose training loss is not a new best are counted. Once more than
    ``halve_after`` such epochs have passed, the learning rate is halved at the
    next new best and the count restarts; once more than ``stop_after`` have
    passed, training stops.

    Parameters
    ----------
    halve_after : int, default=20
    stop_after : int, default=40
    """

    def __init__(self, halve_after=20, stop_after=40):
        self.halve_after = halve_after
        self.stop_after = stop_after

    def initialize(self):
        self.best_loss_ = np.inf
        self.n_bad_epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1, "train_loss"]
        if loss < self.best_loss_:
            self.best_loss_ = loss
            if self.n_bad_epochs_ > self.halve_after:
                for group in net.optimizer_.param_groups:
                    group["lr"] /= 2
                self.n_bad_epochs_ = 0
        else:
            self.n_bad_epochs_ += 1
        net.history.record("lr", net.optimizer_.param_groups[0]["lr"])
        if self.n_bad_epochs_ > self.stop_after:
            if net.verbose:
                print(f"Stopping: {self.n_bad_epochs_} epochs without a new best training loss.")
            raise KeyboardInterrupt  # skorch's way to end training early


class KeepBestModel(Callback):
    """Restore, when training ends, the weights of the best epoch by ``monitor``.

    Parameters
    ----------
    monitor : str, default="valid_acc_best"
        A boolean history key that is true at a new best epoch.
    """

    def __init__(self, monitor="valid_acc_best"):
        self.monitor = monitor

    def initialize(self):
        self.best_state_ = None
        return self

    def on_epoch_end(self, net, **kwargs):
        if net.history[-1].get(self.monitor):
            self.best_state_ = copy.deepcopy(net.module_.state_dict())

    def on_train_end(self, net, **kwargs):
        if self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
