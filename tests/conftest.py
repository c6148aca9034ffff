"""Shared test data: small click-track audio the tests generate themselves."""

import numpy as np
import pytest
import torch

SR = 22050


def click_tracks(n_per_class=6, seconds=4.0, sr=SR, seed=0):
    """Two rhythm classes: clicks every beat at 120 bpm (``"even"``) or in a
    3/4 accent pattern at 90 bpm (``"waltz"``), with random phase, gain and noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(int(0.03 * sr)) / sr
    click = np.sin(2 * np.pi * 1500 * t) * np.exp(-t / 0.005)
    audio, labels = [], []
    for label, bpm, accents in (("even", 120, [1.0]), ("waltz", 90, [1.0, 0.3, 0.3])):
        period = int(sr * 60 / bpm)
        for _ in range(n_per_class):
            y = 0.01 * rng.standard_normal(n)
            for k, start in enumerate(range(rng.integers(period), n - t.size, period)):
                y[start : start + t.size] += accents[k % len(accents)] * click
            audio.append((rng.uniform(0.3, 1.0) * y).astype(np.float32))
            labels.append(label)
    return np.stack(audio), np.array(labels)


def write_pyav(path, data, sr, container="ipod", codec="aac"):
    """Encode ``data`` (n_samples,) or (n_samples, 2) with FFmpeg's ``codec`` into
    ``container`` through PyAV (default: AAC in an M4A); ``path`` may be bytes."""
    import av

    data = np.asarray(data, dtype=np.float32)
    planes = data[None] if data.ndim == 1 else np.ascontiguousarray(data.T)
    layout = "mono" if len(planes) == 1 else "stereo"
    with open(path, "wb") as f, av.open(f, "w", format=container) as out:
        stream = out.add_stream(codec, rate=sr, layout=layout)
        frame = av.AudioFrame.from_ndarray(planes, format="fltp", layout=layout)
        frame.sample_rate = sr
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=layout,
                                      rate=sr)
        for converted in [*resampler.resample(frame), *resampler.resample(None), None]:
            out.mux(stream.encode(converted))
    return path


@pytest.fixture(scope="session")
def clicks():
    return click_tracks()


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(2)
