"""Bounds of the sizes skrhythm accepts, for parameters and for loaded models alike.

The estimators build their parameter constraints from these tables, and the
model files that ``skrhythm predict`` reads without scikit-learn
(:mod:`skrhythm._saved_model`) are checked against the same ones, so that
no file can make skrhythm allocate gigabytes: the highest studio sample
rate, FFTs of 1.5 s at 44.1 kHz, a frame every 0.5 ms, 100 minutes a track,
a patch of 65,536 frames (25 minutes of the paper's features), networks of
at most 2^26 parameters (256 MiB of float32; the Black-box baseline has
3.3 million). Plain Python: importing it imports nothing.
"""

from __future__ import annotations

from numbers import Integral, Real

__all__ = [
    "CNN_BOUNDS", "LOGMEL_BOUNDS", "MAX_BANDS", "MAX_CLASSES", "MAX_FFT", "MAX_FRAMES",
    "MAX_FRAME_RATE", "MAX_PARAMS", "MAX_SAMPLES", "MAX_SR", "MUSICCNN_BOUNDS",
    "TEMPO_FACTORS", "fitted_problem", "interval_problem", "lengths_problem", "logmel_problem",
    "tempo_factors_problem", "tempo_range_problem",
]

MAX_SR = 384_000
MAX_FFT = 2**16
MAX_FRAME_RATE = 2000
MAX_SAMPLES = 2**28
MAX_FRAMES = 2**16
MAX_PARAMS = 2**26
MAX_CLASSES = 10_000
MAX_BANDS = 4096
MAX_FILTERS = 4096
#: Tempo factors skrhythm augments or stretches by: (least, most).
TEMPO_FACTORS = (0.5, 2.0)

#: Integer parameters of :class:`skrhythm.LogMelTransformer`: (least, most).
LOGMEL_BOUNDS = {"sr": (1, MAX_SR), "n_fft": (1, MAX_FFT), "hop_length": (1, MAX_FFT),
                 "n_mels": (1, 2048)}

#: Integer parameters of every patch CNN classifier: (least, most).
CNN_BOUNDS = {"patch_frames": (1, MAX_FRAMES), "batch_size": (1, 2**16)}

#: Integer parameters of :class:`skrhythm.MusicCNNClassifier` besides :data:`CNN_BOUNDS`.
MUSICCNN_BOUNDS = {"n_onet": (0, 64), "n_pnet": (0, 64), "onet_filters": (1, MAX_FILTERS),
                   "pnet_filters": (1, MAX_FILTERS), "pool_bands": (1, MAX_BANDS)}


def interval_problem(name, value, least, most):
    """Why ``value`` is no integer in ``[least, most]`` (None if it is)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or not least <= value <= most:
        return f"{name} must be an integer from {least} to {most}, got {value!r}"
    return None


def logmel_problem(sr, hop_length, duration):
    """What no log-mel setting may be beyond the single bounds: frame rate, track length."""
    if sr / hop_length > MAX_FRAME_RATE:
        return (f"sr / hop_length = {sr / hop_length:g} frames per second; at most "
                f"{MAX_FRAME_RATE} are supported")
    if duration is not None and duration * sr > MAX_SAMPLES:
        return (f"duration={duration!r} s at sr={sr} is {duration * sr:.3g} samples per "
                f"track; at most {MAX_SAMPLES:,} are supported")
    return None


def lengths_problem(name, lengths):
    """Why a sequence of filter lengths is out of bounds (None if it is not)."""
    if not isinstance(lengths, (tuple, list)) or len(lengths) > MAX_FILTERS or not all(
            interval_problem(name, n, 1, MAX_FRAMES) is None for n in lengths):
        return (f"{name} must be at most {MAX_FILTERS} filter lengths, each an integer from 1 "
                f"to {MAX_FRAMES}; got {lengths!r}"[:300])
    return None


def fitted_problem(n_classes, n_bands, mean, std):
    """What is wrong with the fitted attributes of a patch CNN (None if nothing)."""
    if not 2 <= n_classes <= MAX_CLASSES:
        return f"classes_ must hold 2 to {MAX_CLASSES} labels"
    if interval_problem("n_bands_in_", n_bands, 1, MAX_BANDS):
        return f"n_bands_in_ must be an integer from 1 to {MAX_BANDS}"
    finite = all(isinstance(v, Real) and abs(v) < float("inf") for v in (mean, std))
    if not finite or not std > 0:
        return "mean_ and std_ must be finite numbers, std_ positive"
    return None


def tempo_range_problem(value):
    """Why ``value`` is neither None nor a range ``(low, high)`` of tempo factors (or None)."""
    if value is None:
        return None
    least, most = TEMPO_FACTORS
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, Real) and not isinstance(v, bool) for v in value)
            or not least <= value[0] <= value[1] <= most):
        return f"expected None or a range (low, high) with {least} <= low <= high <= {most}"
    return None


def tempo_factors_problem(factors):
    """Why ``factors`` is not a non-empty sequence of tempo factors (None if it is)."""
    least, most = TEMPO_FACTORS
    if (not isinstance(factors, (tuple, list)) or not factors or len(factors) > 64
            or not all(isinstance(v, Real) and not isinstance(v, bool) and least <= v <= most
                       for v in factors)):
        return f"expected 1 to 64 tempo factors, each from {least} to {most}"
    return None
