"""Tests of the CBMI 2016 baselines (Time, Time-freq, Black-box): modules and estimator."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV

from skrhythm import LogMelTransformer
from skrhythm.baselines import ARCHITECTURES, BaselineCNNClassifier
from skrhythm.nn.baselines import BlackBoxCNN, TimeCNN, TimeFreqCNN

#: Parameter counts for 40 bands x 80 frames and 8 classes (Pons, Lidy & Serra, CBMI 2016).
PAPER_PARAMS = {TimeCNN: 7_336, TimeFreqCNN: 196_816, BlackBoxCNN: 3_275_312}
MODULES = list(PAPER_PARAMS)


def n_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("cls", MODULES)
def test_paper_parameter_counts(cls):
    assert n_params(cls(40, 80, 8)) == PAPER_PARAMS[cls]


def test_intermediate_shapes_match_the_paper():
    x = torch.zeros(2, 1, 40, 80)
    time = TimeCNN(40, 80, 8).time
    assert time.pool(time.conv(x)).shape == (2, 32, 1, 21)
    tf = TimeFreqCNN(40, 80, 8)
    assert tf.freq_pool(tf.freq_conv(x)).shape == (2, 32, 9, 1)
    assert tf.head[1].in_features == 960
    bb = BlackBoxCNN(40, 80, 8)
    assert bb.pool(bb.conv(x)).shape == (2, 32, 7, 73)


@pytest.mark.parametrize("cls", MODULES)
@pytest.mark.parametrize("n_frames", [80, 250])
def test_forward_shape(cls, n_frames):
    torch.manual_seed(0)
    module = cls(40, n_frames, 5).eval()
    logits = module(torch.randn(3, 40, n_frames))
    assert logits.shape == (3, 5)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("cls", MODULES)
def test_init_glorot_weights_zero_biases(cls):
    torch.manual_seed(0)
    module = cls(40, 80, 8)
    for name, p in module.named_parameters():
        if name.endswith("bias"):
            assert torch.count_nonzero(p) == 0, name
        else:
            fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(p)
            assert p.abs().max() <= (6.0 / (fan_in + fan_out)) ** 0.5, name


@pytest.mark.parametrize("cls", MODULES)
def test_too_short_input_is_rejected(cls):
    module = cls(40, 80, 8)
    with pytest.raises(ValueError, match="n_frames=.* too small"):
        cls(40, module.min_frames - 1, 8)
    cls(40, module.min_frames, 8)(torch.zeros(1, 40, module.min_frames))


@pytest.mark.parametrize("cls", MODULES)
def test_wrong_input_shape_is_rejected(cls):
    module = cls(40, 80, 8)
    with pytest.raises(ValueError, match=r"expects input of shape \(batch, 40, 80\)"):
        module(torch.zeros(2, 40, 81))
    with pytest.raises(ValueError, match="expects input of shape"):
        module(torch.zeros(40, 80))


@pytest.mark.parametrize(("cls", "n_bands"), [(TimeFreqCNN, 31), (BlackBoxCNN, 14)])
def test_too_few_bands_is_rejected(cls, n_bands):
    with pytest.raises(ValueError, match="n_bands=.* too small"):
        cls(n_bands, 80, 8)
    cls(n_bands + 1, 80, 8)


def test_black_box_band_pooling_floors():
    # 41 bands give 30 band positions: still 7 pooled groups (floor), 42..45 give 8.
    assert BlackBoxCNN(41, 80, 8).head[1].in_features == 32 * 7 * 73
    assert BlackBoxCNN(43, 80, 8).head[1].in_features == 32 * 8 * 73


@pytest.mark.parametrize("cls", MODULES)
def test_patch_logits_do_not_depend_on_the_batch(cls):
    """A patch's logits are bitwise the same alone, in a batch and in another order
    (with plain nn.Linear layers, alone and in a batch differed by up to 1.5e-6)."""
    torch.manual_seed(0)
    module = cls(40, 80, 8).eval()
    x = torch.randn(30, 40, 80)
    order = torch.randperm(len(x))
    with torch.no_grad():
        full = module(x)
        alone = torch.cat([module(x[i : i + 1].clone()) for i in range(len(x))])
        assert torch.equal(full, alone)
        assert torch.equal(module(x[order]), full[order])


def test_small_configurations():
    module = TimeFreqCNN(4, 6, 2, time_length=3, freq_length=2, hidden=5)
    assert module.min_frames == 3
    assert module(torch.zeros(1, 4, 6)).shape == (1, 2)
    assert BlackBoxCNN(3, 4, 2, kernel=(2, 2), pool_bands=2)(torch.zeros(1, 3, 4)).shape == (1, 2)


# -- the scikit-learn estimator (scikit-learn's checks: test_common.py) ------------------


@pytest.mark.parametrize(("architecture", "cls"), zip(ARCHITECTURES, MODULES))
def test_estimator_parameter_counts_match_the_paper(architecture, cls):
    X = np.random.default_rng(0).standard_normal((8, 40, 160)).astype(np.float32)
    clf = BaselineCNNClassifier(architecture, max_epochs=0).fit(X, np.arange(8))
    assert isinstance(clf.net_.module_, cls)
    assert clf.n_params_ == PAPER_PARAMS[cls]


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_fit_on_click_tracks(clicks, architecture):
    audio, labels = clicks
    X = LogMelTransformer(sr=22050, duration=None).transform(audio)  # 87 frames
    small = {
        "time": dict(time_length=20),
        "timefreq": dict(time_length=20, freq_length=8, hidden=16),
        "blackbox": dict(kernel=(4, 4), hidden=16),
    }
    clf = BaselineCNNClassifier(
        architecture,
        patch_frames=40,
        patch_hop=20,
        n_filters=8,
        lr=0.05,
        max_epochs=10,
        random_state=0,
        **small[architecture],
    )
    assert clf.fit(X, labels).score(X, labels) >= 0.9
    assert clf.predict_proba(X).shape == (len(X), 2)


def test_grid_search_over_architectures(clicks):
    audio, labels = clicks
    X = LogMelTransformer(sr=22050, duration=None).transform(audio)
    base = BaselineCNNClassifier(
        patch_frames=40,
        time_length=10,
        freq_length=8,
        kernel=(4, 4),
        hidden=8,
        n_filters=4,
        max_epochs=2,
        random_state=0,
    )
    search = GridSearchCV(base, {"architecture": list(ARCHITECTURES)}, cv=2).fit(X, labels)
    assert search.best_params_["architecture"] in ARCHITECTURES
    assert len(search.cv_results_["params"]) == 3


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (dict(architecture="timefreq"), "n_bands=3 is too small: TimeFreqCNN needs at least 32"),
        (dict(architecture="time", patch_frames=50), "n_frames=50 is too small"),
        (dict(architecture="blackbox", kernel=(2, 0)), "kernel must be two positive integers"),
        (dict(architecture="deep"), "architecture"),
    ],
)
def test_invalid_configurations(params, match):
    X = np.zeros((4, 3, 100), np.float32)
    with pytest.raises(ValueError, match=match):
        BaselineCNNClassifier(**params).fit(X, [0, 1, 0, 1])
