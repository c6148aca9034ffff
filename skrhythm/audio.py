"""Reading audio: one function that every other part of skrhythm uses.

`load_audio` turns a path into a mono float32 waveform at a requested sample
rate. WAV, FLAC, OGG and MP3 are decoded by soundfile (libsndfile); other
formats fall back to audioread (ffmpeg or GStreamer, where installed).
Resampling uses soxr's high-quality mode.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["AudioDecodeError", "load_audio"]


class AudioDecodeError(ValueError):
    """A file could not be read as audio; the message names the file."""


def _read_soundfile(path, offset, duration):
    import soundfile as sf

    with sf.SoundFile(path) as f:
        sr = f.samplerate
        start = int(round(offset * sr))
        if start:
            f.seek(min(start, f.frames))
        frames = -1 if duration is None else int(round(duration * sr))
        data = f.read(frames=frames, dtype="float32", always_2d=True)
    return data.T, sr


def _read_audioread(path, offset, duration):
    import audioread

    with audioread.audio_open(os.fspath(path)) as f:
        sr, channels = f.samplerate, f.channels
        blocks = [np.frombuffer(buf, dtype="<i2") for buf in f]
    data = np.concatenate(blocks).astype(np.float32) / 32768.0 if blocks else np.zeros(0, "f4")
    data = data[: data.size - data.size % channels].reshape(-1, channels).T
    start = int(round(offset * sr))
    stop = None if duration is None else start + int(round(duration * sr))
    return data[:, start:stop], sr


def load_audio(path, sr=44100, *, offset=0.0, duration=None):
    """Read an audio file as a mono float32 waveform.

    Parameters
    ----------
    path : str or path-like
        The file to read.
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
    AudioDecodeError
        If neither soundfile nor audioread can decode the file; the message
        names the file and the decoders' errors.
    """
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not an audio file" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"audio file {str(path)!r} {what}")
    if offset < 0 or (duration is not None and duration < 0):
        raise ValueError(f"offset and duration must be >= 0, got {offset} and {duration}")
    errors = []
    for reader in (_read_soundfile, _read_audioread):
        try:
            data, native_sr = reader(path, offset, duration)
            break
        except Exception as exc:  # noqa: BLE001 - each decoder fails in its own way
            errors.append(f"{reader.__name__.removeprefix('_read_')}: {exc}")
    else:
        raise AudioDecodeError(
            f"cannot decode audio file {str(path)!r} (format {path.suffix or 'unknown'}): "
            + "; ".join(errors)
        )
    y = data.mean(axis=0) if data.shape[0] > 1 else data[0]
    if sr is not None and native_sr != sr and y.size:
        import soxr

        y = soxr.resample(y, native_sr, sr, quality="HQ")
    return np.ascontiguousarray(y, dtype=np.float32), (native_sr if sr is None else sr)
