"""The paper's architecture comparison, run with scikit-learn's cross-validation.

:func:`compare` is the whole comparison, what ``skrhythm compare`` runs: it
reads the data, computes and caches the features, runs the fits and writes
the tables (:func:`write_tables`), plots (:func:`write_plots`) and
``config.json`` to a run folder. :func:`run_comparison` evaluates every (model, patch hop) pair of a
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
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import (
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    cross_validate,
)

from . import __version__
from ._spec import (
    DATA_LOADERS,
    MODELS,
    PROTOCOLS,
    ModelSpec,
    OptionError,
    Protocol,
    parse_data_spec,
    run_label,
)
from ._store import DamagedFileError, atomic_write, load_array, save_array, sha256
from .classifier import MusicCNNClassifier, resolve_device
from .parallel import limit_torch_threads, workers_die_with_this_process

__all__ = [
    "MODELS",
    "PROTOCOLS",
    "DataListing",
    "ModelSpec",
    "OptionError",
    "Protocol",
    "RunFolderError",
    "RunFolderLocked",
    "check_run_options",
    "compare",
    "comparison_features",
    "comparison_statistics",
    "check_folds",
    "class_tempo_ranges",
    "default_threads",
    "git_commit",
    "list_data",
    "load_data",
    "make_folds",
    "make_model",
    "make_protocol",
    "markdown_table",
    "pairwise_markdown",
    "read_fold_record",
    "run_comparison",
    "run_folder_lock",
    "summarize",
    "write_json_atomic",
    "write_plots",
    "write_tables",
]


def make_model(name, hop, *, max_epochs, train_split=None, random_state=0, device="cpu",
               optimizer_params=None, sr=44100, hop_length=1024):
    """Build the unfitted estimator of model ``name`` at patch hop ``hop``.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    hop : int or None
        Patch hop (ignored by models without patches).
    max_epochs, train_split, random_state, device, optimizer_params
        Training settings of the CNNs.
    sr, hop_length : int
        Feature settings the descriptor pipelines need to convert frames to time.

    Returns
    -------
    estimator : sklearn estimator taking log-mel spectrograms
    """
    spec = MODELS[name]
    training = dict(max_epochs=max_epochs, train_split=train_split, random_state=random_state,
                    device=device, optimizer_params=optimizer_params)
    if spec.kind == "musiccnn":
        return MusicCNNClassifier(**spec.params, patch_hop=hop, **training)
    if spec.kind == "baseline":
        from .baselines import BaselineCNNClassifier

        return BaselineCNNClassifier(**spec.params, patch_hop=hop, **training)
    from .rhythm import make_rhythm_descriptor_pipeline, make_tempo_pipeline

    factory = {"rhythm": make_rhythm_descriptor_pipeline, "tempo": make_tempo_pipeline}
    return factory[spec.params["factory"]](sr=sr, hop_length=hop_length)


def make_folds(y, groups, n_folds, cv, seed, repeat=0):
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
    repeat : int, default=0
        Repetition of the cross-validation: its folds are shuffled with seed
        ``seed + repeat`` (``11 + repeat`` under the paper protocol).

    Returns
    -------
    folds : list of (train, test) index arrays
    """
    X_dummy = np.zeros(len(y))
    seed = seed + repeat
    if cv == "paper":
        return list(KFold(n_folds, shuffle=True, random_state=11 + repeat).split(X_dummy))
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


def _fold_file(out_dir, name, hop, repeat, fold):
    """``folds/{model}_hop{hop}_fold{fold}.json``, with ``_rep{repeat}`` before ``_fold`` for
    repeats after the first."""
    rep = f"_rep{repeat}" if repeat else ""
    return Path(out_dir) / "folds" / f"{name}_hop{hop or 0}{rep}_fold{fold}.json"


#: Format of the fold records; records of another format are refused on resume.
RECORD_FORMAT = 3

#: Keys and types every fold record holds.
_RECORD_TYPES = {
    "model": str, "hop": (int, type(None)), "repeat": int, "fold": int, "label": str,
    "params": (int, type(None)), "accuracy": float, "patch_accuracy": float,
    "fit_time": float, "epochs": (int, type(None)), "max_epochs": int,
    "test_index": list, "y_true": list, "y_pred": list, "fingerprint": str,
    "settings": dict, "model_file": (str, type(None)), "model_sha256": (str, type(None)),
}


def _fingerprint(name, hop, repeat, fold, train, test, y, settings, data_digest):
    """Hash of everything a fold's result depends on (the device and threads aside)."""
    digest = hashlib.sha256(json.dumps(
        {"model": name, "hop": hop, "repeat": repeat, "fold": fold, "settings": settings,
         "data": data_digest, "format": RECORD_FORMAT},
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


def _run_fold(name, hop, repeat, fold, train, test, X, y, settings, fingerprint, threads=None,
              epoch_sink=None):
    """Cross-validate one (model, hop) pair on one fold; return its record and fitted model.

    This runs in the worker processes, which write nothing: the run's own
    process, the one holding the run folder's lock, stores what they return
    (:func:`_store_fold`), so a worker orphaned by a killed run can never write
    into a folder another run holds. The fitted model is returned for the
    O-net/P-net models of fold 0 of the first repeat (the models the run
    keeps), else None. ``threads`` limits torch's threads during the fit;
    ``epoch_sink`` (an :class:`_EpochBar`) shows the epochs of the CNNs.
    """
    estimator = make_model(name, hop, **settings)
    restore = None
    if epoch_sink is not None:
        from .training import show_epochs

        restore = show_epochs(estimator, epoch_sink)
    if restore is not None:
        rep = f" repeat {repeat}" if repeat else ""
        epoch_sink.reset(f"{name} hop {hop}{rep} fold {fold}", settings["max_epochs"])
    with limit_torch_threads(threads) if threads else nullcontext():
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
    if restore is not None:
        restore(fitted)  # the stored model holds no progress display
    history = getattr(fitted, "history_", None)
    record = {
        "format": RECORD_FORMAT,
        "complete": True,
        "model": name,
        "label": MODELS[name].label,
        "hop": hop,
        "repeat": repeat,
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
        "model_file": None,
        "model_sha256": None,
        "test_index": test,
        "y_true": y[test],
        "y_pred": fitted.predict(X[test]),
    }
    keep = repeat == 0 and fold == 0 and MODELS[name].kind == "musiccnn"
    return record, fitted if keep else None


def _store_fold(out_dir, record, fitted):
    """Write a fold's model (if any), then its record naming the model, both atomically.

    So a crash at any point leaves either a complete fold or a fold that
    ``resume`` computes again. Called only by the process holding the run
    folder's lock.
    """
    if fitted is not None:
        import joblib

        name, hop = record["model"], record["hop"]
        model_file = f"models/{name}_hop{hop}_fold0.joblib"
        with atomic_write(Path(out_dir) / model_file) as f:
            joblib.dump(fitted, f)
        record = {**record, "model_file": model_file,
                  "model_sha256": sha256(Path(out_dir) / model_file)}
    write_json_atomic(_fold_file(out_dir, record["model"], record["hop"], record["repeat"],
                                 record["fold"]), record)
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
                   max_epochs=None, repeats=1, seed=0, device="cpu", n_jobs=None, threads=None,
                   resume=False, feature_params=None, progress=True):
    """Run every (model, hop, repeat, fold) of a protocol; return the per-fold records.

    :func:`compare` calls this and writes the tables and plots; call it
    directly to run the fits on features of your own.

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
    repeats : int, default=1
        Cross-validations run, repeat ``r`` on folds shuffled with seed
        ``seed + r`` (see :func:`make_folds`); every model sees the same folds.
    seed : int
        Seeds the folds and every model.
    device : str
    n_jobs : int or None
        (model, fold) tasks run in parallel by joblib (any joblib backend,
        e.g. dask's, applies). On a CUDA device fits run one at a time
        (with a warning if ``n_jobs`` asks for more): parallel fits would
        compete for the one GPU and each would hold its own CUDA context.
    threads : int or None
        torch threads of each fit (in every worker); ``None`` leaves torch's
        setting.
    resume : bool
        Reuse folds already stored in ``out_dir``; without it an ``out_dir``
        holding fold results is refused, so nothing is overwritten. Stored
        folds are checked: a damaged one, one of other settings or data, or
        one whose model file is damaged raises :class:`RunFolderError`.
    feature_params : dict or None
        ``sr`` and ``hop_length`` of the features (for the descriptors).
    progress : bool
        In a terminal: a bar over the fits, with the last fit's accuracy and
        a time estimate weighted by each model's measured cost, and, for
        fits run one at a time, a bar over the epochs of the current fit.
        Elsewhere (a log file): one line per finished fit.

    Returns
    -------
    records : list of dict
        One per (model, hop, repeat, fold): ``model``, ``hop``, ``repeat``,
        ``fold``, ``accuracy`` (track accuracy of the fold), ``y_true``,
        ``y_pred``, ``test_index``, ``fit_time``, ``params``, ... (see the
        JSON files in ``out_dir/folds``).

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
                               repeats=repeats, seed=seed, device=device, n_jobs=n_jobs,
                               threads=threads, resume=resume, feature_params=feature_params,
                               progress=progress)


def _run_comparison(X, y, *, protocol, out_dir, groups, models, n_folds, max_epochs, repeats,
                    seed, device, n_jobs, threads, resume, feature_params, progress):
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
    settings = dict(max_epochs=protocol.max_epochs, train_split=protocol.train_split,
                    optimizer_params=protocol.optimizer_params, random_state=seed,
                    device=device, **(feature_params or {}))
    data_digest = _data_digest(np.asarray(X))
    fingerprint_settings = {**_record_settings(settings), "cv": protocol.cv,
                            "n_folds": protocol.n_folds}
    tasks, records = [], []
    for repeat in range(repeats):
        folds = make_folds(y, groups, protocol.n_folds, protocol.cv, seed, repeat)
        for name, hop in runs_of(protocol, models):
            for fold, (train, test) in enumerate(folds):
                path = _fold_file(out_dir, name, hop, repeat, fold)
                fingerprint = _fingerprint(name, hop, repeat, fold, train, test, y,
                                           fingerprint_settings, data_digest)
                if path.exists():
                    records.append(read_fold_record(path, fingerprint=fingerprint,
                                                    out_dir=out_dir))
                else:
                    tasks.append((name, hop, repeat, fold, train, test, fingerprint))
    if not tasks:
        return records
    n_jobs = _jobs_for_device(n_jobs, device)
    if resolve_device(device) == "cpu" and any(MODELS[t[0]].kind == "musiccnn" for t in tasks):
        # compiled once here (and cached for the workers): no fit's time holds the compile
        from .nn._kernels._numba import prepare_kernels

        prepare_kernels(notify=_say if progress else None)
    display = _FitProgress(tasks, len(records), protocol, X.shape[2], n_jobs, progress)
    jobs = (delayed(_run_fold)(name, hop, repeat, fold, train, test, X, y, settings,
                               fingerprint, threads, display.epochs)
            for name, hop, repeat, fold, train, test, fingerprint in tasks)
    try:
        with workers_die_with_this_process():
            for record, fitted in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs):
                records.append(_store_fold(out_dir, record, fitted))
                display.finished(records[-1])
    finally:
        display.close()
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


def _effective_jobs(n_jobs):
    """Number of workers joblib runs for ``n_jobs`` (None: 1; -1: every core)."""
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return n_jobs


def _prior_cost(name, hop, max_epochs, n_frames):
    """Rough relative cost of a fit, used until the model's own fits are timed.

    CNNs: networks x patches per track x epochs (the baselines count as 4
    networks); descriptors: as much as one small network's epoch.
    """
    spec = MODELS[name]
    if spec.kind == "descriptor":
        return 1.0
    width = 4 if spec.kind == "baseline" else spec.params["n_onet"] + spec.params["n_pnet"]
    return width * (1 + max(n_frames - 250, 0) // (hop or 250)) * max_epochs


class _EpochBar:
    """Sink of :class:`skrhythm.training.EpochProgress` that moves a bar of epochs.

    Shared, not copied, by the estimators that copy their callbacks.
    """

    def __init__(self, bar):
        self.bar = bar

    def __deepcopy__(self, memo):
        return self

    def reset(self, description, total):
        self.bar.reset(total=total)
        self.bar.set_description_str(f"  {description}")

    def __call__(self, line):
        self.bar.update()
        self.bar.set_postfix_str(line.split(", ", 1)[-1])


class _FitProgress:
    """What the user sees of the fits: bars in a terminal, else one line per finished fit.

    The time left is estimated per (model, hop): the mean of that model's
    fits so far, or, for a model not yet timed, its :func:`_prior_cost` at the
    measured seconds per unit of cost, divided by the workers.
    """

    def __init__(self, tasks, n_done, protocol, n_frames, n_jobs, enabled):
        self.cost = {(t[0], t[1]): _prior_cost(t[0], t[1], protocol.max_epochs, n_frames)
                     for t in tasks}
        self.left = {}
        for task in tasks:
            self.left[task[:2]] = self.left.get(task[:2], 0) + 1
        self.times = {}
        self.done, self.total = n_done, n_done + len(tasks)
        self.workers = _effective_jobs(n_jobs)
        self.enabled = enabled
        self.bar = self.epochs = None
        if enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, initial=n_done, unit="fit", dynamic_ncols=True,
                            desc="models x folds",
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                                       "[{elapsed}{postfix}]")
            if self.workers == 1:
                self.epochs = _EpochBar(tqdm(total=protocol.max_epochs, unit="epoch",
                                             position=1, leave=False, dynamic_ncols=True))

    def seconds_left(self):
        """Estimated seconds until the last fit ends, or None before any fit is timed."""
        if not self.times:
            return None
        rate = (sum(sum(t) for t in self.times.values())
                / sum(self.cost[k] * len(t) for k, t in self.times.items()))
        seconds = sum(n * (np.mean(self.times[k]) if k in self.times else rate * self.cost[k])
                      for k, n in self.left.items())
        return seconds / self.workers

    def finished(self, record):
        key = (record["model"], record["hop"])
        self.times.setdefault(key, []).append(record["fit_time"])
        self.left[key] -= 1
        self.done += 1
        if not self.enabled:
            return
        rep = f" repeat {record['repeat']}" if record["repeat"] else ""
        what = (f"{record['model']} hop {record['hop'] or '-'}{rep} fold {record['fold']}: "
                f"accuracy {record['accuracy']:.3f}")
        left = self.seconds_left()
        eta = "" if left is None or self.done == self.total else f", about {_duration(left)} left"
        if self.bar is None:
            print(f"[{self.done}/{self.total}] {what} ({record['fit_time']:.1f} s){eta}",
                  file=sys.stderr, flush=True)
            return
        self.bar.set_postfix_str(f"last: {what}{eta}")
        self.bar.update()

    def close(self):
        if self.epochs is not None:
            self.epochs.bar.close()
        if self.bar is not None:
            self.bar.close()


def _duration(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def summarize(records):
    """Table of mean and standard deviation over folds (and repeats) per (model, hop).

    Parameters
    ----------
    records : list of dict
        Per-fold records from :func:`run_comparison`.

    Returns
    -------
    table : pandas.DataFrame
        One row per (model, hop) in :data:`MODELS` order: ``folds`` and
        ``repeats`` count the cross-validation folds and its repetitions, and
        ``accuracy_std`` is the standard deviation over their
        ``folds x repeats`` fold accuracies.
    """
    import pandas as pd

    df = pd.DataFrame([{**{k: r[k] for k in ("model", "label", "hop", "fold", "params",
                                             "accuracy", "patch_accuracy", "fit_time")},
                        "repeat": r.get("repeat", 0)} for r in records])
    order = {name: i for i, name in enumerate(MODELS)}
    df["hop"] = df["hop"].fillna(0).astype(int)
    table = (
        df.groupby(["model", "hop"], sort=False)
        .agg(
            label=("label", "first"),
            params=("params", "first"),
            folds=("fold", "nunique"),
            repeats=("repeat", "nunique"),
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


def git_commit():
    """Commit of the git checkout skrhythm is imported from, or None (no checkout, no git)."""
    package = Path(__file__).resolve().parent
    try:
        top, commit = subprocess.run(
            ["git", "-C", str(package), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    # A package installed into some other repository's tree is not that repository's code.
    return commit if Path(top).resolve() == package.parent else None


def run_info(protocol, *, data, seed, device, n_jobs, feature_params, repeats=1, threads=None,
             extra=None):
    """The configuration and software versions of a run, for ``config.json``.

    ``threads`` records the torch threads of each fit (torch's own setting
    when ``None``); ``git_commit`` the skrhythm checkout's commit (or None).
    """
    import librosa
    import sklearn
    import skorch
    import torch

    return {
        "protocol": asdict(protocol),
        "data": data,
        "seed": seed,
        "repeats": repeats,
        "device": device,
        "n_jobs": n_jobs,
        "threads": threads or torch.get_num_threads(),
        "features": feature_params,
        "git_commit": git_commit(),
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


# -- the whole comparison: data, features, fits, tables, plots ---------------------------

#: Feature settings of the comparison (the paper's; the descriptors need sr and hop).
FEATURE_PARAMS = {"sr": 44100, "hop_length": 1024}


def make_protocol(protocol="quick", *, models=None, n_folds=None, cv=None, max_epochs=None,
                  n_per_class=None):
    """A :class:`Protocol` by name (or as given) with some of its values replaced.

    Parameters
    ----------
    protocol : str or Protocol
        A key of :data:`PROTOCOLS`, or a protocol.
    models, n_folds, cv, max_epochs, n_per_class : optional
        Replace the protocol's values when given.

    Returns
    -------
    protocol : Protocol

    Examples
    --------
    >>> make_protocol("quick", n_folds=5).n_folds
    5
    """
    if isinstance(protocol, str):
        if protocol not in PROTOCOLS:
            raise OptionError("protocol", protocol, f"choose from {', '.join(PROTOCOLS)}")
        protocol = PROTOCOLS[protocol]
    unknown = [m for m in models or () if m not in MODELS]
    if unknown:
        raise OptionError("models", ",".join(models),
                          f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    if cv not in (None, "stratified", "paper"):
        raise OptionError("cv", cv, "choose 'stratified' or 'paper'")
    for name, value, least in (("n_folds", n_folds, 2), ("max_epochs", max_epochs, 1),
                               ("n_per_class", n_per_class, 1)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < least):
            need = ("an integer of at least 2 (cross-validation needs two folds or more)"
                    if least == 2 else "a positive integer")
            raise OptionError(name, value, f"expected {need}")
    return replace(protocol, models=tuple(models or protocol.models),
                   n_folds=n_folds or protocol.n_folds, cv=cv or protocol.cv,
                   max_epochs=max_epochs or protocol.max_epochs,
                   n_per_class=n_per_class or protocol.n_per_class)


@dataclass(frozen=True)
class DataListing:
    """A data set as the comparison knows it before reading any audio.

    Attributes
    ----------
    y : ndarray of shape (n_tracks,)
        Labels.
    groups : ndarray or None
        Tracks of one group (replicas) stay in one fold.
    tempo : ndarray of shape (n_tracks,)
        Annotated (or, for the embedded data, true) tempo in bpm; NaN where unknown.
    description : str
    audio : callable
        ``audio(progress)`` gives the waveforms (embedded data, generated
        then) or the file paths of the tracks.
    """

    y: np.ndarray
    groups: np.ndarray | None
    tempo: np.ndarray
    description: str
    audio: object


def list_data(data, *, n_per_class, duration, seed, n_jobs=None, tempo_scale=1.0):
    """List a data set named as ``skrhythm compare --data`` names it, reading no audio.

    Parameters
    ----------
    data : str
        ``"embedded"`` (generated by :func:`skrhythm.datasets.make_ballroom_like`),
        ``"ballroom:PATH"``, ``"extended-ballroom:PATH"`` or ``"folder:PATH"``.
    n_per_class, duration, seed
        Recipe of the embedded data.
    n_jobs : int or None, default=None
        Tracks of the embedded data rendered in parallel (same data whatever its value).
    tempo_scale : float, default=1.0
        The embedded data's tempos times this factor (see ``make_ballroom_like``).

    Returns
    -------
    listing : DataListing
    """
    kind, path = parse_data_spec(data)
    if kind == "embedded":
        from .datasets import make_ballroom_like

        recipe = dict(n_per_class=n_per_class, duration=duration, random_state=seed,
                      tempo_scale=tempo_scale)
        bunch = make_ballroom_like(**recipe, render=False)

        def generate(progress):
            return make_ballroom_like(**recipe, n_jobs=n_jobs, progress=progress).data

        return DataListing(np.asarray(bunch.target), None, bunch.tempo,
                           f"embedded ({n_per_class} per class)", generate)
    from . import datasets

    bunch = getattr(datasets, DATA_LOADERS[kind])(path)
    y = np.asarray(bunch.target)
    tempo = np.asarray(bunch.get("tempo", np.full(len(y), np.nan)), dtype=float)
    return DataListing(y, bunch.get("groups"), tempo, f"{kind}:{path.resolve()}",
                       lambda progress: list(bunch.filenames))


def load_data(data, *, n_per_class, duration, seed, n_jobs=None, progress=False):
    """Read (or generate) a data set named as ``skrhythm compare --data`` names it.

    Parameters
    ----------
    data, n_per_class, duration, seed, n_jobs
        As for :func:`list_data`.
    progress : bool, default=False
        A progress bar while the embedded data are generated.

    Returns
    -------
    inputs : ndarray of waveforms (embedded) or list of file paths
    y : ndarray of shape (n_tracks,)
    groups : ndarray or None
    description : str
    """
    listing = list_data(data, n_per_class=n_per_class, duration=duration, seed=seed,
                        n_jobs=n_jobs)
    return listing.audio(progress), listing.y, listing.groups, listing.description


def check_folds(listing, *, n_folds, cv, seed, repeats=1):
    """Make every repeat's folds of a listed data set, raising :class:`OptionError` naming
    ``n_folds`` when the data cannot be split so (before any audio is read)."""
    for repeat in range(repeats):
        try:
            make_folds(listing.y, listing.groups, n_folds, cv, seed, repeat)
        except ValueError as exc:
            raise OptionError("n_folds", n_folds,
                              f"cannot split the {len(listing.y)} tracks so: {exc}") from None


def _say(message):
    print(message, file=sys.stderr, flush=True)


def comparison_features(data, *, protocol, seed, cache_dir, n_jobs=None, progress=True,
                        listing=None):
    """Log-mel features of a comparison's data set, cached in ``cache_dir``.

    Files are cached track by track by :class:`skrhythm.LogMelTransformer`
    (``cache=cache_dir``). The embedded data set is cached whole under its
    recipe (tracks per class, duration, seed, skrhythm version and the
    feature settings), so a rerun reads it without generating the audio. A
    damaged entry is computed again, with a warning.

    ``listing`` (:func:`list_data`) spares listing the data again.

    Returns
    -------
    X : ndarray of shape (n_tracks, n_mels, n_frames)
    y : ndarray of shape (n_tracks,)
    groups : ndarray or None
    description : str
    """
    from .features import LogMelTransformer

    kind, _ = parse_data_spec(data)
    params = {"duration": protocol.duration, **FEATURE_PARAMS}
    recipe = None
    if kind == "embedded":
        recipe = hashlib.sha256(json.dumps(
            [protocol.n_per_class, protocol.duration, seed, __version__, params]).encode())
        recipe = Path(cache_dir) / f"embedded-{recipe.hexdigest()[:32]}"
        try:
            X = load_array(recipe.with_name(recipe.name + "-X.npz"))
            y = load_array(recipe.with_name(recipe.name + "-y.npz"))
            problem = _embedded_problem(X, y, protocol.n_per_class,
                                        LogMelTransformer(**params))
            if problem is None:
                return X, y, None, f"embedded ({protocol.n_per_class} per class)"
            warnings.warn(f"feature cache {os.fspath(recipe)!r}-X/y.npz {problem}; generating "
                          "the data again", UserWarning, stacklevel=2)
        except FileNotFoundError:
            pass
        except DamagedFileError as exc:
            warnings.warn(f"feature cache {exc}; generating the data again", UserWarning,
                          stacklevel=2)
        if progress:
            _say(f"  generating the embedded data: {8 * protocol.n_per_class} tracks of "
                 f"{protocol.duration:g} s...")
    if listing is None:
        listing = list_data(data, n_per_class=protocol.n_per_class, duration=protocol.duration,
                            seed=seed, n_jobs=n_jobs)
    inputs = listing.audio(progress and sys.stderr.isatty())
    y, groups, description = listing.y, listing.groups, listing.description
    transformer = LogMelTransformer(**params, n_jobs=n_jobs,
                                    cache=None if recipe else Path(cache_dir))
    X = _transform_with_bar(transformer, inputs, progress)
    if recipe is not None:
        save_array(recipe.with_name(recipe.name + "-X.npz"), X)
        save_array(recipe.with_name(recipe.name + "-y.npz"), y)
    return X, y, groups, description


def _embedded_problem(X, y, n_per_class, transformer):
    """What makes cached features of the embedded data set implausible, or None."""
    from .datasets import make_ballroom_like

    expected = make_ballroom_like(n_per_class, render=False).target
    if y.shape != expected.shape or not np.array_equal(y, expected):
        return f"holds other labels than the embedded data's ({n_per_class} per class)"
    if not isinstance(X, np.ndarray) or X.ndim != 3 or len(X) != len(y):
        return f"holds {np.shape(X)} features, not one spectrogram per track"
    for i, S in enumerate(X):
        problem = transformer.implausible(S)
        if problem is not None:
            return f"holds features of track {i} {problem}"
    return None


def _transform_with_bar(transformer, inputs, progress, chunk=8):
    """``transformer.transform(inputs)`` a few tracks at a time, under a bar.

    Each track's features are computed on their own, so the chunks change nothing.
    """
    if not progress or not sys.stderr.isatty():
        return transformer.transform(inputs)
    from tqdm.auto import tqdm

    with tqdm(total=len(inputs), unit="track", desc="log-mel features",
              dynamic_ncols=True, leave=False) as bar:
        parts = []
        for start in range(0, len(inputs), chunk):
            parts.append(transformer.transform(inputs[start:start + chunk]))
            bar.update(len(parts[-1]))
    return np.concatenate(parts)


def _read_config(path):
    """The options a run folder's ``config.json`` records; a damaged one is an error."""
    fix = ("it records the options of that run, checked on resume; delete it to resume "
           "anyway (the stored fold results are still checked against this run's settings)")
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunFolderError(f"{path} is damaged ({exc}); {fix}") from None
    missing = [k for k in ("protocol", "data", "seed") if not isinstance(stored, dict)
               or k not in stored]
    if missing or not isinstance(stored["protocol"], dict):
        raise RunFolderError(f"{path} is damaged (no {', '.join(missing) or 'protocol'}); {fix}")
    return stored


def _check_run_folder(out_dir, info, resume):
    """Refuse to overwrite a run, or to resume one with other options (naming the option)."""
    config_path = out_dir / "config.json"
    folds = sorted((out_dir / "folds").glob("*.json"))
    if not resume:
        if folds:
            raise FileExistsError(f"{out_dir} already holds {len(folds)} fold results; pass "
                                  "resume=True (--resume) to continue, or choose another "
                                  "output folder")
        return
    if not config_path.exists():
        return
    stored = _read_config(config_path)
    ours = json.loads(json.dumps(info, default=list))
    options = [("protocol" if k == "name" else k, stored["protocol"].get(k),
                ours["protocol"][k]) for k in ours["protocol"]]
    options += [(k, stored.get(k, 1 if k == "repeats" else None), ours[k])
                for k in ("data", "seed", "repeats")]
    for name, before, now in options:
        if json.dumps(before, sort_keys=True) != json.dumps(now, sort_keys=True):
            raise RunFolderError(
                f"resume (--resume): the run in {out_dir} used {name}={_show(before)}, not "
                f"{_show(now)}; resume with the options of that run, or choose another "
                "output folder"
            )


def _show(value):
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def compare(data="embedded", *, protocol="quick", out_dir="skrhythm-results", models=None,
            n_folds=None, cv=None, max_epochs=None, n_per_class=None, repeats=1, seed=0,
            device="cpu", n_jobs=1, threads=None, resume=False, progress=True, verbose=True):
    """Run the architecture comparison and write its results to a run folder.

    What ``skrhythm compare`` does: check the run folder (locked for this
    run; a folder holding results is refused without ``resume``, and resumed
    only with the options it was run with), read or generate the data,
    compute the log-mel features (cached in ``out_dir/cache``), run every
    (model, hop, repeat, fold) with :func:`run_comparison` (finished folds
    are kept in ``out_dir/folds``), and write ``config.json``,
    ``results.csv``, ``results.json``, ``results.md`` (:func:`write_tables`)
    and the plots (:func:`write_plots`). Every file is written atomically.

    Parameters
    ----------
    data : str, default="embedded"
        ``"embedded"`` (a generated ballroom-style set), ``"ballroom:PATH"``,
        ``"extended-ballroom:PATH"`` or ``"folder:PATH"``.
    protocol : str or Protocol, default="quick"
        ``"quick"`` (minutes on a laptop CPU) or ``"paper"`` (10 folds, every
        model, both hops, up to 250 epochs).
    out_dir : path, default="skrhythm-results"
    models, n_folds, cv, max_epochs, n_per_class : optional
        Replace the protocol's values (see :func:`make_protocol`).
    repeats : int, default=1
        Repetitions of the cross-validation, with fold seeds ``seed + r``.
    seed : int, default=0
    device : {"cpu", "cuda", "auto"}, default="cpu"
    n_jobs : int or None, default=1
        Fits run in parallel (joblib).
    threads : int or None, default=None
        torch threads per fit; ``None``: one when ``n_jobs`` runs several fits
        at a time, else torch's default. Recorded in ``config.json`` with the
        git commit of the skrhythm checkout (``None`` when there is none).
    resume : bool, default=False
        Continue the run in ``out_dir``.
    progress : bool, default=True
        Progress bars in a terminal, one line per fit elsewhere.
    verbose : bool, default=True
        Print what the run does, and the results table, to stderr.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``table`` (:func:`summarize`), ``records`` (per fold, see
        :func:`run_comparison`) and ``config`` (what ``config.json`` holds).

    Raises
    ------
    ValueError
        For an invalid option, before any data are read.
    FileExistsError
        If ``out_dir`` holds results and ``resume`` is false.
    RunFolderError
        If ``resume`` meets a run of other options, or a damaged file.
    RunFolderLocked
        If another process runs on ``out_dir``.
    KeyboardInterrupt
        On Ctrl-C; the finished folds are kept, the interrupted fits write nothing.
    """
    from sklearn.utils import Bunch

    protocol = make_protocol(protocol, models=models, n_folds=n_folds, cv=cv,
                             max_epochs=max_epochs, n_per_class=n_per_class)
    parse_data_spec(data)
    check_run_options(device=device, n_jobs=n_jobs, threads=threads, repeats=repeats)
    threads = default_threads(n_jobs, threads)
    say = _say if verbose else (lambda message: None)
    out_dir = Path(out_dir)
    with run_folder_lock(out_dir), workers_die_with_this_process():
        info = run_info(protocol, data=data, seed=seed, device=device, n_jobs=n_jobs,
                        feature_params=FEATURE_PARAMS, repeats=repeats, threads=threads)
        _check_run_folder(out_dir, info, resume)
        listing = list_data(data, n_per_class=protocol.n_per_class, duration=protocol.duration,
                            seed=seed, n_jobs=n_jobs)
        check_folds(listing, n_folds=protocol.n_folds, cv=protocol.cv, seed=seed,
                    repeats=repeats)
        say(f"skrhythm compare: protocol {protocol.name!r}: {len(protocol.models)} models, "
            f"{protocol.n_folds} folds ({protocol.cv}) x {repeats} repeat(s), up to "
            f"{protocol.max_epochs} epochs, hops {'/'.join(map(str, protocol.hops))}; "
            f"data {data}; {info['threads']} torch thread(s) per fit")
        if protocol.name == "quick":
            say("  (quick protocol: fewer models, folds, epochs and tracks than the paper; "
                "--protocol paper runs the full comparison)")
        X, y, groups, description = comparison_features(
            data, protocol=protocol, seed=seed, cache_dir=out_dir / "cache", n_jobs=n_jobs,
            progress=progress and verbose, listing=listing)
        info["data_description"] = description
        info["n_tracks"] = len(y)
        write_json_atomic(out_dir / "config.json", info)
        say(f"  {len(y)} tracks, {len(set(y))} classes; features {X.shape[1]} bands x "
            f"{X.shape[2]} frames")
        records = run_comparison(X, y, protocol=protocol, out_dir=out_dir, groups=groups,
                                 repeats=repeats, seed=seed, device=device, n_jobs=n_jobs,
                                 threads=threads, resume=True, feature_params=FEATURE_PARAMS,
                                 progress=progress)
        table = summarize(records)
        statistics = comparison_statistics(records) if protocol.n_folds * repeats > 1 else None
        table = write_tables(table, out_dir, info, statistics)
        write_plots(table, records, out_dir, statistics, data_name=description,
                    tempo_ranges=class_tempo_ranges(listing.y, listing.tempo))
    say("\n" + markdown_table(table))
    if statistics is not None:
        say("\n" + statistics["claims"]["summary"])
    say(f"\nResults, configuration and plots in {out_dir}/ (results.csv, results.json, "
        "results.md, accuracy_vs_params.png, ...)")
    return Bunch(table=table, records=records, config=info)


def check_run_options(*, device="cpu", n_jobs=1, threads=None, repeats=1):
    """Check the run options a comparison or a fit takes; raise ValueError naming the bad one.

    ``device="cuda"`` (or ``"cuda:N"``) is refused when CUDA is not available.
    """
    if not (device in ("cpu", "auto") or str(device).startswith("cuda")):
        raise OptionError("device", device, "choose 'cpu', 'cuda' or 'auto'")
    try:
        resolve_device(device)
    except ValueError as exc:
        raise OptionError("device", device, str(exc).split(" requested but ")[-1]) from None
    for name, value, least in (("n_jobs", n_jobs, None), ("threads", threads, 1),
                               ("repeats", repeats, 1)):
        if value is None and name != "repeats":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (
                value == 0 if least is None else value < least):
            need = "a non-zero integer" if least is None else "a positive integer"
            raise OptionError(name, value, f"expected {need}")


def default_threads(n_jobs, threads):
    """torch threads per fit: ``threads``, else 1 when fits run in parallel, else None."""
    if threads is not None:
        return threads
    return 1 if _effective_jobs(n_jobs) > 1 else None


def markdown_table(table):
    """The results table (:func:`summarize`) as Markdown.

    With ``ci_low``/``ci_high`` columns (:func:`write_tables` adds them from
    :func:`comparison_statistics`) the interval of each mean is shown too,
    clipped to 0-100 % (``results.csv`` keeps the unclipped bounds).
    """
    with_ci = "ci_low" in table
    ci_head, ci_rule = (" 95% interval (%) |", " --- |") if with_ci else ("", "")
    lines = [f"| model | hop | params | track accuracy (%) |{ci_head} patch accuracy (%) | "
             "fit time (s) |",
             f"| --- | --- | ---: | --- |{ci_rule} ---: | ---: |"]
    for r in table.itertuples():
        params = "-" if r.params is None or np.isnan(float(r.params)) else f"{int(r.params):,}"
        patch = "-" if np.isnan(r.patch_accuracy) else f"{100 * r.patch_accuracy:.2f}"
        ci = (f" {max(0.0, 100 * r.ci_low):.1f} to {min(100.0, 100 * r.ci_high):.1f} |"
              if with_ci else "")
        lines.append(f"| {r.label} | {r.hop or '-'} | {params} | "
                     f"{100 * r.accuracy:.2f} +- {100 * r.accuracy_std:.2f} |{ci} {patch} | "
                     f"{r.fit_time:.1f} |")
    return "\n".join(lines)


def _in_model_order(records):
    """Fold records sorted by model (:data:`MODELS` order), hop (largest first), repeat, fold."""
    order = {name: i for i, name in enumerate(MODELS)}
    return sorted(records, key=lambda r: (order.get(r["model"], len(order)), -(r["hop"] or 0),
                                          r.get("repeat", 0), r["fold"]))


def comparison_statistics(records, *, confidence=0.95, alpha=0.05):
    """Intervals, paired differences and the poster's claim 1 for a comparison's fold records.

    Parameters
    ----------
    records : list of dict
        Per-fold records from :func:`run_comparison` (at least two folds).
    confidence : float, default=0.95
    alpha : float, default=0.05
        Level at which a Holm-adjusted p-value counts as a finding.

    Returns
    -------
    statistics : dict
        ``summary`` (:func:`skrhythm.stats.model_summary`), ``pairwise``
        (:func:`skrhythm.stats.pairwise`, every pair of (model, hop), Holm over
        all of them) and ``claims`` (:func:`skrhythm.stats.claims`), models in
        :data:`MODELS` order.
    """
    from . import stats

    records = _in_model_order(records)
    return {"summary": stats.model_summary(records, confidence),
            "pairwise": stats.pairwise(records, confidence=confidence),
            "claims": stats.claims(records, alpha=alpha, confidence=confidence)}


def _p_value(p):
    if p is None or not np.isfinite(p):
        return "undefined"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def pairwise_markdown(pairwise, alpha=0.05):
    """The paired differences (:func:`skrhythm.stats.pairwise`) as a Markdown section."""
    lines = [
        "## Paired differences", "",
        "Row model minus column model, on the same folds. p: corrected resampled t-test "
        "(Nadeau & Bengio 2003; Bouckaert & Frank 2004 for repeated CV), Holm-adjusted over "
        f"the {len(pairwise)} pairs; McNemar's test on the pooled track predictions of the "
        f"first repeat, also Holm-adjusted. A difference counts as shown at alpha = {alpha} "
        "(marked *); an undefined p means the difference was the same on every fold.", "",
        "| model A | model B | A - B (points) | 95% interval | p (t, Holm) | "
        "p (McNemar, Holm) |",
        "| --- | --- | ---: | --- | ---: | ---: |",
    ]
    for r in pairwise.itertuples():
        mark = " *" if np.isfinite(r.p_holm) and r.p_holm < alpha else ""
        interval = ("undefined" if not np.isfinite(r.diff_low) else
                    f"{100 * r.diff_low:+.1f} to {100 * r.diff_high:+.1f}")
        lines.append(f"| {run_label(r.label_a, r.hop_a)} | {run_label(r.label_b, r.hop_b)} | "
                     f"{100 * r.difference:+.1f}{mark} | {interval} | {_p_value(r.p_holm)} | "
                     f"{_p_value(r.p_mcnemar_holm)} |")
    return "\n".join(lines) + "\n"


def _frame(table):
    """A DataFrame as JSON-able records (NaN as None, no NumPy scalars)."""
    return json.loads(table.to_json(orient="records"))


def write_tables(table, out_dir, config, statistics=None):
    """Write ``results.csv``, ``results.json`` and ``results.md`` atomically.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`summarize` output.
    out_dir : path
    config : dict
        What ``config.json`` holds; stored in ``results.json`` too.
    statistics : dict or None
        :func:`comparison_statistics` output: adds the intervals to the
        tables, writes ``pairwise.csv``, and puts the paired differences and
        the poster's claim 1 in ``results.md`` and ``results.json``.
    """
    from .stats import claims_markdown

    out_dir = Path(out_dir)
    sections = []
    if statistics is not None:
        intervals = statistics["summary"][["model", "hop", "ci_low", "ci_high"]]
        table = table.merge(intervals, on=["model", "hop"], how="left")
        with atomic_write(out_dir / "pairwise.csv", "w") as f:
            statistics["pairwise"].to_csv(f, index=False)
        alpha = statistics["claims"]["alpha"]
        sections = [pairwise_markdown(statistics["pairwise"], alpha),
                    claims_markdown(statistics["claims"])]
    with atomic_write(out_dir / "results.csv", "w") as f:
        table.to_csv(f, index=False)
    results = {"config": config, "results": _frame(table)}
    if statistics is not None:
        results["statistics"] = {"pairwise": _frame(statistics["pairwise"]),
                                 "claims": statistics["claims"]}
    write_json_atomic(out_dir / "results.json", results)
    data = config.get("data_description", config.get("data"))
    intro = (f"Data: {data}; {int(table['folds'].max())} folds x "
             f"{int(table['repeats'].max())} repeat(s). Track accuracy: mean +- standard "
             "deviation over the folds")
    intro += (", and the 95% interval of the mean (t interval with the Nadeau-Bengio "
              "corrected variance, clipped to 0-100)." if statistics is not None else ".")
    with atomic_write(out_dir / "results.md", "w") as f:
        f.write(f"# skrhythm compare ({config['protocol']['name']} protocol)\n\n{intro}\n\n"
                f"{markdown_table(table)}\n" + "".join(f"\n{s}" for s in sections))
    return table


def class_tempo_ranges(y, tempo, low=5, high=95):
    """``{class: (low, high)}``: percentiles of the known tempi (bpm) of each class's tracks.

    Classes without a known tempo are left out.

    Examples
    --------
    >>> class_tempo_ranges(["a", "a", "b"], [100.0, 110.0, float("nan")], 0, 100)
    {'a': (100.0, 110.0)}
    """
    y, tempo = np.asarray(y), np.asarray(tempo, dtype=float)
    ranges = {}
    for label in np.unique(y):
        known = tempo[(y == label) & np.isfinite(tempo)]
        if known.size:
            ranges[str(label)] = tuple(float(v) for v in np.percentile(known, [low, high]))
    return ranges


def write_plots(table, records, out_dir, statistics=None, data_name=None, tempo_ranges=None):
    """Write the comparison's plots (PNG and SVG) to ``out_dir``.

    ``accuracy_vs_params`` (interval bars from ``statistics`` when given; the
    poster's published values when ``data_name`` names Ballroom; bars of
    accuracy when no model of the run has a parameter count);
    ``pairwise`` (the paired differences, with ``statistics``; the colour
    scale set by the CNNs' differences); ``confusion_matrix`` of the most
    accurate CNN (any model if the run has none; a tie is named) over the
    test folds of the first repeat (each track once); ``filters`` of the
    first O-net/P-net model the run saved (O-net + P-net preferred), fold
    named, with its pattern filters' periodicity against ``tempo_ranges``
    (:func:`class_tempo_ranges`).
    """
    import joblib
    import matplotlib

    matplotlib.use("Agg")
    from .plotting import (
        plot_accuracy_vs_params,
        plot_confusion_matrix,
        plot_filters,
        plot_pairwise,
        save_figure,
    )

    out_dir = Path(out_dir)
    ballroom = data_name is not None and "ballroom" in str(data_name).lower()
    intervals = statistics["summary"] if statistics is not None else None
    save_figure(plot_accuracy_vs_params(table, intervals=intervals, reference=ballroom or None,
                                        data_name=data_name), out_dir / "accuracy_vs_params")
    cnn_names = {m for m in MODELS if MODELS[m].kind != "descriptor"}
    if statistics is not None and len(statistics["pairwise"]):
        save_figure(plot_pairwise(statistics["pairwise"], data_name=data_name,
                                  alpha=statistics["claims"]["alpha"], scale_models=cnn_names),
                    out_dir / "pairwise")
    cnns = table[table["model"].isin(cnn_names)]
    ranked = cnns if len(cnns) else table
    best = ranked.loc[ranked["accuracy"].idxmax()]
    tied = [run_label(r.label, r.hop) for r in ranked.itertuples()
            if np.isclose(r.accuracy, best["accuracy"], rtol=0, atol=1e-12)
            and (r.model, r.hop) != (best["model"], best["hop"])]
    folds = [r for r in records if r["model"] == best["model"] and (r["hop"] or 0) == best["hop"]
             and not r.get("repeat", 0)]
    y_true = np.concatenate([r["y_true"] for r in folds])
    y_pred = np.concatenate([r["y_pred"] for r in folds])
    what = "most accurate CNN" if len(cnns) else "most accurate model"
    if tied:
        what += f" (tied with {', '.join(tied)})"
    save_figure(plot_confusion_matrix(
        y_true, y_pred, title=f"{run_label(best['label'], best['hop'])}, {what}: all test "
        "folds"), out_dir / "confusion_matrix")
    # The models this run wrote, or whose checksum read_fold_record verified.
    fitted = sorted((r for r in records if r.get("model_file")), key=lambda r: r["model_file"])
    preferred = [r for r in fitted if r["model_file"].startswith("models/o+p_")] or fitted
    if preferred:
        record = preferred[0]
        save_figure(plot_filters(joblib.load(out_dir / record["model_file"]),
                                 model=run_label(record["label"], record["hop"]),
                                 fold=record["fold"], tempo_ranges=tempo_ranges),
                    out_dir / "filters")
