"""Run folders: one run at a time, every file atomic, every fold result checked on resume.

A run folder is safe to interrupt or crash at any instant: one run at a time
holds it (:func:`run_folder_lock`); every file is written atomically (see
:mod:`skrhythm._store`), and only by the process that holds the lock (the
workers return their results to it); a fold's model is written before the
fold's record (:func:`store_fold`), which names the model file and its
checksum; a record is written only for a fit that ran to its end (a Ctrl-C
raises out of the fit) and says so (``"complete": true``), with the
fingerprint of the settings, folds and data it was computed with. On resume
every record is checked (:func:`read_fold_record`) and a damaged, foreign or
incomplete one is an error naming the file, as is a run of other options
(:func:`check_run_folder`).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .._store import atomic_write, sha256

__all__ = [
    "RECORD_FORMAT", "RunFolderError", "RunFolderLocked", "check_run_folder", "data_digest",
    "fingerprint", "fold_file", "read_config", "read_fold_record", "record_settings",
    "run_folder_lock", "store_fold", "write_json_atomic",
]


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


def fold_file(out_dir, name, hop, repeat, fold):
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


def fingerprint(name, hop, repeat, fold, train, test, y, settings, data_digest):
    """Hash of everything a fold's result depends on (the device and threads aside)."""
    digest = hashlib.sha256(json.dumps(
        {"model": name, "hop": hop, "repeat": repeat, "fold": fold, "settings": settings,
         "data": data_digest, "format": RECORD_FORMAT},
        sort_keys=True, default=str).encode())
    for array in (np.asarray(train, np.int64), np.asarray(test, np.int64)):
        digest.update(array.tobytes())
    digest.update(json.dumps(np.asarray(y).tolist(), default=str).encode())
    return digest.hexdigest()


def data_digest(X):
    digest = hashlib.sha256(f"{X.dtype.str}{X.shape}".encode())
    digest.update(np.ascontiguousarray(X).view(np.uint8))
    return digest.hexdigest()


def record_settings(settings):
    return {k: v for k, v in settings.items() if k != "device"}


def store_fold(out_dir, record, fitted):
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
    write_json_atomic(fold_file(out_dir, record["model"], record["hop"], record["repeat"],
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
    fix = f"delete {path} and run again with resume=True to compute that fold anew"
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
                f"{path} and run again with resume=True to compute the fold and "
                "its model anew"
            )
    return record


def read_config(path):
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


def check_run_folder(out_dir, info, resume):
    """Refuse to overwrite a run, or to resume one with other options (naming the option)."""
    config_path = out_dir / "config.json"
    folds = sorted((out_dir / "folds").glob("*.json"))
    if not resume:
        if folds:
            raise FileExistsError(f"{out_dir} already holds {len(folds)} fold results; pass "
                                  "resume=True to continue that run, or choose another "
                                  "out_dir")
        return
    if not config_path.exists():
        if not folds and not (out_dir / "cache").is_dir():
            raise RunFolderError(f"resume=True: nothing to resume in {out_dir}: it holds no "
                                 "run (no config.json, fold results or features); start one "
                                 "without resume=True")
        return
    stored = read_config(config_path)
    ours = json.loads(json.dumps(info, default=list))
    options = [("protocol" if k == "name" else k, stored["protocol"].get(k),
                ours["protocol"][k]) for k in ours["protocol"]]
    options += [(k, stored.get(k, 1 if k == "repeats" else None), ours[k])
                for k in ("data", "seed", "repeats")]
    for name, before, now in options:
        if json.dumps(before, sort_keys=True) != json.dumps(now, sort_keys=True):
            raise RunFolderError(
                f"resume=True: the run in {out_dir} used {name}={_show(before)}, not "
                f"{_show(now)}; resume with the options of that run, or choose another "
                "output folder"
            )


def _show(value):
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)
