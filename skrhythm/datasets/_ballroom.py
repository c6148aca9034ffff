"""Loaders for the Ballroom and Extended Ballroom data sets (a user's local copy)."""

from __future__ import annotations

import numpy as np

from ..audio import AUDIO_EXTENSIONS
from ._base import check_files, connected_groups, find_root, make_bunch, read_index

__all__ = ["ballroom_album", "load_ballroom", "load_extended_ballroom"]

BALLROOM_FOLDERS = (
    "ChaChaCha",
    "Jive",
    "Quickstep",
    "Rumba-American",
    "Rumba-International",
    "Rumba-Misc",
    "Samba",
    "Tango",
    "VienneseWaltz",
    "Waltz",
)

# Where the folders may sit below data_home: the ISMIR 2004 archive unpacks to
# BallroomData/; mirdata keeps them in ballroom/audio/ (index 1.0 in older
# releases: B_1.0/audio/).
_BALLROOM_ROOTS = ("", "BallroomData", "ballroom/audio", "B_1.0/audio", "audio")
_EXTENDED_ROOTS = ("", "extendedballroom_v1.1", "extended_ballroom", "ExtendedBallroom")

_BALLROOM_DESCR = """\
Ballroom data set (Gouyon et al., 2004)
---------------------------------------
698 excerpts of about 30 s (WAV, 44.1 kHz, mono, 16 bit) of ballroom dance
music from ballroomdancers.com, in 10 folders; the folders Rumba-American,
Rumba-International and Rumba-Misc form the class "Rumba", giving 8 classes:
ChaChaCha 111, Jive 60, Quickstep 82, Rumba 98, Samba 86, Tango 86,
VienneseWaltz 65, Waltz 110. ``tempo`` is the annotated tempo in bpm.

B. Sturm found replicas in the set (4 exact copies and 9 re-recordings, one
exact pair across the classes ChaChaCha and Samba). Replicas share a value of
``groups``: split with GroupKFold / StratifiedGroupKFold on ``groups`` so that
no replica pair straddles training and test folds. With
``group_by="album"`` the tracks of one album share a group too: the track ids
name it (``Albums-AnaBelen_Veneo-01``: the album ``Albums-AnaBelen_Veneo``;
``Media-100601``: the CD ``Media-1006``), 53 albums in all. Tracks of one
album share a studio, a band and a mastering chain, so folds that put an album
on both sides reward recognising the album.

Audio: http://mtg.upf.edu/ismir2004/contest/tempoContest/ (data1.tar.gz,
md5 2872a3e52070bc342a4510a95e2fa0b8). It cannot be downloaded by skrhythm.
"""

_EXTENDED_DESCR = """\
Extended Ballroom data set (Marchand & Peeters, 2016)
-----------------------------------------------------
4,180 MP3 excerpts of about 30 s in 13 styles laid out as ``<Style>/<id>.mp3``:
Chacha 455, Foxtrot 507, Jive 350, Pasodoble 53, Quickstep 497, Rumba 470,
Salsa 47, Samba 468, Slowwaltz 65, Tango 464, Viennesewaltz 252, Waltz 529,
Wcswing 23. ``tempo`` is the annotated bpm where the index knows it (3,390
tracks), NaN elsewhere; ``artist`` likewise ("" where unknown).

``groups`` joins the known versions and exact duplicates of a track (and, with
``group_by="artist"``, also all tracks of one artist) so that GroupKFold keeps
them on one side of a split.

Audio: http://anasynth.ircam.fr/home/media/ExtendedBallroom (not downloadable
by skrhythm).
"""


def ballroom_album(track_id):
    """The album (or CD) a Ballroom track id names.

    Examples
    --------
    >>> ballroom_album("Albums-AnaBelen_Veneo-01"), ballroom_album("Media-100601")
    ('Albums-AnaBelen_Veneo', 'Media-1006')
    """
    if track_id.startswith("Media-"):
        return track_id[:10]  # Media-CCCCTT: CD CCCC, track TT
    return track_id.rsplit("-", 1)[0]


def load_ballroom(data_home, *, group_by="replicas", verify_md5=False, on_error="raise",
                  return_X_y=False):
    """Load the file list, labels, tempi and replica (or album) groups of Ballroom.

    The audio itself is not read: pass ``filenames`` to
    :class:`skrhythm.LogMelTransformer` or :func:`load_waveforms`.

    Parameters
    ----------
    data_home : str or path-like
        A directory holding the data set in one of these layouts (the first
        that contains any Ballroom folder is used):

        - ``<data_home>/BallroomData/<Folder>/<id>.wav`` (the unpacked
          ``data1.tar.gz``), or ``data_home`` pointing at ``BallroomData``;
        - ``<data_home>/ballroom/audio/<Folder>/<id>.wav`` (mirdata's layout;
          older mirdata releases used ``B_1.0/audio``).

        Folders are ChaChaCha, Jive, Quickstep, Rumba-American,
        Rumba-International, Rumba-Misc, Samba, Tango, VienneseWaltz, Waltz.
    group_by : {"replicas", "album"}, default="replicas"
        ``"replicas"``: Sturm's replicas share a group. ``"album"``: in
        addition, all tracks of one album share a group (album-aware splits;
        :func:`ballroom_album`).
    verify_md5 : bool, default=False
        Compare every file's md5 with the shipped index (reads about 1.5 GB).
        Without it, missing and empty files are still detected.
    on_error : {"raise", "skip"}, default="raise"
        What missing or corrupt files do: raise
        :class:`~skrhythm.datasets.DatasetIntegrityError` listing all of
        them, or leave them out with a warning listing all of them.
        Unindexed audio files in the folders (any suffix of
        :data:`skrhythm.audio.AUDIO_EXTENSIONS`, e.g. a FLAC copy of a track)
        are ignored with a warning listing them.
    return_X_y : bool, default=False
        Return ``(filenames, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``filenames`` (ndarray of str paths), ``target`` (ndarray of str, one
        of the 8 ``target_names``), ``target_names``, ``tempo`` (float bpm),
        ``groups`` (int; Sturm's replicas share one, and with
        ``group_by="album"`` an album's tracks), ``track_id``,
        ``problems`` (dict of the ``missing``, ``corrupt`` and ``extra`` files
        found) and ``DESCR``.
    (filenames, target) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    ValueError
        If ``group_by`` is not one of the options.
    FileNotFoundError
        If no Ballroom folder is found under ``data_home``.
    DatasetIntegrityError
        If files are missing or corrupt and ``on_error="raise"``, or if no
        indexed file is usable.

    Examples
    --------
    >>> from skrhythm.datasets import load_ballroom
    >>> data = load_ballroom("~/data")  # doctest: +SKIP
    >>> data.filenames.shape, data.target_names  # doctest: +SKIP
    ((698,), array(['ChaChaCha', 'Jive', 'Quickstep', 'Rumba', 'Samba', 'Tango',
           'VienneseWaltz', 'Waltz'], dtype='<U13'))
    """
    if group_by not in ("replicas", "album"):
        raise ValueError(f"group_by must be 'replicas' or 'album', got {group_by!r}")
    rows = read_index("ballroom_index.csv")
    root = find_root(data_home, BALLROOM_FOLDERS, _BALLROOM_ROOTS)
    relpaths = [f"{r['folder']}/{r['track_id']}.wav" for r in rows]
    keep, problems = check_files(
        root,
        relpaths,
        [r["wav_md5"] for r in rows],
        extensions=AUDIO_EXTENSIONS,
        verify_md5=verify_md5,
        on_error=on_error,
        name="Ballroom",
    )
    ids = [r["track_id"] for r in rows]
    links = [(r["track_id"], r["replica_group"]) for r in rows if r["replica_group"]]
    if group_by == "album":
        links += [(i, f"album:{ballroom_album(i)}") for i in ids]
    groups = connected_groups(ids + [g for _, g in links], links)[: len(ids)]
    return _subset_bunch(
        rows, keep, root, relpaths, groups, return_X_y, _BALLROOM_DESCR, problems=problems
    )


def load_extended_ballroom(
    data_home, *, group_by="duplicates", verify_md5=False, on_error="raise", return_X_y=False
):
    """Load the file list, labels, tempi and groups of Extended Ballroom.

    Parameters
    ----------
    data_home : str or path-like
        Directory holding the ``<Style>/<id>.mp3`` folders (Chacha, Foxtrot,
        Jive, Pasodoble, Quickstep, Rumba, Salsa, Samba, Slowwaltz, Tango,
        Viennesewaltz, Waltz, Wcswing), or its parent when the folders sit in
        ``extendedballroom_v1.1``, ``extended_ballroom`` or ``ExtendedBallroom``.
    group_by : {"duplicates", "artist"}, default="duplicates"
        ``"duplicates"``: a track, its known versions and its exact duplicates
        share a group. ``"artist"``: in addition, all tracks of one artist
        share a group (artist-aware splits; tracks whose artist is unknown
        are grouped by duplicates only).
    verify_md5 : bool, default=False
        Compare every file's md5 with the shipped index where it knows one
        (3,390 of 4,180 tracks).
    on_error : {"raise", "skip"}, default="raise"
        As in :func:`load_ballroom`.
    return_X_y : bool, default=False
        Return ``(filenames, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``filenames``, ``target`` (13 styles), ``target_names``, ``tempo``
        (NaN where unknown), ``groups``, ``track_id``, ``artist`` ("" where
        unknown), ``problems`` and ``DESCR``.
    (filenames, target) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    ValueError
        If ``group_by`` is not one of the options.
    FileNotFoundError
        If no style folder is found under ``data_home``.
    DatasetIntegrityError
        If files are missing or corrupt and ``on_error="raise"``.
    """
    if group_by not in ("duplicates", "artist"):
        raise ValueError(f"group_by must be 'duplicates' or 'artist', got {group_by!r}")
    rows = read_index("extended_ballroom_index.csv")
    root = find_root(data_home, {r["style"] for r in rows}, _EXTENDED_ROOTS)
    relpaths = [r["path"] for r in rows]
    keep, problems = check_files(
        root,
        relpaths,
        [r["mp3_md5"] for r in rows],
        extensions=AUDIO_EXTENSIONS,
        verify_md5=verify_md5,
        on_error=on_error,
        name="Extended Ballroom",
    )
    ids = [r["track_id"] for r in rows]
    links = [
        (r["track_id"], other) for r in rows for other in (r["versions"] + " " + r["exact"]).split()
    ]
    keys = ids
    if group_by == "artist":
        artists = {r["artist"].strip().casefold() for r in rows if r["artist"].strip()}
        keys = ids + [f"artist:{a}" for a in sorted(artists)]
        links += [
            (r["track_id"], f"artist:{r['artist'].strip().casefold()}")
            for r in rows
            if r["artist"].strip()
        ]
    groups = connected_groups(keys, links)[: len(ids)]
    return _subset_bunch(
        rows,
        keep,
        root,
        relpaths,
        groups,
        return_X_y,
        _EXTENDED_DESCR,
        problems=problems,
        artist=np.asarray([r["artist"].strip() for r in rows], dtype=object)[keep],
    )


def _subset_bunch(rows, keep, root, relpaths, groups, return_X_y, descr, **extra):
    """The Bunch of the usable (``keep``) index rows."""
    styles = [r["style"] for r in rows]
    return make_bunch(
        return_X_y=return_X_y,
        filenames=[str(root / rel) for rel, k in zip(relpaths, keep, strict=True) if k],
        target=np.asarray(styles)[keep],
        target_names=sorted(set(styles)),
        tempo=np.asarray([float(r["bpm"] or "nan") for r in rows])[keep],
        groups=groups[keep],
        descr=descr,
        track_id=np.asarray([r["track_id"] for r in rows], dtype=object)[keep],
        **extra,
    )
