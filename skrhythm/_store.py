"""Files that are complete or absent: atomic writes, checksummed arrays.

Everything skrhythm writes (fold results, tables, plots, models, cached
features) goes through :func:`atomic_write`: the content is written to a
temporary file in the target's folder, flushed to disk, given the mode a new
file gets from the umask (0644 under the usual umask 022) and renamed over the
target, so a crash at any instant leaves either the old file or the new one.

Cached arrays are ``.npz`` files holding the array and the SHA-256 of its
bytes, read back with ``allow_pickle=False`` (reading one never runs code);
:func:`load_array` raises :class:`DamagedFileError` when a file does not
match its checksum.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import numpy as np

__all__ = [
    "DamagedFileError", "all_or_none", "atomic_write", "file_mode", "load_array", "save_array",
    "sha256", "unwritable",
]


class DamagedFileError(ValueError):
    """A file skrhythm wrote earlier is unreadable or does not match its checksum."""


def file_mode():
    """Mode of a newly created regular file under the current umask."""
    try:
        with open("/proc/self/status") as f:  # Linux: read the umask without changing it
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def unwritable(path, *, folder=False, make_folders=True):
    """Why ``path`` could not be written (None if it could), checked before any work.

    ``path`` is a file (``folder=False``) or a folder to write files into.
    With ``make_folders``, folders on the way that do not exist yet will be
    made, so the nearest existing one must be a folder this process can
    write; without, the file's folder must exist.

    Examples
    --------
    >>> unwritable("/dev/null/results", folder=True)
    '/dev/null is not a folder'
    """
    path = Path(path)
    if path.exists() and folder != path.is_dir():
        return f"{path} is {'not a folder' if folder else 'a folder'}"
    target = (path if folder else path.parent).absolute()
    existing = next(p for p in (target, *target.parents) if p.exists())
    if existing != target and existing.is_dir() and not make_folders:
        return f"folder {target} does not exist"
    if not existing.is_dir():
        return f"{existing} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is a folder this user cannot write"
    return None


_staged = ContextVar("staged", default=None)


@contextmanager
def atomic_write(path, mode="wb", **open_kwargs):
    """Open a temporary file next to ``path``; on success, move it over ``path``.

    ``open_kwargs`` (``encoding``, ``errors``, ...) are passed to :func:`open`.

    The file is flushed and fsynced before the rename and its folder after it.
    On an exception (``KeyboardInterrupt`` included) the temporary file is
    removed and ``path`` is untouched. An :class:`OSError` (a full disk, a
    folder that cannot be written) is raised naming ``path``. Inside
    :func:`all_or_none` the rename waits for the end of that block.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise _naming(exc, path) from exc
    try:
        os.fchmod(fd, file_mode())  # mkstemp creates 0600 files
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        staged = _staged.get()
        if staged is not None:
            staged.append((tmp, path))
            return
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _naming(exc, path) from exc
        raise
    _fsync_dir(path.parent)


def _naming(exc, path):
    """``exc``, an OSError of writing ``path``, as one that names ``path``."""
    if exc.errno is None:
        return OSError(f"cannot write {os.fspath(path)!r}: {exc}")
    return OSError(exc.errno, f"cannot write file ({exc.strerror})", os.fspath(path))


@contextmanager
def all_or_none():
    """Make the files written by :func:`atomic_write` in the block appear together, or none.

    Each file is written and fsynced to a temporary file as usual; they are
    all renamed into place when the block ends without an error, so an
    interrupted or failed block (a full disk at the last file) leaves none of
    them, and none of the files they would have replaced is touched.
    """
    staged = []
    token = _staged.set(staged)
    try:
        yield
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        _staged.reset(token)
    for tmp, path in staged:
        os.replace(tmp, path)
    for folder in {path.parent for _, path in staged}:
        _fsync_dir(folder)


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256(path):
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _array_digest(array):
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).view(np.uint8))
    return digest.hexdigest()


def save_array(path, array):
    """Write ``array`` with its SHA-256 to ``path`` (``.npz``), atomically."""
    array = np.ascontiguousarray(array)
    with atomic_write(path) as f:
        np.savez(f, data=array, sha256=np.array(_array_digest(array)))


def load_array(path):
    """Read an array written by :func:`save_array`, verifying its checksum.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    DamagedFileError
        If the file is unreadable, incomplete or does not match its checksum.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            array, expected = npz["data"], str(npz["sha256"])
    except FileNotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - zip, npy and OS errors alike mean damage
        raise DamagedFileError(f"{os.fspath(path)!r} is damaged: {exc}") from exc
    if _array_digest(array) != expected:
        raise DamagedFileError(f"{os.fspath(path)!r} is damaged: its content does not match "
                               "the checksum stored with it")
    return array
