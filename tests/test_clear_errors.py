"""Inputs that used to give silent NaN, a changed model or a bare exception (issue 12)."""

import os

import numpy as np
import pytest
import soundfile as sf

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.audio import load_audio

TINY = dict(onet_lengths=(2,), pnet_lengths=(3,), patch_frames=16, filterbank="reference",
            max_epochs=1, random_state=0)


def spectrograms(n_bands=4, n_tracks=8):
    rng = np.random.default_rng(0)
    return rng.standard_normal((n_tracks, n_bands, 40)).astype(np.float32), np.arange(n_tracks) % 2


def test_prediction_input_that_would_overflow_is_refused():
    X, y = spectrograms()
    clf = MusicCNNClassifier(**TINY).fit(X, y)
    huge = np.full_like(X, 3e38)
    for method in (clf.predict, clf.predict_proba, clf.predict_patch_proba):
        with pytest.raises(ValueError, match="reach 3e\\+38.*overflow float32"):
            method(huge)
    assert np.isfinite(clf.predict_proba(1e6 * X)).all()  # large but harmless: accepted


def test_non_finite_network_output_is_an_error_not_nan_probabilities(monkeypatch):
    X, y = spectrograms()
    clf = MusicCNNClassifier(**TINY).fit(X, y)
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
    X, y = spectrograms(n_bands=0)
    with pytest.raises(ValueError, match="0 bands"):
        MusicCNNClassifier(**TINY).fit(X, y)


def test_failed_warm_start_with_other_band_count_changes_nothing():
    X, y = spectrograms(n_bands=4)
    clf = MusicCNNClassifier(**TINY, warm_start=True).fit(X, y)
    proba = clf.predict_proba(X)
    state = (clf.n_features_in_, clf.n_bands_in_, clf.n_frames_in_, clf.mean_, clf.std_,
             len(clf.history_))
    X3, _ = spectrograms(n_bands=3)
    with pytest.raises(ValueError, match="3 features.*expecting 4|3 bands"):
        clf.fit(X3 + 5, y)
    assert (clf.n_features_in_, clf.n_bands_in_, clf.n_frames_in_, clf.mean_, clf.std_,
            len(clf.history_)) == state
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    clf.fit(X, y)  # a warm start with the right bands still continues
    assert len(clf.history_) == 2


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_overflow_error_names_the_file(tmp_path):
    loud = tmp_path / "too loud.wav"
    sf.write(loud, np.full(8000, 1e30), 8000, subtype="DOUBLE")
    power = dict(sr=8000, n_fft=256, hop_length=128, compression="none")  # 1e60: no float32
    with pytest.raises(ValueError, match=r"too loud\.wav.*overflows float32"):
        LogMelTransformer(**power, duration=None).transform([loud])
    with pytest.raises(ValueError, match=r"track 1: .*overflows float32"):
        LogMelTransformer(**power).transform([np.zeros(800), np.full(800, 1e30)])
    # computed in float64, the log-compressed spectrogram of such audio is finite
    S = LogMelTransformer(sr=8000, n_fft=256, hop_length=128, duration=None).transform([loud])
    assert np.isfinite(S).all() and 60 < S.max() < 70


def test_file_names_that_are_not_utf8(tmp_path):
    name = os.fsencode(tmp_path) + b"/caf\xe9 \xff.wav"
    try:
        with open(name, "wb"):
            pass
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    sf.write(name, 0.1 * np.ones(8000), 8000, format="WAV")
    assert load_audio(name, 8000)[0].shape == (8000,)
    assert load_audio(os.fsdecode(name), 8000)[0].shape == (8000,)
    params = dict(sr=8000, n_fft=256, hop_length=128, n_mels=8, duration=None)
    expected = LogMelTransformer(**params).transform([name])
    np.testing.assert_array_equal(
        LogMelTransformer(**params, cache=tmp_path / "cache").transform([os.fsdecode(name)]),
        expected)
    damaged = os.fsencode(tmp_path) + b"/bad\xff.wav"
    with open(damaged, "wb") as f:
        f.write(b"not audio" * 10)
    with pytest.raises(ValueError, match=r"bad\\udcff\.wav"):
        load_audio(damaged)
