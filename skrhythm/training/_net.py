"""The skorch net of the CNN estimators: deferred losses, a lazy optimizer, CUDA graphs."""

from __future__ import annotations

import warnings

import torch
from skorch import NeuralNetClassifier
from skorch.history import History

from . import _cuda_graph

__all__ = ["PatchNet"]


class PatchNet(NeuralNetClassifier):
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
    (:class:`skrhythm.training._cuda_graph.GraphedTrainStep`), unless
    :func:`~skrhythm.training._cuda_graph.graph_obstacle` names a reason not to, which
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
