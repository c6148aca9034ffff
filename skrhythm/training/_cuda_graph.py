"""The CNN estimators' training step, replayed from a CUDA graph.

On a GPU a training step at the paper's batch size is bound by the host: the
Python, dispatch and launch work of its forward pass, backward pass and
optimiser step (about 1.9 ms on an H200) outlasts its kernels (about 0.6 ms
at batch 50), so the GPU idles most of the time. A CUDA graph records a
step's kernels once and launches them all again with one call.

:class:`GraphedTrainStep` does this for the full batches of one fit of a
skorch net: the first :data:`WARMUP_STEPS` full batches train as skorch's
ordinary step (on a side stream, so that every lazy initialisation, the
optimiser's state and Triton's autotuning happen before the capture); the
next one captures the step (zeroing the gradients, forward pass, loss,
backward pass, optimiser step) with the batch in static buffers, and every
later full batch is copied into those buffers and replays the graph. A
graph keeps the host values it was captured with, so the step is captured
again whenever one of them changes: the optimiser's hyperparameters (a
learning-rate schedule), the parameters' storage or ``requires_grad``, the
momentum buffers' storage, or a module's or the criterion's plain
attributes (a dropout rate) and buffers. When they change every few
batches (a per-batch schedule), capturing costs more than replaying saves,
and the fit goes on with skorch's step (with a warning). Batches of another
size (the last of an epoch) take skorch's step too. A capture that fails
raises. The kernels are those of the ordinary step, in the same order, and
dropout draws from the same generator state, so a graphed fit trains the
same model.

What a graph cannot replay is refused up front by :func:`graph_obstacle`:
an optimiser other than :class:`torch.optim.SGD` (the others keep step
counts on the host unless built ``capturable``), hyperparameters that are
not plain numbers, and callbacks that act on the gradients between the
backward pass and the optimiser step (``on_grad_computed``), which a
replay would skip.

Captures are taken one at a time in a process, and a capture does not fail
because of another thread's work (``capture_error_mode="thread_local"``).
"""

from __future__ import annotations

import threading
import warnings

import torch
from skorch.callbacks import Callback

__all__ = ["WARMUP_STEPS", "CudaGraphs", "GraphedTrainStep", "graph_obstacle", "graphs_for"]

#: Full batches trained as skorch's ordinary step before the step is captured.
WARMUP_STEPS = 3
#: Replays a graph must serve before the step is captured again, or the fit
#: goes on without graphs: capturing costs a device synchronisation and more.
MIN_REPLAYS = 4
#: Types of a module's plain settings (a dropout rate, a flag, a name).
_PLAIN = (bool, int, float, str, type(None))

_CAPTURE_LOCK = threading.Lock()


def graph_obstacle(net):
    """Why the training step of a skorch net cannot be replayed from a graph; None if it can.

    Parameters
    ----------
    net : skorch.NeuralNet
        An initialised net.

    Returns
    -------
    reason : str or None
    """
    for name in net._optimizers:
        optimizer = getattr(net, name + "_")
        if type(optimizer) is not torch.optim.SGD:
            return f"the optimizer is {type(optimizer).__name__}, not torch.optim.SGD"
        for group in optimizer.param_groups:
            for key, value in group.items():
                if key != "params" and not isinstance(value, (bool, int, float, type(None))):
                    return f"the optimizer's {key} is a {type(value).__name__}, not a number"
            if group.get("fused"):
                return "the optimizer is fused"
    for name, callback in net.callbacks_:
        if type(callback).on_grad_computed is not Callback.on_grad_computed:
            return f"callback {name!r} acts on the gradients (on_grad_computed)"
    return None


def graphs_for(net):
    """The graph backend for a skorch net: :class:`CudaGraphs` on a CUDA device, else None."""
    return CudaGraphs(net.device) if torch.device(net.device).type == "cuda" else None


class CudaGraphs:
    """CUDA graphs on one device: warm-up and capture on a side stream, replays on the current.

    Parameters
    ----------
    device : str or torch.device
        A CUDA device.
    """

    def __init__(self, device):
        self.stream = torch.cuda.Stream(device)

    def on_side_stream(self, run):
        """``run()`` on the side stream, ordered after and before the current stream's work."""
        current = torch.cuda.current_stream(self.stream.device)
        self.stream.wait_stream(current)
        with torch.cuda.stream(self.stream):
            result = run()
        current.wait_stream(self.stream)
        return result

    def capture(self, body):
        """A graph of ``body()``'s kernels (not run now): its ``replay()`` returns their outputs.

        If the capture fails, the thread's current stream is set back (torch
        leaves it on the side stream) before the error propagates. The capture
        runs with the side stream's device current, since
        :class:`torch.cuda.graph` first synchronises the current device (a
        model on ``cuda:1`` would otherwise synchronise ``cuda:0``).
        """
        graph = torch.cuda.CUDAGraph()
        current = torch.cuda.current_stream(self.stream.device)
        with _CAPTURE_LOCK, torch.cuda.device(self.stream.device):
            try:
                with torch.cuda.graph(graph, stream=self.stream,
                                      capture_error_mode="thread_local"):  # fmt: skip
                    outputs = body()
            except BaseException:
                torch.cuda.set_stream(current)
                raise
        return _Replay(graph, outputs)


class _Replay:
    """A captured graph and the tensors its kernels write on each replay."""

    def __init__(self, graph, outputs):
        self.graph, self.outputs = graph, outputs

    def replay(self):
        self.graph.replay()
        return self.outputs


class GraphedTrainStep:
    """skorch's training step for the full batches of one fit, replayed from a graph.

    Call it as ``step(batch, eager)`` in place of ``net.train_step(batch)``,
    with ``eager`` skorch's step; it returns the same ``{"loss", "y_pred"}``
    (fresh tensors, not the graph's buffers, so they may be kept).

    Parameters
    ----------
    net : skorch.NeuralNet
        An initialised net with no :func:`graph_obstacle`, whose
        ``batch_size`` is the size of a full batch.
    graphs : CudaGraphs
        The backend (the tests pass a stand-in that runs on the CPU).
    """

    def __init__(self, net, graphs):
        self.net, self.graphs = net, graphs
        self.warmed_up = self.replays = 0
        self.replay = self.captured_with = self.gradients = None
        self.given_up = False

    def __call__(self, batch, eager):
        x, y = batch
        if len(x) != self.net.batch_size or self.given_up:
            return eager(batch)
        if self.warmed_up < WARMUP_STEPS:
            self.warmed_up += 1
            return self.graphs.on_side_stream(lambda: eager(batch))
        self.net._set_training(True)
        state = self._host_state()
        if self.replay is None or state != self.captured_with:
            if self.replay is not None and self.replays < MIN_REPLAYS:
                self.given_up, self.replay = True, None
                warnings.warn(
                    f"cuda_graphs=True: the values a CUDA graph keeps (learning rate, momentum, "
                    f"...) changed after {self.replays} replays; a schedule that changes them "
                    "every few batches costs a capture each time, so this fit trains on "
                    "without CUDA graphs", RuntimeWarning, stacklevel=2)  # fmt: skip
                return eager(batch)
            try:
                self._capture(x, y)
            except RuntimeError as error:
                raise RuntimeError(
                    f"capturing the training step in a CUDA graph failed ({error}); fit "
                    "with cuda_graphs=False"
                ) from error
            self.captured_with, self.replays = state, 0
        static_x, static_y = self.static_batch
        static_x.copy_(x)
        static_y.copy_(y)
        loss, y_pred = self.replay.replay()
        self.replays += 1
        for p, gradient in self.gradients:  # an eager step in between may have replaced them
            p.grad = gradient
        return {"loss": loss.clone(), "y_pred": y_pred.clone()}

    def _host_state(self):
        """What a capture bakes in from the host, to compare before every replay."""
        net = self.net
        optimizers = [getattr(net, name + "_") for name in net._optimizers]
        groups = [{key: value for key, value in group.items() if key != "params"}
                  for optimizer in optimizers for group in optimizer.param_groups]  # fmt: skip
        params = [p for optimizer in optimizers for group in optimizer.param_groups
                  for p in group["params"]]  # fmt: skip
        buffers = [optimizer.state[p].get("momentum_buffer") for optimizer in optimizers
                   for p in params if p in optimizer.state]  # fmt: skip
        modules = [m for name in net._modules + net._criteria
                   for m in getattr(net, name + "_").modules()]  # fmt: skip
        return (
            groups,
            [(p.data_ptr(), p.requires_grad) for p in params],
            [None if b is None else b.data_ptr() for b in buffers],
            [[(key, value) for key, value in vars(m).items() if isinstance(value, _PLAIN)]
             + [b.data_ptr() for b in m.buffers(recurse=False)] for m in modules],
        )  # fmt: skip

    def _capture(self, x, y):
        self.replay = None  # the previous graph's memory can go
        net = self.net
        static_x, static_y = self.static_batch = torch.empty_like(x), torch.empty_like(y)

        def body():
            net._zero_grad_optimizer(set_to_none=True)
            y_pred = net.infer(static_x)
            loss = net.get_loss(y_pred, static_y, X=static_x, training=True)
            loss.backward()
            net._step_optimizer(None)
            return loss.detach(), y_pred.detach()

        self.replay = self.graphs.capture(body)
        # the gradients the graph writes: those its backward pass made in the capture
        self.gradients = [(p, p.grad) for p in net.module_.parameters() if p.grad is not None]

    def release(self):
        """Drop the graph and the gradients it writes, so that its memory can go."""
        if self.replay is not None:
            self.net._zero_grad_optimizer(set_to_none=True)
        self.replay = self.gradients = None

