"""skorch callbacks of the CNN estimators: the paper's schedule, the best epoch, progress."""

from __future__ import annotations

import copy

import numpy as np
import torch
from skorch.callbacks import Callback

__all__ = ["EpochProgress", "KeepBestModel", "PaperLRSchedule", "StopTraining", "show_epochs"]


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
