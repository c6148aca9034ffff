"""Prediction of whole recordings with a fitted pipeline, from all their windows.

A pipeline such as ``Pipeline([("logmel", LogMelTransformer()), ("model",
MusicCNNClassifier())])`` crops or pads every track to the transformer's
``duration`` (30 s by default), which suits training on 30 s excerpts but
would judge a 4-minute song by its first 30 s. :func:`predict_recordings`
decodes each recording whole, computes its log-mel spectrogram with the
pipeline's settings but without cropping, and lets the classifier score every
window (patch) of it: the recording's probabilities are the classifier's
``predict_proba`` of the whole spectrogram, the mean of its windows'
probabilities, and its class is the classifier's ``predict`` (vote or mean, as
fitted). Each recording's coverage is reported: its length, the seconds the
windows cover, and whether it was padded (shorter than one window) or cropped
(``duration``).

Pipelines that end in a non-deep model (the rhythm descriptor and tempo SVMs
of :mod:`skrhythm.rhythm`) have no windows: they compute one set of features
from the whole recording's spectrogram and predict from it.
"""

from __future__ import annotations

import os
import warnings
from numbers import Real

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from .audio import audio_duration, find_audio_files, load_audio
from .classifier import BasePatchCNNClassifier
from .features import LogMelTransformer
from .training import patch_starts

__all__ = ["RESERVED_NAMES", "RecordingWarning", "predict_recordings"]

_COVERAGE = ("seconds", "seconds_used", "n_windows", "padded", "cropped")

#: Column names of the prediction tables (``style`` is the command line's name of
#: ``prediction``), which no class may have: each class gets a column of its own.
RESERVED_NAMES = ("file", "prediction", "style", "start", "end", *_COVERAGE)


class RecordingWarning(UserWarning):
    """A recording was padded to one window, or skipped because it could not be read."""


def _named_inputs(recordings):
    """``(name, item)`` pairs: paths expanded by :func:`find_audio_files` (each file once),
    waveforms kept."""
    if isinstance(recordings, (str, bytes, os.PathLike)):
        recordings = [recordings]
    named = {}
    for i, item in enumerate(recordings):
        if isinstance(item, (str, bytes, os.PathLike)):
            named.update((f, f) for f in find_audio_files(item) if f not in named)
        else:
            named[f"recording {i}"] = np.asarray(item, dtype=np.float32)
    if not named:
        raise ValueError("no recordings given")
    return list(named.items())


def _check_model(model, windows):
    """The pipeline's log-mel step and the rest; refuse models this module cannot use."""
    if not (isinstance(model, Pipeline) and isinstance(model.steps[0][1], LogMelTransformer)
            and len(model.steps) > 1):
        raise TypeError(
            "model must be a fitted Pipeline whose first step is a LogMelTransformer, as "
            f"'skrhythm train' writes; got {type(model).__name__}"
        )
    check_is_fitted(model)
    rest = model[1:]
    if windows and not isinstance(rest[-1], BasePatchCNNClassifier):
        raise ValueError(
            f"windows=True needs a patch CNN as the pipeline's last step; "
            f"{type(rest[-1]).__name__} computes one set of features from each whole "
            "recording and has no windows"
        )
    classes = [str(c) for c in model.classes_]
    clash = sorted(set(classes) & set(RESERVED_NAMES))
    if clash:
        raise ValueError(f"class names {clash} clash with the names of the output's columns "
                         f"({', '.join(RESERVED_NAMES)}); train the model with other labels")
    return model.steps[0][1], rest, classes


def _decoded(item, sr, offset, duration):
    """A recording's waveform (at most ``duration`` seconds of it) and its whole length.

    Files whose header announces their length are decoded only as far as
    ``duration`` (and a little more, to tell a cropped recording); others, and
    waveforms, whole.
    """
    if not isinstance(item, str):
        return item, item.size / sr
    total = None if duration is None else audio_duration(item)
    if total is None:
        wave = load_audio(item, sr, offset=offset)[0]
        return wave, wave.size / sr
    wave = load_audio(item, sr, offset=offset, duration=duration + 1.0)[0]
    if wave.size < round((duration + 1.0) * sr):  # all of it was decoded: its exact length
        return wave, wave.size / sr
    return wave, max(total - offset, wave.size / sr)


def _predict_one(name, wave, seconds, logmel, rest, duration, windows):
    """Prediction, coverage and (optionally) window table of one decoded recording.

    ``seconds`` is the recording's whole length, of which ``wave`` may hold
    only the first ``duration`` seconds and more.
    """
    sr, hop_length = logmel.sr, logmel.hop_length
    cropped = duration is not None and wave.size > round(duration * sr)
    if cropped:
        wave = wave[: round(duration * sr)]
    features = logmel.transform([wave])
    final = rest[-1]
    if len(rest) > 1:
        features = rest[:-1].transform(features)
    row = {"file": name, "prediction": final.predict(features)[0]}
    proba = final.predict_proba(features)[0] if hasattr(final, "predict_proba") else None
    table = None
    if isinstance(final, BasePatchCNNClassifier):
        n_frames, size = features.shape[2], final.patch_frames
        starts = patch_starts(n_frames, size, final.patch_hop or size) if n_frames >= size \
            else np.zeros(1, dtype=int)
        padded = n_frames < size
        if padded:
            warnings.warn(
                f"{name}: its {wave.size / sr:.2f} s are shorter than one window of the model "
                f"({size * hop_length / sr:.2f} s), so it was padded with the training mean: "
                f"the prediction rests on {wave.size / sr:.2f} s of audio",
                RecordingWarning,
                stacklevel=3,
            )
        used = min(wave.size / sr, (starts[-1] + size) * hop_length / sr)
        if windows:
            patch = final.predict_patch_proba(features)[0]
            table = {"file": [name] * len(starts), "start": starts * hop_length / sr,
                     "end": (starts + size) * hop_length / sr}
            table.update({str(c): patch[:, k] for k, c in enumerate(final.classes_)})
        row.update(seconds=seconds, seconds_used=used, n_windows=len(starts), padded=padded)
    else:  # whole-recording features, no windows
        row.update(seconds=seconds, seconds_used=wave.size / sr, n_windows=0, padded=False)
    row["cropped"] = cropped
    if proba is not None:
        row.update({str(c): p for c, p in zip(final.classes_, proba)})
    return row, table


def predict_recordings(
    model, recordings, *, duration=None, windows=False, on_error="raise", progress=False
):
    """Predict the class of whole recordings from all their windows.

    Parameters
    ----------
    model : Pipeline
        Fitted; its first step a :class:`~skrhythm.LogMelTransformer` whose
        settings (``sr``, ``hop_length``, ``n_mels``, ``offset``, ...) are used,
        its ``duration`` and ``pad_mode`` excepted. The last step is a skrhythm
        CNN (every window scored) or any classifier of spectrograms (such as
        the pipelines of :mod:`skrhythm.rhythm`: features of the whole
        recording, no windows).
    recordings : str, path-like, 1-D array or a sequence of them
        Audio files, directories (searched recursively), glob patterns (see
        :func:`skrhythm.audio.find_audio_files`) or mono waveforms sampled at
        the transformer's ``sr``.
    duration : float or None, default=None
        Use at most the first ``duration`` seconds (after the transformer's
        ``offset``) of each recording; ``None`` uses all of it. A file whose
        header announces its length is decoded only that far.
    windows : bool, default=False
        Also return every window's class probabilities (CNNs only).
    on_error : {"raise", "skip"}, default="raise"
        What a recording that cannot be read or predicted does: ``"raise"``
        its error (naming the file); ``"skip"`` leave it out and, at the end,
        warn (:class:`RecordingWarning`) listing every such file and its cause.
    progress : bool, default=False
        Show a tqdm progress bar over the recordings.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        ``predictions``: a :class:`pandas.DataFrame`, one row per predicted
        recording: ``file`` (path, or ``"recording <i>"`` for a waveform),
        ``prediction``, one column of probability per class (where the model
        has ``predict_proba``), ``seconds`` (the recording's length),
        ``seconds_used`` (the part the windows cover: all but the tail after
        the last full window), ``n_windows`` (0: whole-recording features),
        ``padded`` (shorter than one window: padded with the training mean,
        and warned about) and ``cropped`` (longer than ``duration``).
        ``windows``: with ``windows=True`` a DataFrame of ``file``, ``start``
        and ``end`` (seconds; frame ``i`` is centred on ``i * hop_length /
        sr``) and one probability column per class, else None. ``errors``:
        ``{file: cause}`` of the recordings skipped.

    Raises
    ------
    TypeError
        If ``model`` is not such a pipeline.
    ValueError
        If ``windows=True`` for a model without windows, if an argument is
        invalid, or if no recording at all could be predicted.
    FileNotFoundError
        If a path, directory or pattern names no audio file.
    OSError or ValueError
        The error of the first unreadable recording, with ``on_error="raise"``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import Pipeline
    >>> from skrhythm import LogMelTransformer, MusicCNNClassifier
    >>> rng = np.random.default_rng(0)
    >>> logmel = LogMelTransformer(sr=8000, n_fft=256, hop_length=128, n_mels=8, duration=2.0)
    >>> cnn = MusicCNNClassifier(onet_lengths=(2,), pnet_lengths=(4,), patch_frames=20,
    ...                          patch_hop=10, max_epochs=1, random_state=0,
    ...                          filterbank="reference")
    >>> model = Pipeline([("logmel", logmel), ("cnn", cnn)])
    >>> model = model.fit(rng.standard_normal((4, 16000)), ["a", "b", "a", "b"])
    >>> song = rng.standard_normal(8000 * 60).astype("float32")  # one minute
    >>> result = predict_recordings(model, [song], windows=True)
    >>> result.predictions[["seconds", "seconds_used", "n_windows"]].round(2).values.tolist()
    [[60.0, 60.0, 374.0]]
    >>> len(result.windows), float(result.windows["start"].iloc[1])
    (374, 0.16)
    """
    import pandas as pd
    from tqdm.auto import tqdm

    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if duration is not None and (not isinstance(duration, Real) or duration <= 0):
        raise ValueError(f"duration must be a positive number of seconds or None, got {duration}")
    logmel, rest, classes = _check_model(model, windows)
    named = _named_inputs(recordings)
    whole = clone(logmel).set_params(duration=None, n_jobs=None)
    rows, tables, errors = [], [], {}
    for name, item in tqdm(named, desc="predicting", unit="recording", disable=not progress):
        try:
            wave, seconds = _decoded(item, whole.sr, whole.offset, duration)
            row, table = _predict_one(name, wave, seconds, whole, rest, duration, windows)
        except (OSError, ValueError) as exc:
            if on_error == "skip":
                errors[name] = str(exc) or type(exc).__name__
                continue
            if name in str(exc):
                raise
            raise type(exc)(f"{name}: {exc}") from exc  # e.g. the network overflowed
        rows.append(row)
        if table is not None:
            tables.append(pd.DataFrame(table))
    if errors:
        listing = "\n".join(f"  {name}: {cause}" for name, cause in errors.items())
        if not rows:
            raise ValueError(f"none of the {len(named)} recordings could be predicted:\n{listing}")
        warnings.warn(
            f"{len(errors)} of {len(named)} recordings could not be read or predicted and "
            f"were skipped:\n{listing}",
            RecordingWarning,
            stacklevel=2,
        )
    columns = ["file", "prediction", *[c for c in classes if c in rows[0]], *_COVERAGE]
    return Bunch(
        predictions=pd.DataFrame(rows, columns=columns),
        windows=pd.concat(tables, ignore_index=True) if windows else None,
        errors=errors,
    )
