"""Reading audio: one function that every other part of skrhythm uses.

`load_audio` turns a path into a mono float32 waveform at a requested sample
rate. WAV, FLAC, OGG and MP3 (and the other formats libsndfile knows, such as
AIFF and AU) are decoded by soundfile; other formats (M4A/AAC, WMA, ...) fall
back to audioread, which needs ffmpeg or GStreamer to be installed. Resampling
uses soxr's high-quality mode.

Damaged files raise :class:`AudioDecodeError` (a :class:`ValueError`) whose
message names the file and says what is wrong with it: empty, not audio,
truncated, or without a single sample.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

__all__ = ["AudioDecodeError", "load_audio"]

# A decoded length may fall short of the announced one by this fraction before
# the file counts as truncated: MP3 lengths announced in headers are estimates,
# and some WAV writers round their chunk sizes.
_TRUNCATION_TOLERANCE = 0.02


class AudioDecodeError(ValueError):
    """A file could not be read as audio; the message names the file."""


def _wav_shortfall(path):
    """Fraction of a RIFF/WAVE file's ``data`` chunk missing on disk (0 if complete).

    libsndfile quietly shortens a truncated WAV file to what is there, so the
    chunk size written in the header is compared with the bytes on disk.
    Files that are not RIFF/WAVE, and streamed WAVs whose header leaves the
    size open (0 or 0xFFFFFFFF), give 0.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        if f.read(12)[8:12] != b"WAVE":
            return 0
        while True:
            header = f.read(8)
            if len(header) < 8:
                return 0
            chunk_id, chunk_size = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk_id == b"data":
                if chunk_size in (0, 0xFFFFFFFF):
                    return 0
                return max(0, chunk_size - (size - f.tell())) / chunk_size
            f.seek(chunk_size + chunk_size % 2, os.SEEK_CUR)


def _read_soundfile(path, offset, duration):
    import soundfile as sf

    # Bytes: libsndfile takes any file name, also one that is not valid UTF-8
    # (soundfile would encode a str strictly and fail on its surrogate escapes).
    with sf.SoundFile(os.fsencode(path)) as f:
        sr, announced = f.samplerate, f.frames
        start = min(int(round(offset * sr)), announced)
        if start:
            f.seek(start)
        frames = -1 if duration is None else int(round(duration * sr))
        data = f.read(frames=frames, dtype="float32", always_2d=True)
    expected = announced - start if frames < 0 else min(frames, announced - start)
    missing = expected - data.shape[0]
    if missing > _TRUNCATION_TOLERANCE * announced:
        raise AudioDecodeError(
            f"audio file {str(path)!r} is truncated: its header announces {announced} "
            f"frames but only {start + data.shape[0]} could be decoded"
        )
    shortfall = _wav_shortfall(path)
    if shortfall > _TRUNCATION_TOLERANCE:
        raise AudioDecodeError(
            f"audio file {str(path)!r} is truncated: {shortfall:.0%} of its WAV data chunk "
            "is missing"
        )
    return data.T, sr


def _read_audioread(path, offset, duration):
    import audioread

    with audioread.audio_open(os.fspath(path)) as f:
        sr, channels = f.samplerate, f.channels
        start = int(round(offset * sr)) * channels
        stop = None if duration is None else start + int(round(duration * sr)) * channels
        blocks, n_read = [], 0
        for buf in f:  # 16-bit little-endian PCM, channels interleaved
            blocks.append(np.frombuffer(buf, dtype="<i2"))
            n_read += blocks[-1].size
            if stop is not None and n_read >= stop:
                break
    data = np.concatenate(blocks) if blocks else np.zeros(0, dtype="<i2")
    data = data[start:stop].astype(np.float32) / 32768.0
    return data[: data.size - data.size % channels].reshape(-1, channels).T, sr


def _decode(path, offset, duration):
    """Decode with soundfile, else audioread; raise one error naming both failures."""
    try:
        return _read_soundfile(path, offset, duration)
    except RuntimeError as exc:  # soundfile.LibsndfileError: format unknown or damaged
        soundfile_error = exc
    try:
        return _read_audioread(path, offset, duration)
    except Exception as exc:  # noqa: BLE001 - audioread's backends fail in their own ways
        audioread_error = str(exc) or type(exc).__name__
    if audioread_error == "NoBackendError":
        audioread_error = (
            "no installed backend decodes it (install ffmpeg or GStreamer for formats "
            "such as M4A/AAC)"
        )
    raise AudioDecodeError(
        f"cannot decode audio file {str(path)!r} (format {path.suffix or 'without extension'}, "
        f"{path.stat().st_size} bytes): not a readable audio file. "
        f"soundfile: {soundfile_error}; audioread: {audioread_error}"
    )


def load_audio(path, sr=44100, *, offset=0.0, duration=None):
    """Read an audio file as a mono float32 waveform.

    Parameters
    ----------
    path : str, bytes or path-like
        The file to read; any name the file system allows, also one that
        is not valid UTF-8.
    sr : int or None, default=44100
        Target sample rate; ``None`` keeps the file's own rate.
    offset : float, default=0.0
        Start reading this many seconds into the file.
    duration : float or None, default=None
        Read at most this many seconds; ``None`` reads to the end.

    Returns
    -------
    y : ndarray of shape (n_samples,), dtype float32
        The channels' mean, resampled to ``sr``.
    sr : int
        The sample rate of ``y``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or is a directory.
    PermissionError
        If the file may not be read.
    ValueError
        If ``sr``, ``offset`` or ``duration`` is out of range.
    AudioDecodeError
        If the file is empty, not audio, truncated, holds no samples (or none
        after ``offset``), or neither soundfile nor audioread can decode it;
        the message names the file and the decoders' errors.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> sf.write(path, np.zeros((22050, 2)), 22050)
    >>> y, sr = load_audio(path)
    >>> y.shape, y.dtype, sr
    ((44100,), dtype('float32'), 44100)
    """
    path = Path(os.fsdecode(path))  # str or bytes; names that are not UTF-8 work too
    if not path.is_file():
        what = "is a directory, not an audio file" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"audio file {str(path)!r} {what}")
    if sr is not None and sr <= 0:
        raise ValueError(f"sr must be a positive sample rate or None, got {sr}")
    if offset < 0 or (duration is not None and duration < 0):
        raise ValueError(f"offset and duration must be >= 0, got {offset} and {duration}")
    if path.stat().st_size == 0:
        raise AudioDecodeError(f"audio file {str(path)!r} is empty (0 bytes)")
    with open(path, "rb"):  # an unreadable file raises PermissionError naming it, not a
        pass                # decoder's error
    data, native_sr = _decode(path, offset, duration)
    if data.shape[1] == 0 and duration != 0:
        where = f" after offset {offset} s" if offset else ""
        raise AudioDecodeError(f"audio file {str(path)!r} holds no audio samples{where}")
    y = data.mean(axis=0) if data.shape[0] > 1 else data[0]
    if sr is not None and native_sr != sr and y.size:
        import soxr

        y = soxr.resample(y, native_sr, sr, quality="HQ")
    return np.ascontiguousarray(y, dtype=np.float32), (native_sr if sr is None else sr)
