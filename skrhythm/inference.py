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

What the loop over recordings asks of a model (``sr``, ``hop_length``,
``offset``, ``classes``, ``patch_frames``, ``patch_hop``, ``spectrogram``,
``score``) is offered by :class:`_PipelineScorer` for a fitted pipeline and by
:class:`skrhythm._saved_model.SavedCNN` for a model file ``skrhythm predict``
reads without scikit-learn; the module imports scikit-learn only for the
former.
"""

from __future__ import annotations

import os
import warnings
from numbers import Real

import numpy as np

from ._prediction import check_finite, patch_starts, track_classes, track_proba
from .audio import audio_duration, find_audio_files, load_audio

__all__ = [
    "RESERVED_NAMES", "RecordingWarning", "check_model_file", "load_for_prediction",
    "predict_recordings", "predict_tables",
]

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


class _PipelineScorer:
    """A fitted pipeline as the loop over recordings uses it.

    Its log-mel step computes each recording's spectrogram whole (its
    ``duration`` and ``pad_mode`` are not used); a patch CNN at the end scores
    every window, with its own aggregation, from one pass of the network.
    """

    def __init__(self, model, windows):
        from sklearn.base import clone
        from sklearn.pipeline import Pipeline
        from sklearn.utils.validation import check_is_fitted

        from ._cnn_base import BasePatchCNNClassifier
        from .features import LogMelTransformer

        if not (isinstance(model, Pipeline) and isinstance(model.steps[0][1], LogMelTransformer)
                and len(model.steps) > 1):
            raise TypeError(
                "model must be a fitted Pipeline whose first step is a LogMelTransformer, as "
                f"'skrhythm train' writes; got {type(model).__name__}"
            )
        check_is_fitted(model)
        self.rest, self.final = model[1:], model.steps[-1][1]
        self.cnn = isinstance(self.final, BasePatchCNNClassifier)
        if windows and not self.cnn:
            raise ValueError(
                f"windows=True needs a patch CNN as the pipeline's last step; "
                f"{type(self.final).__name__} computes one set of features from each whole "
                "recording and has no windows"
            )
        self.logmel = clone(model.steps[0][1]).set_params(duration=None, n_jobs=None)
        self.sr, self.hop_length = self.logmel.sr, self.logmel.hop_length
        self.offset = self.logmel.offset
        self.classes = [str(c) for c in model.classes_]
        self.patch_frames = self.final.patch_frames if self.cnn else None
        self.patch_hop = self.final.effective_patch_hop if self.cnn else None

    def spectrogram(self, wave):
        features = self.logmel.transform([wave])
        return self.rest[:-1].transform(features) if len(self.rest) > 1 else features

    def score(self, features):
        """Class, class probabilities (or None) and patch probabilities (or None)."""
        final = self.final
        if self.cnn:
            patch = check_finite(final.predict_patch_proba(features), final.net_.module_)
            return (final.classes_[track_classes(patch, final.aggregate)[0]],
                    track_proba(patch)[0], patch[0])
        proba = final.predict_proba(features)[0] if hasattr(final, "predict_proba") else None
        return final.predict(features)[0], proba, None


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


def _predict_one(name, wave, seconds, scorer, duration, windows):
    """Prediction, coverage and (optionally) window table of one decoded recording.

    ``seconds`` is the recording's whole length, of which ``wave`` may hold
    only the first ``duration`` seconds and more.
    """
    sr, hop_length = scorer.sr, scorer.hop_length
    cropped = duration is not None and wave.size > round(duration * sr)
    if cropped:
        wave = wave[: round(duration * sr)]
    features = scorer.spectrogram(wave)
    prediction, proba, patch = scorer.score(features)
    row, table = {"file": name, "prediction": prediction}, None
    if scorer.patch_frames is not None:
        n_frames, size = features.shape[2], scorer.patch_frames
        starts = (patch_starts(n_frames, size, scorer.patch_hop) if n_frames >= size
                  else np.zeros(1, dtype=int))
        padded = n_frames < size
        if padded:
            warnings.warn(
                f"{name}: its {wave.size / sr:.2f} s are shorter than one window of the model "
                f"({size * hop_length / sr:.2f} s), so it was padded with the training mean: "
                f"the prediction rests on {wave.size / sr:.2f} s of audio",
                RecordingWarning,
                stacklevel=4,
            )
        used = min(wave.size / sr, (starts[-1] + size) * hop_length / sr)
        if windows:
            table = {"file": [name] * len(starts), "start": starts * hop_length / sr,
                     "end": (starts + size) * hop_length / sr}
            table.update({c: patch[:, k] for k, c in enumerate(scorer.classes)})
        row.update(seconds=seconds, seconds_used=used, n_windows=len(starts), padded=padded)
    else:  # whole-recording features, no windows
        row.update(seconds=seconds, seconds_used=wave.size / sr, n_windows=0, padded=False)
    row["cropped"] = cropped
    if proba is not None:
        row.update(zip(scorer.classes, proba))
    return row, table


def check_model_file(path):
    """Raise FileNotFoundError naming ``path`` unless it is a file, before anything is read.

    What :func:`load_for_prediction` and ``skrhythm predict`` check first, so
    that a mistyped name is reported at once, not after torch has loaded.
    """
    if not os.path.isfile(path):
        what = "is a folder, not a model file" if os.path.isdir(path) else "no such file"
        raise FileNotFoundError(f"{os.fspath(path)}: {what} (a model file is written by "
                                "skrhythm train or skrhythm.persistence.save_model)")


def load_for_prediction(path, *, trusted=None, notify=None):
    """A model file loaded for prediction only, as fast as it can be, and ready to predict.

    A ``.skops`` file of an O-net / P-net pipeline written by this
    installation (as ``skrhythm train`` writes it) is read without
    scikit-learn, skorch or skops (:func:`skrhythm._saved_model.read_saved_cnn`):
    a new process predicts in about the time torch takes to import. Any other
    file is loaded by :func:`skrhythm.persistence.load_model`, with its checks.
    A network that runs skrhythm's CPU kernels has them prepared
    (:func:`skrhythm.nn.prepare_kernels`), so that the first prediction
    does not wait for them.

    Parameters
    ----------
    path : str or path-like
    trusted : bool, list of str or None
        As for :func:`~skrhythm.persistence.load_model`.
    notify : callable or None
        Called with a one-line message when the CPU kernels are compiled for
        this machine (once; later loads find them in the cache).

    Returns
    -------
    model : Pipeline or SavedCNN
        For :func:`predict_recordings` or :func:`predict_tables`.

    Raises
    ------
    FileNotFoundError
        If there is no such file, before anything is imported or read.
    """
    check_model_file(path)
    from ._saved_model import SavedCNN, read_saved_cnn

    model = read_saved_cnn(path)
    if model is None:
        from .persistence import load_model

        model = load_model(path, trusted=trusted)
    if isinstance(model, SavedCNN):
        network = model.module
    else:
        network = getattr(getattr(model[-1], "net_", None), "module_", None)
    if network is not None:
        from .nn import prepare_kernels, uses_cpu_kernels

        if uses_cpu_kernels(network):
            prepare_kernels(training=False, notify=notify)
    return model


def predict_tables(model, recordings, *, duration=None, windows=False, on_error="raise",
                   progress=False):
    """:func:`predict_recordings`'s tables as a tuple, without importing scikit-learn.

    ``model`` may also be what :func:`load_for_prediction` returns.

    Returns
    -------
    predictions, windows, errors
        The fields of :func:`predict_recordings`'s result.
    """
    return _predict(model, recordings, duration=duration, windows=windows, on_error=on_error,
                    progress=progress)


def _predict(model, recordings, *, duration, windows, on_error, progress):
    """The tables of both public functions, which call it directly (warnings' stack level)."""
    import pandas as pd

    from ._saved_model import SavedCNN

    scorer = model if isinstance(model, SavedCNN) else _PipelineScorer(model, windows)
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if duration is not None and (not isinstance(duration, Real) or duration <= 0):
        raise ValueError(f"duration must be a positive number of seconds or None, got {duration}")
    clash = sorted(set(scorer.classes) & set(RESERVED_NAMES))
    if clash:
        raise ValueError(f"class names {clash} clash with the names of the output's columns "
                         f"({', '.join(RESERVED_NAMES)}); train the model with other labels")
    named = _named_inputs(recordings)
    if progress:
        from tqdm.auto import tqdm

        named = tqdm(named, desc="predicting", unit="recording")
    rows, tables, errors = [], [], {}
    for name, item in named:
        try:
            wave, seconds = _decoded(item, scorer.sr, scorer.offset, duration)
            row, table = _predict_one(name, wave, seconds, scorer, duration, windows)
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
            raise ValueError(f"none of the {len(errors)} recordings could be predicted:\n"
                             f"{listing}")
        warnings.warn(
            f"{len(errors)} of {len(rows) + len(errors)} recordings could not be read or "
            f"predicted and were skipped:\n{listing}",
            RecordingWarning,
            stacklevel=3,
        )
    columns = ["file", "prediction", *[c for c in scorer.classes if c in rows[0]], *_COVERAGE]
    return (pd.DataFrame(rows, columns=columns),
            pd.concat(tables, ignore_index=True) if windows else None, errors)


def predict_recordings(
    model, recordings, *, duration=None, windows=False, on_error="raise", progress=False
):
    """Predict the class of whole recordings from all their windows.

    Parameters
    ----------
    model : Pipeline or SavedCNN
        Fitted (or read by :func:`load_for_prediction`); its first step a
        :class:`~skrhythm.LogMelTransformer` whose settings (``sr``,
        ``hop_length``, ``n_mels``, ``offset``, ...) are used,
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
    from sklearn.utils import Bunch

    predictions, table, errors = _predict(model, recordings, duration=duration, windows=windows,
                                          on_error=on_error, progress=progress)
    return Bunch(predictions=predictions, windows=table, errors=errors)
