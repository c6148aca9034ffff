"""Log-mel spectrograms in NumPy: the computation behind :class:`skrhythm.LogMelTransformer`.

The power spectrum of centred STFT frames (the signal padded with zeros by
half a frame at each end; a periodic window), projected onto a Slaney mel
filter bank (triangles equally spaced on Slaney's mel scale, linear below
1 kHz and logarithmic above, each scaled to unit area), then compressed.
These are the definitions of librosa's ``melspectrogram`` and ``filters.mel``
defaults, computed here in float64 and returned as float32; the tests
check them against librosa.

The module needs NumPy alone (SciPy only for windows other than Hann), so
that ``skrhythm predict`` computes features without importing librosa,
SciPy or scikit-learn, and every path of skrhythm computes the same
features.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["hz_to_mel", "log_mel", "mel_filterbank", "mel_to_hz", "n_frames", "window"]

# Slaney's mel scale: linear up to 1 kHz (200/3 Hz per mel), logarithmic above.
_HZ_PER_MEL = 200.0 / 3.0
_BREAK_HZ = 1000.0
_BREAK_MEL = _BREAK_HZ / _HZ_PER_MEL
_LOG_STEP = np.log(6.4) / 27.0

#: Frames transformed at a time: memory stays at a few MB whatever the recording's length.
_BLOCK = 512


def hz_to_mel(hz):
    """Frequencies in Hz on Slaney's mel scale (linear below 1 kHz, logarithmic above)."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _HZ_PER_MEL
    log = _BREAK_MEL + np.log(np.maximum(hz, _BREAK_HZ) / _BREAK_HZ) / _LOG_STEP
    return np.where(hz >= _BREAK_HZ, log, linear)


def mel_to_hz(mel):
    """The inverse of :func:`hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * _HZ_PER_MEL
    log = _BREAK_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _BREAK_MEL) - _BREAK_MEL))
    return np.where(mel >= _BREAK_MEL, log, linear)


@functools.lru_cache(maxsize=16)
def mel_filterbank(sr, n_fft, n_mels, fmin=0.0, fmax=None):
    """Weights of ``n_mels`` triangular mel filters over the ``1 + n_fft // 2`` FFT bins.

    Filter ``i`` rises from the ``i``-th to the ``i+1``-th of ``n_mels + 2``
    points equally spaced in mel between ``fmin`` and ``fmax`` (default
    ``sr / 2``) and falls to the ``i+2``-th, and is scaled by ``2 / (width in
    Hz)`` so that every filter has the same area.

    Returns
    -------
    weights : ndarray of shape (n_mels, 1 + n_fft // 2), float64, read-only
    """
    fmax = sr / 2.0 if fmax is None else fmax
    bins = np.fft.rfftfreq(n_fft, 1.0 / sr)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    above = bins[None, :] - edges[:-2, None]  # distance above each filter's start
    below = edges[2:, None] - bins[None, :]  # distance below each filter's end
    rising, falling = above / widths[:-1, None], below / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    weights.flags.writeable = False
    return weights


@functools.lru_cache(maxsize=16)
def window(name, n_fft):
    """A periodic window of ``n_fft`` samples (float64, read-only): Hann, or any SciPy name."""
    if name in ("hann", "hanning"):
        w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)
    else:
        from scipy.signal import get_window

        w = np.asarray(get_window(name, n_fft, fftbins=True), dtype=np.float64)
    w.flags.writeable = False
    return w


def n_frames(n_samples, n_fft, hop_length):
    """Centred frames of a signal of ``n_samples`` samples."""
    return 1 + (n_samples + 2 * (n_fft // 2) - n_fft) // hop_length


def log_mel(wave, *, sr, n_fft, hop_length, n_mels, fmin=0.0, fmax=None, window_name="hann",
            compression="log10"):
    """Log-compressed mel power spectrogram of one waveform.

    Parameters
    ----------
    wave : ndarray of shape (n_samples,)
        Float32 samples (other dtypes are converted).
    sr, n_fft, hop_length, n_mels, fmin, fmax
        As for :class:`skrhythm.LogMelTransformer`.
    window_name : str, default="hann"
    compression : {"log10", "db", "none"}, default="log10"
        ``log10(1 + 10000 S)``, ``10 log10(max(S, 1e-10))`` or the power ``S``.

    Returns
    -------
    S : ndarray of shape (n_mels, n_frames), float32
    """
    wave = np.asarray(wave, dtype=np.float32)  # one float32 copy, padded; blocks in float64
    half = n_fft // 2
    padded = np.pad(wave, (half, half))
    count = n_frames(wave.size, n_fft, hop_length)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length][:count]
    taper = window(window_name, n_fft)
    weights = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    mel = np.empty((n_mels, count))
    for start in range(0, count, _BLOCK):
        spectrum = np.fft.rfft(frames[start : start + _BLOCK] * taper, axis=1)  # float64
        power = spectrum.real**2 + spectrum.imag**2
        mel[:, start : start + _BLOCK] = weights @ power.T
    if compression == "log10":
        mel = np.log10(1.0 + 10000.0 * mel)
    elif compression == "db":
        mel = 10.0 * np.log10(np.maximum(mel, 1e-10))
    return mel.astype(np.float32)
