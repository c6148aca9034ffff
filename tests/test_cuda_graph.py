"""The training step replayed from a CUDA graph (``cuda_graphs=True``).

On the CPU a stand-in backend runs the graphed step's logic: a capture runs
nothing, a replay runs the captured step and overwrites the tensors the first
replay returned (as a graph's kernels overwrite its buffers), and every replay
first checks that what a real graph bakes in at capture is unchanged. So these
tests fail if the step replays a stale graph, hands out the graph's buffers, or
replays batches it should not; the CUDA test checks the real graphs.
"""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, GradientNormClipping

from skrhythm import MusicCNNClassifier, _cuda_graph
from skrhythm.baselines import BaselineCNNClassifier
from skrhythm.training import EpochProgress, _PatchNet

SMALL = dict(n_onet=1, n_pnet=1, onet_lengths=(3, 5), pnet_lengths=(9, 14), patch_frames=20,
             patch_hop=4, batch_size=8, max_epochs=3, lr=0.05, random_state=0)  # fmt: skip
BASELINE = dict(architecture="time", n_filters=4, time_length=5, hidden=6, patch_frames=20,
                patch_hop=4, batch_size=8, max_epochs=2, random_state=0)  # fmt: skip


def baked(net):
    """What a CUDA graph keeps from capture: hyperparameters and the storage it reads."""
    optimizer = net.optimizer_
    params = list(net.module_.parameters())
    return (
        [{key: value for key, value in group.items() if key != "params"}
         for group in optimizer.param_groups],
        [(p.data_ptr(), p.requires_grad) for p in params],
        [optimizer.state[p]["momentum_buffer"].data_ptr() for p in params
         if "momentum_buffer" in optimizer.state.get(p, {})],
    )  # fmt: skip


class CpuGraphs:
    """Stands in for :class:`skrhythm._cuda_graph.CudaGraphs` on the CPU, and counts."""

    log = []

    def __init__(self, net, fail=False):
        self.net, self.fail = net, fail
        self.counts = {"side": 0, "captures": 0, "replays": 0}
        CpuGraphs.log.append(self)

    def on_side_stream(self, run):
        self.counts["side"] += 1
        return run()

    def capture(self, body):
        if self.fail:
            raise RuntimeError("operation not permitted when stream is capturing")
        self.counts["captures"] += 1
        return CpuReplay(self, body, baked(self.net))


class CpuReplay:
    def __init__(self, graphs, body, state):
        self.graphs, self.body, self.state, self.outputs = graphs, body, state, None

    def replay(self):
        assert baked(self.graphs.net) == self.state, "replayed a graph captured with other values"
        self.graphs.counts["replays"] += 1
        outputs = self.body()
        if self.outputs is None:
            self.outputs = outputs
        for static, fresh in zip(self.outputs, outputs):
            static.copy_(fresh)
        return self.outputs


@pytest.fixture
def cpu_graphs(monkeypatch):
    """Graphs on the CPU for nets with ``cuda_graphs=True``; losses kept until epoch end."""
    CpuGraphs.log = []
    monkeypatch.setattr(_cuda_graph, "graphs_for", CpuGraphs)
    monkeypatch.setattr(_PatchNet, "_defer_losses", lambda self: True)
    return CpuGraphs.log


def data(n_tracks=11, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_tracks, 8, 40)).astype(np.float32)
    return X, np.arange(n_tracks) % 3


class KeepPredictions(Callback):
    """Keeps every training batch's output, as skorch's caching scorers may."""

    def __init__(self, kept):
        self.kept = kept

    def __deepcopy__(self, memo):  # the estimator copies its callbacks: keep the list
        return KeepPredictions(self.kept)

    def on_batch_end(self, net, training=False, y_pred=None, **kwargs):
        if training:
            self.kept.append(y_pred)


def fit(graphs, lines=None, **params):
    """A fit of the small O-net + P-net; ``lines`` gets its progress lines and outputs."""
    X, y = data()
    callbacks = params.pop("callbacks", [])
    if lines is not None:
        callbacks = [*callbacks, EpochProgress(lines.append), KeepPredictions(lines)]
    clf = MusicCNNClassifier(**{**SMALL, **params}, callbacks=callbacks, cuda_graphs=graphs)
    return clf.fit(X, y), X


def assert_same_model(graphed, eager, X):
    def timeless(history):
        return [{key: value for key, value in epoch.items() if key != "dur"} for epoch in history]

    assert timeless(graphed.history_) == timeless(eager.history_)
    np.testing.assert_array_equal(graphed.predict_proba(X), eager.predict_proba(X))


class HalveLearningRate(Callback):
    def on_epoch_end(self, net, **kwargs):
        for group in net.optimizer_.param_groups:
            group["lr"] /= 2


@pytest.mark.parametrize("params", [
    {},
    {"optimizer_params": {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}},
    {"train_split": 4},  # validation epochs between the training ones
], ids=["plain", "momentum", "validation"])  # fmt: skip
def test_graphed_fit_trains_the_same_model(cpu_graphs, params):
    """A fit replaying its full batches gives skorch's step's history (every batch's
    loss), progress lines, batch outputs and predictions; the warm-up batches and the
    last, short batch of each epoch take skorch's step."""
    lines, eager_lines = [], []
    graphed, X = fit(True, lines=lines, **params)
    eager, _ = fit(False, lines=eager_lines, **params)
    assert_same_model(graphed, eager, X)
    assert len(lines) == len(eager_lines)
    for line, eager_line in zip(lines, eager_lines):
        if isinstance(line, str):
            assert line.rsplit(",", 1)[0] == eager_line.rsplit(",", 1)[0]  # but the duration
        else:
            assert torch.equal(line, eager_line)
    (graphs,) = cpu_graphs
    sizes = [row["train_batch_size"] for epoch in graphed.history_ for row in epoch["batches"]
             if "train_batch_size" in row]  # fmt: skip
    full = sizes.count(8)
    assert full < len(sizes)
    warmup = _cuda_graph.WARMUP_STEPS
    assert graphs.counts == {"side": warmup, "captures": 1, "replays": full - warmup}


def test_step_is_captured_again_when_the_learning_rate_changes(cpu_graphs):
    """A graph keeps the learning rate it was captured with: each halving (here at
    every epoch end, as PaperLRSchedule may) captures the step again."""
    graphed, X = fit(True, callbacks=[HalveLearningRate()])
    eager, _ = fit(False, callbacks=[HalveLearningRate()])
    assert_same_model(graphed, eager, X)
    assert cpu_graphs[0].counts["captures"] == 3  # one an epoch


def test_warm_start_captures_anew(cpu_graphs):
    graphed, X = fit(True)
    graphed.set_params(warm_start=True).fit(X, data()[1])
    eager, _ = fit(False)
    eager.set_params(warm_start=True).fit(X, data()[1])
    assert_same_model(graphed, eager, X)
    assert [graphs.counts["captures"] for graphs in cpu_graphs] == [1, 1]
    assert graphed.net_._graphed_step is None  # nothing of the graph outlives a fit


def test_baseline_cnn_trains_the_same_model(cpu_graphs):
    X, y = data()
    graphed = BaselineCNNClassifier(**BASELINE, cuda_graphs=True).fit(X, y)
    eager = BaselineCNNClassifier(**BASELINE).fit(X, y)
    assert_same_model(graphed, eager, X)
    assert cpu_graphs[0].counts["replays"] > 0


@pytest.mark.parametrize(("params", "reason"), [
    ({"optimizer": torch.optim.Adam}, "the optimizer is Adam, not torch.optim.SGD"),
    ({"callbacks": [GradientNormClipping(1.0)]},
     "callback 'GradientNormClipping' acts on the gradients"),
    ({"optimizer_params": {"lr": torch.tensor(0.05)}}, "the optimizer's lr is a Tensor"),
])  # fmt: skip
def test_what_a_graph_cannot_replay_trains_as_usual_with_a_warning(cpu_graphs, params, reason):
    with pytest.warns(UserWarning, match=f"cuda_graphs=True ignored: {reason}"):
        graphed, X = fit(True, **params)
    eager, _ = fit(False, **params)
    assert_same_model(graphed, eager, X)
    assert all(graphs.counts["captures"] == 0 for graphs in cpu_graphs)


def test_failed_capture_trains_on_without_graphs(monkeypatch, cpu_graphs):
    monkeypatch.setattr(_cuda_graph, "graphs_for", lambda net: CpuGraphs(net, fail=True))
    with pytest.warns(RuntimeWarning, match="capturing the training step in a CUDA graph failed"):
        graphed, X = fit(True)
    eager, _ = fit(False)
    assert_same_model(graphed, eager, X)


def test_graphs_only_on_cuda():
    X, y = data()
    clf = MusicCNNClassifier(**{**SMALL, "max_epochs": 1}, cuda_graphs=True).fit(X, y)
    assert _cuda_graph.graphs_for(clf.net_) is None  # the CPU: skorch's step, no warning


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize(("estimator", "params"), [
    (MusicCNNClassifier, SMALL),
    (BaselineCNNClassifier, {**BASELINE, "architecture": "timefreq", "freq_length": 4}),
], ids=["musiccnn", "baseline"])  # fmt: skip
def test_cuda_graphs_train_the_same_model_on_cuda(estimator, params):
    """Real CUDA graphs (the Triton filter bank, cuBLAS, dropout's generator) against
    skorch's step on the same GPU, learning-rate changes included: the same model."""
    X, y = data(48)
    replaying = []

    class Replaying(Callback):
        def on_epoch_end(self, net, **kwargs):
            replaying.append(net._graphed_step.replay is not None)

    params = {**params, "device": "cuda", "max_epochs": 3}
    graphed = estimator(**params, cuda_graphs=True,
                        callbacks=[HalveLearningRate(), Replaying()]).fit(X, y)  # fmt: skip
    eager = estimator(**params, callbacks=[HalveLearningRate()]).fit(X, y)
    assert replaying == [True] * 3
    assert_same_model(graphed, eager, X)
