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


@pytest.fixture(scope="session")
def clicks():
    return click_tracks()


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(2)
