"""Helpers shared by the dataset loaders: indexes, file checks, groups, Bunches."""

from __future__ import annotations

import csv
import hashlib
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

__all__ = ["DatasetIntegrityError"]

# How many paths of one kind a message lists before it says "and N more".
_LISTED = 20


class DatasetIntegrityError(ValueError):
    """A data set on disk does not match its index.

    The message summarises every problem; the attributes list all the paths.

    Attributes
    ----------
    missing : list of str
        Indexed files that are not on disk.
    corrupt : list of str
        Files that are empty or whose md5 differs from the index.
    extra : list of str
        Audio files on disk that the index does not know (ignored by the loaders).
    """

    def __init__(self, message, *, missing=(), corrupt=(), extra=()):
        super().__init__(message)
        self.missing, self.corrupt, self.extra = list(missing), list(corrupt), list(extra)


def read_index(filename):
    """Rows of a CSV index shipped in ``skrhythm/datasets/data`` as a list of dicts."""
    with resources.files(__package__).joinpath("data", filename).open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def find_root(data_home, folders, candidates):
    """The first ``data_home / candidate`` that holds at least one of ``folders``.

    Parameters
    ----------
    data_home : path-like
        Where the user says the data set is.
    folders : iterable of str
        Folder names the data set's root contains.
    candidates : sequence of str
        Relative paths to try, in order (``""`` is ``data_home`` itself).

    Returns
    -------
    root : Path

    Raises
    ------
    FileNotFoundError
        If no candidate holds any of the folders; the message lists the tries.
    """
    data_home = Path(data_home).expanduser()
    if not data_home.is_dir():
        raise FileNotFoundError(f"data_home {str(data_home)!r} is not a directory")
    folders = sorted(set(folders))
    tried = [data_home / c for c in candidates]
    for root in tried:
        if any((root / name).is_dir() for name in folders):
            return root
    raise FileNotFoundError(
        f"no data set found under {str(data_home)!r}: none of {[str(t) for t in tried]} "
        f"contains any of the folders {folders}"
    )


def _md5(path, chunk=1 << 20):
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _listing(kind, paths):
    shown = ", ".join(paths[:_LISTED])
    more = f" and {len(paths) - _LISTED} more" if len(paths) > _LISTED else ""
    return f"{len(paths)} {kind}: {shown}{more}"


def check_files(root, relpaths, md5s, *, extensions, verify_md5, on_error, name):
    """Check the indexed files under ``root``; report every problem at once.

    Parameters
    ----------
    root : Path
        Data set root; ``relpaths`` are relative to it.
    relpaths : list of str
        Indexed files, ``/``-separated.
    md5s : list of str
        Their md5 digests (``""`` where unknown; those are not verified).
    extensions : tuple of str
        Suffixes of the audio files looked for when listing unindexed ("extra")
        files in the indexed folders.
    verify_md5 : bool
        Hash every file and compare with ``md5s`` (reads the whole data set).
    on_error : {"raise", "skip"}
        ``"raise"``: missing or corrupt files raise
        :class:`DatasetIntegrityError`; ``"skip"``: they are left out with a
        :class:`UserWarning`. Extra files only ever warn.
    name : str
        Data set name used in messages.

    Returns
    -------
    keep : ndarray of bool, shape (len(relpaths),)
        Which indexed files are usable.
    problems : dict
        ``{"missing": [...], "corrupt": [...], "extra": [...]}`` (relative paths).
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    keep = np.ones(len(relpaths), dtype=bool)
    missing, corrupt = [], []
    for i, (rel, md5) in enumerate(zip(relpaths, md5s, strict=True)):
        path = root / rel
        if not path.is_file():
            missing.append(rel)
        elif path.stat().st_size == 0:
            corrupt.append(f"{rel} (empty file)")
        elif verify_md5 and md5 and _md5(path) != md5:
            corrupt.append(f"{rel} (md5 mismatch)")
        else:
            continue
        keep[i] = False
    indexed = set(relpaths)
    folders = sorted({rel.rsplit("/", 1)[0] for rel in relpaths if "/" in rel})
    extra = sorted(
        p.relative_to(root).as_posix()
        for folder in folders
        if (root / folder).is_dir()
        for p in (root / folder).iterdir()
        if p.suffix.lower() in extensions and p.relative_to(root).as_posix() not in indexed
    )
    problems = {"missing": missing, "corrupt": corrupt, "extra": extra}
    if extra:
        warnings.warn(
            f"{name} at {str(root)!r}: {_listing('unindexed file(s) ignored', extra)}",
            UserWarning,
            stacklevel=3,
        )
    if missing or corrupt:
        parts = [_listing(k, v) for k, v in (("missing", missing), ("corrupt", corrupt)) if v]
        message = f"{name} at {str(root)!r} does not match its index: " + "; ".join(parts)
        if on_error == "raise":
            raise DatasetIntegrityError(
                message + " (pass on_error='skip' to load the rest)",
                missing=missing,
                corrupt=corrupt,
                extra=extra,
            )
        warnings.warn(
            f"{message}; {int(keep.sum())} of {len(keep)} tracks kept",
            UserWarning,
            stacklevel=3,
        )
    if not keep.any():
        raise DatasetIntegrityError(
            f"{name} at {str(root)!r}: none of the {len(keep)} indexed files is usable",
            missing=missing,
            corrupt=corrupt,
            extra=extra,
        )
    return keep, problems


def connected_groups(keys, links):
    """Integer group labels such that linked items share a group.

    Parameters
    ----------
    keys : list of str
        One key per item (unique).
    links : iterable of (str, str)
        Pairs of keys that must share a group; keys not in ``keys`` are ignored.

    Returns
    -------
    groups : ndarray of int, shape (len(keys),)
        Labels ``0..n_groups-1``, numbered in order of first appearance.
    """
    parent = {k: k for k in keys}

    def find(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for a, b in links:
        if a in parent and b in parent:
            parent[find(a)] = find(b)
    roots = [find(k) for k in keys]
    _, first, labels = np.unique(roots, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # renumber groups by first appearance
    return order[labels].astype(np.intp)


def make_bunch(*, return_X_y, filenames, target, target_names, tempo, groups, descr, **extra):
    """Assemble the loaders' Bunch, or ``(filenames, target)``."""
    filenames = np.asarray(filenames, dtype=object)
    target = np.asarray(target, dtype=str)
    if return_X_y:
        return filenames, target
    return Bunch(
        filenames=filenames,
        target=target,
        target_names=np.asarray(target_names, dtype=str),
        tempo=np.asarray(tempo, dtype=float),
        groups=np.asarray(groups, dtype=np.intp),
        DESCR=descr,
        **extra,
    )
