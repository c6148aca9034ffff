"""Training machinery shared by the CNN estimators: patches and skorch callbacks."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from skorch.history import History
from torch.utils.data import Dataset

from . import _cuda_graph
from ._prediction import patch_starts

__all__ = [
    "EpochProgress",
    "PaperLRSchedule",
    "KeepBestModel",
    "PatchDataset",
    "PatchLoader",
    "StopTraining",
    "show_epochs",
]


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


class _PatchNet(NeuralNetClassifier):
    """skorch's classifier, reading the batch losses off a GPU once per epoch.

    skorch records every batch's loss with ``loss.item()``, which waits for
    the device to finish that step: on a GPU the host then cannot queue the
    next step's kernels while the device runs this one, and the two times
    add up instead of overlapping. On a device other than the CPU an epoch
    here keeps its batch losses on the device and writes them into the
    history when its batches have run (also when one of them raises), so
    before the ``on_epoch_end`` callbacks; the history holds the same values
    as skorch's. During such an epoch a batch's history row has its size but
    not yet its loss: ``on_batch_end`` callbacks get the loss tensor, as with
    skorch, but skorch's ``ProgressBar`` (``verbose=2``) shows no running
    loss. On the CPU, where reading a loss costs nothing, this is skorch's
    loop.

    With ``cuda_graphs=True`` on a CUDA device, each fit replays its full
    batches' training steps from a CUDA graph
    (:class:`skrhythm._cuda_graph.GraphedTrainStep`), unless
    :func:`~skrhythm._cuda_graph.graph_obstacle` names a reason not to, which
    a warning then gives.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`skorch.NeuralNetClassifier`.
    cuda_graphs : bool, default=False

    Attributes
    ----------
    graphed_step_ : GraphedTrainStep or None
        The graphed step during a fit that uses one; None otherwise.
    """

    def __init__(self, *args, cuda_graphs=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.cuda_graphs = cuda_graphs

    def initialize_from_state(self, module_state, optimizer_state, history):
        """Initialize the net with saved weights, optimizer state and history.

        Unless the net is initialized already, the optimizer is built, and its
        state loaded, on first use of ``optimizer_`` (a warm-start fit, a
        pickle): building a torch optimizer imports ``torch._dynamo``, which
        costs a model that only predicts over a second.
        """
        if not self.initialized_:
            self._defer_optimizer = True
            try:
                self.initialize()
            finally:
                del self._defer_optimizer
        self.module_.load_state_dict(module_state)
        if "optimizer_" in self.__dict__:  # built already
            self.optimizer_.load_state_dict(optimizer_state)
        else:
            self._optimizer_state = optimizer_state
        self.history = History(history)
        return self

    def initialize_optimizer(self, *args, **kwargs):
        if getattr(self, "_defer_optimizer", False):
            if "optimizer" not in self.prefixes_:  # what assigning optimizer_ would register
                self._register_attribute("optimizer_", None)
            return self
        self.__dict__.pop("_optimizer_state", None)  # a new optimizer starts afresh
        return super().initialize_optimizer(*args, **kwargs)

    def __getattr__(self, name):
        # Called only when ``name`` is not found: builds a deferred optimizer.
        if name == "optimizer_" and "_optimizer_state" in self.__dict__:
            state = self.__dict__.pop("_optimizer_state")
            super().initialize_optimizer()
            self.optimizer_.load_state_dict(state)
            return self.optimizer_
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def optimizer_state(self):
        """The optimizer's ``state_dict()``, without building an optimizer not built yet."""
        if "_optimizer_state" in self.__dict__:
            return self._optimizer_state
        return self.optimizer_.state_dict()

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        self.graphed_step_ = self._graphed_step_for_fit()
        try:
            return super().fit_loop(X, y, epochs, **fit_params)
        finally:
            if self.graphed_step_ is not None:
                self.graphed_step_.release()
            self.graphed_step_ = None

    def __getstate__(self):
        # a fit's graph (streams, device memory) is no part of the net: a callback may
        # pickle or copy the net during the fit
        state = super().__getstate__()
        state["graphed_step_"] = None
        return state

    def _graphed_step_for_fit(self):
        """A :class:`GraphedTrainStep` for this fit, or None for skorch's own step."""
        graphs = _cuda_graph.graphs_for(self) if self.cuda_graphs else None
        if graphs is None:
            return None
        reason = _cuda_graph.graph_obstacle(self)
        if reason is not None:
            warnings.warn(f"cuda_graphs=True ignored: {reason}", UserWarning, stacklevel=4)
            return None
        return _cuda_graph.GraphedTrainStep(self, graphs)

    def train_step(self, batch, **fit_params):
        graphed = getattr(self, "graphed_step_", None)
        if graphed is None or fit_params:
            return super().train_step(batch, **fit_params)
        return graphed(batch, super().train_step)

    def _defer_losses(self):
        """Whether batch losses stay on the device until the epoch's batches have run."""
        return torch.device(self.device).type != "cpu"

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if iterator is None or not self._defer_losses():
            return super().run_single_epoch(iterator, training, prefix, step_fn, **fit_params)
        rows, losses = [], []
        try:
            for batch in iterator:
                self.notify("on_batch_begin", batch=batch, training=training)
                step = step_fn(batch, **fit_params)
                rows.append(self.history[-1]["batches"][-1])
                losses.append(step["loss"].detach())
                self.history.record_batch(prefix + "_batch_size", len(batch[0]))
                self.notify("on_batch_end", batch=batch, training=training, **step)
        finally:
            if losses:
                for row, loss in zip(rows, torch.stack(losses).tolist()):
                    row[prefix + "_loss"] = loss
        self.history.record(prefix + "_batch_count", len(losses))


class StopTraining(KeyboardInterrupt):
    """Raised by a callback to end training early.

    skorch ends its fit loop quietly on ``KeyboardInterrupt``, so this
    subclass stops training the way skorch's own ``EarlyStopping`` does. It is
    never a user's interrupt: the estimators re-raise a real SIGINT received
    during training (see :mod:`skrhythm._interrupts`).
    """


class PaperLRSchedule(Callback):
    """Learning-rate halving and stopping rule of Pons & Serra's code.

    Epochs whose training loss is not a new best are counted. Once more than
    ``halve_after`` such epochs have passed, the learning rate is halved at the
    next new best and the count restarts; once more than ``stop_after`` have
    passed, training stops (by raising :class:`StopTraining`, which skorch
    takes as the end of training; the history's last epoch then records
    ``stopped_by="PaperLRSchedule"``). The count is taken from the history
    when training begins, so a warm start, also of an unpickled model,
    continues it.

    Parameters
    ----------
    halve_after : int, default=20
    stop_after : int, default=40
    sink : callable, default=print
        Receives the message on stopping when the net is verbose.
    """

    def __init__(self, halve_after=20, stop_after=40, sink=print):
        self.halve_after = halve_after
        self.stop_after = stop_after
        self.sink = sink

    def initialize(self):
        self.best_loss_ = np.inf
        self.n_bad_epochs_ = 0
        return self

    def on_train_begin(self, net, **kwargs):
        self.initialize()
        for epoch in net.history:
            if "train_loss" in epoch:
                self._count(epoch["train_loss"])

    def _count(self, loss):
        """Update the count with an epoch's loss; whether to halve the learning rate now."""
        if loss < self.best_loss_:
            self.best_loss_ = loss
            if self.n_bad_epochs_ > self.halve_after:
                self.n_bad_epochs_ = 0
                return True
        else:
            self.n_bad_epochs_ += 1
        return False

    def on_epoch_end(self, net, **kwargs):
        if self._count(net.history[-1, "train_loss"]):
            for group in net.optimizer_.param_groups:
                group["lr"] /= 2
        net.history.record("lr", net.optimizer_.param_groups[0]["lr"])
        if self.n_bad_epochs_ > self.stop_after:
            if net.verbose:
                self.sink(f"Stopping: {self.n_bad_epochs_} epochs without a new best "
                          "training loss.")
            net.history.record("stopped_by", type(self).__name__)
            raise StopTraining


class KeepBestModel(Callback):
    """Restore, when training ends, the weights of the best epoch by ``monitor``.

    The copy of the best weights is dropped once restored, so a fitted net
    holds one set of weights. A warm start begins from the weights restored by
    the previous fit, the best so far: they are restored again unless one of
    its epochs is better.

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

    def on_train_begin(self, net, **kwargs):
        best_before = any(epoch.get(self.monitor) for epoch in net.history)
        self.best_state_ = copy.deepcopy(net.module_.state_dict()) if best_before else None

    def on_epoch_end(self, net, **kwargs):
        if net.history[-1].get(self.monitor):
            self.best_state_ = copy.deepcopy(net.module_.state_dict())

    def on_train_end(self, net, **kwargs):
        if self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
        self.best_state_ = None


class EpochProgress(Callback):
    """Report every epoch of a fit as one line: loss and patch accuracies.

    The training accuracy is the fraction of training patches the net
    classified correctly during the epoch (while its weights changed); the
    validation loss and accuracy appear when the classifier holds out
    tracks (``train_split``). The line never holds colour codes, so it reads
    the same in a terminal and in a log file. The training batches' outputs
    stay on their device and are counted :attr:`COUNT_EVERY` batches at a
    time, so the display adds next to nothing to a GPU's training steps.

    Parameters
    ----------
    sink : callable, default=print
        Receives each line. Copies of the callback (the estimators copy their
        callbacks at every fit) share the sink.
    prefix : str, default=""
        Put before each line, e.g. the model's name.
    """

    #: Training batches whose outputs are kept (on their device) and then counted
    #: together: counting every batch would add four device operations to each step.
    COUNT_EVERY = 64

    def __init__(self, sink=print, prefix=""):
        self.sink = sink
        self.prefix = prefix

    def __deepcopy__(self, memo):
        return copy.copy(self)

    def initialize(self):
        self._restart()
        return self

    def on_epoch_begin(self, net, **kwargs):
        self._restart()

    def _restart(self):
        self.correct_, self.seen_, self._uncounted = 0, 0, []

    def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
        if not training or y_pred is None:
            return
        self._uncounted.append((y_pred.detach(), batch[1]))
        if len(self._uncounted) == self.COUNT_EVERY:
            self._count()

    def _count(self):
        """Add the kept batches' correct patches to the epoch's count."""
        if not self._uncounted:
            return
        y_pred, targets = (torch.cat(tensors) for tensors in zip(*self._uncounted))
        self._uncounted = []
        # a device tensor until the epoch ends: int() here would wait for the device
        self.correct_ = self.correct_ + (y_pred.argmax(dim=1) == targets.to(y_pred.device)).sum()
        self.seen_ += len(targets)

    def on_epoch_end(self, net, **kwargs):
        self._count()
        row = net.history[-1]
        parts = [f"{self.prefix}epoch {row['epoch']}/{net.max_epochs}",
                 f"train loss {row['train_loss']:.4f}"]
        if self.seen_:
            parts.append(f"train acc {int(self.correct_) / self.seen_:.3f}")
        if "valid_loss" in row:
            parts.append(f"valid loss {row['valid_loss']:.4f}")
        if "valid_acc" in row:
            parts.append(f"valid acc {row['valid_acc']:.3f}")
        parts.append(f"{row['dur']:.1f} s")
        self.sink(", ".join(parts))


def show_epochs(estimator, sink, prefix=""):
    """Add an :class:`EpochProgress` to a CNN estimator's ``callbacks`` for its next fits.

    Parameters
    ----------
    estimator : estimator
        A skrhythm CNN classifier; other estimators (the descriptor
        pipelines) train without epochs and are left as they are.
    sink, prefix
        As for :class:`EpochProgress`.

    Returns
    -------
    restore : callable or None
        ``restore(fitted)`` sets the original ``callbacks`` back on ``fitted``
        (the estimator or a fitted clone of it), so that a saved model holds
        no progress display; None if ``estimator`` takes no callbacks.
    """
    if "callbacks" not in estimator.get_params():
        return None
    callbacks = estimator.callbacks
    estimator.set_params(callbacks=[*(callbacks or []), EpochProgress(sink, prefix)])
    return lambda fitted: fitted.set_params(callbacks=callbacks)
