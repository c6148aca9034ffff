"""Non-deep rhythm baselines: a scale-transform rhythm descriptor and tempo features.

Both transformers read the log-mel spectrograms that
:class:`skrhythm.LogMelTransformer` returns, ``(n_tracks, n_mels, n_frames)``,
so that they share its (cached) features with the CNNs and compose as::

    Pipeline([("logmel", LogMelTransformer()), ("rhythm", RhythmDescriptor()),
              ("scaler", StandardScaler()), ("clf", SVC())])

A 2-D array ``(n_tracks, n_frames)`` is read as spectrograms of a single band
(this is also what lets scikit-learn's estimator checks, which use 2-D data,
run on them). ``sr`` and ``hop_length`` must be those of the spectrograms: they
give the frame rate ``sr / hop_length`` that turns lags into seconds and bpm.

Common first steps (per track):

1. Onset strength. The mel bands are split into ``n_groups`` contiguous groups
   of (nearly) equal size and averaged within each group (one group for
   :class:`TempoFeatures`); each group's envelope is the half-wave rectified
   first difference over time, ``o[t] = max(0, g[t] - g[t - 1])`` (``o[0] =
   0``). With the default ``log10(1 + 10000 S)`` compression of the
   spectrogram this is a log-energy flux.
2. Autocorrelation. The envelope's mean is removed and its autocorrelation
   computed with the FFT for lags ``0 .. max_lag``; each lag ``k`` is divided
   by its number of overlapping terms ``n_frames - k`` (unbiased estimate,
   which keeps the lag axis free of the triangular decay that would otherwise
   break the scale invariance below; lags at or beyond the track length are
   zero) and the result by its value at lag 0, so that it does not depend on
   the level of the track. A silent (constant) envelope gives zeros. The
   autocorrelation is invariant to shifts in time: the phase of the rhythm
   within the excerpt does not matter.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy.fft import next_fast_len
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted, validate_data

from ._formats import SavedStateMixin
from ._limits import MAX_FFT, MAX_SR
from ._sklearn_compat import Interval, check_feature_names_in

__all__ = [
    "RhythmDescriptor",
    "TempoFeatures",
    "autocorrelation",
    "make_rhythm_descriptor_pipeline",
    "make_tempo_pipeline",
    "onset_envelopes",
]


def onset_envelopes(S, n_groups):
    """Half-wave rectified first difference of band-group averages of spectrograms.

    Parameters
    ----------
    S : ndarray of shape (n_tracks, n_bands, n_frames)
        Log-compressed spectrograms.
    n_groups : int
        Number of contiguous band groups; at most ``n_bands`` are used.

    Returns
    -------
    envelopes : ndarray of shape (n_tracks, min(n_groups, n_bands), n_frames)
    """
    groups = np.array_split(S, min(n_groups, S.shape[1]), axis=1)
    means = np.stack([g.mean(axis=1) for g in groups], axis=1)
    return np.maximum(np.diff(means, axis=-1, prepend=means[..., :1]), 0.0)


def autocorrelation(envelopes, n_lags):
    """Unbiased autocorrelation of mean-removed envelopes, normalised to 1 at lag 0.

    Parameters
    ----------
    envelopes : ndarray of shape (..., n_frames)
    n_lags : int
        Number of lags returned (``0 .. n_lags - 1``); lags ``>= n_frames`` are 0.

    Returns
    -------
    r : ndarray of shape (..., n_lags)
        Zero for constant envelopes.
    """
    n_frames = envelopes.shape[-1]
    x = envelopes - envelopes.mean(axis=-1, keepdims=True)
    n_fft = next_fast_len(n_frames + n_lags, real=True)
    spectrum = np.fft.rfft(x, n_fft, axis=-1)
    r = np.fft.irfft(np.abs(spectrum) ** 2, n_fft, axis=-1)[..., :n_lags]
    overlap = np.maximum(n_frames - np.arange(n_lags), 1)
    r = r / overlap
    # Relative threshold: a constant envelope leaves only rounding noise.
    scale = np.abs(envelopes).max(axis=-1, keepdims=True) ** 2
    r0 = r[..., :1]
    valid = r0 > 1e-12 * np.maximum(scale, np.finfo(float).tiny)
    return np.divide(r, r0, out=np.zeros_like(r), where=valid)


def _interpolate(r, positions):
    """Linear interpolation of ``r`` (last axis) at fractional indices ``positions``."""
    i0 = np.floor(positions).astype(int)
    w = positions - i0
    return r[..., i0] * (1.0 - w) + r[..., i0 + 1] * w


class _SpectrogramFeatures(SavedStateMixin, TransformerMixin, BaseEstimator):
    """Input validation, fit bookkeeping and feature names shared by the transformers.

    Subclasses define ``_check_params()``, ``_feature_names(n_bands)`` and
    ``_features(S)`` (``S`` validated, float64, 3-D).
    """

    _parameter_constraints = {
        "sr": [Interval(Real, 0, MAX_SR, closed="right")],
        "hop_length": [Interval(Integral, 1, MAX_FFT, closed="both")],
    }

    @property
    def _frame_rate(self):
        return self.sr / self.hop_length

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def _validate_spectrograms(self, X, reset):
        X = validate_data(self, X, reset=reset, allow_nd=True, dtype=np.float64)
        if X.ndim == 2:
            X = X[:, np.newaxis, :]
        elif X.ndim != 3:
            raise ValueError(
                "expected spectrograms of shape (n_tracks, n_bands, n_frames) or "
                f"(n_tracks, n_frames), got an array of shape {X.shape}"
            )
        if X.shape[1] == 0 or X.shape[2] == 0:
            raise ValueError(f"spectrograms of shape {X.shape[1:]} hold no values")
        return X

    def _check_loaded(self):
        self._check_params()

    def fit(self, X, y=None):
        """Validate the parameters and the input; record the number of bands.

        Parameters
        ----------
        X : array-like of shape (n_tracks, n_bands, n_frames) or (n_tracks, n_frames)
            Log-mel spectrograms (2-D: one band).
        y : ignored

        Returns
        -------
        self : object
        """
        self._validate_params()
        self._check_params()
        self.n_bands_in_ = self._validate_spectrograms(X, reset=True).shape[1]
        return self

    def transform(self, X):
        """Compute the features of every track.

        Parameters
        ----------
        X : array-like of shape (n_tracks, n_bands, n_frames) or (n_tracks, n_frames)
            Log-mel spectrograms with the bands seen in ``fit``; the number of
            frames may differ from ``fit``'s for 3-D input.

        Returns
        -------
        features : ndarray of shape (n_tracks, n_features_out)
        """
        check_is_fitted(self)
        S = self._validate_spectrograms(X, reset=False)
        if S.shape[1] != self.n_bands_in_:
            raise ValueError(
                f"X has {S.shape[1]} bands, but {type(self).__name__} was fitted "
                f"with {self.n_bands_in_}"
            )
        return self._features(S)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        Parameters
        ----------
        input_features : array-like of str or None
            Only checked against the input seen in ``fit``; the output names do
            not depend on it.

        Returns
        -------
        names : ndarray of str objects
        """
        check_is_fitted(self)
        check_feature_names_in(self, input_features)
        return np.asarray(self._feature_names(self.n_bands_in_), dtype=object)


class RhythmDescriptor(_SpectrogramFeatures):
    """Tempo- and shift-invariant rhythm descriptor: scale transform of onset autocorrelations.

    A descriptor in the spirit of Holzapfel & Stylianou (2011), who take the
    scale transform of the autocorrelation of an onset-strength signal, and of
    Marchand & Peeters (2016), who apply the scale transform per auditory band
    (here: per group of mel bands) to obtain a representation invariant to
    tempo (a time scaling of the rhythm) and to its position in time; Pohle et
    al. (2009) likewise describe rhythm by band-wise onset periodicities
    ("onset patterns"). This is our own, simplified recipe, not a
    re-implementation of any of them. It carries no tempo information by
    design; :func:`make_rhythm_descriptor_pipeline` adds
    :class:`TempoFeatures` beside it.

    Recipe, per track and band group (see the module docstring for steps 1-2):

    1. onset envelope of ``n_groups`` groups of mel bands;
    2. normalised, unbiased autocorrelation ``r(t)`` for lags up to
       ``max_lag`` seconds;
    3. scale transform ``R(c) = integral r(t) t^(-1/2 - jc) dt`` over
       ``min_lag <= t <= max_lag``, computed as in the Mellin / scale-transform
       literature: with ``t = exp(u)`` it becomes the Fourier transform of
       ``r(exp(u)) exp(u / 2)``; ``r`` is resampled (linear interpolation) on
       an exponentially spaced lag grid whose largest step is one frame,
       weighted by ``sqrt(t)``, and its FFT taken. A time scaling
       ``r(t) -> r(a t)`` (a tempo change by ``a``) becomes a shift in ``u``,
       which leaves ``|R(c)|`` unchanged up to the factor ``a^(-1/2)`` and
       edge effects of the finite lag range;
    4. the magnitudes of the first ``n_coefs`` scale coefficients, divided by
       their Euclidean norm (which removes the factor ``a^(-1/2)``; zeros stay
       zeros), are the features of the group.

    The invariance is only approximate on real signals: a tempo change moves
    periodicities into or out of the fixed lag range, and onset widths do not
    scale with the tempo. Exact for a time-scaled rhythm whose autocorrelation
    lies within the lag range, it is weaker for long periodic excerpts, whose
    autocorrelation peaks repeat up to ``max_lag``.

    Parameters
    ----------
    sr : float, default=44100
        Sample rate of the audio the spectrograms were computed from.
    hop_length : int, default=1024
        Hop of the spectrogram frames in samples.
    n_groups : int, default=4
        Number of band groups (``min(n_groups, n_bands)`` are used).
    min_lag : float, default=0.05
        Smallest autocorrelation lag in seconds (the lag-0 peak is left out:
        the scale transform starts at ``t > 0``).
    max_lag : float, default=4.0
        Largest lag in seconds (one 4/4 bar at 60 bpm).
    n_coefs : int, default=64
        Scale coefficients kept per group. Their spacing is
        ``2 pi / log(max_lag / min_lag)``; a periodicity of period ``P`` seen
        up to lag ``max_lag`` reaches scale ``c ~ 2 pi max_lag / P``.

    Attributes
    ----------
    n_features_in_ : int
        ``n_bands`` for 3-D input, ``n_frames`` for 2-D input.
    n_bands_in_ : int
        Bands of the input (1 for 2-D input).
    feature_names_in_ : ndarray of str
        Set when ``X`` is a DataFrame with string column names.

    References
    ----------
    A. Holzapfel and Y. Stylianou, "Scale transform in rhythmic similarity of
    music", IEEE TASLP 19(1), 2011.
    U. Marchand and G. Peeters, "Scale and shift invariant time/frequency
    representation using auditory statistics: application to rhythm
    description", IEEE MLSP 2016.
    T. Pohle, D. Schnitzer, M. Schedl, P. Knees and G. Widmer, "On rhythm and
    general music similarity", ISMIR 2009.

    Examples
    --------
    >>> import numpy as np
    >>> from skrhythm.rhythm import RhythmDescriptor
    >>> S = np.random.default_rng(0).random((2, 40, 300))
    >>> RhythmDescriptor(n_coefs=16).fit_transform(S).shape
    (2, 64)
    """

    _parameter_constraints = {
        **_SpectrogramFeatures._parameter_constraints,
        "n_groups": [Interval(Integral, 1, 4096, closed="both")],
        "min_lag": [Interval(Real, 0, None, closed="neither")],
        "max_lag": [Interval(Real, 0, 600, closed="right")],
        "n_coefs": [Interval(Integral, 1, 2**16, closed="both")],
    }

    def __init__(
        self, sr=44100, hop_length=1024, n_groups=4, min_lag=0.05, max_lag=4.0, n_coefs=64
    ):
        self.sr = sr
        self.hop_length = hop_length
        self.n_groups = n_groups
        self.min_lag = min_lag
        self.max_lag = max_lag
        self.n_coefs = n_coefs

    def _check_params(self):
        if self.max_lag <= self.min_lag:
            raise ValueError(f"max_lag={self.max_lag} must be larger than min_lag={self.min_lag}")
        n_points = self._log_lags().size
        if self.n_coefs > n_points // 2 + 1:
            raise ValueError(
                f"n_coefs={self.n_coefs} exceeds the {n_points // 2 + 1} scale coefficients "
                f"that lags {self.min_lag}..{self.max_lag} s give at {self._frame_rate:g} "
                "frames per second"
            )

    def _log_lags(self):
        """Exponentially spaced lags (frames) from min_lag to max_lag, largest step 1 frame."""
        lo, hi = self.min_lag * self._frame_rate, self.max_lag * self._frame_rate
        n_points = max(2, int(np.ceil(np.log(hi / lo) * hi)) + 1)
        return np.exp(np.linspace(np.log(lo), np.log(hi), n_points))

    def _feature_names(self, n_bands):
        n_used = min(self.n_groups, n_bands)
        return [f"band{g}_scale{c}" for g in range(n_used) for c in range(self.n_coefs)]

    def _features(self, S):
        lags = self._log_lags()
        r = autocorrelation(onset_envelopes(S, self.n_groups), int(np.floor(lags[-1])) + 2)
        weighted = _interpolate(r, lags) * np.sqrt(lags)
        coefs = np.abs(np.fft.rfft(weighted, axis=-1))[..., : self.n_coefs]
        norms = np.linalg.norm(coefs, axis=-1, keepdims=True)
        coefs = np.divide(coefs, norms, out=np.zeros_like(coefs), where=norms > 0)
        return coefs.reshape(len(S), -1)


class TempoFeatures(_SpectrogramFeatures):
    """Tempo estimated from the onset autocorrelation, plain and octave-folded.

    Recipe, per track: onset envelope of the mean over all bands and its
    normalised autocorrelation ``r`` (module docstring); the tempo is the lag
    ``k`` between ``60 fps / max_bpm`` and ``60 fps / min_bpm`` frames
    (``fps = sr / hop_length``) that maximises ``r[k] w(k)``, where
    ``w = exp(-0.5 (log2(bpm(k) / prior_bpm) / prior_octaves) ** 2)`` is a
    log-normal tempo prior that settles octave ambiguities, refined to a
    fraction of a frame by a parabola through the three weighted values around
    the maximum.

    Features (``2 + len(fold_starts)``):

    - ``log2_tempo``: ``log2`` of the tempo in bpm;
    - ``log2_tempo_fold<s>`` for each ``s`` in ``fold_starts``: ``log2`` of
      the tempo folded by octaves into ``[s, 2 s)`` (robust to the estimate's
      octave errors, but it merges tempi an octave apart);
    - ``tempo_strength``: ``r`` at the chosen lag (pulse clarity, about 1 for
      a strictly periodic onset train, 0 for silence).

    Parameters
    ----------
    sr : float, default=44100
        Sample rate of the audio the spectrograms were computed from.
    hop_length : int, default=1024
        Hop of the spectrogram frames in samples.
    min_bpm, max_bpm : float, default=40.0 and 250.0
        Tempo search range; at least one whole-frame lag must lie in it, and
        tempi above ``60 * sr / hop_length`` (a lag of one frame) are not
        resolved.
    prior_bpm : float, default=120.0
        Centre of the log-normal tempo prior.
    prior_octaves : float, default=1.0
        Standard deviation of the prior in octaves.
    fold_starts : tuple of float, default=(60.0, 80.0, 100.0)
        Lower ends of the octave ranges the tempo is folded into.

    Attributes
    ----------
    n_features_in_ : int
        ``n_bands`` for 3-D input, ``n_frames`` for 2-D input.
    n_bands_in_ : int
        Bands of the input (1 for 2-D input).
    feature_names_in_ : ndarray of str
        Set when ``X`` is a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from skrhythm.rhythm import TempoFeatures
    >>> S = np.zeros((1, 40, 400))
    >>> S[0, :, ::20] = 1.0  # an onset every 20 frames: 60 * 44100 / 1024 / 20 = 129.2 bpm
    >>> bpm = 2 ** TempoFeatures().fit_transform(S)[0, 0]
    >>> round(float(bpm), 1)
    129.2
    """

    _parameter_constraints = {
        **_SpectrogramFeatures._parameter_constraints,
        "min_bpm": [Interval(Real, 0, None, closed="neither")],
        "max_bpm": [Interval(Real, 0, None, closed="neither")],
        "prior_bpm": [Interval(Real, 0, None, closed="neither")],
        "prior_octaves": [Interval(Real, 0, None, closed="neither")],
        "fold_starts": ["array-like"],
    }

    def __init__(
        self,
        sr=44100,
        hop_length=1024,
        min_bpm=40.0,
        max_bpm=250.0,
        prior_bpm=120.0,
        prior_octaves=1.0,
        fold_starts=(60.0, 80.0, 100.0),
    ):
        self.sr = sr
        self.hop_length = hop_length
        self.min_bpm = min_bpm
        self.max_bpm = max_bpm
        self.prior_bpm = prior_bpm
        self.prior_octaves = prior_octaves
        self.fold_starts = fold_starts

    def _check_params(self):
        if self.max_bpm <= self.min_bpm:
            raise ValueError(f"max_bpm={self.max_bpm} must be larger than min_bpm={self.min_bpm}")
        starts = np.asarray(self.fold_starts, dtype=float)
        if starts.ndim != 1 or not np.all(starts > 0):
            raise ValueError(f"fold_starts must be positive tempi, got {self.fold_starts!r}")
        first, last = self._lag_range()
        if last < first:
            raise ValueError(
                f"no whole-frame lag lies between min_bpm={self.min_bpm} and "
                f"max_bpm={self.max_bpm} at {self._frame_rate:g} frames per second; "
                "widen the tempo range"
            )

    def _lag_range(self):
        """First and last candidate lags in frames (inclusive)."""
        beat = 60.0 * self._frame_rate
        return max(1, int(np.ceil(beat / self.max_bpm))), int(np.floor(beat / self.min_bpm))

    def _feature_names(self, n_bands):
        folds = [f"log2_tempo_fold{s:g}" for s in np.asarray(self.fold_starts, dtype=float)]
        return ["log2_tempo", *folds, "tempo_strength"]

    def _features(self, S):
        first, last = self._lag_range()
        r = autocorrelation(onset_envelopes(S, 1)[:, 0], last + 2)
        lags = np.arange(first - 1, last + 2)
        bpm = 60.0 * self._frame_rate / np.maximum(lags, 1)
        prior = np.exp(-0.5 * (np.log2(bpm / self.prior_bpm) / self.prior_octaves) ** 2)
        score = r[:, lags] * prior
        rows = np.arange(len(S))
        best = 1 + np.argmax(score[:, 1:-1], axis=1)
        left, centre, right = score[rows, best - 1], score[rows, best], score[rows, best + 1]
        curvature = left - 2 * centre + right
        offset = np.divide(
            0.5 * (left - right), curvature, out=np.zeros_like(centre), where=curvature < 0
        )
        tempo = 60.0 * self._frame_rate / (lags[best] + np.clip(offset, -0.5, 0.5))
        log_tempo = np.log2(tempo)
        log_starts = np.log2(np.asarray(self.fold_starts, dtype=float))
        folded = log_starts + np.mod(log_tempo[:, None] - log_starts, 1.0)
        strength = r[rows, lags[best]]
        return np.column_stack([log_tempo, folded, strength])


def _svm_pipeline(steps, params):
    pipe = Pipeline([*steps, ("scaler", StandardScaler()), ("clf", SVC(C=10.0))])
    return pipe.set_params(**params)


def make_rhythm_descriptor_pipeline(sr=44100, hop_length=1024, **params):
    """Rhythm descriptor + tempo features -> standard scaling -> RBF SVM.

    The pipeline reads log-mel spectrograms ``(n_tracks, n_bands, n_frames)``
    (the output of :class:`skrhythm.LogMelTransformer`); prepend one to read
    audio. Steps: ``"features"``, a :class:`~sklearn.pipeline.FeatureUnion` of
    ``"scale"`` (:class:`RhythmDescriptor`, tempo invariant) and ``"tempo"``
    (:class:`TempoFeatures`, as tempo is a strong cue for dance styles);
    ``"scaler"`` (:class:`~sklearn.preprocessing.StandardScaler`); ``"clf"``
    (:class:`~sklearn.svm.SVC`, RBF kernel, ``C=10``). An SVM is the usual
    classifier on such descriptors (Holzapfel & Stylianou; Marchand &
    Peeters); it has no ``predict_proba`` unless ``clf__probability=True``.

    Parameters
    ----------
    sr : float, default=44100
        Sample rate of the audio the spectrograms were computed from.
    hop_length : int, default=1024
        Hop of the spectrogram frames in samples.
    **params
        Passed to :meth:`~sklearn.pipeline.Pipeline.set_params`, e.g.
        ``features__scale__n_groups=8`` or ``clf__C=1.0``.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
    """
    features = FeatureUnion(
        [
            ("scale", RhythmDescriptor(sr=sr, hop_length=hop_length)),
            ("tempo", TempoFeatures(sr=sr, hop_length=hop_length)),
        ]
    )
    return _svm_pipeline([("features", features)], params)


def make_tempo_pipeline(sr=44100, hop_length=1024, **params):
    """Tempo features -> standard scaling -> RBF SVM: a tempo-only baseline.

    Steps: ``"tempo"`` (:class:`TempoFeatures`), ``"scaler"``
    (:class:`~sklearn.preprocessing.StandardScaler`), ``"clf"``
    (:class:`~sklearn.svm.SVC`, RBF kernel, ``C=10``: dance styles occupy
    tempo intervals, which a linear model cannot carve out of one axis). Reads
    log-mel spectrograms like :func:`make_rhythm_descriptor_pipeline`.

    Parameters
    ----------
    sr : float, default=44100
        Sample rate of the audio the spectrograms were computed from.
    hop_length : int, default=1024
        Hop of the spectrogram frames in samples.
    **params
        Passed to :meth:`~sklearn.pipeline.Pipeline.set_params`, e.g.
        ``tempo__prior_bpm=110``.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
    """
    return _svm_pipeline([("tempo", TempoFeatures(sr=sr, hop_length=hop_length))], params)
