"""Tests of the CBMI 2016 baseline networks (Time, Time-freq, Black-box)."""

import pytest
import torch

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


def test_small_configurations():
    module = TimeFreqCNN(4, 6, 2, time_length=3, freq_length=2, hidden=5)
    assert module.min_frames == 3
    assert module(torch.zeros(1, 4, 6)).shape == (1, 2)
    assert BlackBoxCNN(3, 4, 2, kernel=(2, 2), pool_bands=2)(torch.zeros(1, 3, 4)).shape == (1, 2)
