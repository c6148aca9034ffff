"""LogMelTransformer: the paper's features, from waveforms and files, odd input, the cache."""

import errno
import os
import sys

import av
import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from joblib import Memory
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from conftest import write_pyav
from skrhythm import LogMelTransformer, MusicCNNClassifier, audio
from skrhythm.audio import AudioDecodeError, load_audio

SR = 22050


@pytest.fixture
def waves():
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, SR)).astype(np.float32) * 0.1


def test_paper_defaults_give_1292_frames_for_30_s():
    lm = LogMelTransformer()
    assert (lm.sr, lm.n_fft, lm.hop_length, lm.n_mels, lm.compression) == (
        44100, 2048, 1024, 40, "log10"
    )
    wave = np.random.default_rng(1).standard_normal(44100 * 30).astype(np.float32)
    S = lm.transform([wave])
    assert S.shape == (1, 40, 1292) and S.dtype == np.float32


def test_log10_compression_matches_formula(waves):
    import librosa

    S = LogMelTransformer(sr=SR, duration=None).transform(waves[:1])[0]
    power = librosa.feature.melspectrogram(
        y=waves[0], sr=SR, n_fft=2048, hop_length=1024, n_mels=40, fmin=0.0
    )
    np.testing.assert_allclose(S, np.log10(1 + 10000 * power), rtol=1e-5, atol=1e-6)
    S_db = LogMelTransformer(sr=SR, duration=None, compression="db").transform(waves[:1])[0]
    np.testing.assert_allclose(S_db, 10 * np.log10(np.maximum(power, 1e-10)), rtol=1e-4, atol=1e-3)


def test_tracks_are_independent_of_the_batch(waves):
    lm = LogMelTransformer(sr=SR, duration=None)
    together = lm.transform(waves)
    alone = np.concatenate([lm.transform(waves[i : i + 1]) for i in range(3)])
    np.testing.assert_array_equal(together, alone)
    # Worker processes may use other FFT/BLAS code paths: equal up to float32 rounding.
    parallel = LogMelTransformer(sr=SR, duration=None, n_jobs=2).transform(waves)
    np.testing.assert_allclose(parallel, together, rtol=1e-6, atol=1e-6)


def test_list_of_different_lengths_needs_duration(waves):
    tracks = [waves[0], waves[1][: SR // 2]]
    with pytest.raises(ValueError, match="set duration"):
        LogMelTransformer(sr=SR, duration=None).transform(tracks)
    S = LogMelTransformer(sr=SR, duration=1.0).transform(tracks)
    assert S.shape == (2, 40, 1 + SR // 1024)
    # "wrap" repeats the short track; "constant" pads silence (log10(1 + 0) = 0 at the end).
    S_const = LogMelTransformer(sr=SR, duration=1.0, pad_mode="constant").transform(tracks)
    assert np.all(S_const[1, :, -3:] == 0) and not np.all(S[1, :, -3:] == 0)


def test_file_paths_are_decoded_and_resampled(tmp_path, waves):
    stereo = np.stack([waves[0], waves[0]], axis=1)
    sf.write(tmp_path / "a.wav", stereo, SR, subtype="PCM_16")
    sf.write(tmp_path / "b.flac", waves[0], SR)
    sf.write(tmp_path / "c.wav", waves[0][::2], SR // 2, subtype="FLOAT")
    paths = [tmp_path / "a.wav", str(tmp_path / "b.flac"), tmp_path / "c.wav"]
    S = LogMelTransformer(sr=SR, duration=1.0).fit_transform(paths)
    direct = LogMelTransformer(sr=SR, duration=1.0).transform(waves[:1])[0]
    assert S.shape == (3, 40, 22)
    np.testing.assert_allclose(S[0], direct, atol=2e-3)  # 16-bit quantisation only
    np.testing.assert_allclose(S[1], direct, atol=2e-3)
    assert not hasattr(LogMelTransformer().fit(paths), "n_features_in_")


def test_undecodable_file_is_named(tmp_path, waves):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF this is not audio")
    sf.write(tmp_path / "ok.wav", waves[0], SR)
    with pytest.raises(AudioDecodeError, match="broken.wav"):
        LogMelTransformer(sr=SR, duration=1.0).transform([tmp_path / "ok.wav", bad])
    with pytest.raises(FileNotFoundError, match="missing.wav"):
        LogMelTransformer(sr=SR).transform([tmp_path / "missing.wav"])


@pytest.mark.parametrize(
    "X, match",
    [
        (np.full((2, 100), np.nan, dtype=np.float32), "NaN"),
        ([np.array([0.0, np.inf, 0.0])], "NaN or infinity"),
        ([], "empty"),
        ([np.zeros(0)], "empty"),
        (np.zeros(100), "2D array"),
        (np.zeros((2, 3, 4)), "dim"),
        ([np.zeros((2, 2))], "1-D"),
        ("song.wav", "single path"),
    ],
)
def test_bad_input_gives_clear_errors(X, match):
    with pytest.raises(ValueError, match=match):
        LogMelTransformer(sr=SR).fit_transform(X)


def test_array_input_records_n_features_and_checks_it(waves):
    lm = LogMelTransformer(sr=SR, duration=None).fit(waves)
    assert lm.n_features_in_ == SR
    with pytest.raises(ValueError, match="features"):
        lm.transform(waves[:, :-1])


# -- loud audio and file names -------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_overflow_error_names_the_file(tmp_path):
    loud = tmp_path / "too loud.wav"
    sf.write(loud, np.full(8000, 1e30), 8000, subtype="DOUBLE")
    power = dict(sr=8000, n_fft=256, hop_length=128, compression="none")  # 1e60: no float32
    with pytest.raises(ValueError, match=r"too loud\.wav.*overflows float32"):
        LogMelTransformer(**power, duration=None).transform([loud])
    with pytest.raises(ValueError, match=r"track 1: .*overflows float32"):
        LogMelTransformer(**power).transform([np.zeros(800), np.full(800, 1e30)])
    # computed in float64, the log-compressed spectrogram of such audio is finite
    S = LogMelTransformer(sr=8000, n_fft=256, hop_length=128, duration=None).transform([loud])
    assert np.isfinite(S).all() and 60 < S.max() < 70



def test_file_names_that_are_not_utf8(tmp_path):
    name = os.fsencode(tmp_path) + b"/caf\xe9 \xff.wav"
    try:
        with open(name, "wb"):
            pass
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    sf.write(name, 0.1 * np.ones(8000), 8000, format="WAV")
    assert load_audio(name, 8000)[0].shape == (8000,)
    assert load_audio(os.fsdecode(name), 8000)[0].shape == (8000,)
    params = dict(sr=8000, n_fft=256, hop_length=128, n_mels=8, duration=None)
    expected = LogMelTransformer(**params).transform([name])
    np.testing.assert_array_equal(
        LogMelTransformer(**params, cache=tmp_path / "cache").transform([os.fsdecode(name)]),
        expected)
    damaged = os.fsencode(tmp_path) + b"/bad\xff.wav"
    with open(damaged, "wb") as f:
        f.write(b"not audio" * 10)
    with pytest.raises(ValueError, match=r"bad\\udcff\.wav"):
        load_audio(damaged)


# -- odd and hostile input -----------------------------------------------------------------


ODD_SR = 8000



ODD_LOGMEL = dict(sr=ODD_SR, n_fft=256, hop_length=128, n_mels=16)



ODD_FRAMES = 1 + ODD_SR // ODD_LOGMEL["hop_length"]  # one second



def odd_features(X, **params):
    out = LogMelTransformer(**{**ODD_LOGMEL, "duration": 1.0, **params}).transform(X)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    return out



def write_tone(path, seconds=0.5, sr=ODD_SR, channels=1, subtype=None):
    rng = np.random.default_rng(0)
    data = 0.5 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * sr)) / sr)
    data = np.repeat(data[:, None], channels, axis=1) * rng.uniform(0.5, 1, channels)
    sf.write(path, data, sr, subtype=subtype)
    return str(path)



@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_waveforms_are_refused(bad):
    wave = np.zeros(1000, np.float32)
    wave[10] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        LogMelTransformer(**ODD_LOGMEL).transform([wave])
    with pytest.raises(ValueError, match="NaN|infinity"):
        LogMelTransformer(**ODD_LOGMEL).transform(wave[None])



def test_silence_clipping_and_a_single_sample():
    silent = np.zeros(ODD_SR, np.float32)
    clipped = np.clip(10 * np.sin(np.arange(ODD_SR, dtype=np.float32)), -1, 1)
    loud = 30000 * np.sin(np.arange(ODD_SR, dtype=np.float32))  # int16-scaled, not [-1, 1]
    out = odd_features([silent, clipped, loud, np.ones(1, np.float32)])
    assert out.shape == (4, 16, ODD_FRAMES) and (out[0] == 0).all()
    np.testing.assert_allclose(odd_features([silent], compression="db"), -100, rtol=1e-6)



@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_overflowing_amplitudes_are_refused():
    loud = np.full((1, 1000), 1e20, np.float32)
    with pytest.raises(ValueError, match="overflows float32.*scale the audio"):
        LogMelTransformer(**{**ODD_LOGMEL, "compression": "none"}).transform(loud)  # power 1e43
    # computed in float64, the log of any float32 signal's power is finite
    assert np.isfinite(LogMelTransformer(**ODD_LOGMEL).transform(loud)).all()



@pytest.mark.parametrize(
    ("sr", "channels", "subtype"),
    [(8000, 1, "PCM_U8"), (8000, 2, "FLOAT"), (96000, 6, "PCM_24"), (44100, 2, "PCM_16"),
     (96000, 1, "DOUBLE")],
)
def test_wav_rates_channels_and_sample_formats(tmp_path, sr, channels, subtype):
    path = write_tone(tmp_path / "x.wav", sr=sr, channels=channels, subtype=subtype)
    assert sf.info(path).channels == channels and sf.info(path).subtype == subtype
    out = odd_features([path])
    assert out.shape == (1, 16, ODD_FRAMES) and out.max() > 1  # the tone is there



def test_short_and_long_files(tmp_path):
    one = tmp_path / "one.wav"
    sf.write(one, np.full(1, 0.5), ODD_SR)
    long = write_tone(tmp_path / "long.wav", seconds=600, sr=ODD_SR)  # 10 minutes: only 1 s is read
    assert odd_features([str(one), long]).shape == (2, 16, ODD_FRAMES)



def test_non_ascii_file_names(tmp_path):
    path = write_tone(tmp_path / "Tänzchen – 舞曲 🎵.wav")
    assert odd_features([path]).shape == (1, 16, ODD_FRAMES)
    assert odd_features([os.fsencode(path)]).shape == (1, 16, ODD_FRAMES)



def write_m4a(path, seconds=0.5):
    """AAC in an MP4 container: a format libsndfile cannot read."""
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * ODD_SR)) / ODD_SR)
    return write_pyav(path, tone, ODD_SR)



def test_m4a_with_a_misleading_suffix_is_decoded_by_content(tmp_path):
    path = write_m4a(tmp_path / "really-aac.wav")
    out = odd_features([str(path)])
    assert out.shape == (1, 16, ODD_FRAMES) and out.max() > 1



@pytest.mark.skipif(sys.platform != "linux", reason="names that are not UTF-8: Linux only")
def test_m4a_whose_name_is_not_utf8(tmp_path):
    path = os.fsencode(tmp_path) + b"/caf\xe9-\xff.m4a"  # Latin-1, not UTF-8
    write_m4a(path)
    assert odd_features([path]).shape == (1, 16, ODD_FRAMES)



def test_video_without_audio_names_the_file_and_the_cause(tmp_path):
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(AudioDecodeError, match=r"clip\.mp4.*PyAV \(FFmpeg\): the file holds "
                       "no audio stream"):
        LogMelTransformer(**ODD_LOGMEL).transform([str(path)])



def test_damaged_files_name_the_file(tmp_path):
    header = tmp_path / "header.wav"
    write_tone(header)
    data = bytearray(header.read_bytes())
    data[:16] = b"\x00garbage-header\x00"
    header.write_bytes(bytes(data))
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all")
    for path in (header, text):
        with pytest.raises(AudioDecodeError, match=path.name):
            LogMelTransformer(**ODD_LOGMEL).transform([str(path)])



def test_directory_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="is a directory"):
        LogMelTransformer(**ODD_LOGMEL).transform([str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LogMelTransformer(**ODD_LOGMEL).transform([str(tmp_path / "missing.wav")])



def test_unreadable_file(tmp_path, monkeypatch):
    """The file system refuses to open the file, as ``chmod 0`` makes it do (except for
    root): Python's ``open`` raises PermissionError, libsndfile a "System error"."""
    path = write_tone(tmp_path / "locked.wav")

    def refuse(file, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(file))

    def refuse_libsndfile(file, *args, **kwargs):
        raise sf.LibsndfileError(2, prefix=f"Error opening {file!r}: ")

    monkeypatch.setattr(audio, "open", refuse, raising=False)
    monkeypatch.setattr(sf, "SoundFile", refuse_libsndfile)
    with pytest.raises(PermissionError, match="locked.wav"):
        LogMelTransformer(**ODD_LOGMEL).transform([path])



FEW_EXAMPLES = settings(max_examples=25, deadline=None,
                        suppress_health_check=[HealthCheck.too_slow])



any_waveforms = hnp.arrays(
    np.float32,
    st.integers(1, 3000),
    elements=st.floats(-1e6, 1e6, width=32) | st.sampled_from([0.0, np.nan, np.inf]),
)



@FEW_EXAMPLES
@given(st.lists(any_waveforms, min_size=1, max_size=3), st.sampled_from([None, 0.1]))
def test_logmel_any_waveform(waves, duration):
    logmel = LogMelTransformer(**ODD_LOGMEL, duration=duration)
    try:
        out = logmel.transform(waves)
    except ValueError as exc:
        assert any(word in str(exc) for word in ("NaN", "different lengths")), exc
        return
    assert out.shape[:2] == (len(waves), 16) and np.isfinite(out).all()


# -- the feature cache ---------------------------------------------------------------------


CACHE_PARAMS = dict(sr=8000, n_fft=256, hop_length=128, n_mels=16, duration=None)


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
    first = LogMelTransformer(**CACHE_PARAMS, cache=cache).transform(files)
    assert len(count_spectrograms) == 3
    again = LogMelTransformer(**CACHE_PARAMS, cache=cache).transform(files)
    assert len(count_spectrograms) == 3
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(first, LogMelTransformer(**CACHE_PARAMS).transform(files))


def test_parameters_and_content_invalidate(files, tmp_path, count_spectrograms):
    cache = tmp_path / "cache"
    LogMelTransformer(**CACHE_PARAMS, cache=cache).transform(files)
    LogMelTransformer(**{**CACHE_PARAMS, "n_mels": 8}, cache=cache).transform(files)
    assert len(count_spectrograms) == 6
    LogMelTransformer(**CACHE_PARAMS, cache=cache, n_jobs=1).transform(files)  # n_jobs is no key
    assert len(count_spectrograms) == 6
    sf.write(files[0], np.zeros(4000), 8000)  # same name and size, new content
    out = LogMelTransformer(**CACHE_PARAMS, cache=cache).transform(files)
    assert len(count_spectrograms) == 7
    assert out[0].max() == 0.0  # log10(1 + 0): the new, silent content


def test_waveforms_are_keyed_by_their_samples(tmp_path, count_spectrograms):
    waves = np.random.default_rng(1).standard_normal((2, 4000)).astype(np.float32)
    logmel = LogMelTransformer(**CACHE_PARAMS, cache=tmp_path)
    logmel.transform(waves)
    logmel.transform(waves)
    assert len(count_spectrograms) == 2
    waves[1, 0] += 1.0
    logmel.transform(waves)
    assert len(count_spectrograms) == 3


def test_missing_file_error_is_not_hidden_by_the_cache(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LogMelTransformer(**CACHE_PARAMS, cache=tmp_path).transform([str(tmp_path / "nope.wav")])


def test_grid_search_computes_each_track_once(tmp_path, count_spectrograms):
    rng = np.random.default_rng(2)
    waves = rng.standard_normal((8, 4000)).astype(np.float32)
    labels = np.repeat([0, 1], 4)
    pipe = Pipeline([
        ("logmel", LogMelTransformer(**CACHE_PARAMS, cache=tmp_path)),
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
    params = {**CACHE_PARAMS, "duration": 0.5}
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
    logmel = LogMelTransformer(**{**CACHE_PARAMS, "duration": None})
    wave = np.zeros(4000, np.float32)
    S = logmel.spectrogram(wave)
    assert S.shape == (16, logmel.n_frames(4000)) and logmel.implausible(S, wave) is None
    assert logmel.implausible(S) is None  # frames unknown without the track
    assert "not 16 x 32" in logmel.implausible(S[:, :-1], wave)
    db = LogMelTransformer(**{**CACHE_PARAMS, "compression": "db"})
    assert db.implausible(db.spectrogram(wave), wave) is None  # -100 dB of silence is fine
    assert "below -100" in db.implausible(db.spectrogram(wave) - 1, wave)
