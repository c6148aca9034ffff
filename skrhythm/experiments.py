"""The paper's architecture comparison, run with scikit-learn's cross-validation.

:func:`run_comparison` evaluates every (model, patch hop) pair of a
:class:`Protocol` on the same folds with :func:`sklearn.model_selection.cross_validate`,
one fold at a time, and stores each finished fold as a JSON file at once
(written atomically), so an interrupted run loses nothing and ``resume=True``
continues it. Features are computed once per run and cached on disk.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import (
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    cross_validate,
)

from . import __version__
from .classifier import MusicCNNClassifier

__all__ = [
    "MODELS",
    "PROTOCOLS",
    "ModelSpec",
    "Protocol",
    "make_folds",
    "make_model",
    "run_comparison",
    "summarize",
    "write_json_atomic",
]


@dataclass(frozen=True)
class ModelSpec:
    """A model of the comparison.

    Attributes
    ----------
    label : str
        Name in the results table (the poster's wording).
    kind : {"musiccnn", "baseline", "descriptor"}
    params : dict
        Architecture parameters: ``n_onet``/``n_pnet``, ``architecture``, or
        the pipeline factory's name.
    hops : tuple of int or None
        Patch hops the model runs at under the paper protocol (``(None,)``
        for models without patches).
    """

    label: str
    kind: str
    params: dict = field(default_factory=dict)
    hops: tuple = (250, 80)


def _onp(n_onet, n_pnet):
    parts = [f"{k}x " * (k > 1) + name for k, name in ((n_onet, "O-net"), (n_pnet, "P-net")) if k]
    return ModelSpec(" + ".join(parts), "musiccnn", {"n_onet": n_onet, "n_pnet": n_pnet})


#: Models by command-line name, in the poster's order.
MODELS = {
    "onet": _onp(1, 0),
    "pnet": _onp(0, 1),
    "2onet": _onp(2, 0),
    "o+p": _onp(1, 1),
    "2pnet": _onp(0, 2),
    "2o+2p": _onp(2, 2),
    "4o+4p": _onp(4, 4),
    "8o+8p": _onp(8, 8),
    "timefreq": ModelSpec("Time-freq [CBMI 2016]", "baseline", {"architecture": "timefreq"}, (80,)),
    "time": ModelSpec("Time [CBMI 2016]", "baseline", {"architecture": "time"}, (80,)),
    "blackbox": ModelSpec("Black-box [CBMI 2016]", "baseline", {"architecture": "blackbox"}, (80,)),
    "rhythm": ModelSpec("Rhythm descriptor + SVM", "descriptor", {"factory": "rhythm"}, (None,)),
    "tempo": ModelSpec("Tempo only + SVM", "descriptor", {"factory": "tempo"}, (None,)),
}


@dataclass(frozen=True)
class Protocol:
    """How the comparison is run.

    Attributes
    ----------
    name : str
    models : tuple of str
        Keys of :data:`MODELS`.
    hops : tuple of int
        Patch hops for the O-net/P-net models; the baselines use their own
        (80) and the descriptors none.
    n_folds : int
    cv : {"stratified", "paper"}
        ``"stratified"``: stratified folds, group-aware when the data have
        groups (replicas never straddle train and test); ``"paper"``: plain
        shuffled K-fold with seed 11, as in the original code.
    max_epochs : int
    train_split : int, float or None
        Validation tracks held out of each training fold (the paper: 69).
    n_per_class : int
        Tracks per class of the embedded dataset.
    duration : float
        Seconds per track.
    """

    name: str
    models: tuple
    hops: tuple
    n_folds: int
    cv: str = "stratified"
    max_epochs: int = 20
    train_split: int | float | None = None
    n_per_class: int = 20
    duration: float = 30.0


PROTOCOLS = {
    "quick": Protocol(
        "quick",
        models=("onet", "pnet", "o+p", "time", "tempo", "rhythm"),
        hops=(250,),
        n_folds=3,
        max_epochs=15,
        n_per_class=12,
    ),
    "paper": Protocol(
        "paper",
        models=tuple(MODELS),
        hops=(250, 80),
        n_folds=10,
        cv="paper",
        max_epochs=250,
        train_split=69,
        n_per_class=87,
    ),
}


def make_model(name, hop, *, max_epochs, train_split=None, random_state=0, device="cpu",
               sr=44100, hop_length=1024):
    """Build the unfitted estimator of model ``name`` at patch hop ``hop``.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    hop : int or None
        Patch hop (ignored by models without patches).
    max_epochs, train_split, random_state, device
        Training settings of the CNNs.
    sr, hop_length : int
        Feature settings the descriptor pipelines need to convert frames to time.

    Returns
    -------
    estimator : sklearn estimator taking log-mel spectrograms
    """
    spec = MODELS[name]
    training = dict(max_epochs=max_epochs, train_split=train_split,
                    random_state=random_state, device=device)
    if spec.kind == "musiccnn":
        return MusicCNNClassifier(**spec.params, patch_hop=hop, **training)
    if spec.kind == "baseline":
        from .baselines import BaselineCNNClassifier

        return BaselineCNNClassifier(**spec.params, patch_hop=hop, **training)
    from .rhythm import make_rhythm_descriptor_pipeline, make_tempo_pipeline

    factory = {"rhythm": make_rhythm_descriptor_pipeline, "tempo": make_tempo_pipeline}
    return factory[spec.params["factory"]](sr=sr, hop_length=hop_length)


def make_folds(y, groups, n_folds, cv, seed):
    """Train/test index pairs shared by every model.

    Parameters
    ----------
    y : array-like of shape (n_tracks,)
    groups : array-like or None
        Tracks of one group (e.g. replicas) stay in the same fold.
    n_folds : int
    cv : {"stratified", "paper"}
    seed : int
        Shuffling seed of the stratified folds (the paper protocol uses 11).

    Returns
    -------
    folds : list of (train, test) index arrays
    """
    X_dummy = np.zeros(len(y))
    if cv == "paper":
        return list(KFold(n_folds, shuffle=True, random_state=11).split(X_dummy))
    if groups is not None and len(np.unique(groups)) < len(groups):
        splitter = StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
        return list(splitter.split(X_dummy, y, groups))
    return list(StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(X_dummy, y))


def write_json_atomic(path, obj):
    """Write ``obj`` as JSON to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, default=_json_default)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def _patch_accuracy(estimator, X, y):
    """Scorer: fraction of test patches classified correctly (NaN without patches)."""
    if not hasattr(estimator, "predict_patch_proba"):
        return float("nan")
    patch_pred = estimator.predict_patch_proba(X).argmax(axis=2)
    truth = np.searchsorted(estimator.classes_, y)
    return float((patch_pred == truth[:, None]).mean())


def _track_accuracy(estimator, X, y):
    return float((estimator.predict(X) == y).mean())


def _fold_file(out_dir, name, hop, fold):
    return Path(out_dir) / "folds" / f"{name}_hop{hop or 0}_fold{fold}.json"


def _run_fold(name, hop, fold, train, test, X, y, settings, out_dir):
    """Cross-validate one (model, hop) pair on one fold and store the result."""
    estimator = make_model(name, hop, **settings)
    scores = cross_validate(
        estimator,
        X,
        y,
        cv=[(train, test)],
        scoring={"accuracy": _track_accuracy, "patch_accuracy": _patch_accuracy},
        return_estimator=True,
        error_score="raise",
    )
    fitted = scores["estimator"][0]
    record = {
        "model": name,
        "label": MODELS[name].label,
        "hop": hop,
        "fold": fold,
        "params": getattr(fitted, "n_params_", None),
        "accuracy": float(scores["test_accuracy"][0]),
        "patch_accuracy": float(scores["test_patch_accuracy"][0]),
        "fit_time": float(scores["fit_time"][0]),
        "epochs": len(fitted.history_) if hasattr(fitted, "history_") else None,
        "test_index": test,
        "y_true": y[test],
        "y_pred": fitted.predict(X[test]),
    }
    write_json_atomic(_fold_file(out_dir, name, hop, fold), record)
    if fold == 0 and MODELS[name].kind == "musiccnn":
        import joblib

        joblib.dump(fitted, Path(out_dir) / "models" / f"{name}_hop{hop}_fold0.joblib")
    return record


def runs_of(protocol, models=None):
    """(model, hop) pairs of a protocol, in table order."""
    pairs = []
    for name in models or protocol.models:
        spec = MODELS[name]
        hops = protocol.hops if spec.kind == "musiccnn" else spec.hops
        pairs += [(name, hop) for hop in hops]
    return pairs


def run_comparison(X, y, *, protocol, out_dir, groups=None, models=None, n_folds=None,
                   max_epochs=None, seed=0, device="cpu", n_jobs=None, resume=False,
                   feature_params=None, progress=True):
    """Run every (model, hop, fold) of a protocol; return the per-fold records.

    Parameters
    ----------
    X : ndarray of shape (n_tracks, n_mels, n_frames)
        Log-mel spectrograms (from :class:`skrhythm.LogMelTransformer`).
    y : ndarray of shape (n_tracks,)
    protocol : Protocol
    out_dir : path
        Finished folds go to ``out_dir/folds/*.json`` as they complete.
    groups : ndarray or None
    models : sequence of str or None
        Overrides the protocol's models.
    n_folds, max_epochs : int or None
        Override the protocol's values.
    seed : int
        Seeds the folds and every model.
    device : str
    n_jobs : int or None
        (model, fold) tasks run in parallel by joblib (any joblib backend,
        e.g. dask's, applies).
    resume : bool
        Reuse folds already stored in ``out_dir``; without it an ``out_dir``
        holding fold results is refused, so nothing is overwritten.
    feature_params : dict or None
        ``sr`` and ``hop_length`` of the features (for the descriptors).
    progress : bool
        Show a progress bar with a time estimate.

    Returns
    -------
    records : list of dict
    """
    from joblib import Parallel, delayed

    out_dir = Path(out_dir)
    protocol = replace(protocol, n_folds=n_folds or protocol.n_folds,
                       max_epochs=max_epochs or protocol.max_epochs)
    existing = sorted((out_dir / "folds").glob("*.json"))
    if existing and not resume:
        raise FileExistsError(
            f"{out_dir} already holds {len(existing)} fold results; "
            "pass resume=True (--resume) to continue that run, or choose another output folder"
        )
    (out_dir / "models").mkdir(parents=True, exist_ok=True)
    y = np.asarray(y)
    folds = make_folds(y, groups, protocol.n_folds, protocol.cv, seed)
    settings = dict(max_epochs=protocol.max_epochs, train_split=protocol.train_split,
                    random_state=seed, device=device, **(feature_params or {}))
    tasks, records = [], []
    for name, hop in runs_of(protocol, models):
        for fold, (train, test) in enumerate(folds):
            path = _fold_file(out_dir, name, hop, fold)
            if path.exists():
                records.append(json.loads(path.read_text()))
            else:
                tasks.append((name, hop, fold, train, test))
    if not tasks:
        return records
    bar = _progress(len(tasks), len(records), protocol, progress)
    jobs = (delayed(_run_fold)(*task, X, y, settings, out_dir) for task in tasks)
    try:
        for record in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs):
            records.append(record)
            if bar is not None:
                hop = record["hop"] or "-"
                bar.set_postfix_str(f"{record['model']} hop {hop} fold {record['fold']}: "
                                    f"{record['accuracy']:.2f}")
                bar.update()
    finally:
        if bar is not None:
            bar.close()
    return records


def _progress(total, done, protocol, enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total + done, initial=done, unit="fit", dynamic_ncols=True,
                desc=f"models x folds (up to {protocol.max_epochs} epochs each)")


def summarize(records):
    """Table of mean and standard deviation over folds per (model, hop).

    Parameters
    ----------
    records : list of dict
        Per-fold records from :func:`run_comparison`.

    Returns
    -------
    table : pandas.DataFrame
        One row per (model, hop) in :data:`MODELS` order.
    """
    import pandas as pd

    df = pd.DataFrame([{k: r[k] for k in ("model", "label", "hop", "fold", "params", "accuracy",
                                          "patch_accuracy", "fit_time")} for r in records])
    order = {name: i for i, name in enumerate(MODELS)}
    df["hop"] = df["hop"].fillna(0).astype(int)
    table = (
        df.groupby(["model", "hop"], sort=False)
        .agg(
            label=("label", "first"),
            params=("params", "first"),
            folds=("fold", "count"),
            accuracy=("accuracy", "mean"),
            accuracy_std=("accuracy", "std"),
            patch_accuracy=("patch_accuracy", "mean"),
            fit_time=("fit_time", "mean"),
        )
        .reset_index()
    )
    table["accuracy_std"] = table["accuracy_std"].fillna(0.0)
    table = table.sort_values(["model", "hop"], key=lambda s: s.map(order) if s.name == "model"
                              else -s).reset_index(drop=True)
    return table


def run_info(protocol, *, data, seed, device, n_jobs, feature_params, extra=None):
    """The configuration and software versions of a run, for ``config.json``."""
    import librosa
    import sklearn
    import skorch
    import torch

    return {
        "protocol": asdict(protocol),
        "data": data,
        "seed": seed,
        "device": device,
        "n_jobs": n_jobs,
        "features": feature_params,
        "versions": {
            "skrhythm": __version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "skorch": skorch.__version__,
            "torch": torch.__version__,
            "librosa": librosa.__version__,
        },
        "platform": platform.platform(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **(extra or {}),
    }
