"""skrhythm.robustness: a tempo-only classifier falls when the tempo moves, a pitch one does not."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline

from skrhythm import LogMelTransformer
from skrhythm.rhythm import make_tempo_pipeline
from skrhythm.robustness import stretch_tempo, tempo_robustness

SR = 22050


def clicks(bpm, pitch, seconds=8.0, seed=0):
    """Short sine bursts of ``pitch`` Hz at ``bpm``, with a little level noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    wave = 0.001 * rng.standard_normal(n)
    burst = np.sin(2 * np.pi * pitch * np.arange(int(0.03 * SR)) / SR) * np.exp(
        -np.arange(int(0.03 * SR)) / (0.008 * SR))
    for beat in np.arange(0, seconds, 60 / bpm):
        start = int(beat * SR)
        wave[start:start + burst.size] += burst[: n - start]
    return wave.astype(np.float32)


def toy_set(n_per_class, seed):
    """Class "slow": 100 bpm, high clicks; class "fast": 115 bpm, low clicks (tempo +-1 %)."""
    rng = np.random.default_rng(seed)
    waves, labels = [], []
    for label, bpm, pitch in (("slow", 100, 3000), ("fast", 115, 700)):
        for i in range(n_per_class):
            waves.append(clicks(bpm * rng.uniform(0.99, 1.01), pitch, seed=seed * 100 + i))
            labels.append(label)
    return waves, np.array(labels)


class PitchClassifier(ClassifierMixin, BaseEstimator):
    """Tempo-invariant: the class whose mean spectral centroid is nearest."""

    @staticmethod
    def _centroid(waves):
        out = []
        for w in waves:
            spectrum = np.abs(np.fft.rfft(w))
            out.append((spectrum * np.fft.rfftfreq(len(w), 1 / SR)).sum() / spectrum.sum())
        return np.array(out)

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        c = self._centroid(X)
        self.centroids_ = np.array([c[np.asarray(y) == k].mean() for k in self.classes_])
        return self

    def predict(self, X):
        c = self._centroid(X)
        return self.classes_[np.abs(c[:, None] - self.centroids_).argmin(axis=1)]


@pytest.fixture(scope="module")
def toy():
    return toy_set(6, seed=0), toy_set(8, seed=1)


def test_a_tempo_only_classifier_falls_and_a_tempo_invariant_one_does_not(toy):
    (train, y_train), (test, y_test) = toy
    tempo = Pipeline([("logmel", LogMelTransformer(sr=SR, duration=6.5)),
                      *make_tempo_pipeline(sr=SR).steps]).fit(train, y_train)
    factors = (0.88, 1.13)  # "fast" slowed to 101 bpm, "slow" sped up to 113 bpm
    by_tempo = tempo_robustness(tempo, test, y_test, factors, sr=SR)
    assert by_tempo["factor"].tolist() == [1.0, *factors]
    assert by_tempo["accuracy"].iloc[0] == 1.0
    # each shift carries one class's tracks into the other's tempo: half the tracks are lost
    assert (by_tempo["accuracy"].iloc[1:] <= 0.5 + 1e-9).all()
    assert (by_tempo["drop"].iloc[1:] >= 0.5 - 1e-9).all()
    assert (by_tempo["drop_low"].iloc[1:] > 0.1).all() and (by_tempo["p"].iloc[1:] < 0.05).all()
    by_pitch = tempo_robustness(PitchClassifier().fit(train, y_train), test, y_test, factors,
                                sr=SR)
    assert by_pitch["accuracy"].tolist() == [1.0, 1.0, 1.0]
    assert by_pitch["drop"].tolist() == [0.0, 0.0, 0.0] and by_pitch["p"].tolist() == [1.0] * 3


def test_files_are_read_like_waveforms(toy, tmp_path):
    import soundfile

    (train, y_train), (test, y_test) = toy
    paths = []
    for i, wave in enumerate(test):
        paths.append(tmp_path / f"{i}.wav")
        soundfile.write(paths[-1], wave, SR, subtype="FLOAT")
    model = PitchClassifier().fit(train, y_train)
    from_files = tempo_robustness(model, paths, y_test, (1.1,), sr=SR)
    from_waves = tempo_robustness(model, test, y_test, (1.1,), sr=SR)
    assert from_files.equals(from_waves)


def test_stretching_changes_the_length_and_keeps_the_pitch():
    wave = clicks(100, 2000, seconds=4.0)
    faster = stretch_tempo(wave, 1.25)
    assert faster.dtype == np.float32 and abs(len(faster) - len(wave) / 1.25) <= 1
    peak = np.fft.rfftfreq(len(faster), 1 / SR)[np.abs(np.fft.rfft(faster)).argmax()]
    assert abs(peak - 2000) < 50
    assert np.array_equal(stretch_tempo(wave, 1.0), wave)


@pytest.mark.parametrize(("factors", "match"), [
    ((0.2,), r"factors=\(0.2,\): expected 1 to 64 tempo factors, each from 0.5 to 2.0"),
    ((), r"factors=\(\): expected 1 to 64"),
    (("fast",), r"factors=\('fast',\): expected 1 to 64"),
])
def test_bad_factors_are_refused_before_any_work(toy, factors, match):
    (train, y_train), (test, y_test) = toy

    class Untouchable(PitchClassifier):
        def predict(self, X):
            raise AssertionError("predicted before checking the factors")

    with pytest.raises(ValueError, match=match):
        tempo_robustness(Untouchable(), test, y_test, factors, sr=SR)


def test_recordings_and_labels_must_agree(toy):
    (train, y_train), (test, y_test) = toy
    with pytest.raises(ValueError, match="4 recordings and 16 labels"):
        tempo_robustness(PitchClassifier().fit(train, y_train), test[:4], y_test, sr=SR)


def test_labels_the_model_does_not_know_are_refused_by_name(toy):
    """Reported: y with 'Polka' ran and reported accuracy 0."""
    (train, y_train), (test, y_test) = toy
    model = PitchClassifier().fit(train, y_train)
    y = np.array(list(y_test[:-1]) + ["Polka"])
    with pytest.raises(ValueError, match="y holds labels the estimator does not know: Polka "
                       r"\(its classes: "):
        tempo_robustness(model, test, y, sr=SR)
