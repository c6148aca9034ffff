"""Odd and hostile input: the estimators either work or raise a clear error, never NaN."""

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

from conftest import write_pyav
from skrhythm import LogMelTransformer, MusicCNNClassifier, audio
from skrhythm.audio import AudioDecodeError

SR = 8000
LOGMEL = dict(sr=SR, n_fft=256, hop_length=128, n_mels=16)
TINY = dict(onet_lengths=(2,), pnet_lengths=(3,), patch_frames=8, max_epochs=1,
            filterbank="reference", random_state=0)
N_FRAMES = 1 + SR // LOGMEL["hop_length"]  # one second


def features(X, **params):
    out = LogMelTransformer(**{**LOGMEL, "duration": 1.0, **params}).transform(X)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    return out


def write(path, seconds=0.5, sr=SR, channels=1, subtype=None):
    rng = np.random.default_rng(0)
    data = 0.5 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * sr)) / sr)
    data = np.repeat(data[:, None], channels, axis=1) * rng.uniform(0.5, 1, channels)
    sf.write(path, data, sr, subtype=subtype)
    return str(path)


# -- waveforms --------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_waveforms_are_refused(bad):
    wave = np.zeros(1000, np.float32)
    wave[10] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        LogMelTransformer(**LOGMEL).transform([wave])
    with pytest.raises(ValueError, match="NaN|infinity"):
        LogMelTransformer(**LOGMEL).transform(wave[None])


def test_silence_clipping_and_a_single_sample():
    silent = np.zeros(SR, np.float32)
    clipped = np.clip(10 * np.sin(np.arange(SR, dtype=np.float32)), -1, 1)
    loud = 30000 * np.sin(np.arange(SR, dtype=np.float32))  # int16-scaled, not [-1, 1]
    out = features([silent, clipped, loud, np.ones(1, np.float32)])
    assert out.shape == (4, 16, N_FRAMES) and (out[0] == 0).all()
    np.testing.assert_allclose(features([silent], compression="db"), -100, rtol=1e-6)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_overflowing_amplitudes_are_refused():
    loud = np.full((1, 1000), 1e20, np.float32)
    with pytest.raises(ValueError, match="overflows float32.*scale the audio"):
        LogMelTransformer(**{**LOGMEL, "compression": "none"}).transform(loud)  # power 1e43
    # computed in float64, the log of any float32 signal's power is finite
    assert np.isfinite(LogMelTransformer(**LOGMEL).transform(loud)).all()


# -- files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sr", "channels", "subtype"),
    [(8000, 1, "PCM_U8"), (8000, 2, "FLOAT"), (96000, 6, "PCM_24"), (44100, 2, "PCM_16"),
     (96000, 1, "DOUBLE")],
)
def test_wav_rates_channels_and_sample_formats(tmp_path, sr, channels, subtype):
    path = write(tmp_path / "x.wav", sr=sr, channels=channels, subtype=subtype)
    assert sf.info(path).channels == channels and sf.info(path).subtype == subtype
    out = features([path])
    assert out.shape == (1, 16, N_FRAMES) and out.max() > 1  # the tone is there


def test_short_and_long_files(tmp_path):
    one = tmp_path / "one.wav"
    sf.write(one, np.full(1, 0.5), SR)
    long = write(tmp_path / "long.wav", seconds=600, sr=SR)  # 10 minutes: only 1 s is read
    assert features([str(one), long]).shape == (2, 16, N_FRAMES)


def test_non_ascii_file_names(tmp_path):
    path = write(tmp_path / "Tänzchen – 舞曲 🎵.wav")
    assert features([path]).shape == (1, 16, N_FRAMES)
    assert features([os.fsencode(path)]).shape == (1, 16, N_FRAMES)


def write_m4a(path, seconds=0.5):
    """AAC in an MP4 container: a format libsndfile cannot read."""
    return write_pyav(path, 0.5 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * SR)) / SR), SR)


def test_m4a_with_a_misleading_suffix_is_decoded_by_content(tmp_path):
    path = write_m4a(tmp_path / "really-aac.wav")
    out = features([str(path)])
    assert out.shape == (1, 16, N_FRAMES) and out.max() > 1


@pytest.mark.skipif(sys.platform != "linux", reason="names that are not UTF-8: Linux only")
def test_m4a_whose_name_is_not_utf8(tmp_path):
    path = os.fsencode(tmp_path) + b"/caf\xe9-\xff.m4a"  # Latin-1, not UTF-8
    write_m4a(path)
    assert features([path]).shape == (1, 16, N_FRAMES)


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
        LogMelTransformer(**LOGMEL).transform([str(path)])


def test_damaged_files_name_the_file(tmp_path):
    header = tmp_path / "header.wav"
    write(header)
    data = bytearray(header.read_bytes())
    data[:16] = b"\x00garbage-header\x00"
    header.write_bytes(bytes(data))
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all")
    for path in (header, text):
        with pytest.raises(AudioDecodeError, match=path.name):
            LogMelTransformer(**LOGMEL).transform([str(path)])


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="is a directory"):
        LogMelTransformer(**LOGMEL).transform([str(tmp_path)])
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LogMelTransformer(**LOGMEL).transform([str(tmp_path / "missing.wav")])


def test_unreadable_file(tmp_path, monkeypatch):
    """The file system refuses to open the file, as ``chmod 0`` makes it do (except for
    root): Python's ``open`` raises PermissionError, libsndfile a "System error"."""
    path = write(tmp_path / "locked.wav")

    def refuse(file, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(file))

    def refuse_libsndfile(file, *args, **kwargs):
        raise sf.LibsndfileError(2, prefix=f"Error opening {file!r}: ")

    monkeypatch.setattr(audio, "open", refuse, raising=False)
    monkeypatch.setattr(sf, "SoundFile", refuse_libsndfile)
    with pytest.raises(PermissionError, match="locked.wav"):
        LogMelTransformer(**LOGMEL).transform([path])


# -- labels ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spectrograms():
    return np.random.default_rng(0).standard_normal((6, 4, 12)).astype(np.float32)


@pytest.mark.parametrize(
    "labels",
    [[3, 7, 3, 7, 3, 7], ["samba", "tango"] * 3, [True, False] * 3, ["a", "b", "c"] * 2],
)
def test_label_types(spectrograms, labels):
    clf = MusicCNNClassifier(**TINY).fit(spectrograms, labels)
    np.testing.assert_array_equal(clf.classes_, np.unique(labels))
    assert set(clf.predict(spectrograms)) <= set(labels)


@pytest.mark.parametrize(
    ("labels", "error", "match"),
    [
        (["rumba"] * 6, ValueError, "1 class.*at least 2"),
        ([0.5, 1.5, 2.25, 0.5, 1.5, 2.25], ValueError, "continuous"),
        (np.array(["a", 1] * 3, dtype=object), TypeError, "not supported between"),
        ([0, 1, 0], ValueError, "inconsistent numbers of samples"),
    ],
)
def test_bad_labels(spectrograms, labels, error, match):
    with pytest.raises(error, match=match):
        MusicCNNClassifier(**TINY).fit(spectrograms, labels)


# -- property-based ------------------------------------------------------------------

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
waveforms = hnp.arrays(
    np.float32,
    st.integers(1, 3000),
    elements=st.floats(-1e6, 1e6, width=32) | st.sampled_from([0.0, np.nan, np.inf]),
)


@FAST
@given(st.lists(waveforms, min_size=1, max_size=3), st.sampled_from([None, 0.1]))
def test_logmel_any_waveform(waves, duration):
    logmel = LogMelTransformer(**LOGMEL, duration=duration)
    try:
        out = logmel.transform(waves)
    except ValueError as exc:
        assert any(word in str(exc) for word in ("NaN", "different lengths")), exc
        return
    assert out.shape[:2] == (len(waves), 16) and np.isfinite(out).all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_bands=st.integers(1, 5),
    n_frames=st.integers(1, 20),
    predict_frames=st.integers(1, 30),
    scale=st.sampled_from([0.0, 1e-30, 1.0, 1e30]),
    data=st.data(),
)
def test_classifier_any_spectrogram_shape(n_bands, n_frames, predict_frames, scale, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    X = (scale * rng.standard_normal((4, n_bands, n_frames))).astype(np.float32)
    clf = MusicCNNClassifier(**TINY).fit(X, [0, 1, 0, 1])
    X_new = rng.standard_normal((3, n_bands, predict_frames)).astype(np.float32)
    proba = clf.predict_proba(X_new)
    assert proba.shape == (3, 2) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
