"""Tests of skrhythm.audio.load_audio on files the tests write themselves."""

import os

import numpy as np
import pytest
import soundfile as sf

from conftest import write_pyav
from skrhythm import audio
from skrhythm.audio import AUDIO_EXTENSIONS, AudioDecodeError, find_audio_files, load_audio


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


@pytest.mark.parametrize("suffix", [".wav", ".mp3"])
def test_pyav_fallback_matches_soundfile(tmp_path, monkeypatch, suffix):
    sr = 22050
    path = tmp_path / f"x{suffix}"
    if suffix == ".wav":
        sf.write(path, _tone(sr, channels=2), sr, subtype="PCM_16")
    else:
        write_pyav(path, _music(sr), sr, "mp3", "libmp3lame")
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


@pytest.mark.parametrize("id3", [False, True], ids=["bare", "id3v2-tagged"])
def test_truncated_mp3_is_named_when_only_its_start_is_read(tmp_path, id3):
    """Reported: 'head -c 100000 song.mp3' was predicted as a short recording, padded, without
    a word. The stream size its Xing header announces tells what is missing, also when only
    the first seconds are decoded (predict --duration)."""
    whole = tmp_path / "whole.mp3"
    sf.write(whole, _tone(44100, seconds=6.0), 44100, format="MP3")
    data = whole.read_bytes()
    assert b"Xing" in data[:200] or b"Info" in data[:200]  # the header written by LAME
    if id3:  # an ID3v2 tag of 20 bytes (syncsafe size 10) before the stream
        data = b"ID3\x04\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10 + data
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioDecodeError, match=r"cut.mp3' is truncated: its header announces"):
        load_audio(cut)  # decoded to its end: fewer frames than the header counts
    with pytest.raises(AudioDecodeError, match=r"cut.mp3' is truncated: (5\d|4[6-9])% of"):
        load_audio(cut, duration=1.0)  # its start decodes: the stream's size tells
    tagged = tmp_path / "tagged.mp3"
    tagged.write_bytes(data)
    assert load_audio(tagged, duration=1.0)[0].size == 44100  # whole files pass


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


# -- every format users have -------------------------------------------------------


def _music(sr, seconds=2.0):
    """Stereo test signal without periodicity, so its lag in a decoded file is unique:
    a 200 Hz -> 4 kHz chirp under a slowly varying gain, right channel at half level."""
    t = np.arange(int(sr * seconds)) / sr
    phase = 2 * np.pi * (200 * t + (4000 - 200) * t**2 / (2 * seconds))
    wave = 0.4 * np.sin(phase) * (0.6 + 0.4 * np.sin(2 * np.pi * 1.3 * t))
    return np.stack([wave, 0.5 * wave], axis=1).astype(np.float32)


# suffix: (sample rate, writer, lossy). Opus exists at 48 kHz only.
FORMATS = {
    ".wav": (44100, lambda p, d, sr: sf.write(p, d, sr, subtype="FLOAT"), False),
    ".flac": (44100, lambda p, d, sr: sf.write(p, d, sr, format="FLAC"), False),
    ".aiff": (44100, lambda p, d, sr: sf.write(p, d, sr, format="AIFF"), False),
    ".aif": (22050, lambda p, d, sr: sf.write(p, d, sr, format="AIFF"), False),
    ".aifc": (22050, lambda p, d, sr: sf.write(p, d, sr, format="AIFF"), False),
    ".au": (22050, lambda p, d, sr: sf.write(p, d, sr, format="AU", subtype="FLOAT"), False),
    ".ogg": (44100, lambda p, d, sr: sf.write(p, d, sr, format="OGG", subtype="VORBIS"), True),
    ".oga": (44100, lambda p, d, sr: sf.write(p, d, sr, format="OGG", subtype="VORBIS"), True),
    ".mp3": (44100, lambda p, d, sr: write_pyav(p, d, sr, "mp3", "libmp3lame"), True),
    ".m4a": (44100, lambda p, d, sr: write_pyav(p, d, sr, "ipod", "aac"), True),
    ".aac": (44100, lambda p, d, sr: write_pyav(p, d, sr, "adts", "aac"), True),
    ".opus": (48000, lambda p, d, sr: write_pyav(p, d, sr, "opus", "libopus"), True),
}


def test_every_listed_extension_is_tested():
    assert set(FORMATS) == set(AUDIO_EXTENSIONS)


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_every_format_decodes_to_its_content(tmp_path, suffix):
    sr, write, lossy = FORMATS[suffix]
    data = _music(sr)
    path = tmp_path / f"song{suffix}"
    write(path, data, sr)
    y, out_sr = load_audio(path, sr=None)
    assert out_sr == sr and y.dtype == np.float32 and y.ndim == 1
    mono = data.mean(axis=1)
    if not lossy:
        np.testing.assert_allclose(y, mono, atol=1e-4)  # 16-bit FLAC/AIFF: 3e-5 steps
        return
    # Encoders add priming samples and padding (AAC: ~2048): the decoded signal is the
    # original delayed by a lag, found as the peak of the cross-correlation.
    assert mono.size - 0.01 * sr <= y.size <= mono.size + 0.1 * sr
    max_lag = int(0.1 * sr)
    lags = np.arange(max_lag)
    score = [np.dot(y[lag : lag + mono.size - max_lag], mono[: mono.size - max_lag])
             for lag in lags]
    lag = lags[int(np.argmax(score))]
    segment = y[lag : lag + mono.size - max_lag]
    reference = mono[: mono.size - max_lag]
    correlation = np.corrcoef(segment, reference)[0, 1]
    # Measured with PyAV 18.1 / libsndfile 1.2.2: correlation 0.998 (AAC) to 0.99999999
    # (MP3); level ratio 0.95 (LAME's MP3) to 1.002 (Vorbis).
    assert correlation > 0.98, correlation
    assert np.sqrt(np.mean(segment**2)) == pytest.approx(np.sqrt(np.mean(reference**2)),
                                                         rel=0.1)


@pytest.mark.parametrize("suffix", [".m4a", ".opus"])
def test_pyav_formats_resample_and_crop(tmp_path, suffix):
    sr, write, _ = FORMATS[suffix]
    path = tmp_path / f"song{suffix}"
    write(path, _music(sr), sr)
    y, out_sr = load_audio(path, sr=16000, offset=0.5, duration=1.0)
    assert out_sr == 16000 and y.size == 16000


def test_truncated_m4a_names_the_file(tmp_path):
    whole = tmp_path / "whole.m4a"
    write_pyav(whole, _music(44100), 44100, "ipod", "aac")
    cut = tmp_path / "cut.m4a"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(AudioDecodeError, match=r"cut\.m4a.*PyAV \(FFmpeg\): .*Invalid data"):
        load_audio(cut)


GIT_STUB = b"version https://git-lfs.github.com/spec/v1\n"  # 43 bytes of text


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_text_stub_under_every_audio_extension_is_a_decode_error(tmp_path, suffix):
    # PyAV 18 raises av.error.EOFError for some of these: an FFmpegError that is neither a
    # ValueError nor an OSError, which must still come out as AudioDecodeError
    path = tmp_path / f"stub{suffix}"
    path.write_bytes(GIT_STUB)
    with pytest.raises(AudioDecodeError, match=f"stub\\{suffix}"):
        load_audio(path)


@pytest.mark.parametrize("keep", [37, 0.5], ids=["37-bytes", "half"])
@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_truncated_file_of_every_format_decodes_or_names_itself(tmp_path, suffix, keep):
    sr, write, _ = FORMATS[suffix]
    whole = tmp_path / f"whole{suffix}"
    write(whole, _music(sr), sr)
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: keep if isinstance(keep, int) else int(len(data) * keep)])
    announced = suffix in (".wav", ".aif", ".aifc", ".aiff", ".au", ".mp3")  # length in header
    try:
        y, _ = load_audio(cut)
    except AudioDecodeError as exc:  # the only error a damaged file may raise
        assert f"cut{suffix}" in str(exc)
        assert "truncated" in str(exc) or not announced or keep == 37
    else:  # a stream whose header announces no length: what is there decodes
        assert keep != 37 and not announced and 0 < y.size < 2.1 * 44100


def test_decoder_errors_of_any_ffmpeg_class_are_decode_errors(tmp_path, monkeypatch):
    import av

    path = tmp_path / "song.m4a"
    write_pyav(path, _music(44100), 44100, "ipod", "aac")

    def fail(*args):
        raise av.error.ExitError(1, "decoder gave up")  # FFmpegError only

    monkeypatch.setattr(audio, "_read_pyav", fail)
    with pytest.raises(AudioDecodeError, match=r"song\.m4a.*ExitError"):
        load_audio(path)


def test_missing_pyav_says_how_to_install_it(tmp_path, monkeypatch):
    path = tmp_path / "song.m4a"
    write_pyav(path, _music(44100), 44100, "ipod", "aac")
    monkeypatch.setitem(__import__("sys").modules, "av", None)  # import av fails
    with pytest.raises(AudioDecodeError, match=r"song\.m4a.*pip install av"):
        load_audio(path)


# -- finding files -------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path):
    for name in ("b.wav", "a.FLAC", "album/c.mp3", "album/deep/d.ogg", ".hidden/e.wav",
                 "album/.f.wav", "cover.jpg", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def test_find_audio_files_in_directories_globs_and_files(tree, monkeypatch):
    rel = lambda files: [os.path.relpath(f, tree) for f in files]  # noqa: E731
    assert rel(find_audio_files(tree)) == ["a.FLAC", "album/c.mp3", "album/deep/d.ogg", "b.wav"]
    assert rel(find_audio_files([str(tree / "*.wav"), tree / "b.wav"])) == ["b.wav"]
    assert rel(find_audio_files(str(tree / "**" / "*"))) == [
        "a.FLAC", "album/c.mp3", "album/deep/d.ogg", "b.wav"]
    # A file named explicitly is taken whatever its suffix (decoding decides).
    assert rel(find_audio_files([tree / "notes.txt"])) == ["notes.txt"]
    monkeypatch.chdir(tree)
    assert find_audio_files(["album"]) == [os.path.join("album", "c.mp3"),
                                           os.path.join("album", "deep", "d.ogg")]


def test_link_loops_list_each_file_once(tmp_path, monkeypatch):
    """A link to an ancestor folder would make ``**`` run on for ever (glob follows it)."""
    music = tmp_path / "music"
    (music / "album").mkdir(parents=True)
    for name in ("a.wav", "album/b.wav"):
        (music / name).write_bytes(b"x")
    (music / "album" / "up").symlink_to("..")  # a loop
    (music / "album" / "back").symlink_to("../..")  # a second one, to the loop's parent
    (music / "same.wav").symlink_to("a.wav")  # a second name of a file
    expected = [str(music / "a.wav"), str(music / "album" / "b.wav")]
    assert find_audio_files(str(music / "**" / "*.wav")) == expected
    assert find_audio_files(music) == expected
    assert find_audio_files([music, str(music / "**" / "*.wav"), music / "same.wav"]) == expected
    monkeypatch.chdir(music)  # relative patterns give relative names
    assert find_audio_files("**/*.wav") == ["a.wav", os.path.join("album", "b.wav")]


def test_patterns_match_as_glob_does_without_links(tree):
    import glob

    for pattern in ("*", "*.wav", "*/*", "**/*.mp3", "album/**", "**/deep/*", "[ab]*",
                    ".hidden/*", "**/.f.wav", "**", "album/*/*.ogg"):
        full = str(tree / pattern)
        # (glob gives a folder a last ** starts from twice, the second time as "folder/")
        matches = sorted({m.rstrip(os.sep) for m in glob.glob(full, recursive=True)})
        assert audio._glob(full) == matches, pattern


@pytest.mark.parametrize(
    ("arg", "match"),
    [("nope.wav", r"'.*nope\.wav': no such file or directory"),
     ("*.mp4", r"'.*\*\.mp4': no such file or directory, and no file matches"),
     ("*.txt", r"'.*\*\.txt': no audio files .* among the 1 path"),
     (".hidden/..", None)],
)
def test_find_audio_files_names_the_argument_that_matched_nothing(tree, arg, match):
    empty = tree / "empty"
    empty.mkdir()
    if match is None:  # a directory without audio files
        arg, match = str(empty), r"'.*empty': no audio files"
    with pytest.raises(FileNotFoundError, match=match):
        find_audio_files([tree / "b.wav", os.path.join(tree, arg)])
