"""Tests of skrhythm.audio.load_audio on files the tests write themselves."""

import numpy as np
import pytest
import soundfile as sf

from skrhythm import audio
from skrhythm.audio import AudioDecodeError, load_audio


def _tone(sr, seconds=0.5, channels=1, freq=440.0):
    t = np.arange(int(sr * seconds)) / sr
    wave = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([wave, 0.5 * wave], axis=1) if channels == 2 else wave


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT"])
@pytest.mark.parametrize("sr", [22050, 44100, 48000])
@pytest.mark.parametrize("channels", [1, 2])
def test_wav_subtypes_rates_channels(tmp_path, subtype, sr, channels):
    data = _tone(sr, channels=channels)
    path = tmp_path / "x.wav"
    sf.write(path, data, sr, subtype=subtype)
    y, out_sr = load_audio(path, sr=None)
    assert out_sr == sr and y.dtype == np.float32 and y.ndim == 1
    mono = data.mean(axis=1) if channels == 2 else data
    tolerance = 1e-2 if subtype == "PCM_U8" else 1e-4
    np.testing.assert_allclose(y, mono, atol=tolerance)


@pytest.mark.parametrize("sr", [22050, 48000])
def test_resampling_keeps_duration_and_pitch(tmp_path, sr):
    path = tmp_path / "x.wav"
    sf.write(path, _tone(sr, seconds=1.0, freq=1000.0), sr)
    y, out_sr = load_audio(path, sr=44100)
    assert out_sr == 44100 and abs(y.size - 44100) <= 1
    spectrum = np.abs(np.fft.rfft(y))
    assert abs(np.argmax(spectrum) * 44100 / y.size - 1000.0) < 2.0


@pytest.mark.parametrize(
    ("fmt", "subtype", "atol"),
    [("FLAC", "PCM_16", 1e-4), ("OGG", "VORBIS", 0.1), ("MP3", "MPEG_LAYER_III", 0.1)],
)
def test_compressed_formats(tmp_path, fmt, subtype, atol):
    if fmt not in sf.available_formats():
        pytest.skip(f"libsndfile here cannot write {fmt}")
    sr = 44100
    data = _tone(sr, seconds=1.0, channels=2)
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, data, sr, format=fmt, subtype=subtype)
    y, out_sr = load_audio(path)
    assert out_sr == sr and y.dtype == np.float32
    assert abs(y.size - sr) < 0.05 * sr  # MP3 adds encoder delay/padding
    # Compare loudness, not samples: lossy codecs shift the phase.
    assert np.sqrt(np.mean(y**2)) == pytest.approx(np.sqrt(np.mean(data.mean(1) ** 2)), abs=atol)


def test_offset_and_duration(tmp_path):
    sr = 8000
    ramp = np.linspace(-1, 1, 2 * sr, endpoint=False)
    path = tmp_path / "ramp.wav"
    sf.write(path, ramp, sr, subtype="FLOAT")
    y, _ = load_audio(path, sr=None, offset=0.5, duration=0.25)
    np.testing.assert_allclose(y, ramp[sr // 2 : sr // 2 + sr // 4], atol=1e-7)
    assert load_audio(path, sr=None, offset=1.5)[0].size == sr // 2
    assert load_audio(path, sr=None, duration=10.0)[0].size == 2 * sr


def test_audioread_fallback_matches_soundfile(tmp_path, monkeypatch):
    sr = 22050
    path = tmp_path / "x.wav"
    sf.write(path, _tone(sr, channels=2), sr, subtype="PCM_16")
    expected, _ = load_audio(path, sr=None, offset=0.1, duration=0.2)

    def refuse(*args):
        raise RuntimeError("pretend libsndfile cannot read this")

    monkeypatch.setattr(audio, "_read_soundfile", refuse)
    y, out_sr = load_audio(path, sr=None, offset=0.1, duration=0.2)
    assert out_sr == sr
    np.testing.assert_allclose(y, expected, atol=1e-4)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "is empty"),
        (b"this is a text file, not audio\n" * 10, "cannot decode audio file"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "cannot decode audio file"),
    ],
    ids=["empty", "text", "header-only"],
)
def test_bad_files_raise_clear_errors(tmp_path, content, match):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioDecodeError, match=match) as info:
        load_audio(path)
    assert "bad.wav" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_zero_length_audio(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros(0), 22050)
    with pytest.raises(AudioDecodeError, match="no audio samples"):
        load_audio(path)


def test_offset_past_the_end(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, np.zeros(100), 8000)
    with pytest.raises(AudioDecodeError, match="after offset"):
        load_audio(path, offset=1.0)


@pytest.mark.parametrize("fmt", ["WAV", "MP3"])
def test_truncated_files(tmp_path, fmt):
    if fmt not in sf.available_formats():
        pytest.skip(f"libsndfile here cannot write {fmt}")
    whole = tmp_path / f"whole.{fmt.lower()}"
    sf.write(whole, _tone(22050, seconds=2.0), 22050, format=fmt)
    cut = tmp_path / f"cut.{fmt.lower()}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(AudioDecodeError, match="truncated") as info:
        load_audio(cut)
    assert "cut." in str(info.value)


def test_unsupported_format_names_file_and_format(tmp_path):
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 200)
    with pytest.raises(AudioDecodeError, match=r"song\.m4a.*\.m4a"):
        load_audio(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_audio(tmp_path / "nope.wav")
    with pytest.raises(FileNotFoundError, match="is a directory"):
        load_audio(tmp_path)


@pytest.mark.parametrize(
    "kwargs", [{"sr": 0}, {"offset": -1.0}, {"duration": -0.5}], ids=["sr", "offset", "duration"]
)
def test_invalid_arguments(tmp_path, kwargs):
    path = tmp_path / "x.wav"
    sf.write(path, np.zeros(100), 8000)
    with pytest.raises(ValueError, match=">|positive"):
        load_audio(path, **kwargs)
