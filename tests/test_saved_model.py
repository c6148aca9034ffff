"""skrhythm._saved_model: a saved O-net/P-net pipeline read for prediction without sklearn."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from sklearn.pipeline import Pipeline

from conftest import click_tracks
from skrhythm import LogMelTransformer, MusicCNNClassifier, cli, persistence
from skrhythm._saved_model import SavedCNN, read_saved_cnn
from skrhythm.inference import load_for_prediction, predict_tables
from skrhythm.persistence import load_model, save_model
from skrhythm.rhythm import make_tempo_pipeline

SR = 8000
LOGMEL = dict(sr=SR, n_fft=256, hop_length=128, n_mels=16, duration=2.0)
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.filterwarnings("ignore::skrhythm.RecordingWarning")  # the 0.2 s clip


def pipeline(**cnn):
    params = {**dict(onet_lengths=(2, 4), pnet_lengths=(9,), patch_frames=32, patch_hop=16,
                     max_epochs=2, random_state=0), **cnn}
    return Pipeline([("logmel", LogMelTransformer(**LOGMEL)),
                     ("model", MusicCNNClassifier(**params))])


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    audio, _ = click_tracks(n_per_class=2, seconds=60.0, sr=SR, seed=3)
    paths = []
    for i, (wave, seconds) in enumerate(zip(audio, (60.0, 3.0, 0.2, 11.0))):
        paths.append(str(root / f"clip{i}.wav"))
        sf.write(paths[-1], wave[: int(seconds * SR)], SR)
    return paths


@pytest.fixture(scope="module")
def training():
    return click_tracks(n_per_class=4, seconds=2.0, sr=SR)


def saved(model, path, training):
    save_model(model.fit(*training), path)
    return str(path)


@pytest.mark.parametrize("cnn", [{}, {"aggregate": "mean"}, {"filterbank": "reference"},
                                 {"n_onet": 2, "n_pnet": 0, "patch_hop": None}],
                         ids=["vote", "mean", "reference", "2onet"])
@pytest.mark.parametrize("duration", [None, 10.0])
def test_predictions_are_bitwise_those_of_the_loaded_pipeline(tmp_path, clips, training, cnn,
                                                              duration):
    path = saved(pipeline(**cnn), tmp_path / "model.skops", training)
    fast = read_saved_cnn(path)
    assert isinstance(fast, SavedCNN)
    full = load_model(path)
    for windows in (False, True):
        ours = predict_tables(fast, clips, duration=duration, windows=windows)
        theirs = predict_tables(full, clips, duration=duration, windows=windows)
        pd.testing.assert_frame_equal(ours[0], theirs[0], check_exact=True)
        if windows:
            pd.testing.assert_frame_equal(ours[1], theirs[1], check_exact=True)
    assert (ours[0]["padded"].tolist(), ours[0]["cropped"].tolist()) == (
        [False, False, True, False], [duration is not None, False, False, duration == 10.0])


def test_read_for_prediction_builds_no_estimator_nor_optimizer(tmp_path, training):
    """In a fresh process: neither scikit-learn, skorch, skops nor librosa is imported."""
    path = saved(pipeline(), tmp_path / "model.skops", training)
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from skrhythm.inference import load_for_prediction, predict_tables
        model = load_for_prediction({path!r})
        predict_tables(model, [np.zeros(3 * {SR}, np.float32)])
        heavy = ("sklearn", "skorch", "skops", "librosa", "torch._dynamo", "matplotlib")
        print(type(model).__name__, sorted(m for m in heavy if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout
    assert out.split() == ["SavedCNN", "[]"]


def other_version(model, path, training, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(persistence, "__version__", "0.0.1")
        return saved(model, path, training)


@pytest.mark.parametrize("case", ["joblib", "tempo", "three steps", "cache", "memory",
                                  "callbacks", "version", "patch_frames", "n_mels", "lengths",
                                  "nan weights"])
def test_anything_else_is_left_to_load_model(tmp_path, training, case, monkeypatch):
    from sklearn.preprocessing import FunctionTransformer
    from skorch.callbacks import EarlyStopping

    path = tmp_path / ("model.joblib" if case == "joblib" else "model.skops")
    model = pipeline()
    if case == "tempo":
        model = Pipeline([("logmel", LogMelTransformer(**LOGMEL)),
                          ("model", make_tempo_pipeline(sr=SR, hop_length=128))])
    elif case == "three steps":
        model.steps.insert(1, ("same", FunctionTransformer()))
    elif case == "cache":
        model.set_params(logmel__cache=str(tmp_path / "cache"))
    elif case == "memory":
        model.set_params(memory=str(tmp_path / "memory"))
    elif case == "callbacks":
        model.set_params(model__callbacks=[EarlyStopping(monitor="train_loss")])
    if case == "version":
        saved_path = other_version(model, path, training, monkeypatch)
    else:
        model.fit(*training)
        cnn = model.steps[-1][1]
        if case == "patch_frames":
            cnn.patch_frames = 10**8
        elif case == "n_mels":
            model.steps[0][1].n_mels = 20  # the network takes 16 bands
        elif case == "lengths":
            cnn.pnet_lengths = (10**6,)
        elif case == "nan weights":
            with torch.no_grad():
                cnn.net_.module_.dense.weight[0, 0] = float("nan")
        save_model(model, path)
        saved_path = str(path)
    assert read_saved_cnn(saved_path) is None


def test_a_gpu_model_is_left_to_load_model_where_there_is_a_gpu(tmp_path, training, monkeypatch):
    path = saved(pipeline(), tmp_path / "model.skops", training)
    assert read_saved_cnn(path) is not None
    model = load_model(path)
    model.steps[-1][1].device_ = "cuda"  # as if trained there
    save_model(model, tmp_path / "gpu.skops")
    with monkeypatch.context() as patch:
        patch.setattr(torch.cuda, "is_available", lambda: False)  # load_model: on the CPU too
        assert read_saved_cnn(tmp_path / "gpu.skops") is not None
        patch.setattr(torch.cuda, "is_available", lambda: True)
        assert read_saved_cnn(tmp_path / "gpu.skops") is None


def test_command_prints_the_same_whichever_reader(tmp_path, clips, training, capsys,
                                                  monkeypatch):
    import skrhythm._saved_model

    path = saved(pipeline(), tmp_path / "model.skops", training)
    outputs = []
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(skrhythm._saved_model, "read_saved_cnn", lambda p: None)
        for fmt in ("table", "csv", "json"):
            assert cli.main(["predict", path, *clips, "--format", fmt, "--duration", "10",
                             "--windows", str(tmp_path / f"w{fast}.csv")]) == 0
            outputs.append(capsys.readouterr().out)
    assert outputs[:3] == outputs[3:]
    assert (tmp_path / "wTrue.csv").read_text() == (tmp_path / "wFalse.csv").read_text()
    assert isinstance(load_for_prediction(path), Pipeline)  # read_saved_cnn is patched


def test_the_kernels_are_announced_only_when_they_are_compiled(monkeypatch):
    """Reported: the notice came again on later runs whose kernels were in the disk cache
    (a load that took over two seconds on a busy machine was taken for a compile)."""
    import numba

    from skrhythm.nn import COMPILE_NOTICE, prepare_kernels
    from skrhythm.nn._kernels import _numba

    prepare_kernels()  # compiled or loaded: from here on this process compiles nothing
    said = []
    prepare_kernels(notify=said.append)
    prepare_kernels(training=False, notify=said.append)
    assert said == []
    real = _numba.pooled_correlation_windows

    def compiles_first(*args):
        numba.njit(lambda x: x + 1)(1)  # a function never compiled before
        numba.njit(lambda x: x + 2)(1)
        return real(*args)

    monkeypatch.setattr(_numba, "pooled_correlation_windows", compiles_first)
    prepare_kernels(training=False, notify=said.append)
    assert said == [COMPILE_NOTICE]  # once, however many kernels compile


@pytest.mark.slow
def test_predict_announces_a_compile_and_not_a_cache_load(tmp_path, training):
    """Two ``skrhythm predict`` processes with an empty numba cache: the first compiles the
    kernels (and says so), the second loads them."""
    path = saved(pipeline(), tmp_path / "model.skops", training)
    audio = tmp_path / "a.wav"
    sf.write(audio, np.zeros(3 * SR), SR)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    errs = [subprocess.run([sys.executable, "-m", "skrhythm.cli", "predict", path, str(audio)],
                           capture_output=True, text=True, env=env, check=True).stderr
            for _ in range(2)]
    assert "preparing skrhythm's CPU kernels for this machine (once" in errs[0]
    assert "preparing" not in errs[1]


class Reads(dict):
    """A state dict that records the keys read from it."""

    def __init__(self, *args):
        super().__init__(*args)
        self.read = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


def test_every_parameter_is_read_or_deliberately_ignored(tmp_path, training, monkeypatch):
    """A parameter added to an estimator must be read by the saved-model reader, or be named
    in IGNORED_PARAMETERS with the reason prediction does not need it."""
    import skrhythm._saved_model as reader
    from skrhythm._skops_schema import read_schema

    path = saved(pipeline(), tmp_path / "model.skops", training)
    content = read_schema(path)
    steps = content["model"].state["steps"]
    states = {}
    for _, step in steps:
        object.__setattr__(step, "state", Reads(step.state))
        states[step.type_name.rpartition(".")[2]] = step.state
    monkeypatch.setattr(reader, "read_schema", lambda p: content)
    assert isinstance(reader.read_saved_cnn(path), SavedCNN)
    for estimator in (LogMelTransformer(), MusicCNNClassifier()):
        name = type(estimator).__name__
        params = set(estimator.get_params())
        ignored = set(reader.IGNORED_PARAMETERS[name])
        assert ignored <= params, f"{name}: ignores parameters it does not have"
        assert params - ignored <= states[name].read, (
            f"{name}: parameters neither read nor ignored: "
            f"{sorted(params - ignored - states[name].read)}")
        assert not ignored & states[name].read, f"{name}: reads parameters it says it ignores"
