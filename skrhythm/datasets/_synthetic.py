"""A synthetic stand-in for Ballroom: dance rhythms rendered with numpy."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import soxr
from joblib import Parallel, delayed
from scipy import signal
from sklearn.utils import Bunch, check_random_state
from tqdm.auto import tqdm

from ._base import read_index

__all__ = ["make_ballroom_like"]

_STEPS_PER_BEAT = 4  # the pattern grid is in sixteenth notes


def _grid(pattern):
    """Velocities of a pattern string: one character per sixteenth, '.' silent.

    Digits 1-9 are velocities (9 loudest); '|' and spaces only help reading.
    """
    cells = pattern.replace("|", "").replace(" ", "")
    return np.array([0.0 if c == "." else int(c) / 9.0 for c in cells])


@dataclass(frozen=True)
class _Style:
    """A dance: metre, feel and a two-bar pattern (sixteenth grid) per voice."""

    beats_per_bar: int
    patterns: dict
    swing: tuple = (0.5, 0.53)  # position of the off-beat eighth within the beat
    stab_decay: tuple = (0.1, 0.3)  # seconds, decay of the chord stabs
    beat_shift: dict = field(default_factory=dict)  # beat in bar -> shift (beats)


# Two bars per pattern, bars separated by "||" and beats by "|".
_STYLES = {
    # Cha-cha-cha: cowbell on every beat, the "2, 3, 4-and-1" of piano and
    # congas (tumbao: slap on 2, open tones on 4 and 4-and), anticipated bass.
    "ChaChaCha": _Style(
        4,
        {
            "kick": "8...|....|5...|....||8...|....|5...|....",
            "perc": "6...|8...|4...|9.9.||6...|8...|4...|9.9.",
            "clave": "9...|5...|7...|5...||9...|5...|7...|5...",
            "shaker": "6.3.|5.3.|6.3.|5.3.||6.3.|5.3.|6.3.|5.3.",
            "bass": "5...|..8.|....|8...||5...|..8.|....|8...",
            "stab": "....|7...|7...|7.7.||....|7...|7...|7.7.",
        },
        stab_decay=(0.08, 0.2),
    ),
    # Jive: shuffle, swung ride "ding ding-a ding ding-a", backbeat on 2 and 4,
    # walking bass on the beats, off-beat horn stabs.
    "Jive": _Style(
        4,
        {
            "kick": "9...|....|7...|....||9...|....|7...|....",
            "snare": "....|9...|....|9...||....|9...|....|9...",
            "hat": "7...|7.5.|7...|7.5.||7...|7.5.|7...|7.5.",
            "bass": "8...|6...|7...|6...||8...|6...|7...|6...",
            "stab": "....|..7.|....|..7.||....|..7.|....|..7.",
        },
        swing=(0.62, 0.7),
        stab_decay=(0.06, 0.15),
    ),
    # Quickstep: fast two-beat ("oom-pah"), bass and kick on 1 and 3, brushes
    # and chords on 2 and 4, lightly swung eighths.
    "Quickstep": _Style(
        4,
        {
            "kick": "9...|....|8...|....||9...|....|8...|....",
            "snare": "....|8...|....|8...||....|8...|....|8...",
            "hat": "5.3.|5.3.|5.3.|5.3.||5.3.|5.3.|5.3.|5.3.",
            "bass": "9...|....|8...|....||9...|....|8...|....",
            "stab": "....|7...|....|7...||....|7...|....|7...",
        },
        swing=(0.52, 0.6),
        stab_decay=(0.05, 0.15),
    ),
    # Rumba: slow bolero-son feel, rumba clave (3-2), soft maracas and bongos,
    # long sustained chords; the slow-quick-quick of the dance on 2, 3, 4-1.
    "Rumba": _Style(
        4,
        {
            "kick": "6...|....|4...|....||6...|....|4...|....",
            "clave": "9...|..9.|....|..9.||....|9...|9...|....",
            "perc": "3.2.|5.2.|5.2.|3.2.||3.2.|5.2.|5.2.|3.2.",
            "shaker": "4.2.|3.2.|4.2.|3.2.||4.2.|3.2.|4.2.|3.2.",
            "bass": "8...|..6.|7...|....||8...|..6.|7...|....",
            "stab": "6...|..5.|....|....||6...|..5.|....|....",
        },
        stab_decay=(0.3, 0.8),
    ),
    # Samba: the bounce: ganza sixteenths accented on the beat and on its last
    # sixteenth, surdo muted on 1 and open (strong) on 2, tamborim and agogo
    # syncopations, bass "1 ... a-2".
    "Samba": _Style(
        4,
        {
            "kick": "4...|9...|4...|9...||4...|9...|4...|9...",
            "shaker": "8358|8358|8358|8358||8358|8358|8358|8358",
            "perc": "9.59|..9.|9.59|..9.||9..9|..9.|9.9.|.9..",
            "clave": "9.6.|..9.|6.9.|9...||9.6.|..9.|6.9.|9...",
            "bass": "8..6|8..6|8..6|8..6||8..6|8..6|8..6|8..6",
            "stab": "..6.|6..6|..6.|6...||..6.|6..6|..6.|6...",
        },
    ),
    # Tango: staccato marcato on every beat (short chord stabs), bass on the
    # beats, drags ("4-and-a") and snare rolls into the next downbeat.
    "Tango": _Style(
        4,
        {
            "kick": "9...|....|9...|....||9...|....|9...|....",
            "snare": "....|....|....|....||....|....|....|.579",
            "bass": "9...|6...|8...|6...||9...|6...|8...|..79",
            "stab": "9...|7...|9...|7...||9...|7...|9...|..79",
        },
        stab_decay=(0.03, 0.08),
    ),
    # Viennese waltz: fast "oom-pah-pah" in 3/4, bass on 1, chords and hats on
    # 2 and 3 with the second beat played a little early.
    "VienneseWaltz": _Style(
        3,
        {
            "kick": "7...|....|....||7...|....|....",
            "hat": "....|5...|5...||....|5...|5...",
            "bass": "9...|....|....||9...|....|....",
            "stab": "....|7...|6...||....|7...|6...",
        },
        stab_decay=(0.08, 0.2),
        beat_shift={1: -0.08},
    ),
    # Waltz: slow 3/4 with a strong 1, soft chords on 2 and 3, flowing brushes.
    "Waltz": _Style(
        3,
        {
            "kick": "8...|....|....||8...|....|....",
            "hat": "....|4...|4...||....|4...|4...",
            "shaker": "4.2.|3.2.|3.2.||4.2.|3.2.|3.2.",
            "bass": "9...|....|....||9...|....|..4.",
            "stab": "....|5...|5...||....|5...|5...",
        },
        stab_decay=(0.3, 0.9),
    ),
}

# Mixing level of each voice in dB before the per-track random offset.
_LEVELS_DB = {
    "kick": 0.0,
    "snare": -4.0,
    "hat": -12.0,
    "perc": -6.0,
    "clave": -10.0,
    "shaker": -14.0,
    "bass": -4.0,
    "stab": -8.0,
}
_PERCUSSION = ("kick", "snare", "hat", "perc", "clave", "shaker")

# Chord progressions as (root in semitones above the key, minor?) per bar.
_PROGRESSIONS = (
    ((0, False), (5, False), (7, False), (0, False)),  # I IV V I
    ((0, False), (9, True), (5, False), (7, False)),  # I vi IV V
    ((2, True), (7, False), (0, False), (0, False)),  # ii V I I
    ((0, True), (5, True), (7, False), (0, True)),  # i iv V i
    ((0, True), (8, False), (3, False), (7, False)),  # i VI III V
)

_DESCR = """\
Synthetic Ballroom-like data set
--------------------------------
Rendered by :func:`skrhythm.datasets.make_ballroom_like`: {n_per_class} tracks
of {duration:g} s at {sr} Hz for each of the 8 Ballroom classes (ChaChaCha,
Jive, Quickstep, Rumba, Samba, Tango, VienneseWaltz, Waltz), {n_tracks} in all.

Every class plays its dance's metre (3/4 for the two waltzes, 4/4 otherwise)
and a two-bar pattern per voice on a sixteenth-note grid: cha-cha-cha's
"2, 3, 4-and-1" with cowbell on the beats; jive's swung shuffle with backbeat;
quickstep's fast two-beat; rumba's slow bolero with rumba clave; samba's bounce
(ganza sixteenths, surdo strong on 2); tango's staccato marcato with drags;
the waltzes' "oom-pah-pah" with a strong 1 (the Viennese second beat early).
Tempi are drawn from the annotated tempi of the same class in the real
Ballroom index (those within the class's 5-95th percentiles, with a 1 %
jitter), so classes overlap in tempo as in
Ballroom (Rumba/Samba, ChaChaCha/Tango, Jive/VienneseWaltz).

Each track draws its own sounds (kick, snare, hi-hat, conga/tom, clave or
cowbell, shaker as decaying sines and filtered noise; bass and chord stabs
following a random chord progression in a random key), voice levels,
humanisation (timing jitter of a few milliseconds, velocity jitter, dropped
and ghost notes), swing where the dance has it, a slow tempo drift, a random
phase (tracks do not start on a downbeat), a sustained chord pad with slow
tremolo, random non-rhythmic melody notes, coloured background noise and an
overall loudness.

``data`` holds float32 waveforms (rows), ``target`` the class names,
``tempo`` the true tempo in bpm, ``groups`` one group per track, ``sr`` the
sample rate.
"""


def _midi_hz(note):
    return 440.0 * 2.0 ** ((np.asarray(note, dtype=float) - 69.0) / 12.0)


def _env(t, decay, attack=0.002):
    return np.minimum(t / attack, 1.0) * np.exp(-t / decay)


def _noise(rng, n, low, high, sr):
    """White noise band-passed to ``low..high`` Hz (high < 0.45 sr)."""
    high = min(high, 0.45 * sr)
    low = min(low, 0.5 * high)
    sos = signal.butter(2, [low, high], btype="bandpass", fs=sr, output="sos")
    return signal.sosfilt(sos, rng.standard_normal(n))


def _percussion(kind, rng, sr):
    """One hit of a percussion voice with random sound parameters."""
    u = rng.uniform
    if kind == "kick":
        decay, n = u(0.08, 0.25), int(0.4 * sr)
        t = np.arange(n) / sr
        f = u(40, 65) + u(60, 150) * np.exp(-t / u(0.01, 0.04))
        hit = np.sin(2 * np.pi * np.cumsum(f) / sr) * _env(t, decay)
        return hit + u(0.05, 0.3) * _noise(rng, n, 1000, 6000, sr) * _env(t, 0.004)
    if kind == "snare":
        n = int(0.3 * sr)
        t = np.arange(n) / sr
        tone = np.sin(2 * np.pi * u(160, 260) * t) * _env(t, u(0.03, 0.08))
        rattle = _noise(rng, n, u(1000, 2500), u(6000, 10000), sr) * _env(t, u(0.05, 0.15))
        return u(0.3, 0.8) * tone + 3.0 * rattle
    if kind == "hat":
        n = int(0.2 * sr)
        t = np.arange(n) / sr
        return 4.0 * _noise(rng, n, u(5000, 8000), 16000, sr) * _env(t, u(0.015, 0.07))
    if kind == "perc":  # conga, tom or bongo
        decay, n = u(0.06, 0.2), int(0.35 * sr)
        t = np.arange(n) / sr
        f = u(150, 400) * (1 + 0.3 * np.exp(-t / 0.01))
        return np.sin(2 * np.pi * np.cumsum(f) / sr) * _env(t, decay)
    if kind == "clave":  # clave, woodblock or cowbell: two inharmonic partials
        n = int(0.12 * sr)
        t = np.arange(n) / sr
        f = u(700, 2500)
        partials = np.sin(2 * np.pi * f * t) + 0.6 * np.sin(2 * np.pi * f * u(1.4, 1.7) * t)
        return partials * _env(t, u(0.015, 0.05), attack=0.0005)
    if kind == "shaker":
        n = int(0.1 * sr)
        t = np.arange(n) / sr
        return 4.0 * _noise(rng, n, u(3000, 5000), 12000, sr) * _env(t, u(0.015, 0.04), 0.005)
    raise ValueError(f"unknown percussion voice {kind!r}")


def _tone(freqs, n, sr, decay, brightness, rng):
    """Decaying harmonic tones at ``freqs`` (Hz), summed: bass notes and stabs."""
    t = np.arange(n) / sr
    out = np.zeros(n)
    for f in np.atleast_1d(freqs):
        phase = rng.uniform(0, 2 * np.pi)
        for h in range(1, 5):
            if h * f < 0.45 * sr:
                out += brightness ** (h - 1) / h * np.sin(2 * np.pi * h * f * t + phase)
    return out * _env(t, decay, attack=0.004)


def _chord_notes(key, degree, minor, octave):
    root = key + degree + 12 * octave
    return np.array([root, root + (3 if minor else 4), root + 7])


def _place(out, positions, velocities, hit):
    """Add ``velocities[i] * hit`` at sample ``positions[i]``.

    ``out`` must extend at least ``hit.size`` samples past the last position
    that counts (the caller crops that margin). One slice addition per hit:
    a few hundred hits per voice, far cheaper than scattering every sample.
    """
    keep = (positions >= 0) & (positions < out.size - hit.size) & (velocities > 0)
    for position, velocity in zip(positions[keep].tolist(), velocities[keep].tolist()):
        out[position : position + hit.size] += velocity * hit


def _render(style_name, bpm, n_samples, sr, seed):
    """Render one track; all randomness comes from ``seed``."""
    rng = np.random.default_rng(seed)
    style = _STYLES[style_name]
    u = rng.uniform
    beat = 60.0 / bpm
    step = beat / _STEPS_PER_BEAT
    cycle_steps = 2 * style.beats_per_bar * _STEPS_PER_BEAT
    duration = n_samples / sr
    start = -u(0, cycle_steps * step)  # random phase: the track starts anywhere
    n_cycles = int(np.ceil((duration - start) / (cycle_steps * step))) + 1
    swing = u(*style.swing)
    drift = u(-0.01, 0.01)  # relative tempo change over the track
    jitter = u(0.002, 0.012)  # seconds, timing humanisation
    p_drop, p_ghost = u(0.02, 0.1), u(0.0, 0.05)

    key = int(rng.integers(0, 12))
    progression = _PROGRESSIONS[rng.integers(len(_PROGRESSIONS))]
    bars_per_chord = int(rng.choice([1, 2]))
    out = np.zeros(n_samples + sr)  # one second of margin for the hits' tails

    def events(pattern):
        """Sample positions, velocities and bar numbers of one voice's hits."""
        vel = np.tile(_grid(pattern), n_cycles)
        grid = np.arange(vel.size, dtype=float)
        if p_ghost:
            ghosts = (vel == 0) & (rng.random(vel.size) < p_ghost)
            vel[ghosts] = u(0.1, 0.3, ghosts.sum())
        vel *= (rng.random(vel.size) >= p_drop) * np.clip(rng.normal(1, 0.1, vel.size), 0.5, 1.5)
        sub = grid % _STEPS_PER_BEAT
        grid[sub == 2] += 4 * swing - 2  # swung off-beat eighths
        beat_in_bar = (grid // _STEPS_PER_BEAT) % style.beats_per_bar
        for b, shift in style.beat_shift.items():
            grid[(beat_in_bar == b) & (sub == 0)] += shift * _STEPS_PER_BEAT
        seconds = start + grid * step * (1 + drift * grid * step / duration)
        seconds += rng.normal(0, jitter, vel.size)
        bars = (np.arange(vel.size) // (style.beats_per_bar * _STEPS_PER_BEAT)).astype(int)
        return np.round(seconds * sr).astype(np.intp), vel, bars

    for voice, pattern in style.patterns.items():
        if voice != "bass" and rng.random() < 0.1:
            continue  # voices are sometimes left out
        gain = 10 ** ((_LEVELS_DB[voice] + u(-5, 5)) / 20)
        positions, vel, bars = events(pattern)
        if voice in _PERCUSSION:
            _place(out, positions, gain * vel, _percussion(voice, rng, sr))
            continue
        # Pitched voices: one hit shape per chord of the progression.
        decay = u(0.15, 0.5) if voice == "bass" else u(*style.stab_decay)
        n_hit = int(min(4 * decay, 0.8) * sr)
        brightness = u(0.2, 0.7)
        chord_of_bar = (bars // bars_per_chord) % len(progression)
        for c, (degree, minor) in enumerate(progression):
            if voice == "bass":
                freqs = _midi_hz(36 + (key + degree) % 12)
            else:
                freqs = _midi_hz(_chord_notes(key, degree, minor, 4 + rng.integers(0, 2)))
            hit = _tone(freqs, n_hit, sr, decay, brightness, rng)
            _place(out, positions, gain * vel * (chord_of_bar == c), hit)

    out = out[:n_samples] / max(np.sqrt(np.mean(out[:n_samples] ** 2)), 1e-9)
    # Tonal content has no energy above 2 kHz: rendered at a quarter of the rate.
    low_sr = sr / 4
    n_low = n_samples // 4 + 1
    tonal = _pad(rng, n_low, low_sr, key, progression, start, step, style, bars_per_chord)
    tonal += _melody(rng, n_low, low_sr, key)
    out += soxr.resample(tonal, low_sr, sr, quality="LQ")[:n_samples]
    low_pass = signal.butter(1, u(1000, 8000), fs=sr, output="sos")
    out += 10 ** (u(-35, -18) / 20) * signal.sosfilt(low_pass, rng.standard_normal(n_samples))
    out *= 10 ** (u(-26, -14) / 20) / max(np.sqrt(np.mean(out**2)), 1e-9)
    peak = np.abs(out).max()
    if peak > 0.98:
        out *= 0.98 / peak
    return out.astype(np.float32)


def _pad(rng, n, sr, key, progression, start, step, style, bars_per_chord):
    """A sustained chord pad following the progression, with slow tremolo."""
    t = np.arange(n) / sr
    bar = style.beats_per_bar * _STEPS_PER_BEAT * step
    chord = ((t - start) // (bar * bars_per_chord)).astype(int) % len(progression)
    notes = np.array([_chord_notes(key, d, m, 4) for d, m in progression])  # (chords, 3)
    tones = np.zeros(n)
    detuned = _midi_hz(notes) * (1 + rng.uniform(-0.004, 0.004, 3))
    for freqs in detuned.T:
        tones += np.sin((2 * np.pi / sr) * np.cumsum(freqs[chord]))
    tremolo = 1 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.1, 0.6) * t + rng.uniform(0, 6.3))
    level = 10 ** (rng.uniform(-30, -8) / 20)
    return level * tremolo * tones / 3


def _melody(rng, n, sr, key):
    """Notes of a random scale at random (off-grid) times: tonal, not rhythmic."""
    out = np.zeros(n)
    n_notes = rng.poisson(rng.uniform(0.2, 1.5) * n / sr)
    level = 10 ** (rng.uniform(-30, -10) / 20)
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    for onset in rng.integers(0, n, n_notes):
        length = int(rng.uniform(0.2, 1.2) * sr)
        f = _midi_hz(60 + key + rng.choice(scale) + 12 * rng.integers(0, 2))
        t = np.arange(min(length, n - onset)) / sr
        vibrato = 1 + 0.005 * np.sin(2 * np.pi * 5.5 * t)
        note = np.sin(2 * np.pi * np.cumsum(f * vibrato) / sr)
        out[onset : onset + t.size] += level * note * np.sin(np.pi * t / (length / sr))
    return out


def _class_tempi():
    """Annotated Ballroom tempi (bpm) per class, from the shipped index.

    Only the tempi between the class's 5th and 95th percentiles are kept,
    which drops the few annotations at half or double the dance's tempo.
    """
    tempi = {}
    for row in read_index("ballroom_index.csv"):
        if row["bpm"]:
            tempi.setdefault(row["style"], []).append(float(row["bpm"]))
    kept = {}
    for style, bpm in tempi.items():
        low, high = np.percentile(bpm, [5, 95])
        kept[style] = np.array([b for b in bpm if low <= b <= high])
    return kept


def make_ballroom_like(
    n_per_class=10,
    duration=30.0,
    sr=44100,
    random_state=None,
    *,
    tempo_scale=1.0,
    render=True,
    n_jobs=None,
    progress=False,
    return_X_y=False,
):
    """Generate a synthetic data set of 8 Ballroom-like dance rhythms.

    Each track plays its class's metre and characteristic accent and
    percussion patterns at a tempo drawn from the real class's tempo
    distribution, with randomised sounds, levels, humanisation, chord pads,
    melody and noise, so that a classifier has to learn rhythm patterns, not
    only tempo. See the returned ``DESCR`` for the details. Rendering is
    vectorised numpy, about 0.1 s of CPU time per 30 s track: the default
    80 tracks took 10 s on one core of a 2-core VM (``n_jobs`` spreads them
    over cores). Memory peaks at the returned array (4 bytes per sample:
    423 MB for the default 80 tracks) plus a few tracks.

    Parameters
    ----------
    n_per_class : int, default=10
        Tracks per class.
    duration : float, default=30.0
        Length of every track in seconds.
    sr : int, default=44100
        Sample rate in Hz (at least 16000, so that hi-hats fit below Nyquist).
    random_state : int, RandomState instance or None, default=None
        Seed; the same seed gives the same data whatever ``n_jobs``.
    tempo_scale : float, default=1.0
        Factor on every track's tempo: the same tracks (patterns, sounds,
        humanisation) played that much faster, e.g. 1.08 for 8 % faster.
        Only the tempo changes, so the set tests whether a model learned the
        rhythms or their tempos.
    render : bool, default=True
        Render the audio; False gives the labels, tempi and groups alone
        (``data`` is None), at no cost.
    n_jobs : int or None, default=None
        Tracks rendered in parallel by joblib.
    progress : bool, default=False
        A progress bar (tqdm, on stderr) over the tracks.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``data`` (float32 array of shape ``(8 * n_per_class,
        round(duration * sr))``), ``target`` (class names, grouped by class),
        ``target_names``, ``tempo`` (bpm), ``groups`` (``arange``), ``sr`` and
        ``DESCR``.
    (data, target) : tuple
        If ``return_X_y`` is True.

    Raises
    ------
    ValueError
        If ``n_per_class < 1``, ``duration <= 0`` or ``sr < 16000``.

    Examples
    --------
    >>> from skrhythm.datasets import make_ballroom_like
    >>> data = make_ballroom_like(n_per_class=2, duration=5.0, sr=22050, random_state=0)
    >>> data.data.shape, data.data.dtype, data.target[:3].tolist()
    ((16, 110250), dtype('float32'), ['ChaChaCha', 'ChaChaCha', 'Jive'])
    """
    if int(n_per_class) != n_per_class or n_per_class < 1:
        raise ValueError(f"n_per_class must be a positive integer, got {n_per_class!r}")
    if not tempo_scale > 0:
        raise ValueError(f"tempo_scale must be > 0, got {tempo_scale!r}")
    if not duration > 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration!r}")
    if int(sr) != sr or sr < 16000:
        raise ValueError(f"sr must be an integer >= 16000 Hz, got {sr!r}")
    n_per_class, sr = int(n_per_class), int(sr)
    names = sorted(_STYLES)
    tempi = _class_tempi()
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    target = np.repeat(names, n_per_class)
    tempo_rng = np.random.default_rng(np.random.SeedSequence(seed))
    tempo = np.array([tempo_rng.choice(tempi[name]) for name in target])
    tempo *= tempo_rng.normal(1.0, 0.01, tempo.size) * tempo_scale
    seeds = np.random.SeedSequence(seed).spawn(target.size)  # one stream per track
    description = _DESCR.format(n_per_class=n_per_class, duration=duration, sr=sr,
                                n_tracks=len(target))
    if not render:
        return Bunch(data=None, target=target, target_names=np.array(names), tempo=tempo,
                     groups=np.arange(len(target)), sr=sr, DESCR=description)
    n_samples = int(round(duration * sr))
    # Tracks are copied into X as they come: memory peaks at X plus a few tracks.
    X = np.empty((target.size, n_samples), dtype=np.float32)
    waves = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_render)(name, bpm, n_samples, sr, s)
        for name, bpm, s in zip(target, tempo, seeds, strict=True)
    )
    bar = tqdm(total=target.size, unit="track", desc="generating tracks", disable=not progress,
               leave=False, dynamic_ncols=True)
    with bar:
        for row, wave in zip(X, waves, strict=True):
            row[:] = wave
            bar.update()
    if return_X_y:
        return X, target
    return Bunch(data=X, target=target, target_names=np.array(names), tempo=tempo,
                 groups=np.arange(len(target)), sr=sr, DESCR=description)
