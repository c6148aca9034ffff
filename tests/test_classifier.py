"""MusicCNNClassifier and the patch-CNN base: architecture, training, prediction, errors."""

import json
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from skorch.callbacks import EarlyStopping

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm._prediction import majority_vote, patch_starts
from skrhythm.nn import MusicCNN
from skrhythm.nn._kernels import triton_available, triton_missing
from skrhythm.nn.layers import BatchInvariantLinear
from skrhythm.training import PaperLRSchedule, PatchDataset

# 4-s clips at 22050 Hz with hop 512: 173 frames; short filters keep fits fast.
LOGMEL = dict(sr=22050, n_fft=1024, hop_length=512, duration=None)
SMALL = dict(onet_lengths=(4, 8), pnet_lengths=(16, 32), patch_frames=64, patch_hop=32,
             lr=0.1, batch_size=16, max_epochs=15, random_state=0)

PAPER_COUNTS = {  # NOTES.md: 40 mel bands, 8 classes
    (1, 0): 4188, (2, 0): 8368, (0, 1): 7428, (0, 2): 14848,
    (1, 1): 11608, (2, 2): 23208, (4, 4): 46408, (8, 8): 92808,
}


@pytest.fixture(scope="module")
def spectrograms(clicks):
    audio, labels = clicks
    return LogMelTransformer(**LOGMEL).transform(audio), labels


@pytest.mark.parametrize(("n_onet", "n_pnet"), list(PAPER_COUNTS))
def test_parameter_counts_match_the_paper(n_onet, n_pnet):
    expected = PAPER_COUNTS[n_onet, n_pnet]
    module = MusicCNN(40, 8, n_onet, n_pnet)
    assert sum(p.numel() for p in module.parameters()) == expected
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 40, 250)).astype(np.float32)
    clf = MusicCNNClassifier(n_onet, n_pnet, max_epochs=0).fit(X, np.arange(8))
    assert clf.n_params_ == expected
    assert clf.n_params_ == sum(p.numel() for p in clf.net_.module_.parameters())


def test_both_nets_zero_is_an_error(spectrograms):
    X, y = spectrograms
    with pytest.raises(ValueError, match="n_onet and n_pnet are both 0"):
        MusicCNNClassifier(0, 0, **{**SMALL, "max_epochs": 1}).fit(X, y)


@pytest.mark.parametrize(("hop", "n_patches"), [(250, 5), (80, 14)])
def test_every_full_patch_is_used(hop, n_patches):
    assert len(patch_starts(1292, 250, hop)) == n_patches
    spectrograms = np.arange(2 * 40 * 1292, dtype=np.float32).reshape(2, 40, 1292)
    data = PatchDataset(spectrograms, [0, 1], 250, hop)
    assert len(data) == 2 * n_patches
    x, target = data[n_patches]  # first patch of the second track
    assert x.shape == (40, 250) and target == 1
    last, _ = data[len(data) - 1]
    start = (n_patches - 1) * hop
    assert np.array_equal(last.numpy(), spectrograms[1, :, start : start + 250])


def test_majority_vote_breaks_ties_by_mean_probability():
    patch_proba = np.array(
        [
            [[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.0, 0.1, 0.9]],  # 2 votes for 0, mean favours 2
            [[0.51, 0.49, 0.0], [0.0, 0.9, 0.1]],  # 1-1 tie: mean favours class 1
        ],
        dtype=object,
    )
    winners = [majority_vote(np.array(p, dtype=float)[None])[0] for p in patch_proba]
    assert winners == [0, 1]
    means = [np.mean(p, axis=0).argmax() for p in patch_proba]
    assert means == [0, 1]
    # vote and mean disagree here: 2 of 3 patches say 0, but class 2 has the larger mean
    skewed = np.array([[[0.5, 0.0, 0.5], [0.5, 0.0, 0.5], [0.0, 0.0, 1.0]]]) + [0.01, 0, 0]
    assert majority_vote(skewed)[0] == 0 and skewed.mean(axis=1).argmax() == 2


def test_vote_and_mean_aggregation(spectrograms):
    X, y = spectrograms
    vote = MusicCNNClassifier(**SMALL).fit(X, y)
    mean = clone(vote).set_params(aggregate="mean").fit(X, y)
    patch_proba = vote.predict_patch_proba(X)
    assert patch_proba.shape == (len(X), 4, 2)
    np.testing.assert_allclose(vote.predict_proba(X), patch_proba.mean(axis=1))
    standardised = vote._dataset(X)[5][0]  # second patch of the second track, standardised
    np.testing.assert_allclose(standardised, (X[1, :, 32:96] - vote.mean_) / vote.std_, rtol=1e-6)
    np.testing.assert_array_equal(vote.predict(X), vote.classes_[majority_vote(patch_proba)])
    np.testing.assert_array_equal(mean.predict(X), mean.classes_[patch_proba.mean(1).argmax(1)])


def test_pipeline_cross_validation_learns_the_rhythms(clicks):
    audio, labels = clicks
    pipe = Pipeline([("logmel", LogMelTransformer(**LOGMEL)), ("cnn", MusicCNNClassifier(**SMALL))])
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(pipe, audio, labels, cv=cv)
    assert scores.mean() >= 0.8, scores


@pytest.mark.slow
def test_grid_search_over_filter_counts_in_parallel(spectrograms):
    X, y = spectrograms
    search = GridSearchCV(
        MusicCNNClassifier(**{**SMALL, "max_epochs": 3}),
        {"n_onet": [0, 1], "n_pnet": [1, 2]},
        cv=2,
        n_jobs=2,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.n_params_ > 0


def test_random_state_reproducible_across_clone_and_pickle(spectrograms):
    X, y = spectrograms
    clf = MusicCNNClassifier(**SMALL).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(clone(clf).fit(X, y).predict_proba(X), proba)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), proba)
    np.testing.assert_array_equal(joblib.load(_dump(clf)).predict_proba(X), proba)
    other = clone(clf).set_params(random_state=1).fit(X, y)
    assert not np.array_equal(other.predict_proba(X), proba)


def _dump(obj):
    import io

    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    buffer.seek(0)
    return buffer


def test_fit_does_not_touch_global_torch_rng(spectrograms):
    X, y = spectrograms
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    MusicCNNClassifier(**{**SMALL, "max_epochs": 1}).fit(X, y)
    assert torch.equal(torch.rand(3), expected)


def test_standardisation_uses_training_data_only(spectrograms):
    X, y = spectrograms
    clf = MusicCNNClassifier(**{**SMALL, "max_epochs": 1}).fit(X[:8], y[:8])
    assert clf.mean_ == pytest.approx(X[:8].mean(dtype=np.float64))
    assert clf.std_ == pytest.approx(X[:8].std(dtype=np.float64))
    assert clf.mean_ != pytest.approx(X.mean(dtype=np.float64))


def test_short_tracks_are_padded_to_one_patch(spectrograms):
    X, y = spectrograms
    clf = MusicCNNClassifier(**{**SMALL, "max_epochs": 2}).fit(X[:, :, :40], y)
    assert clf.predict_patch_proba(X[:, :, :40]).shape == (len(X), 1, 2)
    assert clf.predict(X[:, :, :10]).shape == (len(X),)  # shorter than the longest filter
    assert clf.predict_patch_proba(X).shape[1] == 4  # longer tracks: all their patches


def test_validation_split_keeps_best_epoch_and_callbacks_work(spectrograms):
    X, y = spectrograms
    clf = MusicCNNClassifier(
        **{**SMALL, "max_epochs": 30},
        train_split=0.25,
        callbacks=[EarlyStopping(monitor="valid_loss", patience=3)],
    ).fit(X, y)
    history = clf.history_
    assert "valid_acc" in history[-1] and len(history) < 30
    best = max(history[:, "valid_acc"])
    assert np.isclose(history[int(np.argmax(history[:, "valid_acc"])), "valid_acc"], best)
    assert clf.get_params()["callbacks"][0].__class__ is EarlyStopping  # params untouched


def test_paper_lr_schedule_halves_then_stops():
    class FakeNet:
        verbose = 0

        def __init__(self):
            from skorch.history import History

            self.history = History()
            self.optimizer_ = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.01)

    net, schedule = FakeNet(), PaperLRSchedule(halve_after=2, stop_after=4).initialize()
    losses = [1.0, 2.0, 2.0, 2.0, 0.5, 3.0, 3.0, 3.0, 3.0, 3.0]
    lrs = []
    with pytest.raises(KeyboardInterrupt):
        for loss in losses:
            net.history.new_epoch()
            net.history.record("train_loss", loss)
            schedule.on_epoch_end(net)
            lrs.append(net.optimizer_.param_groups[0]["lr"])
    assert lrs == [0.01, 0.01, 0.01, 0.01, 0.005, 0.005, 0.005, 0.005, 0.005]


def test_paper_lr_schedule_takes_its_count_from_the_history():
    """A warm start, also of an unpickled model whose callbacks are new, continues the
    count of epochs without a new best training loss."""
    from skorch.history import History

    class Net:
        history = History()

    for loss in [1.0, 2.0, 0.5, 3.0, 3.0]:
        Net.history.new_epoch()
        Net.history.record("train_loss", loss)
    schedule = PaperLRSchedule().initialize()
    schedule.on_train_begin(Net)
    assert (schedule.best_loss_, schedule.n_bad_epochs_) == (0.5, 3)  # kept at a new best


def test_warm_start_continues_training(spectrograms):
    X, y = spectrograms
    clf = MusicCNNClassifier(**{**SMALL, "max_epochs": 2}, warm_start=True).fit(X, y)
    clf.fit(X, y)
    assert len(clf.history_) == 4
    with pytest.raises(ValueError, match="not seen"):
        clf.fit(X, np.where(y == y[0], "other", y))


@pytest.mark.parametrize(
    "X_bad, match",
    [
        (np.full((4, 40, 70), np.nan, np.float32), "NaN"),
        (np.zeros((0, 40, 70), np.float32), "0 sample"),
        (np.zeros(70, np.float32), "2D array"),
        (np.zeros((4, 2, 40, 70), np.float32), "n_mels, n_frames"),
    ],
)
def test_bad_training_input(X_bad, match):
    with pytest.raises(ValueError, match=match):
        MusicCNNClassifier(**SMALL).fit(X_bad, np.arange(len(X_bad)) % 2)


def test_wrong_number_of_mel_bands_at_predict(spectrograms):
    X, y = spectrograms
    clf = MusicCNNClassifier(**{**SMALL, "max_epochs": 1}).fit(X, y)
    with pytest.raises(ValueError, match="40 features"):
        clf.predict(X[:, :30])


def test_patch_shorter_than_longest_filter_is_an_error(spectrograms):
    X, y = spectrograms
    with pytest.raises(ValueError, match="longest filter"):
        MusicCNNClassifier(**{**SMALL, "patch_frames": 20}).fit(X, y)


def test_cuda_request_without_cuda_is_clear(spectrograms):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here; the error path cannot be reached")
    X, y = spectrograms
    with pytest.raises(ValueError, match="CUDA is not available"):
        MusicCNNClassifier(**SMALL, device="cuda").fit(X, y)
    clf = MusicCNNClassifier(**{**SMALL, "max_epochs": 1}, device="auto").fit(X, y)
    assert clf.device_ == "cpu"


def test_cuda_device_this_machine_lacks_is_clear(monkeypatch):
    from skrhythm._cnn_base import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert [resolve_device(d) for d in ("cuda", "cuda:0", "cuda:1")] == ["cuda", "cuda:0",
                                                                         "cuda:1"]  # fmt: skip
    with pytest.raises(ValueError, match=r"'cuda:2' requested but this machine has 2 CUDA "
                                         r"devices \(cuda:0 to cuda:1\)"):  # fmt: skip
        MusicCNNClassifier(**SMALL, device="cuda:2").fit(np.zeros((4, 40, 64)), [0, 1] * 2)
    with pytest.raises(ValueError, match="'cuda:x' is not a device torch knows"):
        resolve_device("cuda:x")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"has 1 CUDA device \(cuda:0\)$"):
        resolve_device("cuda:1")


def test_cuda_without_triton_warns_of_the_slow_reference(monkeypatch):
    # the module is built for a CUDA device that need not exist: no tensor goes there
    import skrhythm.classifier
    import skrhythm.nn._kernels

    def build(**params):
        clf = MusicCNNClassifier(**SMALL, **params)
        clf.device_ = params.get("device", "cpu")
        return clf._build_module(40, 64, 2)

    for module in (skrhythm.nn._kernels, skrhythm.classifier):  # where it resolves, what it says
        monkeypatch.setattr(module, "triton_missing", lambda: "Triton 3.3.1 is installed")
    with pytest.warns(UserWarning, match="^Triton 3.3.1 is installed, so on 'cuda:0'.*reference"):
        build(device="cuda:0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(device="cuda", filterbank="reference")  # chosen: nothing to say
        build()  # the CPU has its own fused kernels
        build(device="mps")  # no Triton kernels there: the reference is all there is
        for module in (skrhythm.nn._kernels, skrhythm.classifier):
            monkeypatch.setattr(module, "triton_missing", lambda: None)
        build(device="cuda")


def test_checkpoint_survives_a_crash_mid_training(spectrograms, tmp_path):
    from skorch.callbacks import Callback, Checkpoint

    class CrashAtEpoch3(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 3:
                raise RuntimeError("simulated crash")

    X, y = spectrograms
    clf = MusicCNNClassifier(
        **SMALL, callbacks=[Checkpoint(monitor=None, dirname=str(tmp_path)), CrashAtEpoch3()]
    )
    with pytest.raises(RuntimeError, match="simulated crash"):
        clf.fit(X, y)
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history) == 3  # the checkpoint of the last finished epoch is on disk
    state = torch.load(tmp_path / "params.pt")
    module = MusicCNN(40, 2, onet_lengths=(4, 8), pnet_lengths=(16, 32))
    module.load_state_dict(state)  # a complete, loadable set of weights


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_gpu_smoke(spectrograms):
    X, y = spectrograms
    clf = MusicCNNClassifier(**{**SMALL, "max_epochs": 2}, device="cuda").fit(X, y)
    assert clf.device_ == "cuda" and next(clf.net_.module_.parameters()).is_cuda
    proba = clf.predict_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(pickle.loads(pickle.dumps(clf)).predict_proba(X), proba, atol=1e-6)


@pytest.mark.parametrize(("n_in", "n_out"), [(75, 3), (750, 3), (17, 3), (400, 8)])
def test_dense_layer_rows_do_not_depend_on_their_neighbours(n_in, n_out):
    """A row's output is bitwise the same alone, in a batch, at any offset in memory
    (a single-row product on an unaligned row takes another path: 0.1 differed)."""
    torch.manual_seed(0)
    layer = BatchInvariantLinear(n_in, n_out).eval()
    x = torch.relu(3 * torch.randn(30, n_in))
    with torch.no_grad():
        full = layer(x)
        alone = torch.cat([layer(x[i : i + 1].clone()) for i in range(len(x))])
        order = torch.randperm(len(x))
        assert torch.equal(full, alone)
        assert torch.equal(layer(x[order]), full[order])
        assert torch.equal(layer(x[1:]), full[1:])


@pytest.mark.skipif(not triton_available(), reason=f"{triton_missing()} (the gpu extra)")
@pytest.mark.parametrize(("n_in", "n_out", "dtype"),
                         [(75, 3, torch.float32), (400, 8, torch.float32), (6000, 8, torch.float32),
                          (33, 200, torch.float32), (17, 3, torch.float64)])  # fmt: skip
def test_triton_dense_rows_do_not_depend_on_their_neighbours(n_in, n_out, dtype):
    """The CUDA path of the layer in evaluation mode (here in Triton's interpreter):
    the float64 product within the worst-case rounding of an n-term sum, and each row
    bitwise the same alone, in a batch, in another order."""
    from skrhythm.nn._kernels._triton_dense import linear_rows

    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator().manual_seed(n_in)
    x = torch.relu(3 * torch.randn(13, n_in, generator=gen, dtype=dtype)).to(device)
    w = torch.randn(n_out, n_in, generator=gen, dtype=dtype).to(device)
    b = torch.randn(n_out, generator=gen, dtype=dtype).to(device)
    full = linear_rows(x, w, b)
    exact = torch.nn.functional.linear(x.double(), w.double(), b.double())
    bound = n_in * torch.finfo(dtype).eps * (x.double().abs() @ w.double().abs().T + b.abs())
    assert ((full.double() - exact).abs() <= bound).all()
    order = torch.randperm(len(x), generator=gen).to(device)
    assert torch.equal(linear_rows(x[order], w, b), full[order])
    assert torch.equal(torch.cat([linear_rows(x[i : i + 1], w, b) for i in range(len(x))]), full)
    assert linear_rows(x[:0], w, b).shape == (0, n_out)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
@pytest.mark.skipif(not triton_available(), reason=f"{triton_missing()} (the gpu extra)")
def test_dense_layer_on_cuda_takes_the_rows_kernel(monkeypatch):
    """In evaluation mode without gradients, the layer on CUDA runs linear_rows (its
    output then equals that kernel's, rows independent); with gradients it does not."""
    import skrhythm.nn._kernels._triton_dense as triton_dense

    calls, linear_rows = [], triton_dense.linear_rows
    monkeypatch.setattr(triton_dense, "linear_rows",
                        lambda *args: calls.append(1) or linear_rows(*args))  # fmt: skip
    layer = BatchInvariantLinear(400, 8).cuda().eval()
    x = torch.relu(torch.randn(30, 400, device="cuda"))
    with torch.no_grad():
        full = layer(x)
        assert torch.equal(torch.cat([layer(x[i : i + 1]) for i in range(len(x))]), full)
    assert len(calls) == 1 + len(x)
    assert layer(x).requires_grad and len(calls) == 1 + len(x)


@pytest.mark.skipif(not triton_available(), reason=f"{triton_missing()} (the gpu extra)")
def test_triton_dense_refuses_what_it_does_not_compute():
    from skrhythm.nn._kernels._triton_dense import linear_rows

    w, b = torch.randn(3, 5), torch.randn(3)
    with pytest.raises(ValueError, match=r"shape \(batch, 5\)"):
        linear_rows(torch.randn(2, 4, 5), w, b)
    with pytest.raises(ValueError, match=r"shape \(batch, 5\)"):
        linear_rows(torch.randn(2, 6), w, b)
    with pytest.raises(ValueError, match=r"a bias of shape \(3,\)"):
        linear_rows(torch.randn(2, 5), w, torch.randn(4))
    with pytest.raises(TypeError, match="one dtype"):
        linear_rows(torch.randn(2, 5), w.double(), b)


def test_prediction_does_not_copy_the_input():
    """predict streams a few tracks at a time: its NumPy allocations stay far below
    the input's size (a copy of the input, e.g. np.abs(X), would double memory)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 8, 64)).astype(np.float32)  # 4 MiB
    y = np.tile(["a", "b"], 20)
    clf = MusicCNNClassifier(**{**SMALL, "max_epochs": 1}).fit(X[:40], y)
    clf.predict(X[:2])  # compiles the kernels (numba's compiler allocates much)
    tracemalloc.start()
    try:
        clf.predict(X)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 4


def test_a_diverged_network_is_named_as_the_cause_of_nan_probabilities():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((6, 4, 24)).astype(np.float32), np.arange(6) % 2
    clf = MusicCNNClassifier(onet_lengths=(2,), pnet_lengths=(3,), patch_frames=16,
                             max_epochs=1, random_state=0).fit(X, y)
    with torch.no_grad():
        clf.net_.module_.dense.bias[0] = float("nan")
    with pytest.raises(ValueError, match="weights are not finite .* training diverged"):
        clf.predict(X)


# -- input the network cannot take ---------------------------------------------------------


TINY_REFERENCE = dict(onet_lengths=(2,), pnet_lengths=(3,), patch_frames=16, filterbank="reference",
            max_epochs=1, random_state=0)



def noise_spectrograms(n_bands=4, n_tracks=8):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n_tracks, n_bands, 40)).astype(np.float32), np.arange(n_tracks) % 2



def test_prediction_input_that_would_overflow_is_refused():
    X, y = noise_spectrograms()
    clf = MusicCNNClassifier(**TINY_REFERENCE).fit(X, y)
    huge = np.full_like(X, 3e38)
    for method in (clf.predict, clf.predict_proba, clf.predict_patch_proba):
        with pytest.raises(ValueError, match="reach 3e\\+38.*overflow float32"):
            method(huge)
    assert np.isfinite(clf.predict_proba(1e6 * X)).all()  # large but harmless: accepted



def test_non_finite_network_output_is_an_error_not_nan_probabilities(monkeypatch):
    X, y = noise_spectrograms()
    clf = MusicCNNClassifier(**TINY_REFERENCE).fit(X, y)
    real = clf.predict_patch_proba

    def overflowing(X):  # what a net overflowing float32 returns for track 1
        proba = real(X)
        proba[1] = np.nan
        return proba

    monkeypatch.setattr(clf, "predict_patch_proba", overflowing)
    for method in (clf.predict, clf.predict_proba):
        with pytest.raises(ValueError, match=r"not finite for tracks \[1\]"):
            method(X)



def test_zero_mel_bands_are_refused():
    X, y = noise_spectrograms(n_bands=0)
    with pytest.raises(ValueError, match="0 bands"):
        MusicCNNClassifier(**TINY_REFERENCE).fit(X, y)



def test_failed_warm_start_with_other_band_count_changes_nothing():
    X, y = noise_spectrograms(n_bands=4)
    clf = MusicCNNClassifier(**TINY_REFERENCE, warm_start=True).fit(X, y)
    proba = clf.predict_proba(X)
    state = (clf.n_features_in_, clf.n_bands_in_, clf.n_frames_in_, clf.mean_, clf.std_,
             len(clf.history_))
    X3, _ = noise_spectrograms(n_bands=3)
    with pytest.raises(ValueError, match="3 features.*expecting 4|3 bands"):
        clf.fit(X3 + 5, y)
    assert (clf.n_features_in_, clf.n_bands_in_, clf.n_frames_in_, clf.mean_, clf.std_,
            len(clf.history_)) == state
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    clf.fit(X, y)  # a warm start with the right bands still continues
    assert len(clf.history_) == 2


# -- odd labels and any spectrogram shape --------------------------------------------------


TINY_REFERENCE_8 = dict(onet_lengths=(2,), pnet_lengths=(3,), patch_frames=8, max_epochs=1,
            filterbank="reference", random_state=0)



@pytest.fixture(scope="module")
def noise():
    return np.random.default_rng(0).standard_normal((6, 4, 12)).astype(np.float32)



@pytest.mark.parametrize(
    "labels",
    [[3, 7, 3, 7, 3, 7], ["samba", "tango"] * 3, [True, False] * 3, ["a", "b", "c"] * 2],
)
def test_label_types(noise, labels):
    clf = MusicCNNClassifier(**TINY_REFERENCE_8).fit(noise, labels)
    np.testing.assert_array_equal(clf.classes_, np.unique(labels))
    assert set(clf.predict(noise)) <= set(labels)



@pytest.mark.parametrize(
    ("labels", "error", "match"),
    [
        (["rumba"] * 6, ValueError, "1 class.*at least 2"),
        ([0.5, 1.5, 2.25, 0.5, 1.5, 2.25], ValueError, "continuous"),
        (np.array(["a", 1] * 3, dtype=object), TypeError, "not supported between"),
        ([0, 1, 0], ValueError, "inconsistent numbers of samples"),
    ],
)
def test_bad_labels(noise, labels, error, match):
    with pytest.raises(error, match=match):
        MusicCNNClassifier(**TINY_REFERENCE_8).fit(noise, labels)



@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_bands=st.integers(1, 5),
    n_frames=st.integers(1, 20),
    predict_frames=st.integers(1, 30),
    scale=st.sampled_from([0.0, 1e-30, 1.0, 1e30]),
    data=st.data(),
)
def test_classifier_any_spectrogram_shape(n_bands, n_frames, predict_frames, scale, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    X = (scale * rng.standard_normal((4, n_bands, n_frames))).astype(np.float32)
    clf = MusicCNNClassifier(**TINY_REFERENCE_8).fit(X, [0, 1, 0, 1])
    X_new = rng.standard_normal((3, n_bands, predict_frames)).astype(np.float32)
    proba = clf.predict_proba(X_new)
    assert proba.shape == (3, 2) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)

