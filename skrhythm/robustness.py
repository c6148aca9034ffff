"""Did a model learn rhythm or tempo? Its accuracy on recordings played faster and slower.

A dance keeps its rhythm at 8 % above or below its usual tempo, and no
dancer would take it for another dance; a model that learned the classes'
tempos instead of their rhythms loses accuracy there (B. L. Sturm, "A simple
method to determine if a music information retrieval system is a horse",
IEEE Trans. Multimedia 16(6), 2014). :func:`tempo_robustness` scores a
fitted estimator on held-out recordings time-stretched in the audio by a
phase vocoder (pitch kept; :func:`stretch_tempo`), a transformation that is
not the one tempo augmentation trains with (patches resampled on the
spectrogram, :func:`skrhythm.training.tempo_patches`).
"""

from __future__ import annotations

import os

import numpy as np

from ._spec import check_tempo_factors
from .stats import mcnemar

__all__ = ["stretch_tempo", "tempo_robustness"]


def stretch_tempo(waveform, factor):
    """A waveform played ``factor`` times as fast, its pitch kept (phase vocoder).

    :func:`librosa.effects.time_stretch` with ``rate=factor`` (STFT of 2048
    samples, hop 512): 1.08 gives a recording 8 % faster and 1/1.08 as long.

    Parameters
    ----------
    waveform : ndarray of shape (n_samples,)
    factor : float
        Tempo factor, from 0.5 to 2.

    Returns
    -------
    stretched : ndarray of shape (round(n_samples / factor),), float32
    """
    import librosa

    check_tempo_factors([factor], "factor")
    waveform = np.asarray(waveform, dtype=np.float32)
    if factor == 1:
        return waveform.copy()
    return librosa.effects.time_stretch(waveform, rate=float(factor)).astype(np.float32)


def _waveform(recording, sr):
    if isinstance(recording, (str, bytes, os.PathLike)):
        from .audio import load_audio

        return load_audio(recording, sr)[0]
    waveform = np.asarray(recording, dtype=np.float32)
    if waveform.ndim != 1:
        raise ValueError(f"a recording must be a file or a 1-D waveform, got shape "
                         f"{waveform.shape}")
    return waveform


def tempo_robustness(estimator, recordings, y, factors=(0.92, 1.08), *, sr=44100,
                     confidence=0.95, n_resamples=2000, random_state=0):
    """Accuracy of a fitted estimator on recordings played faster and slower.

    Every recording is time-stretched by each factor (:func:`stretch_tempo`)
    and predicted by ``estimator``, which takes waveforms (a pipeline
    starting with :class:`skrhythm.LogMelTransformer`, say). The drop is
    the accuracy at the original tempo minus that at the factor, on the same
    tracks: its interval is a percentile bootstrap over the tracks, its
    p-value McNemar's test of the tracks' correctness at the two tempos
    (:func:`skrhythm.stats.mcnemar`). A model of the rhythms keeps its
    accuracy; one of the tempos loses it. Give recordings the estimator was
    not trained on. A stretched recording is ``1 / factor`` as long: give
    the pipeline's :class:`~skrhythm.LogMelTransformer` a ``duration``
    that every stretched recording reaches (shorter ones are padded with
    silence, which a model may read as music).

    Parameters
    ----------
    estimator : fitted estimator
        Predicts class labels of waveforms sampled at ``sr``.
    recordings : sequence of path-like or 1-D arrays
        Held-out recordings: audio files (decoded at ``sr``) or waveforms.
    y : array-like of shape (n_recordings,)
        Their labels.
    factors : sequence of float, default=(0.92, 1.08)
        Tempo factors (above 1: faster), from 0.5 to 2.
    sr : int, default=44100
        Sample rate of the waveforms.
    confidence : float, default=0.95
        Level of the drop's interval.
    n_resamples : int, default=2000
        Bootstrap resamples of the tracks.
    random_state : int, default=0
        Seeds the bootstrap.

    Returns
    -------
    table : pandas.DataFrame
        One row per factor, the original tempo (1.0) first: ``factor``,
        ``accuracy``, ``drop`` (accuracy at 1.0 minus at the factor),
        ``drop_low``, ``drop_high`` (the interval), ``p`` (McNemar).

    Examples
    --------
    >>> from sklearn.pipeline import Pipeline
    >>> from skrhythm import LogMelTransformer
    >>> from skrhythm.datasets import make_ballroom_like
    >>> from skrhythm.rhythm import make_tempo_pipeline
    >>> train = make_ballroom_like(3, duration=10.0, sr=22050, random_state=0)
    >>> test = make_ballroom_like(1, duration=10.0, sr=22050, random_state=1)
    >>> pipe = Pipeline([("logmel", LogMelTransformer(sr=22050, duration=9.0)),
    ...                  *make_tempo_pipeline(sr=22050).steps])
    >>> pipe = pipe.fit(list(train.data), train.target)
    >>> table = tempo_robustness(pipe, list(test.data), test.target, sr=22050)
    >>> table["factor"].tolist(), list(table.columns)
    ([1.0, 0.92, 1.08], ['factor', 'accuracy', 'drop', 'drop_low', 'drop_high', 'p'])
    """
    import pandas as pd

    factors = check_tempo_factors(factors, "factors")
    y = np.asarray(y)
    if len(recordings) != len(y) or len(y) == 0:
        raise ValueError(f"recordings and y must be as many and not none; got "
                         f"{len(recordings)} recordings and {len(y)} labels")
    known = getattr(estimator, "classes_", None)
    unknown = [] if known is None else sorted(set(map(str, y)) - set(map(str, known)))
    if unknown:
        raise ValueError(
            f"y holds labels the estimator does not know: {', '.join(unknown)} (its classes: "
            f"{', '.join(map(str, known))}); such recordings could only be counted wrong, so "
            "leave them out or train on them"
        )
    waveforms = [_waveform(r, sr) for r in recordings]
    rng = np.random.default_rng(random_state)
    resamples = rng.integers(0, len(y), (n_resamples, len(y)))
    base = np.asarray(estimator.predict(waveforms)) == y
    rows = [{"factor": 1.0, "accuracy": float(base.mean()), "drop": 0.0, "drop_low": 0.0,
             "drop_high": 0.0, "p": 1.0}]
    tail = 100 * (1 - confidence) / 2
    for factor in factors:
        shifted = np.asarray(estimator.predict([stretch_tempo(w, factor) for w in waveforms]))
        correct = shifted == y
        drops = base[resamples].mean(axis=1) - correct[resamples].mean(axis=1)
        low, high = np.percentile(drops, [tail, 100 - tail])
        rows.append({"factor": float(factor), "accuracy": float(correct.mean()),
                     "drop": float(base.mean() - correct.mean()), "drop_low": float(low),
                     "drop_high": float(high), "p": mcnemar(base, correct).p})
    return pd.DataFrame(rows)
