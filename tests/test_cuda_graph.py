"""The training step replayed from a CUDA graph (``cuda_graphs=True``).

On the CPU a stand-in backend runs the graphed step's logic as a graph would:
a capture runs nothing; a replay runs the captured step, overwrites the
tensors (outputs and gradients) the capture made, and leaves every
parameter's ``.grad`` as it was; and before every replay it checks that
nothing a real graph would have kept from the host has changed since the
capture: every plain attribute and tensor storage of the module, the
criterion and the optimiser. So these tests fail if the step replays a stale
graph, hands out the graph's buffers, leaves stale gradients in ``.grad`` or
replays batches it should not; the CUDA test checks the real graphs.
"""

import pickle
import warnings

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, GradientNormClipping

from skrhythm import MusicCNNClassifier
from skrhythm.baselines import BaselineCNNClassifier
from skrhythm.training import EpochProgress, PatchNet, _cuda_graph

SMALL = dict(n_onet=1, n_pnet=1, onet_lengths=(3, 5), pnet_lengths=(9, 14), patch_frames=20,
             patch_hop=4, batch_size=8, max_epochs=3, lr=0.05, random_state=0)  # fmt: skip
BASELINE = dict(architecture="time", n_filters=4, time_length=5, hidden=6, patch_frames=20,
                patch_hop=4, batch_size=8, max_epochs=2, random_state=0)  # fmt: skip


def fingerprint(value):
    """What a CUDA graph keeps of a value: tensors by storage (and whether they need
    gradients), modules, dicts and sequences by their contents, the rest as it is."""
    if isinstance(value, torch.Tensor):
        return ("tensor", value.data_ptr(), value.requires_grad)
    if isinstance(value, torch.nn.Module):
        value = vars(value)
    if isinstance(value, dict):
        return {fingerprint(key) if isinstance(key, torch.Tensor) else key: fingerprint(item)
                for key, item in value.items()}  # fmt: skip
    if isinstance(value, (list, tuple)):
        return [fingerprint(item) for item in value]
    if isinstance(value, np.ndarray):
        return ("array", value.tobytes())
    return value


def baked(net):
    optimizer = net.optimizer_
    return fingerprint([net.module_, net.criterion_, optimizer.param_groups,
                        {("tensor", p.data_ptr()): state for p, state in optimizer.state.items()}])


class CpuGraphs:
    """Stands in for :class:`skrhythm.training._cuda_graph.CudaGraphs` on the CPU, and counts."""

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
        # a capture runs the step's Python: its backward pass gives every parameter a
        # gradient tensor of the graph's own
        params = [p for p in self.net.module_.parameters() if p.requires_grad]
        for p in params:
            p.grad = torch.empty_like(p)
        return CpuReplay(self, body, baked(self.net), params)


class CpuReplay:
    """A captured step: each replay runs it into the tensors of the capture."""

    def __init__(self, graphs, body, state, params):
        self.graphs, self.body, self.state, self.params = graphs, body, state, params
        self.gradients = [p.grad for p in params]
        self.outputs = None

    def replay(self):
        assert baked(self.graphs.net) == self.state, "replayed a graph captured with other values"
        self.graphs.counts["replays"] += 1
        before = [p.grad for p in self.params]
        outputs = self.body()
        if self.outputs is None:
            self.outputs = outputs
        for static, fresh in zip(self.outputs, outputs):
            static.copy_(fresh)
        for p, static, grad in zip(self.params, self.gradients, before):
            static.copy_(p.grad)
            p.grad = grad  # a replay writes the graph's tensors, not .grad
        return self.outputs


@pytest.fixture
def cpu_graphs(monkeypatch):
    """Graphs on the CPU for nets with ``cuda_graphs=True``; losses kept until epoch end."""
    CpuGraphs.log = []
    monkeypatch.setattr(_cuda_graph, "graphs_for", CpuGraphs)
    monkeypatch.setattr(PatchNet, "_defer_losses", lambda self: True)
    return CpuGraphs.log


def data(n_tracks=11, seed=0):
    """Spectrograms of ``n_tracks`` tracks of 6 patches: 66 patches, 8 batches of 8 and 1 of 2."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_tracks, 8, 40)).astype(np.float32)
    return X, np.arange(n_tracks) % 3


class Keep(Callback):
    """Keeps every training batch's output and gradients, as a callback may."""

    def __init__(self, kept):
        self.kept = kept

    def __deepcopy__(self, memo):  # the estimator copies its callbacks: keep the list
        return Keep(self.kept)

    def on_batch_end(self, net, training=False, y_pred=None, **kwargs):
        if training:
            self.kept.append(y_pred)
            self.kept.append(torch.cat([p.grad.flatten() for p in net.module_.parameters()]))


def fit(graphs, lines=None, **params):
    """A fit of the small O-net + P-net; ``lines`` gets its progress lines, outputs, gradients."""
    X, y = data()
    callbacks = params.pop("callbacks", [])
    if lines is not None:
        callbacks = [*callbacks, EpochProgress(lines.append), Keep(lines)]
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
    loss), progress lines, batch outputs, gradients and predictions; the warm-up
    batches and the last, short batch of each epoch take skorch's step."""
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
    assert all(p.grad is None for p in graphed.net_.module_.parameters())  # the graph's are gone


class HalveDropout(Callback):
    def on_epoch_end(self, net, **kwargs):
        net.module_.dropout.p /= 2


@pytest.mark.parametrize("change", [HalveLearningRate, HalveDropout])
def test_step_is_captured_again_when_a_kept_value_changes(cpu_graphs, change):
    """A graph keeps the learning rate and the dropout rate it was captured with:
    each change (here at every epoch end; PaperLRSchedule halves the learning rate)
    captures the step again."""
    graphed, X = fit(True, callbacks=[change()])
    eager, _ = fit(False, callbacks=[change()])
    assert_same_model(graphed, eager, X)
    assert cpu_graphs[0].counts["captures"] == 3  # one an epoch


def test_values_changing_every_batch_end_the_graphs(cpu_graphs):
    """A per-batch schedule would cost a capture a batch: the fit goes on without."""

    class PerBatch(Callback):
        def on_batch_end(self, net, **kwargs):
            net.optimizer_.param_groups[0]["lr"] *= 0.99

    with pytest.warns(RuntimeWarning, match="changed after 1 replays"):
        graphed, X = fit(True, callbacks=[PerBatch()])
    eager, _ = fit(False, callbacks=[PerBatch()])
    assert_same_model(graphed, eager, X)
    assert cpu_graphs[0].counts == {"side": _cuda_graph.WARMUP_STEPS, "captures": 1,
                                    "replays": 1}  # fmt: skip


def test_warm_start_captures_anew(cpu_graphs):
    graphed, X = fit(True)
    graphed.set_params(warm_start=True).fit(X, data()[1])
    eager, _ = fit(False)
    eager.set_params(warm_start=True).fit(X, data()[1])
    assert_same_model(graphed, eager, X)
    assert [graphs.counts["captures"] for graphs in cpu_graphs] == [1, 1]
    assert graphed.net_.graphed_step_ is None  # nothing of the graph outlives a fit
    assert "graphed_step_" not in graphed.net_.get_params()  # no parameter of the net


class PickleNet(Callback):
    pickles = []

    def on_epoch_end(self, net, **kwargs):
        PickleNet.pickles.append(pickle.dumps(net))


def test_net_pickles_during_a_graphed_fit(cpu_graphs):
    """A callback may pickle the net mid-fit (skorch's Checkpoint with f_pickle)."""
    pickles = PickleNet.pickles = []
    fit(True, callbacks=[PickleNet()])
    assert len(pickles) == 3 and cpu_graphs[0].counts["replays"] > 0
    assert pickle.loads(pickles[-1]).graphed_step_ is None


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


def test_failed_capture_raises(monkeypatch, cpu_graphs):
    monkeypatch.setattr(_cuda_graph, "graphs_for", lambda net: CpuGraphs(net, fail=True))
    with pytest.raises(RuntimeError, match="capturing the training step in a CUDA graph failed "
                       r"\(operation not permitted.*fit with cuda_graphs=False"):  # fmt: skip
        fit(True)


def test_cpu_fits_take_skorchs_step(monkeypatch):
    """On the CPU, cuda_graphs=True changes nothing and warns of nothing."""

    def refuse(*args):
        raise AssertionError("a graphed step on the CPU")

    monkeypatch.setattr(_cuda_graph, "GraphedTrainStep", refuse)
    X, y = data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = MusicCNNClassifier(**{**SMALL, "max_epochs": 1}, cuda_graphs=True).fit(X, y)
    assert clf.net_.cuda_graphs and _cuda_graph.graphs_for(clf.net_) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.parametrize(("estimator", "params"), [
    (MusicCNNClassifier, SMALL),
    (BaselineCNNClassifier, {**BASELINE, "architecture": "timefreq", "freq_length": 4}),
], ids=["musiccnn", "baseline"])  # fmt: skip
def test_cuda_graphs_train_the_same_model_on_cuda(estimator, params):
    """Real CUDA graphs (the Triton filter bank, cuBLAS, cuDNN, dropout's generator)
    against skorch's step on the same GPU, with momentum, weight decay, validation
    epochs, a short batch in every epoch and learning-rate changes: the same model."""
    X, y = data(47)
    replaying = []

    class Replaying(Callback):
        def on_epoch_end(self, net, **kwargs):
            replaying.append(net.graphed_step_.replay is not None)

    params = {**params, "device": "cuda", "max_epochs": 3, "train_split": 5,
              "optimizer_params": {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}}
    with torch.backends.cudnn.flags(enabled=True, benchmark=False, deterministic=True):
        graphed = estimator(**params, cuda_graphs=True,
                            callbacks=[HalveLearningRate(), Replaying()]).fit(X, y)  # fmt: skip
        eager = estimator(**params, callbacks=[HalveLearningRate()]).fit(X, y)
    assert replaying == [True] * 3
    assert_same_model(graphed, eager, X)
