"""skrhythm._logmel: the log-mel spectrogram in NumPy, against librosa's definitions."""

import warnings

import librosa
import numpy as np
import pytest

from skrhythm import LogMelTransformer
from skrhythm._logmel import hz_to_mel, log_mel, mel_filterbank, mel_to_hz, n_frames

SETTINGS = [  # sr, n_fft, hop_length, n_mels, fmin, fmax, window
    (44100, 2048, 1024, 40, 0.0, None, "hann"),  # the paper's
    (22050, 1024, 512, 64, 30.0, 8000.0, "hann"),
    (8000, 255, 100, 16, 0.0, None, "blackmanharris"),  # odd frame, the paper's window
    (16000, 512, 128, 128, 0.0, None, "hamming"),
]


@pytest.mark.parametrize("setting", SETTINGS)
def test_filterbank_is_librosas_slaney_mel(setting):
    sr, n_fft, _, n_mels, fmin, fmax, _ = setting
    ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    # librosa's is float32 (relative rounding 6e-8); ours float64
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-7 * theirs.max())


def test_mel_scale_is_linear_below_1khz_and_inverts():
    hz = np.array([0.0, 500.0, 1000.0, 4000.0, 22050.0])
    np.testing.assert_allclose(hz_to_mel(hz)[:3], [0.0, 7.5, 15.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, rtol=1e-12)
    np.testing.assert_allclose(hz_to_mel(hz), librosa.hz_to_mel(hz), rtol=1e-12)


@pytest.mark.parametrize("compression", ["log10", "db", "none"])
@pytest.mark.parametrize("n_samples", [3, 1000, 66157, 1024 * 600 + 5])  # the last: 2 blocks
@pytest.mark.parametrize("setting", SETTINGS)
def test_spectrogram_is_librosas_melspectrogram(setting, n_samples, compression):
    sr, n_fft, hop, n_mels, fmin, fmax, window = setting
    wave = (0.1 * np.random.default_rng(n_samples).standard_normal(n_samples)).astype(np.float32)
    ours = log_mel(wave, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, fmin=fmin,
                   fmax=fmax, window_name=window, compression=compression)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # librosa: n_fft too large for a short input
        power = librosa.feature.melspectrogram(y=wave, sr=sr, n_fft=n_fft, hop_length=hop,
                                               window=window, n_mels=n_mels, fmin=fmin,
                                               fmax=fmax, power=2.0)
    theirs = {"log10": lambda S: np.log10(1 + 1e4 * S), "none": lambda S: S,
              "db": lambda S: 10 * np.log10(np.maximum(S, 1e-10))}[compression](power)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape
    assert ours.shape[1] == n_frames(n_samples, n_fft, hop)
    # librosa computes in float32: the two agree to a few float32 roundings
    scale = np.abs(theirs).max()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6 * scale)


def test_transformer_frames_follow_the_frame_count():
    logmel = LogMelTransformer(sr=8000, n_fft=255, hop_length=100, n_mels=8, duration=None)
    for n in (99, 100, 101, 4000):
        assert logmel.spectrogram(np.zeros(n, np.float32)).shape[1] == logmel.n_frames(n)
