"""Tests of skrhythm.datasets on miniature trees and small generated sets."""

import hashlib
import os
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.model_selection import GroupKFold

from conftest import write_pyav
from skrhythm.audio import AudioDecodeError
from skrhythm.datasets import (
    DatasetIntegrityError,
    _ballroom,
    _synthetic,
    load_audio_folder,
    load_ballroom,
    load_extended_ballroom,
    load_waveforms,
    make_ballroom_like,
    write_audio_folder,
)
from skrhythm.datasets._base import read_index

BALLROOM_CLASSES = [
    "ChaChaCha",
    "Jive",
    "Quickstep",
    "Rumba",
    "Samba",
    "Tango",
    "VienneseWaltz",
    "Waltz",
]


def _write_wav(path, seed=0, seconds=0.05, sr=8000):
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(seed).uniform(-0.5, 0.5, int(seconds * sr))
    sf.write(path, noise, sr, subtype="PCM_16")
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def fake_ballroom(tmp_path, monkeypatch):
    """A 14-track Ballroom tree (archive layout) and a matching index.

    One track per folder of the real index, plus the partners of the replica
    groups dup02 (ChaChaCha/Samba, exact) and dup05 (Rumba, recording).
    """
    rows = read_index("ballroom_index.csv")
    chosen = {}
    for row in rows:
        chosen.setdefault(row["folder"], row)
    for row in rows:
        if row["replica_group"] in ("dup02", "dup05"):
            chosen[row["track_id"]] = row
    index = []
    for seed, row in enumerate(chosen.values()):
        path = tmp_path / "BallroomData" / row["folder"] / f"{row['track_id']}.wav"
        index.append({**row, "wav_md5": _write_wav(path, seed)})
    monkeypatch.setattr(_ballroom, "read_index", lambda name: index)
    return tmp_path, index


def test_shipped_ballroom_index_matches_the_data_set():
    rows = read_index("ballroom_index.csv")
    assert len(rows) == 698
    assert Counter(r["folder"] for r in rows) == {
        "ChaChaCha": 111,
        "Jive": 60,
        "Quickstep": 82,
        "Rumba-American": 7,
        "Rumba-International": 51,
        "Rumba-Misc": 40,
        "Samba": 86,
        "Tango": 86,
        "VienneseWaltz": 65,
        "Waltz": 110,
    }
    assert sorted({r["style"] for r in rows}) == BALLROOM_CLASSES
    assert len({r["replica_group"] for r in rows if r["replica_group"]}) == 13


def test_shipped_extended_index():
    rows = read_index("extended_ballroom_index.csv")
    assert len(rows) == 4180
    assert len({r["style"] for r in rows}) == 13
    assert all(r["path"] == f"{r['style']}/{r['track_id']}.mp3" for r in rows)


@pytest.mark.parametrize("layout", ["archive", "inside", "mirdata"])
def test_load_ballroom_layouts(fake_ballroom, layout):
    home, index = fake_ballroom
    if layout == "inside":
        home = home / "BallroomData"
    elif layout == "mirdata":
        (home / "ballroom").mkdir()
        (home / "BallroomData").rename(home / "ballroom" / "audio")
    data = load_ballroom(home, verify_md5=True)
    assert len(data.filenames) == len(index)
    assert list(data.target_names) == BALLROOM_CLASSES
    assert set(data.target) == set(BALLROOM_CLASSES)
    assert data.target.dtype.kind == "U" and data.tempo.dtype == float
    assert not np.isnan(data.tempo).any()
    rumba_folders = {f.split("/")[-2] for f, t in zip(data.filenames, data.target) if t == "Rumba"}
    assert rumba_folders == {"Rumba-American", "Rumba-International", "Rumba-Misc"}
    assert "Sturm" in data.DESCR
    X, y = load_ballroom(home, return_X_y=True)
    assert list(X) == list(data.filenames) and list(y) == list(data.target)


def test_ballroom_groups_keep_replicas_together(fake_ballroom):
    data = load_ballroom(fake_ballroom[0])
    ids = list(data.track_id)
    group = dict(zip(ids, data.groups))
    assert group["Albums-Fire-08"] == group["Albums-Fire-09"]  # across classes
    assert group["Albums-AnaBelen_Veneo-03"] == group["Albums-AnaBelen_Veneo-15"]
    assert len(set(data.groups)) == len(ids) - 2
    for train, test in GroupKFold(n_splits=5).split(data.filenames, groups=data.groups):
        assert not set(data.groups[train]) & set(data.groups[test])


def test_ballroom_album_groups_keep_albums_and_replicas_together(fake_ballroom):
    from skrhythm.datasets import ballroom_album

    data = load_ballroom(fake_ballroom[0], group_by="album")
    album = [ballroom_album(i) for i in data.track_id]
    group = dict(zip(data.track_id, data.groups))
    for i, a in zip(data.track_id, album):  # one group per album ...
        assert {group[j] for j, b in zip(data.track_id, album) if b == a} == {group[i]}
    assert group["Albums-Fire-08"] == group["Albums-Fire-09"]  # ... replicas still joined
    assert len(set(data.groups)) < len(set(load_ballroom(fake_ballroom[0]).groups))
    shipped = read_index("ballroom_index.csv")
    assert len({ballroom_album(r["track_id"]) for r in shipped}) == 53
    with pytest.raises(ValueError, match="group_by must be 'replicas' or 'album'"):
        load_ballroom(fake_ballroom[0], group_by="artist")


def test_audio_folder_groups_from_subfolders_or_a_csv(tmp_path):
    for path in ("a/s1/x.wav", "a/s1/y.wav", "a/z.wav", "b/s2/x.wav", "b/w.wav"):
        _write_wav(tmp_path / path)
    assert list(load_audio_folder(tmp_path).groups) == [0, 1, 2, 3, 4]
    data = load_audio_folder(tmp_path, groups="subfolders")
    names = [Path(f).relative_to(tmp_path).as_posix() for f in data.filenames]
    group = dict(zip(names, data.groups))
    assert group["a/s1/x.wav"] == group["a/s1/y.wav"] != group["a/z.wav"]
    assert len(set(data.groups)) == 4
    with pytest.raises(FileNotFoundError, match="groups.csv"):
        load_audio_folder(tmp_path, groups="csv")
    (tmp_path / "groups.csv").write_text("file,group\na/s1/x.wav,1\na/s1/y.wav,2\n"
                                         "a/z.wav,1\nb/s2/x.wav,2\n")
    with pytest.raises(ValueError, match="no group for 1 of the 5 audio files: b/w.wav"):
        load_audio_folder(tmp_path, groups="csv")
    with open(tmp_path / "groups.csv", "a") as f:
        f.write("b/w.wav,3\n")
    data = load_audio_folder(tmp_path, groups="csv")
    group = dict(zip([Path(f).relative_to(tmp_path).as_posix() for f in data.filenames],
                     data.groups))
    assert group["a/s1/x.wav"] == group["a/z.wav"] != group["a/s1/y.wav"] == group["b/s2/x.wav"]
    assert "groups.csv" in data.DESCR


def test_ballroom_reports_every_problem(fake_ballroom):
    home, index = fake_ballroom
    root = home / "BallroomData"
    (root / index[0]["folder"] / f"{index[0]['track_id']}.wav").unlink()
    (root / index[1]["folder"] / f"{index[1]['track_id']}.wav").unlink()
    _write_wav(root / index[2]["folder"] / f"{index[2]['track_id']}.wav", seed=99)  # md5 differs
    (root / index[3]["folder"] / f"{index[3]['track_id']}.wav").write_bytes(b"")
    _write_wav(root / "Jive" / "not-in-the-index.wav")
    # A track converted to another format is not the indexed file, and is named as unindexed.
    flac = root / index[0]["folder"] / f"{index[0]['track_id']}.flac"
    sf.write(flac, np.zeros(100), 8000, format="FLAC")

    with pytest.warns(UserWarning, match="2 unindexed"):
        with pytest.raises(DatasetIntegrityError, match="2 missing.*2 corrupt") as info:
            load_ballroom(home, verify_md5=True)
    error = info.value
    assert len(error.missing) == 2 and len(error.corrupt) == 2
    assert any("md5 mismatch" in c for c in error.corrupt)
    assert any("empty file" in c for c in error.corrupt)
    assert sorted(error.extra) == sorted(
        ["Jive/not-in-the-index.wav", f"{index[0]['folder']}/{flac.name}"])
    for row in index[:4]:
        assert row["track_id"] in str(error)

    # Without md5 checks the modified file passes; the empty one does not.
    kept = f"{len(index) - 3} of {len(index)} tracks kept"
    with pytest.warns(UserWarning) as record:
        data = load_ballroom(home, on_error="skip")
    messages = [str(w.message) for w in record]
    assert any(re.search(f"2 missing.*1 corrupt.*{kept}", m) for m in messages)
    assert any("2 unindexed" in m for m in messages)
    assert len(data.filenames) == len(index) - 3
    assert len(data.problems["missing"]) == 2
    assert not any(index[0]["track_id"] in f for f in data.filenames)


def test_ballroom_with_real_index_lists_all_missing(tmp_path):
    rows = read_index("ballroom_index.csv")
    for row in rows[:2]:
        _write_wav(tmp_path / "BallroomData" / row["folder"] / f"{row['track_id']}.wav")
    with pytest.raises(DatasetIntegrityError, match="696 missing.*and 676 more") as info:
        load_ballroom(tmp_path)
    assert len(info.value.missing) == 696
    with pytest.warns(UserWarning, match="2 of 698 tracks kept"):
        data = load_ballroom(tmp_path, on_error="skip")
    assert list(data.track_id) == [rows[0]["track_id"], rows[1]["track_id"]]


def test_ballroom_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="ChaChaCha"):
        load_ballroom(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        load_ballroom(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="on_error"):
        (tmp_path / "ChaChaCha").mkdir()
        load_ballroom(tmp_path, on_error="ignore")


def test_extended_ballroom_groups(tmp_path):
    rows = {r["track_id"]: r for r in read_index("extended_ballroom_index.csv")}
    linked = ["100702", "108537", "108710"]  # versions of one another
    first = rows["100701"]
    same_artist = next(
        r["track_id"]
        for r in rows.values()
        if r["artist"] == first["artist"] and r["track_id"] != "100701"
    )
    wanted = [*linked, "100701", same_artist]
    for track_id in wanted:
        path = tmp_path / rows[track_id]["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not decoded by the loader")
    with pytest.warns(UserWarning, match="5 of 4180 tracks kept"):
        data = load_extended_ballroom(tmp_path, on_error="skip")
    group = dict(zip(data.track_id, data.groups))
    assert group["100702"] == group["108537"] == group["108710"]
    assert group["100701"] != group[same_artist]
    assert len(data.target_names) == 13
    with pytest.warns(UserWarning):
        by_artist = load_extended_ballroom(tmp_path, group_by="artist", on_error="skip")
    group = dict(zip(by_artist.track_id, by_artist.groups))
    assert group["100701"] == group[same_artist]
    assert by_artist.artist[list(by_artist.track_id).index("100701")] == first["artist"]
    with pytest.raises(ValueError, match="group_by"):
        load_extended_ballroom(tmp_path, group_by="album")


@pytest.fixture
def audio_tree(tmp_path):
    """A GTZAN-style tree with one file of each supported format."""
    sr = 8000
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    formats = {"a/one.wav": "WAV", "a/two.FLAC": "FLAC", "b/three.ogg": "OGG", "b/four.au": "AU"}
    if "MP3" in sf.available_formats():
        formats["b/five.mp3"] = "MP3"
    for rel, fmt in formats.items():
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        sf.write(tmp_path / rel, tone, sr, format=fmt)
    # AAC in an M4A, one folder deeper (an album inside the class folder), through PyAV.
    (tmp_path / "b" / "album").mkdir()
    write_pyav(tmp_path / "b" / "album" / "six.m4a", tone, sr)
    formats["b/album/six.m4a"] = "M4A"
    (tmp_path / "a" / "notes.txt").write_text("not audio")
    (tmp_path / "a" / ".hidden.wav").write_bytes(b"")
    (tmp_path / "empty_label").mkdir()
    (tmp_path / "loose.wav").write_bytes(b"")
    return tmp_path, len(formats)


def test_load_audio_folder(audio_tree):
    root, n_files = audio_tree
    with pytest.warns(UserWarning, match=r"1 file\(s\) without an audio extension .* a/notes.txt"):
        data = load_audio_folder(root)
    assert any(f.endswith("six.m4a") for f in data.filenames)
    assert len(data.filenames) == n_files
    assert list(data.target_names) == ["a", "b"]
    assert Counter(data.target) == {"a": 2, "b": n_files - 2}
    assert np.isnan(data.tempo).all() and list(data.groups) == list(range(n_files))
    waves = load_waveforms(data.filenames, sr=8000, progress=False)
    # Lossy codecs pad: AAC by up to two 1024-sample frames (priming and the last frame).
    assert all(w.dtype == np.float32 and -800 < w.size - 8000 < 2048 + 800 for w in waves)
    fixed = load_waveforms(data.filenames, sr=4000, duration=2.0, progress=False)
    assert fixed.shape == (n_files, 8000) and fixed.dtype == np.float32
    with pytest.warns(UserWarning, match=r"[56] file"):
        only_wav = load_audio_folder(root, extensions=("wav",), return_X_y=True)
    assert [f.split("/")[-1] for f in only_wav[0]] == ["one.wav"]


def test_load_audio_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_audio_folder(tmp_path / "missing")
    (tmp_path / "label").mkdir()
    with pytest.raises(ValueError, match="no audio files"):
        load_audio_folder(tmp_path)


def test_load_waveforms_reports_all_bad_files(audio_tree):
    root, _ = audio_tree
    bad = [root / "a" / "bad1.wav", root / "b" / "bad2.mp3"]
    bad[0].write_bytes(b"garbage" * 10)
    bad[1].write_bytes(b"")
    with pytest.warns(UserWarning, match="notes.txt"):
        files = [*load_audio_folder(root).filenames, root / "a" / "gone.wav"]
    with pytest.raises(AudioDecodeError, match="3 of .* could not be read") as info:
        load_waveforms(files, progress=False)
    for name in ("bad1.wav", "bad2.mp3", "gone.wav"):
        assert name in str(info.value)
    with pytest.warns(UserWarning, match="3 of .* could not be read") as record:
        waves, kept = load_waveforms(files, sr=8000, duration=0.5, progress=False,
                                     on_error="skip", return_filenames=True)
    message = str(record[0].message)
    assert "bad1.wav: cannot decode" in message and "gone.wav" in message
    assert "bad2.mp3" in message and "is empty" in message
    assert kept == [str(f) for f in files if os.path.basename(f) not in
                    ("bad1.wav", "bad2.mp3", "gone.wav")]
    assert waves.shape == (len(kept), 4000)
    with pytest.raises(AudioDecodeError, match="2 of 2"):
        load_waveforms(bad, on_error="skip", progress=False)


def test_make_ballroom_like_shapes_and_balance():
    data = make_ballroom_like(n_per_class=3, duration=4.0, sr=22050, random_state=0)
    assert data.data.shape == (24, 4 * 22050) and data.data.dtype == np.float32
    assert list(data.target_names) == BALLROOM_CLASSES
    assert Counter(data.target) == dict.fromkeys(BALLROOM_CLASSES, 3)
    assert list(data.groups) == list(range(24)) and data.sr == 22050
    assert np.isfinite(data.data).all() and np.abs(data.data).max() <= 1.0
    assert (np.sqrt(np.mean(data.data**2, axis=1)) > 0.01).all()
    X, y = make_ballroom_like(n_per_class=1, duration=1.0, sr=16000, return_X_y=True)
    assert X.shape == (8, 16000) and list(y) == BALLROOM_CLASSES


def test_make_ballroom_like_is_deterministic():
    kwargs = {"n_per_class": 1, "duration": 2.0, "sr": 16000}
    a = make_ballroom_like(random_state=3, **kwargs)
    b = make_ballroom_like(random_state=3, n_jobs=2, **kwargs)
    c = make_ballroom_like(random_state=4, **kwargs)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.tempo, b.tempo)
    assert not np.allclose(a.data, c.data)


def test_make_ballroom_like_rows_are_the_rendered_tracks():
    """The tracks are copied into the returned array as rendered, in order."""
    from skrhythm.datasets._synthetic import _render

    data = make_ballroom_like(n_per_class=1, duration=1.0, sr=16000, random_state=0, n_jobs=2)
    seed = np.random.RandomState(0).randint(np.iinfo(np.int32).max)
    seeds = np.random.SeedSequence(seed).spawn(len(data.target))
    for row, name, bpm, track_seed in zip(data.data, data.target, data.tempo, seeds):
        assert np.array_equal(row, _render(name, bpm, 16000, 16000, track_seed))


def test_make_ballroom_like_tempi_follow_ballroom():
    tempi = _synthetic._class_tempi()
    data = make_ballroom_like(n_per_class=4, duration=1.0, sr=16000, random_state=0)
    for name in BALLROOM_CLASSES:
        tempo = data.tempo[data.target == name]
        assert (tempo >= 0.95 * tempi[name].min()).all()
        assert (tempo <= 1.05 * tempi[name].max()).all()
    # Tempo ranges overlap as in Ballroom, so tempo alone cannot separate all classes.
    for a, b in [("Rumba", "Samba"), ("ChaChaCha", "Tango"), ("Jive", "VienneseWaltz")]:
        assert tempi[a].max() >= tempi[b].min() and tempi[b].max() >= tempi[a].min()


def test_pattern_tables_fit_their_metre():
    for name, style in _synthetic._STYLES.items():
        assert style.beats_per_bar == (3 if "Waltz" in name else 4)
        for pattern in style.patterns.values():
            assert _synthetic._grid(pattern).size == 2 * 4 * style.beats_per_bar


def test_make_ballroom_like_rejects_bad_arguments():
    for kwargs in [{"n_per_class": 0}, {"duration": 0.0}, {"sr": 8000}]:
        with pytest.raises(ValueError):
            make_ballroom_like(**kwargs)


def test_write_audio_folder_round_trip(tmp_path):
    data = make_ballroom_like(n_per_class=2, duration=1.0, sr=16000, random_state=1)
    written = write_audio_folder(data, tmp_path, subtype="FLOAT")
    assert len(written) == 16
    back = load_audio_folder(tmp_path)
    assert list(back.filenames) == written  # written in label order
    assert list(back.target) == list(data.target)
    waves = load_waveforms(back.filenames, sr=16000, duration=1.0, progress=False)
    np.testing.assert_array_equal(waves, data.data)

    pairs = write_audio_folder((data.data[:2], ["x", "y"]), tmp_path / "pairs", sr=16000)
    assert [p.split("/")[-2] for p in pairs] == ["x", "y"]
    with pytest.raises(ValueError, match="sr is required"):
        write_audio_folder((data.data[:1], ["x"]), tmp_path)
    with pytest.raises(ValueError, match="folder name"):
        write_audio_folder((data.data[:1], ["../up"]), tmp_path, sr=16000)


def test_no_warnings_on_clean_tree(fake_ballroom):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_ballroom(fake_ballroom[0], verify_md5=True)


@pytest.mark.slow
def test_synthetic_set_is_learnable():
    """A small O+P pipeline clearly beats chance (12.5 %) on held-out tracks."""
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline

    from skrhythm import LogMelTransformer, MusicCNNClassifier

    sr = 22050  # hop 512 keeps the paper's 250-frame patches at about 5.8 s
    X, y = make_ballroom_like(n_per_class=9, duration=7.0, sr=sr, random_state=0, return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=1 / 3, stratify=y, random_state=0
    )
    pipe = Pipeline(
        [
            ("logmel", LogMelTransformer(sr=sr, n_fft=1024, hop_length=512, duration=None)),
            (
                "cnn",
                MusicCNNClassifier(n_onet=1, n_pnet=1, patch_hop=50, max_epochs=30, random_state=0),
            ),
        ]
    )
    pipe.fit(X_train, y_train)
    assert pipe.score(X_test, y_test) >= 0.5


def test_generation_progress_bar_changes_nothing(capsys):
    from skrhythm.datasets import make_ballroom_like

    quiet = make_ballroom_like(n_per_class=1, duration=2.0, sr=16000, random_state=3)
    shown = make_ballroom_like(n_per_class=1, duration=2.0, sr=16000, random_state=3,
                               progress=True)
    err = capsys.readouterr().err
    assert "generating tracks" in err and "0/8 [" in err
    np.testing.assert_array_equal(quiet.data, shown.data)
