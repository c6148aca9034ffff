"""The paper's architecture comparison, run with scikit-learn's cross-validation.

:func:`run_comparison` evaluates every (model, patch hop) pair of a
:class:`Protocol` on the same folds with :func:`sklearn.model_selection.cross_validate`,
one fold at a time, and stores each finished fold as a JSON file at once,
so an interrupted run loses nothing and ``resume=True`` continues it.

A run folder is safe to interrupt or crash at any instant: one run at a time
holds it (:func:`run_folder_lock`); every file is written atomically (see
:mod:`skrhythm._store`); a fold's model is written before the fold's record,
which names the model file and its checksum; a record is written only for a
fit that ran to its end (a Ctrl-C raises out of the fit) and says so
(``"complete": true``), with the fingerprint of the settings, folds and data
it was computed with. On resume every record is checked
(:func:`read_fold_record`) and a damaged, foreign or incomplete one is an
error naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
import warnings
from contextlib import contextmanager
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
from ._store import atomic_write, sha256
from .classifier import MusicCNNClassifier, resolve_device

__all__ = [
    "MODELS",
    "PROTOCOLS",
    "ModelSpec",
    "Protocol",
    "RunFolderError",
    "RunFolderLocked",
    "make_folds",
    "make_model",
    "read_fold_record",
    "run_comparison",
    "run_folder_lock",
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


class RunFolderError(ValueError):
    """A file of a run folder is damaged, incomplete or from another run; names the file."""


class RunFolderLocked(RuntimeError):
    """Another process is running on the same run folder."""


def write_json_atomic(path, obj):
    """Write ``obj`` as JSON to ``path`` atomically (temporary file, fsync, rename)."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=1, default=_json_default)


_LOCK_NAME = ".skrhythm-run.lock"
_held_locks = {}


@contextmanager
def run_folder_lock(out_dir):
    """Hold an exclusive lock on a run folder for the block (re-entrant in one process).

    Raises
    ------
    RunFolderLocked
        If another process holds it.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    key = out_dir.resolve()
    if key in _held_locks:
        _held_locks[key] += 1
        try:
            yield
        finally:
            _held_locks[key] -= 1
        return
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform
        fcntl = None
    fd = os.open(out_dir / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
                raise RunFolderLocked(
                    f"{out_dir} is in use by another skrhythm run ({holder}); wait for it to "
                    "finish, or choose another output folder"
                ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}"
                  .encode(), 0)
        _held_locks[key] = 1
        try:
            yield
        finally:
            del _held_locks[key]
    finally:
        os.close(fd)  # releases the lock


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


#: Format of the fold records; records of another format are refused on resume.
RECORD_FORMAT = 2

#: Keys and types every fold record holds.
_RECORD_TYPES = {
    "model": str, "hop": (int, type(None)), "fold": int, "label": str,
    "params": (int, type(None)), "accuracy": float, "patch_accuracy": float,
    "fit_time": float, "epochs": (int, type(None)), "max_epochs": int,
    "test_index": list, "y_true": list, "y_pred": list, "fingerprint": str,
    "settings": dict, "model_file": (str, type(None)), "model_sha256": (str, type(None)),
}


def _fingerprint(name, hop, fold, train, test, y, settings, data_digest):
    """Hash of everything a fold's result depends on (the device aside)."""
    digest = hashlib.sha256(json.dumps(
        {"model": name, "hop": hop, "fold": fold, "settings": settings, "data": data_digest,
         "format": RECORD_FORMAT},
        sort_keys=True, default=str).encode())
    for array in (np.asarray(train, np.int64), np.asarray(test, np.int64)):
        digest.update(array.tobytes())
    digest.update(json.dumps(np.asarray(y).tolist(), default=str).encode())
    return digest.hexdigest()


def _data_digest(X):
    digest = hashlib.sha256(f"{X.dtype.str}{X.shape}".encode())
    digest.update(np.ascontiguousarray(X).view(np.uint8))
    return digest.hexdigest()


def _record_settings(settings):
    return {k: v for k, v in settings.items() if k != "device"}


def _run_fold(name, hop, fold, train, test, X, y, settings, out_dir, fingerprint):
    """Cross-validate one (model, hop) pair on one fold and store the result.

    The fitted model (O-net/P-net models, fold 0) is written before the
    record that names it, both atomically, so a crash at any point leaves
    either a complete fold or a fold that ``resume`` computes again.
    """
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
    model_file = model_sha256 = None
    if fold == 0 and MODELS[name].kind == "musiccnn":
        import joblib

        model_file = f"models/{name}_hop{hop}_fold0.joblib"
        with atomic_write(Path(out_dir) / model_file) as f:
            joblib.dump(fitted, f)
        model_sha256 = sha256(Path(out_dir) / model_file)
    history = getattr(fitted, "history_", None)
    record = {
        "format": RECORD_FORMAT,
        "complete": True,
        "model": name,
        "label": MODELS[name].label,
        "hop": hop,
        "fold": fold,
        "params": getattr(fitted, "n_params_", None),
        "accuracy": float(scores["test_accuracy"][0]),
        "patch_accuracy": float(scores["test_patch_accuracy"][0]),
        "fit_time": float(scores["fit_time"][0]),
        "epochs": len(history) if history is not None else None,
        "max_epochs": settings["max_epochs"],
        "stopped_by": (history[-1].get("stopped_by") if history is not None and len(history)
                       else None),
        "settings": _record_settings(settings),
        "fingerprint": fingerprint,
        "model_file": model_file,
        "model_sha256": model_sha256,
        "test_index": test,
        "y_true": y[test],
        "y_pred": fitted.predict(X[test]),
    }
    write_json_atomic(_fold_file(out_dir, name, hop, fold), record)
    return record


def read_fold_record(path, *, fingerprint=None, out_dir=None):
    """Read and check a fold record; raise :class:`RunFolderError` naming the file if bad.

    Parameters
    ----------
    path : path
    fingerprint : str or None
        The fingerprint the fold must have been computed with (settings,
        folds and data of the current run); ``None`` skips that check.
    out_dir : path or None
        The run folder; when given, the model file the record names is
        checked against its checksum.

    Returns
    -------
    record : dict
    """
    path = Path(path)
    fix = f"delete {path} and run again with --resume (resume=True) to compute that fold anew"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunFolderError(f"fold result {path} is damaged ({exc}); {fix}") from None
    if not isinstance(record, dict):
        raise RunFolderError(f"fold result {path} is damaged (not a JSON object); {fix}")
    if record.get("format") != RECORD_FORMAT or record.get("complete") is not True:
        raise RunFolderError(
            f"fold result {path} is not marked as a complete fold of this skrhythm's format "
            "(older versions recorded interrupted fits as finished); " + fix
        )
    for key, types in _RECORD_TYPES.items():
        value = record.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float) if types is float
                                                      else types):
            what = "missing" if key not in record else f"{type(value).__name__}, invalid"
            raise RunFolderError(f"fold result {path} is damaged ({key!r} {what}); {fix}")
    if not 0.0 <= record["accuracy"] <= 1.0:
        raise RunFolderError(f"fold result {path} is damaged (accuracy "
                             f"{record['accuracy']!r} outside [0, 1]); {fix}")
    if fingerprint is not None and record["fingerprint"] != fingerprint:
        raise RunFolderError(
            f"fold result {path} was computed with other settings, folds or data than this "
            f"run ({record['settings']}); resume with the options of that run, or choose "
            "another output folder"
        )
    if out_dir is not None and record["model_file"] is not None:
        model = Path(out_dir) / record["model_file"]
        if not model.is_file() or sha256(model) != record["model_sha256"]:
            state = "missing" if not model.is_file() else "damaged (checksum mismatch)"
            raise RunFolderError(
                f"model file {model}, written with fold result {path}, is {state}; delete "
                f"{path} and run again with --resume (resume=True) to compute the fold and "
                "its model anew"
            )
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
        e.g. dask's, applies). On a CUDA device fits run one at a time
        (with a warning if ``n_jobs`` asks for more): parallel fits would
        compete for the one GPU and each would hold its own CUDA context.
    resume : bool
        Reuse folds already stored in ``out_dir``; without it an ``out_dir``
        holding fold results is refused, so nothing is overwritten. Stored
        folds are checked: a damaged one, one of other settings or data, or
        one whose model file is damaged raises :class:`RunFolderError`.
    feature_params : dict or None
        ``sr`` and ``hop_length`` of the features (for the descriptors).
    progress : bool
        Show a progress bar with a time estimate.

    Returns
    -------
    records : list of dict

    Raises
    ------
    RunFolderLocked
        If another process runs on ``out_dir``.
    RunFolderError
        If a stored fold result is damaged or from another configuration.
    """
    with run_folder_lock(out_dir):
        return _run_comparison(X, y, protocol=protocol, out_dir=out_dir, groups=groups,
                               models=models, n_folds=n_folds, max_epochs=max_epochs,
                               seed=seed, device=device, n_jobs=n_jobs, resume=resume,
                               feature_params=feature_params, progress=progress)


def _run_comparison(X, y, *, protocol, out_dir, groups, models, n_folds, max_epochs, seed,
                    device, n_jobs, resume, feature_params, progress):
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
    data_digest = _data_digest(np.asarray(X))
    fingerprint_settings = {**_record_settings(settings), "cv": protocol.cv,
                            "n_folds": protocol.n_folds}
    tasks, records = [], []
    for name, hop in runs_of(protocol, models):
        for fold, (train, test) in enumerate(folds):
            path = _fold_file(out_dir, name, hop, fold)
            fingerprint = _fingerprint(name, hop, fold, train, test, y, fingerprint_settings,
                                       data_digest)
            if path.exists():
                records.append(read_fold_record(path, fingerprint=fingerprint, out_dir=out_dir))
            else:
                tasks.append((name, hop, fold, train, test, fingerprint))
    if not tasks:
        return records
    n_jobs = _jobs_for_device(n_jobs, device)
    bar = _progress(len(tasks), len(records), protocol, progress)
    jobs = (delayed(_run_fold)(name, hop, fold, train, test, X, y, settings, out_dir, fingerprint)
            for name, hop, fold, train, test, fingerprint in tasks)
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


def _jobs_for_device(n_jobs, device):
    """One job on a CUDA device (fits would compete for the GPU), ``n_jobs`` otherwise."""
    if not str(resolve_device(device)).startswith("cuda") or n_jobs in (None, 1):
        return n_jobs
    warnings.warn(
        f"n_jobs={n_jobs} ignored on device {device!r}: fits on one GPU run one at a time",
        UserWarning,
        stacklevel=3,
    )
    return 1


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
