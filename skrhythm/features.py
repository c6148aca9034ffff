"""Log-mel spectrograms as a scikit-learn transformer."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import validate_data

from . import __version__
from ._formats import SavedStateMixin
from ._limits import LOGMEL_BOUNDS, logmel_problem
from ._logmel import log_mel, n_frames
from ._sklearn_compat import HasMethods, Interval, StrOptions
from ._store import DamagedFileError, load_array, save_array
from .audio import load_audio

__all__ = ["LogMelTransformer"]

_COMPRESSIONS = ("log10", "db", "none")



def _is_path(item):
    return isinstance(item, (str, bytes, os.PathLike))


def _content_digest(track):
    """SHA-256 of a file's bytes or of a float32 waveform's samples."""
    digest = hashlib.sha256()
    if _is_path(track):
        if not os.path.isfile(track):
            return None  # load_audio refuses it with a clear error, so nothing is cached
        with open(track, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return "file:" + digest.hexdigest()
    digest.update(np.ascontiguousarray(track).view(np.uint8))
    return "wave:" + digest.hexdigest()


def _checksummed_features(key, transformer, track, name):
    """Features of one track and their checksum; a joblib.Memory cache keys them on ``key``."""
    S = transformer._track_features(track, name)
    return {"spectrogram": S, "sha256": hashlib.sha256(S.tobytes()).hexdigest()}


def _track_job(transformer, index, track, cache, params):
    """Features of one track, read from or stored in the cache.

    Returns the spectrogram and a warning message (or None), so that a
    damaged or implausible cache entry is reported in the calling process.
    """
    name = repr(os.fsdecode(track)) if _is_path(track) else f"track {index}"
    digest = None if cache is None else _content_digest(track)
    if digest is None:  # no cache, or a missing file (whose error load_audio gives)
        return transformer._track_features(track, name), None
    key = hashlib.sha256(json.dumps([params, digest], sort_keys=True, default=str).encode())
    key = key.hexdigest()
    if _is_path(cache):
        path = Path(os.fsdecode(cache)).expanduser() / "logmel" / key[:2] / f"{key}.npz"
        try:
            S = load_array(path)
            problem = transformer.implausible(S, track)
            if problem is None:
                return S, None
            message = f"feature cache entry {os.fspath(path)!r} of {name} is {problem}"
        except FileNotFoundError:
            message = None
        except DamagedFileError as exc:
            message = f"feature cache entry of {name} {exc}"
        S = transformer._track_features(track, name)
        save_array(path, S)
        return S, message and message + "; computed its features again"
    cached = cache.cache(_checksummed_features, ignore=["transformer", "track", "name"])
    entry = cached(key, transformer, track, name)
    problem = _entry_problem(entry, transformer, track)
    if problem is None:
        return entry["spectrogram"], None
    entry = cached.call(key, transformer, track, name)  # computes and stores it again
    if isinstance(entry, tuple):  # joblib >= 1.3 returns (output, metadata)
        entry = entry[0]
    return entry["spectrogram"], (
        f"feature cache entry of {name} in {cache!r} is {problem}; computed its features again"
    )


def _entry_problem(entry, transformer, track):
    """What is wrong with a joblib.Memory cache entry, or None."""
    try:
        S = entry["spectrogram"]
        if not (isinstance(S, np.ndarray)
                and hashlib.sha256(S.tobytes()).hexdigest() == entry["sha256"]):
            return "damaged (its content does not match its checksum)"
    except (TypeError, KeyError, IndexError):
        return "damaged (not an entry of this transformer)"
    return transformer.implausible(S, track)


class LogMelTransformer(SavedStateMixin, TransformerMixin, BaseEstimator):
    """Turn audio into log-compressed mel spectrograms, one track at a time.

    The defaults are those of Pons & Serra (ICASSP 2017): 44.1 kHz audio,
    2048-sample frames with a hop of 1024, 40 mel bands over 0..sr/2 of the
    power spectrum, compressed with ``log10(1 + 10000 * S)``. The paper used a
    Blackman-Harris window; the default here is librosa's Hann window
    (``window="blackmanharris"`` reproduces the paper's). The spectrogram is
    librosa's ``melspectrogram`` (centred frames padded with zeros, a Slaney
    mel filter bank) computed by skrhythm in float64 (:mod:`skrhythm._logmel`),
    within float32 rounding of librosa's.

    Every track is processed on its own: nothing is normalised across the
    batch, so a track's features never depend on the other tracks passed with
    it. The transformer learns nothing; ``fit`` only validates the input and
    records ``n_features_in_`` for array input, and ``transform`` may be called
    without ``fit``.

    Parameters
    ----------
    sr : int, default=44100
        Sample rate of waveform input, and the rate files are resampled to.
    n_fft : int, default=2048
        Frame (FFT) length in samples.
    hop_length : int, default=1024
        Hop between frames in samples.
    n_mels : int, default=40
        Number of mel bands.
    fmin, fmax : float, default=0.0 and None
        Band edges of the mel filter bank in Hz; ``fmax=None`` means ``sr / 2``.
    window : str, default="hann"
        STFT window, any name :func:`scipy.signal.get_window` knows.
    compression : {"log10", "db", "none"}, default="log10"
        ``"log10"``: ``log10(1 + 10000 * S)`` as in the paper; ``"db"``:
        ``10 * log10(max(S, 1e-10))`` (absolute reference, no per-track
        clipping); ``"none"``: the power mel spectrum.
    duration : float or None, default=30.0
        Length in seconds every track is cropped or padded to, so that the
        output is one array (Ballroom excerpts are about 30 s). Longer tracks
        keep their first ``duration`` seconds; shorter ones are padded by
        ``pad_mode``. ``None`` keeps each track's length, which must then be
        the same for all tracks. To predict whole recordings of any length
        with a fitted pipeline, use :func:`skrhythm.predict_recordings`.
    pad_mode : {"wrap", "constant"}, default="wrap"
        How short tracks are padded: ``"wrap"`` repeats the track (keeps the
        rhythm going), ``"constant"`` appends silence.
    offset : float, default=0.0
        Seconds skipped at the start of each file (file input only).
    n_jobs : int or None, default=None
        Tracks processed in parallel by joblib (useful for many files).
    cache : str, path-like, joblib.Memory or None, default=None
        Cache every track's spectrogram on disk, in this directory or
        :class:`joblib.Memory`, so that repeated transforms (the folds and
        candidates of a grid search, reruns of an experiment) compute each
        track's features once. The key is the SHA-256 of the file's bytes (or of
        the waveform's samples), the parameters above and the skrhythm
        version: editing a file or changing a parameter computes the features
        anew, while renaming or moving a file does not. ``None`` caches nothing.
        A directory holds one ``.npz`` file per entry with the SHA-256 of the
        spectrogram, written atomically and read without unpickling anything;
        a :class:`joblib.Memory` stores the checksum with the spectrogram. An
        entry that does not match its checksum, or that cannot be this
        transformer's output (:meth:`implausible`), is computed again, with a
        warning, and never used. The checksum detects damage, not an entry
        planted by someone who can write to the folder: keep caches where
        only you can write. Models loaded from ``.skops`` files come with
        ``cache=None`` (see :mod:`skrhythm.persistence`).

    Attributes
    ----------
    n_features_in_ : int
        Samples per waveform, set by ``fit`` on 2-D array input only.

    Notes
    -----
    ``transform`` accepts

    - a 2-D float array whose rows are waveforms sampled at ``sr``;
    - a list of 1-D waveforms, possibly of different lengths;
    - a list (or 1-D array) of audio file paths: decoded, mixed to mono and
      resampled to ``sr`` by :func:`skrhythm.audio.load_audio`.

    It returns a float32 array of shape ``(n_tracks, n_mels, n_frames)`` with
    ``n_frames = 1 + n_samples // hop_length`` (centred frames; ``n_samples - 1`` in place
    of ``n_samples`` for an odd ``n_fft``).

    Examples
    --------
    >>> import numpy as np
    >>> from skrhythm import LogMelTransformer
    >>> audio = np.random.default_rng(0).standard_normal((2, 44100)).astype("float32")
    >>> LogMelTransformer(duration=None).transform(audio).shape
    (2, 40, 44)
    """

    _parameter_constraints = {
        **{name: [Interval(Integral, *bounds, closed="both")]
           for name, bounds in LOGMEL_BOUNDS.items()},
        "fmin": [Interval(Real, 0, None, closed="left")],
        "fmax": [Interval(Real, 0, None, closed="neither"), None],
        "window": [str],
        "compression": [StrOptions(set(_COMPRESSIONS))],
        "duration": [Interval(Real, 0, None, closed="neither"), None],
        "pad_mode": [StrOptions({"wrap", "constant"})],
        "offset": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [Integral, None],
        "cache": [str, os.PathLike, HasMethods(["cache"]), None],
    }

    def __init__(
        self,
        sr=44100,
        n_fft=2048,
        hop_length=1024,
        n_mels=40,
        fmin=0.0,
        fmax=None,
        window="hann",
        compression="log10",
        duration=30.0,
        pad_mode="wrap",
        offset=0.0,
        n_jobs=None,
        cache=None,
    ):
        self.sr = sr
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax
        self.window = window
        self.compression = compression
        self.duration = duration
        self.pad_mode = pad_mode
        self.offset = offset
        self.n_jobs = n_jobs
        self.cache = cache

    def _validate_params(self):
        super()._validate_params()
        problem = logmel_problem(self.sr, self.hop_length, self.duration)
        if problem:
            raise ValueError(problem)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def fit(self, X, y=None):
        """Validate the input; nothing is learned.

        Parameters
        ----------
        X : array-like or list
            Waveforms or audio file paths, see the class docstring.
        y : ignored

        Returns
        -------
        self : LogMelTransformer
        """
        self._validate_params()
        self._as_tracks(X, reset=True)
        return self

    def transform(self, X):
        """Compute the log-mel spectrogram of every track.

        Parameters
        ----------
        X : array-like or list
            Waveforms or audio file paths, see the class docstring.

        Returns
        -------
        S : ndarray of shape (n_tracks, n_mels, n_frames), dtype float32
        """
        self._validate_params()
        tracks = self._as_tracks(X, reset=False)
        params = self.get_params()
        del params["n_jobs"], params["cache"]
        params["skrhythm"] = __version__
        jobs = (delayed(_track_job)(self, i, t, self.cache, params) for i, t in enumerate(tracks))
        specs = []
        for S, message in Parallel(n_jobs=self.n_jobs)(jobs):
            if message is not None:
                warnings.warn(message, UserWarning, stacklevel=2)
            specs.append(S)
        lengths = {s.shape[1] for s in specs}
        if len(lengths) > 1:
            raise ValueError(
                f"tracks have different lengths ({min(lengths)} to {max(lengths)} frames); "
                "set duration= (seconds) to crop or pad them to one length"
            )
        return np.stack(specs).astype(np.float32, copy=False)

    def _as_tracks(self, X, reset):
        """Return a list of 1-D float waveforms or paths, validating X."""
        if isinstance(X, (str, bytes, os.PathLike)):
            raise ValueError(
                "expected a list of paths or waveforms, got a single path; wrap it in a list"
            )
        is_sequence = isinstance(X, (list, tuple)) or (
            isinstance(X, np.ndarray) and X.ndim == 1 and X.dtype.kind in "OUS"
        )
        if not is_sequence:
            X = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64])
            return list(X)
        if len(X) == 0:
            raise ValueError("empty input: at least one track is required")
        if reset and hasattr(self, "n_features_in_"):
            del self.n_features_in_
        tracks = []
        for i, item in enumerate(X):
            if _is_path(item):
                tracks.append(item)
                continue
            wave = np.asarray(item)
            if wave.dtype.kind not in "fiu" or wave.ndim != 1:
                raise ValueError(
                    f"track {i}: expected a file path or a 1-D numeric waveform, "
                    f"got {type(item).__name__} with shape {np.shape(item)}"
                )
            if wave.size == 0:
                raise ValueError(f"track {i}: empty waveform")
            if not np.isfinite(wave).all():
                raise ValueError(f"track {i}: waveform contains NaN or infinity")
            tracks.append(wave.astype(np.float32, copy=False))
        return tracks

    def _track_features(self, track, name="the track"):
        if _is_path(track):
            wave, _ = load_audio(
                os.fsdecode(track), self.sr, offset=self.offset, duration=self.duration
            )
            if wave.size == 0:
                raise ValueError(f"audio file {os.fsdecode(track)!r} holds no samples")
            if not np.isfinite(wave).all():
                raise ValueError(f"audio file {os.fsdecode(track)!r} contains NaN or infinity")
        else:
            wave = track
        try:
            return self.spectrogram(wave)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from exc

    def n_frames(self, n_samples=None):
        """Frames of the spectrogram of a track of ``n_samples`` samples.

        With ``duration`` set every track gives the same number, and
        ``n_samples`` may be None.
        """
        if self.duration is not None:
            n_samples = int(round(self.duration * self.sr))
        return n_frames(n_samples, self.n_fft, self.hop_length)

    def implausible(self, S, track=None):
        """Why ``S`` cannot be this transformer's spectrogram of ``track``, or None.

        Checks what the settings fix: a float32 array of ``n_mels`` bands, the
        number of frames (known from ``duration``, or from a waveform's
        length), finite values, and none below what the compression can give
        (0 for ``"log10"`` and ``"none"``, -100 dB for ``"db"``). Used on
        cache entries, which a checksum protects from damage but not from an
        entry planted in the cache folder.

        Parameters
        ----------
        S : object
            A candidate spectrogram.
        track : 1-D array, path or None
            The track it should be the spectrogram of.

        Returns
        -------
        problem : str or None
        """
        if not isinstance(S, np.ndarray) or S.dtype != np.float32 or S.ndim != 2:
            return (f"not a float32 spectrogram ({getattr(S, 'dtype', type(S).__name__)}, "
                    f"shape {np.shape(S)})")
        waveform = track is not None and not _is_path(track)
        frames = (self.n_frames(len(track) if waveform else None)
                  if waveform or self.duration is not None else None)
        if S.shape[0] != self.n_mels or (frames is not None and S.shape[1] != frames) or (
                S.shape[1] < 1):
            expected = f"{self.n_mels} x {frames if frames is not None else 'n'}"
            return f"of shape {S.shape[0]} x {S.shape[1]}, not {expected} (bands x frames)"
        if not np.isfinite(S).all():
            return "not finite (NaN or infinity)"
        floor = -100.0 if self.compression == "db" else 0.0
        if S.size and S.min() < floor - 1e-3:  # -100 dB is 10 * log10(1e-10) in float32
            return f"below {floor:g}, the least value of compression={self.compression!r}"
        return None

    def spectrogram(self, wave):
        """Log-mel spectrogram of one waveform sampled at ``sr``.

        Parameters
        ----------
        wave : ndarray of shape (n_samples,)

        Returns
        -------
        S : ndarray of shape (n_mels, n_frames), dtype float32
        """
        if self.duration is not None:
            n = int(round(self.duration * self.sr))
            wave = wave[:n] if wave.size >= n else np.pad(wave, (0, n - wave.size), self.pad_mode)
        S = log_mel(wave, sr=self.sr, n_fft=self.n_fft, hop_length=self.hop_length,
                    n_mels=self.n_mels, fmin=self.fmin, fmax=self.fmax, window_name=self.window,
                    compression=self.compression)
        if not np.isfinite(S).all():
            raise ValueError(
                f"the spectrogram overflows float32 (peak amplitude {np.abs(wave).max():.3g}); "
                "scale the audio to about [-1, 1]"
            )
        return S
