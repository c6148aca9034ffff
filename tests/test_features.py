import numpy as np
import pytest
import soundfile as sf

from skrhythm import LogMelTransformer
from skrhythm.audio import AudioDecodeError

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
