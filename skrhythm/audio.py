"""Reading audio: the functions every other part of skrhythm uses to find and decode it.

`load_audio` turns a path into a mono float32 waveform at a requested sample
rate. WAV, FLAC, OGG/Vorbis, Ogg Opus, MP3, AIFF and AU (and the other formats
libsndfile knows) are decoded by soundfile; the rest (M4A/AAC, Opus in other
containers, WMA, ...) by PyAV, whose wheels carry their own FFmpeg, so nothing
has to be installed besides the Python packages. Resampling uses soxr's
high-quality mode.

`find_audio_files` expands files, directories (searched recursively) and glob
patterns into a sorted list of audio files, with the extensions of
:data:`AUDIO_EXTENSIONS`, the one list of audio suffixes in skrhythm.

Damaged files raise :class:`AudioDecodeError` (a :class:`ValueError`) whose
message names the file and says what is wrong with it: empty, not audio,
truncated, or without a single sample.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import struct
from pathlib import Path

import numpy as np

__all__ = [
    "AUDIO_EXTENSIONS", "AudioDecodeError", "audio_duration", "audio_suffixes",
    "find_audio_files", "load_audio",
]

#: File suffixes (lower case) that skrhythm treats as audio when it searches
#: directories; each is decoded by soundfile or PyAV (see the tests).
AUDIO_EXTENSIONS = (
    ".aac", ".aif", ".aifc", ".aiff", ".au", ".flac", ".m4a", ".mp3", ".oga", ".ogg", ".opus",
    ".wav",
)

# A decoded length may fall short of the announced one by this fraction before
# the file counts as truncated: MP3 lengths announced in headers are estimates,
# and some WAV writers round their chunk sizes.
_TRUNCATION_TOLERANCE = 0.02
# FFmpeg estimates the length of some streams (raw AAC, VBR without a header) from
# their bit rate, so files it decodes count as truncated only beyond this fraction.
_PYAV_TRUNCATION_TOLERANCE = 0.1


class AudioDecodeError(ValueError):
    """A file could not be read as audio; the message names the file."""


def _riff_data_size(f, big_endian):
    """Size announced by the ``data`` (RIFF) or ``SSND`` (AIFF) chunk, read from the chunk list."""
    wanted, unpack = (b"SSND", ">I") if big_endian else (b"data", "<I")
    while True:
        header = f.read(8)
        if len(header) < 8:
            return None
        chunk_id, chunk_size = header[:4], struct.unpack(unpack, header[4:])[0]
        if chunk_id == wanted:
            return f.tell(), chunk_size
        f.seek(chunk_size + chunk_size % 2, os.SEEK_CUR)


def _mp3_stream_size(f, head):
    """Where an MP3 stream starts and the bytes its Xing, Info or VBRI header announces.

    The header (written by LAME and most encoders into the first frame)
    gives the stream's total size; a CBR file without one announces nothing
    beyond what is on disk, and gives None.
    """
    start = 0
    if head[:3] == b"ID3" and len(head) >= 10:  # ID3v2 tag: syncsafe size, optional footer
        size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
        start = 10 + size + (10 if head[5] & 0x10 else 0)
    f.seek(start)
    frame = f.read(2048)
    sync = next((i for i in range(len(frame) - 1)
                 if frame[i] == 0xFF and frame[i + 1] & 0xE0 == 0xE0), None)
    if sync is None:
        return None
    start, frame = start + sync, frame[sync:]
    for tag in (b"Xing", b"Info"):
        at = frame.find(tag, 4, 200)
        if at >= 0 and len(frame) >= at + 16:
            flags = struct.unpack(">I", frame[at + 4:at + 8])[0]
            if flags & 0x2:  # a byte count, after the frame count when there is one
                field = at + 8 + (4 if flags & 0x1 else 0)
                return start, struct.unpack(">I", frame[field:field + 4])[0]
            return None
    if frame[36:40] == b"VBRI" and len(frame) >= 50:
        return start, struct.unpack(">I", frame[46:50])[0]
    return None


def _declared_shortfall(path):
    """Fraction of the audio data a file's header announces that is missing on disk.

    Decoders quietly shorten such files to what is there, so the data size
    written in the header is compared with the bytes on disk: the data chunk
    of WAV, AIFF and AU, and the stream size of an MP3's Xing, Info or VBRI
    header. Other files, streamed ones whose header leaves the size open (0
    or 0xFFFFFFFF), and MP3s without such a header (whose bit rate then
    measures only what is on disk), give 0.
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] == b".snd" and len(head) >= 12:  # AU: data offset and size
            offset, declared = struct.unpack(">II", head[4:12])
            start = offset
        elif head[:4] in (b"RIFF", b"FORM") and head[8:12] in (b"WAVE", b"AIFF", b"AIFC"):
            found = _riff_data_size(f, big_endian=head[:4] == b"FORM")
            if found is None:
                return 0
            start, declared = found
        elif head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF
                                     and head[1] & 0xE0 == 0xE0):
            found = _mp3_stream_size(f, head)
            if found is None:
                return 0
            start, declared = found
        else:
            return 0
    if declared in (0, 0xFFFFFFFF):
        return 0
    return max(0, declared - max(size - start, 0)) / declared


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
    shortfall = _declared_shortfall(path)
    if shortfall > _TRUNCATION_TOLERANCE:
        raise AudioDecodeError(
            f"audio file {str(path)!r} is truncated: {shortfall:.0%} of the audio data its "
            "header announces is missing"
        )
    return data.T, sr


def _read_pyav(path, offset, duration):
    import av

    # A file object, not the name: FFmpeg then reads any name the file system allows.
    with open(path, "rb") as f, av.open(f) as container:
        if not container.streams.audio:
            raise ValueError("the file holds no audio stream")
        stream = container.streams.audio[0]
        sr = stream.rate
        start = int(round(offset * sr))
        stop = None if duration is None else start + int(round(duration * sr))
        # Float planar output at the stream's own rate and layout, whatever the codec's format.
        resampler = av.AudioResampler(format="fltp")
        blocks, n_read = [], 0
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                blocks.append(out.to_ndarray())
                n_read += blocks[-1].shape[1]
            if stop is not None and n_read >= stop:
                break
        announced = (
            None if stream.duration is None else float(stream.duration * stream.time_base) * sr
        )
    data = np.concatenate(blocks, axis=1) if blocks else np.zeros((1, 0), np.float32)
    if stop is None and announced and n_read < (1 - _PYAV_TRUNCATION_TOLERANCE) * announced:
        raise AudioDecodeError(
            f"audio file {str(path)!r} is truncated: its header announces "
            f"{announced / sr:.2f} s but only {n_read / sr:.2f} s could be decoded"
        )
    return data[:, start:stop], sr


def _decode(path, offset, duration):
    """Decode with soundfile, else PyAV; raise one error naming both failures."""
    try:
        return _read_soundfile(path, offset, duration)
    except RuntimeError as exc:  # soundfile.LibsndfileError: format unknown or damaged
        soundfile_error = exc
    try:
        import av
    except ImportError:
        pyav_error = (
            "PyAV is not installed, so formats libsndfile cannot read (M4A/AAC, Opus, ...) "
            "have no decoder: pip install av"
        )
    else:
        try:
            return _read_pyav(path, offset, duration)
        except AudioDecodeError:
            raise
        # av.FFmpegError is the base of every FFmpeg error (only some of them are also
        # ValueError or OSError: av.error.EOFError is neither); our own checks raise ValueError
        except (ValueError, OSError) as exc:
            pyav_error = str(exc) or type(exc).__name__
        except av.FFmpegError as exc:  # one of FFmpeg's other classes: its name tells more
            pyav_error = f"{type(exc).__name__}: {exc}"
    raise AudioDecodeError(
        f"cannot decode audio file {str(path)!r} (format {path.suffix or 'without extension'}, "
        f"{path.stat().st_size} bytes): no decoder reads it. "
        f"soundfile: {soundfile_error}; PyAV (FFmpeg): {pyav_error}"
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
        after ``offset``), or neither soundfile nor PyAV can decode it; the
        message names the file and the decoders' errors.

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


def audio_duration(path):
    """Length in seconds that an audio file's header announces, without decoding it.

    Parameters
    ----------
    path : str, bytes or path-like

    Returns
    -------
    seconds : float or None
        None when the header announces no length (some streams, such as raw
        AAC, are only measured by decoding them) or no decoder reads it.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> sf.write(path, np.zeros(12000), 8000)
    >>> audio_duration(path)
    1.5
    """
    path = os.fsdecode(path)
    try:
        import soundfile as sf

        info = sf.info(os.fsencode(path))
        return info.frames / info.samplerate if info.samplerate else None
    except RuntimeError:  # soundfile.LibsndfileError: a format libsndfile does not read
        pass
    try:
        import av
    except ImportError:
        return None
    try:
        with open(path, "rb") as f, av.open(f) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
            return container.duration / 1e6 if container.duration else None
    except (av.FFmpegError, OSError, ValueError):
        return None


def audio_suffixes(extensions):
    """Audio file suffixes as compared: lower case, with their dot (``"MP3"`` -> ``".mp3"``)."""
    return {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}


def _subfolders(directory):
    """``directory`` and its folders at any depth, hidden ones and links to folders left out.

    ``""`` stands for the working directory, whose folders are then named relative to it.
    """
    found = []
    for folder, subfolders, _ in os.walk(directory or "."):  # follows no link to a folder
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found.append(folder if directory else os.path.relpath(folder).removeprefix("."))
    return found


def _audio_files_in(directory, suffixes):
    """Audio files below ``directory`` (recursively; hidden files and folders skipped)."""
    found = []
    for folder in _subfolders(directory):
        found += [
            os.path.join(folder, entry.name)
            for entry in os.scandir(folder)
            if not entry.name.startswith(".") and entry.is_file()
            and os.path.splitext(entry.name)[1].lower() in suffixes
        ]
    return sorted(found)


def _glob(pattern):
    """Paths matching a glob pattern, ``**`` standing for any depth of folders.

    As :func:`glob.glob`, hidden names match only a part that starts with a
    dot; unlike it, ``**`` follows no link to a folder (as directory search
    does), so a link loop cannot list a file again and again.
    """
    path = Path(pattern)
    paths = [path.anchor]  # "" for a relative pattern: the working directory
    parts = path.parts[1 if path.anchor else 0:]
    for i, part in enumerate(parts):
        if part == "**":
            paths = [sub for p in paths if os.path.isdir(p or ".") for sub in _subfolders(p)]
            if i == len(parts) - 1:  # a last ** matches the files in those folders too
                paths += [os.path.join(p, name) for p in paths for name in os.listdir(p or ".")
                          if not name.startswith(".") and not os.path.isdir(os.path.join(p, name))]
        elif glob.has_magic(part):
            hidden = part.startswith(".")
            paths = [os.path.join(p, name) for p in paths if os.path.isdir(p or ".")
                     for name in sorted(os.listdir(p or "."))
                     if (hidden or not name.startswith(".")) and fnmatch.fnmatch(name, part)]
        else:
            paths = [os.path.join(p, part) for p in paths if os.path.lexists(os.path.join(p, part))]
    return sorted({p for p in paths if p})


def find_audio_files(paths, *, extensions=AUDIO_EXTENSIONS):
    """Expand files, directories and glob patterns into a list of audio files.

    Parameters
    ----------
    paths : str, path-like or sequence of them
        Each is a file (kept whatever its suffix: it was named), a directory
        (its audio files, found recursively and sorted; hidden files and
        folders skipped) or a glob pattern (``*``, ``?``, ``[...]``; ``**``
        matches any depth of folders) whose matching audio files and
        directories are taken (sorted). Links to folders are not followed,
        in directories and under ``**`` alike, so a link loop lists nothing
        twice.
    extensions : sequence of str, default=AUDIO_EXTENSIONS
        Suffixes of audio files (case-insensitive), for directories and patterns.

    Returns
    -------
    files : list of str
        In the order of ``paths``; a file reached twice, under any name (links
        included), is listed once, under the first.

    Raises
    ------
    FileNotFoundError
        Naming the argument, if it is neither a file nor a directory and
        matches nothing as a pattern, or if a directory holds no audio file.

    Examples
    --------
    >>> import numpy as np, soundfile as sf, tempfile, os
    >>> root = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(root, "album"))
    >>> for name in ("album/b.flac", "a.wav", "notes.txt"):
    ...     sf.write(os.path.join(root, name), np.zeros(100), 8000) if name[-4:] != ".txt" else None
    >>> [os.path.relpath(f, root) for f in find_audio_files(root)]
    ['a.wav', 'album/b.flac']
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    suffixes = audio_suffixes(extensions)
    files = {}  # an ordered set
    for arg in paths:
        arg = os.fsdecode(arg)
        expanded = os.path.expanduser(arg)
        pattern = not os.path.exists(expanded) and any(c in expanded for c in "*?[")
        if pattern:
            matches = _glob(expanded)
        else:
            matches = [expanded] if os.path.exists(expanded) else []
        if not matches:
            raise FileNotFoundError(
                f"{arg!r}: no such file or directory, and no file matches it as a pattern"
            )
        found = []
        for match in matches:
            if os.path.isdir(match):
                found += _audio_files_in(match, suffixes)
            elif not pattern or os.path.splitext(match)[1].lower() in suffixes:
                found.append(match)
        if not found:
            raise FileNotFoundError(
                f"{arg!r}: no audio files ({', '.join(sorted(suffixes))}) among the "
                f"{len(matches)} path(s) it names"
            )
        for name in found:  # each file once, also when links give it several names
            files.setdefault(os.path.realpath(name), name)
    return list(files.values())
