"""LogMelTransformer(cache=...): features computed once per track content and parameters."""

import numpy as np
import pytest
import soundfile as sf
from joblib import Memory
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from skrhythm import LogMelTransformer, MusicCNNClassifier

PARAMS = dict(sr=8000, n_fft=256, hop_length=128, n_mels=16, duration=None)


@pytest.fixture
def count_spectrograms(monkeypatch):
    """Count LogMelTransformer.spectrogram calls (the work the cache saves)."""
    calls = []
    spectrogram = LogMelTransformer.spectrogram

    def counting(self, wave):
        calls.append(wave.size)
        return spectrogram(self, wave)

    monkeypatch.setattr(LogMelTransformer, "spectrogram", counting)
    return calls


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        path = tmp_path / f"track{i}.wav"
        sf.write(path, 0.1 * rng.standard_normal(4000), 8000)
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("as_memory", [False, True])
def test_second_transform_reads_the_cache(files, tmp_path, count_spectrograms, as_memory):
    cache = Memory(tmp_path / "cache", verbose=0) if as_memory else tmp_path / "cache"
    first = LogMelTransformer(**PARAMS, cache=cache).transform(files)
    assert len(count_spectrograms) == 3
    again = LogMelTransformer(**PARAMS, cache=cache).transform(files)
    assert len(count_spectrograms) == 3
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(first, LogMelTransformer(**PARAMS).transform(files))


def test_parameters_and_content_invalidate(files, tmp_path, count_spectrograms):
    cache = tmp_path / "cache"
    LogMelTransformer(**PARAMS, cache=cache).transform(files)
    LogMelTransformer(**{**PARAMS, "n_mels": 8}, cache=cache).transform(files)
    assert len(count_spectrograms) == 6
    LogMelTransformer(**PARAMS, cache=cache, n_jobs=1).transform(files)  # n_jobs is no key
    assert len(count_spectrograms) == 6
    sf.write(files[0], np.zeros(4000), 8000)  # same name and size, new content
    out = LogMelTransformer(**PARAMS, cache=cache).transform(files)
    assert len(count_spectrograms) == 7
    assert out[0].max() == 0.0  # log10(1 + 0): the new, silent content


def test_waveforms_are_keyed_by_their_samples(tmp_path, count_spectrograms):
    waves = np.random.default_rng(1).standard_normal((2, 4000)).astype(np.float32)
    logmel = LogMelTransformer(**PARAMS, cache=tmp_path)
    logmel.transform(waves)
    logmel.transform(waves)
    assert len(count_spectrograms) == 2
    waves[1, 0] += 1.0
    logmel.transform(waves)
    assert len(count_spectrograms) == 3


def test_missing_file_error_is_not_hidden_by_the_cache(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LogMelTransformer(**PARAMS, cache=tmp_path).transform([str(tmp_path / "nope.wav")])


def test_grid_search_computes_each_track_once(tmp_path, count_spectrograms):
    rng = np.random.default_rng(2)
    waves = rng.standard_normal((8, 4000)).astype(np.float32)
    labels = np.repeat([0, 1], 4)
    pipe = Pipeline([
        ("logmel", LogMelTransformer(**PARAMS, cache=tmp_path)),
        ("cnn", MusicCNNClassifier(onet_lengths=(2,), pnet_lengths=(3,), patch_frames=8,
                                   max_epochs=1, filterbank="reference", random_state=0)),
    ])
    GridSearchCV(pipe, {"cnn__n_pnet": [0, 1]}, cv=2).fit(waves, labels)
    assert len(count_spectrograms) == len(waves)


@pytest.mark.parametrize("as_memory", [False, True])
@pytest.mark.parametrize("planted", ["shape", "nan", "negative", "frames", "dtype"])
def test_planted_entries_are_recomputed_not_used(files, tmp_path, as_memory, planted):
    """The checksum is stored in the entry itself, so it stops damage, not a planted file:
    entries are also checked against what the settings fix."""
    import hashlib

    import joblib

    from skrhythm._store import save_array

    cache = Memory(tmp_path / "cache", verbose=0) if as_memory else tmp_path / "cache"
    params = {**PARAMS, "duration": 0.5}
    logmel = LogMelTransformer(**params, cache=cache)
    fresh = logmel.transform(files)
    good = fresh[0]
    bad = {"shape": np.zeros((3, 5), np.float32), "nan": np.full_like(good, np.nan),
           "negative": good - good.max() - 1.0, "frames": good[:, :-1].copy(),
           "dtype": good.astype(np.float64)}[planted]
    if as_memory:  # overwrite every entry of the memory with a well-formed forgery
        for output in (tmp_path / "cache").rglob("output.pkl"):
            joblib.dump({"spectrogram": bad, "sha256": hashlib.sha256(bad.tobytes()).hexdigest()},
                        output)
    else:
        for entry in (tmp_path / "cache" / "logmel").rglob("*.npz"):
            save_array(entry, bad)  # a valid file with its own checksum
    with pytest.warns(UserWarning, match="feature cache entry .*(shape|finite|below|float32)"):
        again = LogMelTransformer(**params, cache=cache).transform(files)
    np.testing.assert_array_equal(again, fresh)


def test_plausibility_of_a_spectrogram():
    logmel = LogMelTransformer(**{**PARAMS, "duration": None})
    wave = np.zeros(4000, np.float32)
    S = logmel.spectrogram(wave)
    assert S.shape == (16, logmel.n_frames(4000)) and logmel.implausible(S, wave) is None
    assert logmel.implausible(S) is None  # frames unknown without the track
    assert "not 16 x 32" in logmel.implausible(S[:, :-1], wave)
    db = LogMelTransformer(**{**PARAMS, "compression": "db"})
    assert db.implausible(db.spectrogram(wave), wave) is None  # -100 dB of silence is fine
    assert "below -100" in db.implausible(db.spectrogram(wave) - 1, wave)
