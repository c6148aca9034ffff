"""save_model / load_model: round trips, safe skops loading, versions, CUDA-trained models."""

import json
import pickle
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.pipeline import Pipeline
from skorch.callbacks import EarlyStopping
from skorch.exceptions import DeviceWarning

from skrhythm import LogMelTransformer, MusicCNNClassifier, persistence
from skrhythm._store import file_mode
from skrhythm.baselines import BaselineCNNClassifier
from skrhythm.persistence import (
    ModelVersionError,
    UntrustedFileError,
    UntrustedTypesError,
    load_model,
    save_model,
)

FORMATS = ["skops", "joblib", "pkl"]
TINY = dict(onet_lengths=(2,), pnet_lengths=(3,), patch_frames=16, max_epochs=2,
            optimizer_params={"momentum": 0.9}, filterbank="reference", random_state=0)


def make_pipeline(**cnn_params):
    return Pipeline([
        ("logmel", LogMelTransformer(sr=22050, n_fft=1024, hop_length=512, duration=1.0)),
        ("cnn", MusicCNNClassifier(**{**TINY, **cnn_params})),
    ])


@pytest.fixture(scope="module")
def fitted(clicks):
    audio, labels = clicks
    return make_pipeline().fit(audio, labels), audio


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_gives_identical_probabilities(fitted, tmp_path, fmt):
    pipe, audio = fitted
    path = tmp_path / f"model.{fmt}"
    save_model(pipe, path)
    loaded = load_model(path, trusted=fmt != "skops")
    np.testing.assert_array_equal(loaded.predict_proba(audio), pipe.predict_proba(audio))
    np.testing.assert_array_equal(loaded.predict(audio), pipe.predict(audio))
    cnn = loaded.named_steps["cnn"]
    assert cnn.device_ == "cpu" and len(cnn.history_) == 2
    assert cnn.history_ is cnn.net_.history
    momentum = [s["momentum_buffer"] for s in cnn.net_.optimizer_.state_dict()["state"].values()]
    expected = pipe.named_steps["cnn"].net_.optimizer_.state_dict()["state"]
    assert all(torch.equal(m, e["momentum_buffer"]) for m, e in zip(momentum, expected.values()))


@pytest.mark.parametrize(
    ("clf", "shape"),
    [
        (BaselineCNNClassifier("time", time_length=8, patch_frames=16), (6, 20, 24)),
        (MusicCNNClassifier(**TINY), (6, 24)),  # 2-D input: one band
    ],
)
def test_skops_rebuilds_other_patch_classifiers(tmp_path, clf, shape):
    X = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    clf.set_params(max_epochs=1, random_state=0).fit(X, np.arange(6) % 2)
    save_model(clf, tmp_path / "model.skops")
    np.testing.assert_array_equal(
        load_model(tmp_path / "model.skops").predict_proba(X), clf.predict_proba(X)
    )


def test_skops_save_leaves_the_model_untouched(fitted, tmp_path):
    pipe, audio = fitted
    net = pipe.named_steps["cnn"].net_
    save_model(pipe, tmp_path / "model.skops")
    assert pipe.named_steps["cnn"].net_ is net


def test_skops_refuses_a_tampered_file(fitted, tmp_path):
    pipe, _ = fitted
    path = tmp_path / "model.skops"
    save_model(pipe, path)
    tampered = tmp_path / "tampered.skops"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "schema.json":
                schema = json.loads(data)
                text = json.dumps(schema).replace(
                    '"__class__": "LogMelTransformer", "__module__": "skrhythm.features"',
                    '"__class__": "system", "__module__": "os"',
                )
                assert text != json.dumps(schema)
                data = text.encode()
            dst.writestr(item, data)
    with pytest.raises(UntrustedTypesError, match=r"os\.system.*Nothing was loaded"):
        load_model(tampered)
    with pytest.raises(UntrustedTypesError, match="os.system"):
        load_model(tampered, trusted=["skorch.callbacks.EarlyStopping"])


def test_skops_other_types_need_trusted(clicks, tmp_path):
    audio, labels = clicks
    callbacks = [EarlyStopping(monitor="train_loss")]
    pipe = make_pipeline(max_epochs=1, callbacks=callbacks).fit(audio, labels)
    path = tmp_path / "model.skops"
    save_model(pipe, path)
    callback_types = ["builtins.print", "skorch.callbacks.training.EarlyStopping"]  # sink=print
    with pytest.raises(UntrustedTypesError, match=", ".join(callback_types)):
        load_model(path)
    loaded = load_model(path, trusted=callback_types)
    np.testing.assert_array_equal(loaded.predict_proba(audio), pipe.predict_proba(audio))


@pytest.mark.parametrize("fmt", FORMATS)
def test_incompatible_skrhythm_version_is_refused(fitted, tmp_path, monkeypatch, fmt):
    pipe, _ = fitted
    path = tmp_path / f"model.{fmt}"
    with monkeypatch.context() as patch:
        patch.setattr(persistence, "__version__", "7.3.1")
        save_model(pipe, path)
    with pytest.raises(ModelVersionError, match=r"skrhythm 7\.3\.1.*installed skrhythm 0\.1"):
        load_model(path, trusted=fmt != "skops")


def test_patch_versions_are_compatible_other_torch_warns(fitted, tmp_path, monkeypatch):
    pipe, _ = fitted
    path = tmp_path / "model.joblib"
    major, minor, _ = persistence.__version__.split(".")
    fmt = "joblib"
    with monkeypatch.context() as patch:
        patch.setattr(persistence, "__version__", f"{major}.{minor}.99")
        patch.setattr(torch, "__version__", "1.0.0")
        save_model(pipe, path)
    with pytest.warns(UserWarning, match="saved with torch 1.0.0"):
        load_model(path, trusted=fmt != "skops")


def test_files_not_written_by_save_model(fitted, tmp_path):
    pipe, _ = fitted
    joblib.dump(pipe, tmp_path / "plain.joblib")
    with pytest.raises(ValueError, match="not a model file written by skrhythm"):
        load_model(tmp_path / "plain.joblib", trusted=True)
    with pytest.raises(ValueError, match="suffixes .skops, .joblib"):
        save_model(pipe, tmp_path / "model.h5")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("fmt", FORMATS)
def test_cuda_trained_model_loads_on_cpu(fitted, tmp_path, fmt):
    """The net is marked as trained on CUDA (its tensors cannot be: no CUDA here)."""
    pipe, audio = fitted
    cuda_pipe = pickle.loads(pickle.dumps(pipe))
    cnn = cuda_pipe.named_steps["cnn"]
    cnn.device_ = cnn.net_.device = "cuda"
    path = tmp_path / f"model.{fmt}"
    save_model(cuda_pipe, path)
    warning = UserWarning if fmt == "skops" else DeviceWarning
    with pytest.warns(warning, match="CUDA"):
        loaded = load_model(path, trusted=fmt != "skops")
    assert loaded.named_steps["cnn"].device_ == "cpu"
    assert str(loaded.named_steps["cnn"].net_.device) == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(audio), pipe.predict_proba(audio))


# -- trust (issue 12) ----------------------------------------------------------------


class Payload:
    """Unpickling this touches a marker file: stands in for any code a pickle can run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def crafted_pickles(tmp_path, marker):
    """A joblib file with skrhythm's metadata header and a payload, and a bare one."""
    with_header = tmp_path / "evil.joblib"
    with open(with_header, "wb") as f:
        pickle.dump(persistence._metadata(), f)
        joblib.dump(Payload(marker), f)
    bare = tmp_path / "bare.pkl"
    bare.write_bytes(pickle.dumps(Payload(marker)))
    return with_header, bare


def test_crafted_pickle_is_refused_without_trust(tmp_path):
    marker = tmp_path / "payload-ran"
    for path in crafted_pickles(tmp_path, marker):
        with pytest.raises(UntrustedFileError, match="runs any code.*Nothing was loaded"):
            load_model(path)
        with pytest.raises(UntrustedFileError, match="trusted=True"):
            load_model(path, trusted=["skrhythm.features.LogMelTransformer"])
        assert not marker.exists()
    load_model(tmp_path / "evil.joblib", trusted=True)  # trusted: it is a program you run
    assert marker.exists()


def test_predict_refuses_a_crafted_pickle_without_trusted(tmp_path, capsys):
    from skrhythm import cli

    marker = tmp_path / "payload-ran"
    evil, _ = crafted_pickles(tmp_path, marker)
    wav = tmp_path / "x.wav"
    import soundfile as sf

    sf.write(wav, np.zeros(4410), 44100)
    assert cli.main(["predict", str(evil), str(wav)]) == 1
    err = capsys.readouterr().err
    assert "--trusted" in err and "Traceback" not in err
    assert not marker.exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_trusted_true_loads_every_format(fitted, tmp_path, fmt):
    pipe, audio = fitted
    path = tmp_path / f"model.{fmt}"
    save_model(pipe, path)
    assert oct(path.stat().st_mode & 0o777) == oct(file_mode())
    np.testing.assert_array_equal(load_model(path, trusted=True).predict_proba(audio),
                                  pipe.predict_proba(audio))


def test_cli_trusted_on_skops(fitted, tmp_path, capsys):
    from skrhythm import cli

    pipe, audio = fitted
    path = tmp_path / "model.skops"
    save_model(pipe, path)
    wav = tmp_path / "x.wav"
    import soundfile as sf

    sf.write(wav, audio[0], 22050)
    assert cli.main(["predict", str(path), str(wav), "--trusted", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["file"] == str(wav)


def test_skops_file_cannot_point_the_model_at_a_cache(fitted, tmp_path, monkeypatch):
    """A skops file of trusted types only, whose LogMelTransformer names a cache folder."""
    pipe, audio = fitted
    planted = tmp_path / "planted"
    evil = Pipeline([("logmel", clone_with(pipe.named_steps["logmel"], cache=str(planted))),
                     ("cnn", pipe.named_steps["cnn"])], memory=str(tmp_path / "memory"))
    path = tmp_path / "model.skops"
    save_model(evil, path)
    monkeypatch.chdir(tmp_path)
    with pytest.warns(UserWarning, match=r"LogMelTransformer\.cache=.*planted.*None now"):
        loaded = load_model(path)
    assert loaded.named_steps["logmel"].cache is None and loaded.memory is None
    loaded.predict_proba(audio)
    assert not planted.exists() and not (tmp_path / "memory").exists()


def clone_with(estimator, **params):
    import copy

    return copy.deepcopy(estimator).set_params(**params)
