"""Tests of the non-deep rhythm baselines (scale-transform descriptor, tempo features)."""

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline

from skrhythm.features import LogMelTransformer
from skrhythm.rhythm import (
    RhythmDescriptor,
    TempoFeatures,
    make_rhythm_descriptor_pipeline,
    make_tempo_pipeline,
)

SR = 22050


def click_track(bpm, accents, rng, duration=6.0, sr=SR, noise=0.01):
    """A click train: one click per beat, ``accents`` cycling over the beats of a bar.

    Each click is a 30 ms decaying tone whose amplitude is the beat's accent
    and whose pitch is lower on accented beats; the start phase is random.
    """
    n = int(duration * sr)
    wave = noise * rng.standard_normal(n)
    t = np.arange(int(0.03 * sr)) / sr
    period = 60.0 / bpm
    start = rng.uniform(0, period)
    for i, onset in enumerate(np.arange(start, duration, period)):
        accent = accents[i % len(accents)]
        click = accent * np.sin(2 * np.pi * (1500 - 1000 * accent) * t) * np.exp(-t / 0.008)
        k = int(onset * sr)
        wave[k : k + click.size] += click[: n - k]
    return wave.astype(np.float32)


def two_style_dataset(n_per_class=16, seed=0):
    """Class 0: 4/4 around 100 bpm; class 1: 3/4 around 150 bpm (tempo jitter +-5 %)."""
    rng = np.random.default_rng(seed)
    styles = [(100.0, (1.0, 0.3, 0.6, 0.3)), (150.0, (1.0, 0.4, 0.4))]
    waves, y = [], []
    for label, (bpm, accents) in enumerate(styles):
        for _ in range(n_per_class):
            waves.append(click_track(bpm * rng.uniform(0.95, 1.05), accents, rng))
            y.append(label)
    return np.stack(waves), np.array(y)


@pytest.fixture(scope="module")
def dataset():
    waves, y = two_style_dataset()
    return LogMelTransformer(sr=SR, duration=None).transform(waves), y


@pytest.mark.parametrize("bpm", [70.0, 96.0, 128.0, 160.0])
def test_tempo_of_click_train(bpm):
    # Far from prior_bpm=120 a bare click train is read an octave off (175 -> 87.5):
    # its autocorrelation has the same peak at every multiple of the beat.
    wave = click_track(bpm, (1.0,), np.random.default_rng(1), duration=10.0)
    S = LogMelTransformer(sr=SR, hop_length=256, duration=None).transform(wave[None])
    log2_tempo = TempoFeatures(sr=SR, hop_length=256).fit_transform(S)[0, 0]
    assert 2**log2_tempo == pytest.approx(bpm, rel=0.02)


def test_tempo_features_folding_and_strength():
    S = np.zeros((2, 3, 600))
    S[0, :, ::20] = 1.0  # 129.2 bpm at 44100 / 1024
    est = TempoFeatures(fold_starts=(60.0, 80.0, 100.0)).fit(S)
    names = list(est.get_feature_names_out())
    assert names == [
        "log2_tempo",
        "log2_tempo_fold60",
        "log2_tempo_fold80",
        "log2_tempo_fold100",
        "tempo_strength",
    ]
    features = est.transform(S)
    bpm = 60 * 44100 / 1024 / 20
    expected = np.log2([bpm, bpm / 2, bpm, bpm])
    np.testing.assert_allclose(features[0, :4], expected, atol=1e-3)
    assert features[0, 4] == pytest.approx(1.0, abs=0.05)
    assert features[1, 4] == 0.0  # silence: no pulse


def onset_pattern(gaps, n_frames=1500, start=300):
    """One band, silent but for single-frame onsets separated by ``gaps`` frames."""
    S = np.zeros((1, 1, n_frames))
    S[0, 0, start + np.cumsum([0, *gaps])] = 1.0
    return S


def test_descriptor_is_tempo_invariant():
    """A rhythm played 1.3 times slower stays closer than another rhythm at the same tempo."""
    S = np.concatenate([onset_pattern((10, 20)), onset_pattern((13, 26)), onset_pattern((10, 15))])
    D = RhythmDescriptor(n_groups=1, n_coefs=32).fit_transform(S)
    np.testing.assert_allclose(np.linalg.norm(D, axis=1), 1.0)
    slower = np.linalg.norm(D[0] - D[1])
    other_rhythm = np.linalg.norm(D[0] - D[2])
    assert slower < 0.4 * other_rhythm


def test_descriptor_is_shift_invariant():
    bar = np.random.default_rng(3).random((1, 8, 25))
    S = np.tile(bar, 16)  # 400 frames of a repeated 25-frame bar
    est = RhythmDescriptor(n_groups=2, n_coefs=32).fit(S)
    shifted = np.roll(S, 7, axis=-1)
    np.testing.assert_allclose(est.transform(shifted), est.transform(S), atol=0.02)


def test_two_d_input_is_one_band():
    S = np.random.default_rng(4).random((3, 1, 150))
    for est in (RhythmDescriptor(n_coefs=8), TempoFeatures()):
        np.testing.assert_array_equal(est.fit_transform(S[:, 0]), est.fit_transform(S))


def test_descriptor_shape_and_names():
    S = np.random.default_rng(5).random((2, 3, 150))
    est = RhythmDescriptor(n_groups=4, n_coefs=5).fit(S)  # only 3 bands: 3 groups
    assert est.transform(S).shape == (2, 15)
    names = est.get_feature_names_out()
    assert names[0] == "band0_scale0" and names[-1] == "band2_scale4"
    # The number of frames may change between fit and transform.
    assert est.transform(S[:, :, :100]).shape == (2, 15)


@pytest.mark.parametrize(
    ("est", "match"),
    [
        (RhythmDescriptor(min_lag=2.0, max_lag=1.0), "max_lag=1.0 must be larger"),
        (RhythmDescriptor(n_coefs=10_000), "n_coefs=10000 exceeds"),
        (TempoFeatures(min_bpm=200.0, max_bpm=100.0), "max_bpm=100.0 must be larger"),
        (TempoFeatures(min_bpm=100.0, max_bpm=101.0), "no whole-frame lag lies between"),
        (TempoFeatures(fold_starts=(60.0, -1.0)), "fold_starts must be positive"),
    ],
)
def test_invalid_parameters(est, match):
    with pytest.raises(ValueError, match=match):
        est.fit(np.ones((2, 3, 100)))


@pytest.mark.parametrize("est", [RhythmDescriptor(), TempoFeatures()])
def test_invalid_input(est):
    with pytest.raises(ValueError, match="expected spectrograms of shape"):
        est.fit(np.ones((2, 3, 4, 5)))
    est.fit(np.ones((2, 3, 50)))
    with pytest.raises(ValueError, match="X has 4 features, but .* expecting 3"):
        est.transform(np.ones((2, 4, 50)))
    est.fit(np.ones((2, 3)))  # 2-D: one band of 3 frames
    with pytest.raises(ValueError, match="X has 3 bands, but .* fitted with 1"):
        est.transform(np.ones((2, 3, 50)))
    with pytest.raises(ValueError, match="hold no values"):
        est.fit(np.ones((2, 3, 0)))


@pytest.mark.parametrize("factory", [make_rhythm_descriptor_pipeline, make_tempo_pipeline])
def test_pipelines_beat_chance(dataset, factory):
    S, y = dataset
    pipe = factory(sr=SR, hop_length=1024)
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    assert cross_val_score(pipe, S, y, cv=cv).mean() >= 0.9


def test_pipeline_from_audio_and_params():
    waves, y = two_style_dataset(n_per_class=6, seed=1)
    pipe = Pipeline(
        [
            ("logmel", LogMelTransformer(sr=SR, duration=None)),
            ("rhythm", make_rhythm_descriptor_pipeline(sr=SR, features__scale__n_coefs=16)),
        ]
    )
    assert pipe.fit(waves, y).score(waves, y) >= 0.9
    union = pipe.named_steps["rhythm"].named_steps["features"]
    assert union.transform(pipe.named_steps["logmel"].transform(waves[:1])).shape == (1, 4 * 16 + 5)
    assert make_tempo_pipeline(clf__C=1.0).get_params()["clf__C"] == 1.0
