"""A saved O-net / P-net pipeline read for prediction alone, without scikit-learn or skops.

Loading a model with :func:`skrhythm.persistence.load_model` imports
scikit-learn, skorch and skops, and builds a whole estimator; that is most of
what one ``skrhythm predict`` of one file costs. :func:`read_saved_cnn`
instead reads a ``.skops`` file that holds a ``Pipeline([LogMelTransformer,
MusicCNNClassifier])`` written by this installation (the same skrhythm
state format, skrhythm, torch and scikit-learn versions) as plain data
(:mod:`skrhythm._skops_schema`: JSON and NumPy arrays, nothing built from
the file), checks it against the bounds the estimators enforce
(:mod:`skrhythm._limits`), and builds the network as the classifier builds
it. :class:`SavedCNN` then predicts with the same functions as the
estimators (:mod:`skrhythm._logmel`, :mod:`skrhythm._prediction`), so its
numbers are theirs, bit for bit.

Anything else gives None: another model or layout, another format or
version, a cache folder or pipeline memory to switch off, a model to run on
a GPU, a value outside the bounds. The caller then loads the file with
:func:`~skrhythm.persistence.load_model`, which checks it in full, migrates,
warns, and reports what is wrong.
"""

from __future__ import annotations

from importlib import metadata as _metadata
from numbers import Real

import numpy as np

from . import __version__
from ._formats import STATE_FORMAT
from ._limits import (
    CNN_BOUNDS,
    LOGMEL_BOUNDS,
    MAX_FRAMES,
    MAX_PARAMS,
    MUSICCNN_BOUNDS,
    fitted_problem,
    interval_problem,
    lengths_problem,
    logmel_problem,
)
from ._logmel import log_mel
from ._prediction import (
    check_finite,
    check_magnitude,
    pad_to_patch,
    patch_hop_of,
    patch_logits,
    softmax,
    track_classes,
    track_proba,
)
from ._skops_schema import SchemaError, SkopsObject, read_schema

__all__ = ["IGNORED_PARAMETERS", "SavedCNN", "read_saved_cnn"]

#: The estimator parameters a saved pipeline holds that prediction does not use, and why.
#: Every other parameter is read (and checked); a test holds the reader to this list, so
#: that a parameter added to an estimator is either read here or named here.
IGNORED_PARAMETERS = {
    "LogMelTransformer": {
        "duration": "every recording is scored whole (predict's --duration crops instead)",
        "pad_mode": "a recording shorter than a window is padded by the classifier",
        "n_jobs": "one recording at a time",
    },
    "MusicCNNClassifier": {
        **{name: "training only" for name in (
            "tempo_augment", "optimizer_params", "lr", "momentum", "nesterov", "max_epochs",
            "lr_schedule", "train_split", "cuda_graphs", "random_state", "verbose",
            "warm_start")},
        "device": "the network runs on the CPU (a model to run on a GPU is not read here)",
    },
}

_PIPELINE = "sklearn.pipeline.Pipeline"
_LOGMEL = "skrhythm.features.LogMelTransformer"
_CNN = "skrhythm.classifier.MusicCNNClassifier"
_COMPRESSIONS = ("log10", "db", "none")


class SavedCNN:
    """An O-net / P-net pipeline for prediction: log-mel settings, network, fitted statistics.

    Offers what :mod:`skrhythm.inference` asks of a model: ``sr``,
    ``hop_length``, ``offset``, ``classes``, ``patch_frames``, ``patch_hop``,
    :meth:`spectrogram` and :meth:`score`.
    """

    def __init__(self, logmel, cnn, module):
        self.sr, self.hop_length = logmel["sr"], logmel["hop_length"]
        self.offset = logmel["offset"]
        self._logmel = {key: logmel[key] for key in
                        ("sr", "n_fft", "hop_length", "n_mels", "fmin", "fmax", "compression")}
        self._logmel["window_name"] = logmel["window"]
        self.labels = cnn["classes_"]
        self.classes = [str(c) for c in self.labels]
        self.patch_frames = cnn["patch_frames"]
        self.patch_hop = patch_hop_of(cnn["patch_hop"], cnn["patch_frames"])
        self.aggregate, self.batch_size = cnn["aggregate"], cnn["batch_size"]
        self.mean, self.std = cnn["mean_"], cnn["std_"]
        self.module = module

    def spectrogram(self, wave):
        """The log-mel spectrogram ``(1, n_mels, n_frames)`` of a waveform, as the pipeline's."""
        wave = np.asarray(wave, dtype=np.float32)
        if wave.size == 0:
            raise ValueError("empty waveform")
        if not np.isfinite(wave).all():
            raise ValueError("waveform contains NaN or infinity")
        S = log_mel(wave, **self._logmel)
        if not np.isfinite(S).all():
            raise ValueError(
                f"the spectrogram overflows float32 (peak amplitude {np.abs(wave).max():.3g}); "
                "scale the audio to about [-1, 1]"
            )
        return S[None]

    def score(self, features):
        """Class, class probabilities and patch probabilities of one track's features."""
        check_magnitude(features, self.mean, self.std)
        logits = patch_logits(self.module, pad_to_patch(features, self.patch_frames, self.mean),
                              mean=self.mean, std=self.std, patch_frames=self.patch_frames,
                              patch_hop=self.patch_hop, batch_size=self.batch_size)
        patch = check_finite(softmax(logits.astype(np.float64), axis=2), self.module)
        return self.labels[track_classes(patch, self.aggregate)[0]], track_proba(patch)[0], patch[0]


def read_saved_cnn(path):
    """The O-net / P-net pipeline a ``.skops`` file holds, or None (see the module docstring).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    model : SavedCNN or None
    """
    if not str(path).lower().endswith(".skops"):
        return None
    try:
        content = read_schema(path)
    except SchemaError:
        return None
    parts = _parts(content)
    if parts is None:
        return None
    logmel, cnn = parts
    return _build(logmel, cnn)


def _installed(metadata):
    """Whether a file's metadata are those this installation writes."""
    import torch

    try:
        sklearn_version = _metadata.version("scikit-learn")
    except _metadata.PackageNotFoundError:
        return False
    return (isinstance(metadata, dict) and metadata.get("kind") == "skrhythm-model"
            and metadata.get("format") == STATE_FORMAT and metadata.get("skrhythm") == __version__
            and metadata.get("torch") == str(torch.__version__)
            and metadata.get("sklearn") == sklearn_version)


def _parts(content):
    """The state dicts of the log-mel step and the classifier, when the file is one we read."""
    if not isinstance(content, dict) or not _installed(content.get("metadata")):
        return None
    model = content.get("model")
    if not (isinstance(model, SkopsObject) and model.type_name == _PIPELINE
            and model.state.get("memory") is None):
        return None
    steps = model.state.get("steps")
    if not (isinstance(steps, list) and len(steps) == 2
            and all(isinstance(s, tuple) and len(s) == 2 for s in steps)):
        return None
    (_, logmel), (_, cnn) = steps
    if not (isinstance(logmel, SkopsObject) and logmel.type_name == _LOGMEL
            and isinstance(cnn, SkopsObject) and cnn.type_name == _CNN):
        return None
    logmel, cnn = logmel.state, cnn.state
    for state in (logmel, cnn):
        if state.get("_skrhythm_format") != STATE_FORMAT or (
                state.get("_skrhythm_version") != __version__):
            return None
    if logmel.get("cache") is not None or cnn.get("callbacks") is not None:
        return None  # load_model switches the cache off, with a warning; callbacks: types
    if not str(cnn.get("optimizer", "")).startswith("torch.optim."):
        return None
    return (logmel, cnn) if _valid(logmel, cnn) else None


def _valid(logmel, cnn):
    """Whether every value the prediction uses is within the estimators' bounds."""
    from .nn import IMPLEMENTATIONS

    bounded = [(name, logmel.get(name), *b) for name, b in LOGMEL_BOUNDS.items()]
    bounded += [(name, cnn.get(name), *b)
                for name, b in {**CNN_BOUNDS, **MUSICCNN_BOUNDS}.items()]
    if cnn.get("patch_hop") is not None:
        bounded.append(("patch_hop", cnn["patch_hop"], 1, MAX_FRAMES))
    if any(interval_problem(*entry) for entry in bounded):
        return False

    def real(value, least):
        return (isinstance(value, Real) and not isinstance(value, bool) and np.isfinite(value)
                and value >= least)

    if not (real(logmel.get("fmin"), 0) and real(logmel.get("offset"), 0)
            and (logmel.get("fmax") is None or real(logmel["fmax"], 0))
            and real(cnn.get("mean_"), -np.inf)
            and real(cnn.get("dropout"), 0) and cnn["dropout"] < 1):
        return False
    classes = cnn.get("classes_")
    if not (isinstance(classes, np.ndarray) and classes.ndim == 1 and classes.dtype.kind in "iuU"):
        return False
    problems = (
        logmel_problem(logmel["sr"], logmel["hop_length"], None),
        lengths_problem("onet_lengths", cnn.get("onet_lengths")),
        lengths_problem("pnet_lengths", cnn.get("pnet_lengths")),
        fitted_problem(len(classes), cnn.get("n_bands_in_"), cnn["mean_"], cnn.get("std_")),
    )
    return not any(problems) and (
        isinstance(logmel.get("window"), str)
        and logmel.get("compression") in _COMPRESSIONS
        and cnn.get("aggregate") in ("vote", "mean")
        and cnn.get("filterbank") in IMPLEMENTATIONS
        and cnn.get("n_features_in_") == cnn["n_bands_in_"] == logmel["n_mels"]
        and cnn["n_onet"] + cnn["n_pnet"] > 0
    )


def _build(logmel, cnn):
    """The network of the classifier's state, built as the classifier builds it, or None."""
    import torch

    from .nn.musiccnn import MusicCNN, network_arguments

    device = str(cnn.get("device_", "cpu"))
    if device != "cpu" and torch.cuda.is_available():
        return None  # load_model puts it on its GPU
    net_state = cnn.get("_net_state")
    if not isinstance(net_state, dict) or not isinstance(net_state.get("module"), dict):
        return None
    arrays = net_state["module"]
    kwargs = network_arguments(cnn)
    shape = (cnn["n_bands_in_"], len(cnn["classes_"]))
    if max(kwargs["onet_lengths"] + kwargs["pnet_lengths"]) > cnn["patch_frames"]:
        return None
    with torch.device("meta"):
        probe = MusicCNN(*shape, **kwargs)
    if sum(p.numel() for p in probe.parameters()) > MAX_PARAMS:
        return None
    expected = {name: tuple(t.shape) for name, t in probe.state_dict().items()}
    if set(arrays) != set(expected) or any(
            not isinstance(arrays[n], np.ndarray) or arrays[n].dtype != np.float32
            or arrays[n].shape != expected[n] or not np.isfinite(arrays[n]).all()
            for n in expected):
        return None
    with torch.random.fork_rng(devices=[]):  # the module's initial weights are drawn
        module = MusicCNN(*shape, **kwargs)
    module.load_state_dict({name: torch.from_numpy(np.array(a)) for name, a in arrays.items()})
    return SavedCNN(logmel, cnn, module.eval())
