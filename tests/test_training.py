"""skrhythm.training: patches gathered by index, the skorch net, callbacks."""

from collections import Counter
from contextlib import nullcontext

import numpy as np
import pytest
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.data import DataLoader

import skrhythm.classifier as classifier_module
from skrhythm import MusicCNNClassifier
from skrhythm._prediction import patch_logits, patch_starts
from skrhythm.nn._kernels import triton_available, triton_missing
from skrhythm.training import (
    EpochProgress,
    PatchDataset,
    PatchLoader,
    PatchNet,
    tempo_patches,
    tempo_patches_reference,
)


def sliced_patch(spectrograms, item, patch_frames, patch_hop, mean, std):
    """The obvious reference: slice item ``item``'s patch out of its track, then standardise."""
    starts = patch_starts(spectrograms.shape[2], patch_frames, patch_hop)
    track, k = divmod(item, len(starts))
    patch = spectrograms[track, :, starts[k] : starts[k] + patch_frames]
    return (torch.from_numpy(patch) - mean) / std


@pytest.mark.parametrize(
    ("n_frames", "patch_frames", "patch_hop"),
    [(1292, 250, 250), (1292, 250, 80), (300, 250, 7), (250, 250, 80), (40, 5, 3)],
)
def test_batch_gather_matches_slicing(n_frames, patch_frames, patch_hop):
    rng = np.random.default_rng(0)
    spectrograms = rng.standard_normal((3, 6, n_frames)).astype(np.float32)
    data = PatchDataset(spectrograms, [2, 0, 1], patch_frames, patch_hop, mean=0.3, std=1.7)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    patches, targets = data.batch(order)
    assert patches.shape == (len(data), 6, patch_frames) and patches.dtype == torch.float32
    for row, item in enumerate(order.tolist()):
        expected = sliced_patch(spectrograms, item, patch_frames, patch_hop, 0.3, 1.7)
        assert torch.equal(patches[row], expected)
        assert targets[row] == [2, 0, 1][item // data.n_patches_per_track]


def test_prediction_items_carry_minus_one():
    data = PatchDataset(np.zeros((2, 3, 10), np.float32), None, 5, 5)
    assert data.batch(torch.arange(len(data)))[1].tolist() == [-1] * 4


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("batch_size", [1, 4, 50])
def test_loader_yields_what_a_dataloader_yields(shuffle, batch_size):
    """Same batches, in the same order, from the same seed, and the same random state after."""
    spectrograms = np.random.default_rng(1).standard_normal((5, 4, 60)).astype(np.float32)
    data = PatchDataset(spectrograms, [0, 1, 0, 1, 1], 20, 9, mean=0.1, std=2.0)
    torch.manual_seed(3)
    ours = [batch for _ in range(2) for batch in PatchLoader(data, batch_size, shuffle)]
    after_ours = torch.rand(1)
    torch.manual_seed(3)
    loader = DataLoader(data, batch_size=batch_size, shuffle=shuffle)
    theirs = [batch for _ in range(2) for batch in loader]
    assert torch.equal(after_ours, torch.rand(1))
    assert len(ours) == len(theirs) == 2 * len(PatchLoader(data, batch_size))
    for (x, y), (x_ref, y_ref) in zip(ours, theirs):
        assert torch.equal(x, x_ref) and torch.equal(y, y_ref)


def test_fit_gives_the_model_a_dataloader_gives(monkeypatch):
    """The gathered data path changes no arithmetic: a seeded fit is bitwise the
    same as one through skorch's default per-item DataLoader (0.1's data path)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 40, 400)).astype(np.float32)
    y = np.repeat(["a", "b", "c"], 4)
    params = dict(n_pnet=1, max_epochs=2, random_state=0, train_split=3, patch_hop=80)
    ours = MusicCNNClassifier(**params).fit(X, y)

    build_net = classifier_module.BasePatchCNNClassifier._build_net

    def with_dataloader(self, *args):
        return build_net(self, *args).set_params(
            iterator_train=DataLoader, iterator_valid=DataLoader
        )

    monkeypatch.setattr(classifier_module.BasePatchCNNClassifier, "_build_net", with_dataloader)
    reference = MusicCNNClassifier(**params).fit(X, y)
    assert isinstance(reference.net_.get_iterator(reference._dataset(X)), DataLoader)
    for (name, ours_value), ref_value in zip(
        ours.net_.module_.state_dict().items(), reference.net_.module_.state_dict().values()
    ):
        assert torch.equal(ours_value, ref_value), name
    assert ours.history_[:, "train_loss"] == reference.history_[:, "train_loss"]
    assert ours.history_[:, "valid_acc"] == reference.history_[:, "valid_acc"]
    np.testing.assert_array_equal(ours.predict_proba(X), reference.predict_proba(X))


class CountOps(TorchDispatchMode):
    """Counts the aten operators run inside it."""

    def __init__(self):
        super().__init__()
        self.counts = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.counts[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("stop_at", [None, 5])
def test_epochs_read_losses_off_the_device_once(monkeypatch, stop_at):
    """On a GPU a fit waits for the device (``.item()``, ``int()``: aten's
    _local_scalar_dense) a few times per epoch, not once per batch, also with the
    progress display, and records the same history as skorch's own epoch loop; an
    epoch interrupted after ``stop_at`` batches keeps their losses. The CPU here stands
    in for the GPU (``_defer_losses``)."""
    monkeypatch.setattr(PatchNet, "_defer_losses", lambda self: True)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((16, 8, 60)).astype(np.float32)
    y = np.repeat(["a", "b"], 8)

    class Interrupt(Callback):
        def on_batch_end(self, net, **kwargs):
            if stop_at and len(net.history) == 2 and len(net.history[-1]["batches"]) == stop_at:
                raise RuntimeError("interrupted")

    def fit(lines):
        clf = MusicCNNClassifier(
            n_onet=1, n_pnet=0, onet_lengths=(3, 5), patch_frames=20, patch_hop=4, batch_size=4,
            max_epochs=2, random_state=0, train_split=4,
            callbacks=[EpochProgress(lines.append), Interrupt()],
        )  # fmt: skip
        with CountOps() as ops, pytest.raises(RuntimeError) if stop_at else nullcontext():
            clf.fit(X, y)
        return clf.net_, ops.counts["_local_scalar_dense"]

    lines, skorch_lines = [], []
    ours, reads = fit(lines)
    monkeypatch.setattr(PatchNet, "run_single_epoch", NeuralNetClassifier.run_single_epoch)
    reference, skorch_reads = fit(skorch_lines)

    def timeless(history):
        return [{key: value for key, value in epoch.items() if key != "dur"} for epoch in history]

    assert isinstance(ours, PatchNet) and timeless(ours.history) == timeless(reference.history)
    rows = [row for epoch in ours.history for row in epoch["batches"]]
    assert all(row.get("train_loss", row.get("valid_loss", -1)) > 0 for row in rows)
    if stop_at:
        assert len(ours.history[-1]["batches"]) == stop_at
    else:
        assert [epoch["train_batch_count"] for epoch in ours.history] == [33, 33]  # 11 a track
        assert reads <= 4 < 88 <= skorch_reads  # 88 batches, training and validation
    assert [line.rsplit(",", 1)[0] for line in lines] == [
        line.rsplit(",", 1)[0] for line in skorch_lines]  # all but the durations


def test_progress_counts_training_accuracy_a_few_batches_at_a_time(monkeypatch):
    """EpochProgress's training accuracy is the share of the epoch's training patches
    classified right, as counted batch by batch, but its device operations (argmax,
    comparison, sum) run once per ``COUNT_EVERY`` batches, not in every step."""
    monkeypatch.setattr(EpochProgress, "COUNT_EVERY", 5)
    rng = np.random.default_rng(2)
    X = rng.standard_normal((16, 8, 60)).astype(np.float32)
    y = np.repeat(["a", "b"], 8)

    class CountEachBatch(Callback):
        def __init__(self, accuracies):
            self.accuracies = accuracies

        def __deepcopy__(self, memo):  # the estimator copies its callbacks at every fit
            return self

        def on_epoch_begin(self, net, **kwargs):
            self.correct = self.seen = 0

        def on_batch_end(self, net, batch=None, training=False, y_pred=None, **kwargs):
            if training:
                self.correct += int((y_pred.argmax(dim=1) == batch[1]).sum())
                self.seen += len(batch[1])

        def on_epoch_end(self, net, **kwargs):
            self.accuracies.append(f"train acc {self.correct / self.seen:.3f}")

    def fit(*callbacks):
        return MusicCNNClassifier(
            n_onet=1, n_pnet=0, onet_lengths=(3, 5), patch_frames=20, patch_hop=4, batch_size=5,
            max_epochs=3, random_state=0, callbacks=list(callbacks),
        ).fit(X, y)  # fmt: skip

    lines, accuracies = [], []
    clf = fit(EpochProgress(lines.append), CountEachBatch(accuracies))
    assert [epoch["train_batch_count"] for epoch in clf.history_] == [36, 36, 36]  # 7 x 5 + 1
    assert [line.split(", ")[2] for line in lines] == accuracies
    assert len(set(accuracies)) > 1  # the epochs differ, so a stale count would show
    with CountOps() as ops:
        fit(EpochProgress(lines.append))
    assert ops.counts["argmax"] == 3 * 8


@pytest.mark.parametrize("hop", [250, 80, 97])
@pytest.mark.parametrize("filterbank", ["fast", "reference"])
def test_prediction_by_track_matches_prediction_by_patch(hop, filterbank):
    """predict_patch_proba (whole tracks, each correlated once on the fast path)
    against skorch's forward over every patch of a PatchDataset (0.1's path)."""
    rng = np.random.default_rng(2)
    X = rng.standard_normal((7, 40, 1292)).astype(np.float32)
    y = np.repeat(["a", "b"], [3, 4])
    clf = MusicCNNClassifier(max_epochs=1, patch_hop=hop, filterbank=filterbank, random_state=0)
    clf.fit(X[:, :, :400], y)
    dataset = clf._dataset(X)
    by_patch = clf.net_.forward(dataset).numpy().reshape(7, dataset.n_patches_per_track, 2)
    by_track = patch_logits(clf.net_.module_, clf._prepare(X), mean=clf.mean_, std=clf.std_,
                            patch_frames=250, patch_hop=hop, batch_size=clf.batch_size)
    assert by_track.shape == by_patch.shape == (7, len(patch_starts(1292, 250, hop)), 2)
    if filterbank == "fast":  # same sums in the same order, row-invariant dense layer
        np.testing.assert_array_equal(by_track, by_patch)
    else:
        np.testing.assert_allclose(by_track, by_patch, rtol=1e-5, atol=1e-5)
    proba = clf.predict_patch_proba(X)
    np.testing.assert_allclose(proba.sum(axis=2), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(proba.argmax(axis=2), by_patch.argmax(axis=2))


def test_cpu_epochs_record_each_loss_at_its_batch():
    """On the CPU, where reading a loss costs nothing, a batch's history row has its
    loss when the batch ends, as skorch's ProgressBar and batch loggers expect."""
    seen = []

    class ReadLoss(Callback):
        def on_batch_end(self, net, training=False, **kwargs):
            if training:
                seen.append(net.history[-1, "batches", -1, "train_loss"])

    rng = np.random.default_rng(2)
    clf = MusicCNNClassifier(n_onet=1, n_pnet=0, onet_lengths=(3, 5), patch_frames=20,
                             batch_size=4, max_epochs=1, random_state=0,
                             callbacks=[ReadLoss()])  # fmt: skip
    clf.fit(rng.standard_normal((8, 8, 20)).astype(np.float32), np.repeat(["a", "b"], 4))
    assert seen == clf.history_[0, "batches", :, "train_loss"] and len(seen) == 2


@pytest.mark.slow
@pytest.mark.skipif(not triton_available(), reason=f"{triton_missing()} (the gpu extra)")
def test_fit_with_the_triton_filter_bank_gives_the_numba_model():
    """End to end, training included: the Triton filter bank (on CUDA, else in Triton's
    interpreter on the CPU) and the numba one give the same model within float32
    rounding, so the same predictions."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    rng = np.random.default_rng(3)
    X = rng.standard_normal((12, 8, 40)).astype(np.float32)
    y = np.repeat(["a", "b", "c"], 4)
    # no dropout: its masks come from the device's random generator, another on CUDA
    params = dict(n_onet=1, n_pnet=1, onet_lengths=(3, 6), onet_filters=2, pnet_lengths=(9, 14),
                  patch_frames=24, patch_hop=8, batch_size=6, max_epochs=3, random_state=0,
                  train_split=3, lr_schedule=None, dropout=0.0)  # fmt: skip
    fast = MusicCNNClassifier(**params, filterbank="fast").fit(X, y)
    fused = MusicCNNClassifier(**params, filterbank="triton", device=device).fit(X, y)
    np.testing.assert_allclose(fused.history_[:, "train_loss"], fast.history_[:, "train_loss"],
                               rtol=1e-5)  # fmt: skip
    assert fused.history_[:, "valid_acc"] == fast.history_[:, "valid_acc"]
    np.testing.assert_allclose(fused.predict_proba(X), fast.predict_proba(X), rtol=1e-4,
                               atol=1e-6)  # fmt: skip
    np.testing.assert_array_equal(fused.predict(X), fast.predict(X))


# -- tempo augmentation ----------------------------------------------------------


@pytest.mark.parametrize(("n_frames", "patch_frames"), [(1292, 250), (300, 250), (250, 250),
                                                         (40, 5), (7, 1)])
def test_tempo_patches_match_the_interpolating_reference(n_frames, patch_frames):
    """Random starts and factors, and the edges: the last start, factors too large to fit."""
    rng = np.random.default_rng(1)
    spectrograms = rng.standard_normal((3, 4, n_frames)).astype(np.float32)
    n = 64
    tracks = rng.integers(0, 3, n)
    starts = rng.integers(0, n_frames - patch_frames + 1, n)
    starts[:4] = n_frames - patch_frames
    factors = np.exp(rng.uniform(np.log(0.5), np.log(2.0), n)).astype(np.float32)
    factors[:2] = (2.0, 0.5)
    got = tempo_patches(torch.from_numpy(spectrograms), torch.from_numpy(tracks),
                        torch.from_numpy(starts), torch.from_numpy(factors), patch_frames)
    assert got.shape == (n, 4, patch_frames)
    for i in range(n):
        want = tempo_patches_reference(spectrograms[tracks[i]].astype(np.float64), int(starts[i]),
                                       float(factors[i]), patch_frames)
        np.testing.assert_allclose(got[i].numpy(), want, rtol=0, atol=1e-6)


def test_tempo_patches_play_faster_at_a_larger_factor():
    """A click every 10 frames read at factor 1.25 clicks every 8 frames: the tempo rises."""
    spectrogram = np.zeros((1, 1, 400), dtype=np.float32)
    spectrogram[..., ::10] = 1.0
    patch = tempo_patches(torch.from_numpy(spectrogram), torch.tensor([0]), torch.tensor([0]),
                          torch.tensor([1.25]), 200)[0, 0].numpy()
    assert np.array_equal(np.flatnonzero(patch == 1.0), np.arange(0, 200, 8))


def test_tempo_factor_one_is_the_plain_window_bitwise():
    rng = np.random.default_rng(2)
    spectrograms = rng.standard_normal((2, 5, 600)).astype(np.float32)
    plain = PatchDataset(spectrograms, [0, 1], 250, 80, mean=0.2, std=1.3)
    augmented = PatchDataset(spectrograms, [0, 1], 250, 80, mean=0.2, std=1.3,
                             tempo_range=(1.0, 1.0), seed=5)
    items = torch.arange(len(plain))
    assert torch.equal(plain.batch(items)[0], augmented.batch(items)[0])


def test_augmented_batches_follow_the_seed_and_leave_torch_random_state_alone():
    rng = np.random.default_rng(3)
    spectrograms = rng.standard_normal((2, 3, 900)).astype(np.float32)

    def batches(seed):
        data = PatchDataset(spectrograms, [0, 1], 250, 80, tempo_range=(0.8, 1.25), seed=seed)
        return [data.batch(torch.arange(len(data)))[0] for _ in range(3)]

    torch.manual_seed(0)
    first = batches(7)
    after = torch.rand(3)
    torch.manual_seed(0)
    assert all(torch.equal(a, b) for a, b in zip(first, batches(7), strict=True))
    assert torch.equal(torch.rand(3), after)  # the global generator drew nothing
    assert not torch.equal(first[0], first[1])  # new factors every pass
    assert not torch.equal(first[0], batches(8)[0])


def test_tempo_augment_of_one_trains_the_same_model_and_only_training_is_augmented(monkeypatch):
    rng = np.random.default_rng(4)
    X = rng.standard_normal((12, 8, 300)).astype(np.float32)
    y = np.repeat(["a", "b", "c"], 4)
    params = dict(n_onet=1, n_pnet=0, onet_filters=2, max_epochs=2, random_state=0,
                  batch_size=8, train_split=3)
    datasets = []
    real = PatchDataset.__init__

    def recording(self, *args, **kwargs):
        real(self, *args, **kwargs)
        datasets.append(self.tempo_range)

    monkeypatch.setattr(PatchDataset, "__init__", recording)
    plain = MusicCNNClassifier(**params).fit(X, y)
    assert datasets == [None, None]
    datasets.clear()
    same = MusicCNNClassifier(**params, tempo_augment=(1, 1)).fit(X, y)
    assert datasets == [(1.0, 1.0), None]  # training augmented, validation not
    for a, b in zip(plain.net_.module_.parameters(), same.net_.module_.parameters(), strict=True):
        assert torch.equal(a, b)
    datasets.clear()
    proba = same.predict_proba(X)
    assert datasets in ([], [None])  # prediction is never augmented
    np.testing.assert_array_equal(proba, plain.predict_proba(X))
    other = MusicCNNClassifier(**params, tempo_augment=(0.8, 1.25)).fit(X, y)
    assert not torch.equal(next(other.net_.module_.parameters()),
                           next(plain.net_.module_.parameters()))


@pytest.mark.parametrize("value", [(1.2, 0.9), (0.1, 1.0), (1.0,), "fast", (1, 3)])
def test_a_bad_tempo_range_is_refused_naming_the_parameter(value):
    X = np.zeros((4, 8, 300), dtype=np.float32)
    with pytest.raises(ValueError, match="tempo_augment"):
        MusicCNNClassifier(tempo_augment=value).fit(X, ["a", "a", "b", "b"])
