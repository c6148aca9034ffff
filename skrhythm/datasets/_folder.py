"""Audio trees of the form ``<label>/<file>``: reading, writing, decoding."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from ..audio import (
    AUDIO_EXTENSIONS,
    AudioDecodeError,
    audio_suffixes,
    find_audio_files,
    load_audio,
)
from ._base import make_bunch

__all__ = ["load_audio_folder", "load_waveforms", "write_audio_folder"]

_FOLDER_DESCR = """\
Audio folder {root}
{underline}
{n_files} audio files in {n_labels} class folders ``<label>/<file>``; the
folder names are the labels. ``tempo`` is unknown (NaN). {groups}
"""

#: The file that names the groups of an audio folder's tracks (see load_audio_folder).
GROUPS_FILE = "groups.csv"


def load_audio_folder(root, *, groups=None, extensions=AUDIO_EXTENSIONS, return_X_y=False):
    """List a ``<label>/<file>`` tree of audio files (GTZAN style).

    Every sub-directory of ``root`` is a class named after it; the audio files
    inside it, at any depth (matched by extension, case-insensitively; hidden
    files and folders skipped), are its tracks. Other files are left out with
    a warning that names them. Files are listed, not decoded.

    Parameters
    ----------
    root : str or path-like
        The tree's top directory.
    groups : {None, "subfolders", "csv"}, default=None
        Which tracks belong together (an album, an artist, a recording
        session), so that group-aware folds keep them on one side:
        None: every file is its own group; ``"subfolders"``: the first
        folder level below a label, ``<label>/<group>/<file>`` (a file right
        in its label's folder is its own group); ``"csv"``: the file
        ``groups.csv`` in ``root``, with columns ``file`` (the path relative
        to ``root``, as ``<label>/...``) and ``group``, naming every file.
    extensions : tuple of str, default=:data:`skrhythm.audio.AUDIO_EXTENSIONS`
        File suffixes that count as audio (all those skrhythm decodes: WAV,
        FLAC, OGG, Opus, MP3, M4A/AAC, AIFF, AU).
    return_X_y : bool, default=False
        Return ``(filenames, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``filenames`` (sorted by label, then name), ``target`` (the folder
        names), ``target_names`` (sorted labels holding at least one file),
        ``tempo`` (all NaN), ``groups`` (int; see ``groups``) and ``DESCR``.
    (filenames, target) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    FileNotFoundError
        If ``root`` is not a directory, or ``groups="csv"`` and it holds no
        ``groups.csv``.
    ValueError
        If no audio file is found in any sub-directory, if ``groups`` is not
        an option, or if ``groups.csv`` lacks its columns or a listed file.

    Examples
    --------
    >>> import tempfile
    >>> from skrhythm.datasets import load_audio_folder, make_ballroom_like, write_audio_folder
    >>> root = tempfile.mkdtemp()
    >>> paths = write_audio_folder(make_ballroom_like(2, duration=1.0, sr=16000), root)
    >>> data = load_audio_folder(root)
    >>> len(data.filenames), data.target_names[:2].tolist()
    (16, ['ChaChaCha', 'Jive'])
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"audio folder {str(root)!r} is not a directory")
    if groups not in (None, "subfolders", "csv"):
        raise ValueError(f"groups must be None, 'subfolders' or 'csv', got {groups!r}")
    suffixes = audio_suffixes(extensions)
    filenames, target, ignored = [], [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            files = find_audio_files(folder, extensions=suffixes)
        except FileNotFoundError:  # a class folder without audio
            files = []
        filenames += files
        target += [folder.name] * len(files)
        taken = set(files)
        ignored += sorted(
            str(p.relative_to(root))
            for p in folder.rglob("*")
            if p.is_file() and str(p) not in taken
            and not any(part.startswith(".") for part in p.relative_to(root).parts)
        )
    if ignored:
        shown = ", ".join(ignored[:10]) + (f" and {len(ignored) - 10} more" if len(ignored) > 10
                                           else "")
        warnings.warn(
            f"audio folder {str(root)!r}: {len(ignored)} file(s) without an audio extension "
            f"({', '.join(sorted(suffixes))}) ignored: {shown}",
            UserWarning,
            stacklevel=2,
        )
    if not filenames:
        raise ValueError(
            f"no audio files ({', '.join(sorted(suffixes))}) found in the sub-directories of "
            f"{str(root)!r}; expected a <label>/<file> tree"
        )
    labels = sorted(set(target))
    keys, said = _group_keys(root, filenames, groups)
    return make_bunch(
        return_X_y=return_X_y,
        filenames=filenames,
        target=target,
        target_names=labels,
        tempo=np.full(len(filenames), np.nan),
        groups=np.unique(keys, return_inverse=True)[1],
        descr=_FOLDER_DESCR.format(
            root=root,
            underline="-" * (13 + len(str(root))),
            n_files=len(filenames),
            n_labels=len(labels),
            groups=said,
        ),
    )


def _group_keys(root, filenames, groups):
    """A group key per file, and a sentence saying where they come from."""
    relative = [Path(f).relative_to(root).as_posix() for f in filenames]
    if groups is None:
        return relative, "Every file is its own group."
    if groups == "subfolders":
        parts = [r.split("/") for r in relative]
        keys = ["/".join(p[:2]) if len(p) > 2 else r for p, r in zip(parts, relative)]
        return keys, "Groups: the first folder level below each label."
    import csv

    path = root / GROUPS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} does not exist: groups='csv' reads each "
                                "file's group from it (columns file, group)")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not {"file", "group"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{str(path)!r} must have the columns file and group, has "
                             f"{', '.join(reader.fieldnames or ()) or 'none'}")
        named = {Path(row["file"]).as_posix(): row["group"] for row in reader}
    missing = [r for r in relative if r not in named]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5
                                          else "")
        raise ValueError(f"{str(path)!r} names no group for {len(missing)} of the "
                         f"{len(relative)} audio files: {shown}")
    return [f"csv:{named[r]}" for r in relative], f"Groups: from {GROUPS_FILE}."


def write_audio_folder(data, root, *, sr=None, subtype="PCM_16"):
    """Write waveforms as a ``<label>/<label>.<index>.wav`` tree.

    The tree can be read back with :func:`load_audio_folder`.

    Parameters
    ----------
    data : Bunch or tuple (X, y)
        A Bunch with ``data`` (waveforms), ``target`` and ``sr`` such as the
        one :func:`make_ballroom_like` returns, or a pair ``(X, y)`` of
        waveforms (2-D array or list of 1-D arrays) and labels.
    root : str or path-like
        Directory to write into (created if needed). Existing files of the
        same names are overwritten.
    sr : int or None, default=None
        Sample rate written in the files; ``None`` takes ``data.sr`` (required
        for ``(X, y)`` input).
    subtype : str, default="PCM_16"
        soundfile subtype of the WAV files, e.g. ``"FLOAT"`` for lossless
        float32.

    Returns
    -------
    filenames : list of str
        The written paths, in the order of the input.

    Raises
    ------
    ValueError
        If ``sr`` is unknown, the lengths of waveforms and labels differ, or a
        label is not a valid folder name.
    """
    import soundfile as sf

    if isinstance(data, tuple):
        waves, labels = data
    else:
        waves, labels = data.data, data.target
        sr = data.sr if sr is None else sr
    if sr is None:
        raise ValueError("sr is required when data is an (X, y) pair")
    if len(waves) != len(labels):
        raise ValueError(f"{len(waves)} waveforms but {len(labels)} labels")
    root = Path(root).expanduser()
    counts, written = {}, []
    for wave, label in zip(waves, labels, strict=True):
        label = str(label)
        if not label or label.startswith(".") or os.sep in label or "/" in label:
            raise ValueError(f"label {label!r} cannot be used as a folder name")
        index = counts[label] = counts.get(label, -1) + 1
        path = root / label / f"{label}.{index:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, np.asarray(wave, dtype=np.float32), int(sr), subtype=subtype)
        written.append(str(path))
    return written


def _try_load(path, sr, duration):
    try:
        return load_audio(path, sr, duration=duration)[0]
    except (OSError, ValueError) as exc:
        return exc


def load_waveforms(
    filenames, sr=44100, *, duration=None, n_jobs=None, progress=True, on_error="raise",
    return_filenames=False,
):
    """Decode many audio files at once, reporting every unreadable one.

    Parameters
    ----------
    filenames : sequence of str or path-like
        Files to decode, e.g. a loader's ``filenames``.
    sr : int, default=44100
        Sample rate to resample to.
    duration : float or None, default=None
        Keep the first ``duration`` seconds of every file. Files shorter than
        that are repeated (wrapped) to the full length, so the result is one
        2-D array. ``None`` keeps every file whole.
    n_jobs : int or None, default=None
        Files decoded in parallel by joblib.
    progress : bool, default=True
        Show a tqdm progress bar.
    on_error : {"raise", "skip"}, default="raise"
        What unreadable files do, once all files were tried: ``"raise"`` one
        error listing all of them; ``"skip"`` leave them out, with a warning
        listing each and its cause.
    return_filenames : bool, default=False
        Also return the files read (all of ``filenames`` unless some were
        skipped), to match the waveforms with their labels.

    Returns
    -------
    waveforms : ndarray of shape (n_files, round(duration * sr)) or list of ndarray
        float32 mono waveforms: a 2-D array when ``duration`` is given, else a
        list of 1-D arrays.
    filenames : list of str
        The files read, in order, if ``return_filenames`` is True.

    Raises
    ------
    ValueError
        If ``on_error`` is not one of the options.
    AudioDecodeError
        After decoding all files, if any could not be read and ``on_error`` is
        ``"raise"``, or none could be read; the message lists every bad file
        with its reason.
    """
    from tqdm.auto import tqdm

    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    filenames = [os.fspath(f) for f in filenames]
    jobs = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_try_load)(f, sr, duration) for f in filenames
    )
    results = list(tqdm(jobs, total=len(filenames), disable=not progress, desc="decoding"))
    errors = [
        f"{f}: {r}" for f, r in zip(filenames, results, strict=True) if isinstance(r, Exception)
    ]
    if errors:
        message = (f"{len(errors)} of {len(filenames)} audio files could not be read:\n"
                   + "\n".join(errors))
        if on_error == "raise" or len(errors) == len(filenames):
            raise AudioDecodeError(message)
        warnings.warn(message + "\nThey were skipped.", UserWarning, stacklevel=2)
        filenames, results = zip(*((f, r) for f, r in zip(filenames, results, strict=True)
                                   if not isinstance(r, Exception)))
        filenames, results = list(filenames), list(results)
    if duration is not None:
        n = int(round(duration * sr))
        results = np.stack([np.pad(w, (0, n - w.size), mode="wrap") for w in results])
    return (results, filenames) if return_filenames else results
