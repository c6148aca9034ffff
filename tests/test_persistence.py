"""Persistence: the estimators' own pickling (pickle, joblib, skops), save_model /
load_model (round trips, safe skops loading, versions), CUDA-trained models."""

import importlib
import inspect
import json
import pickle
import pkgutil
import warnings
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
import skops.io
import torch
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from skorch import NeuralNet, NeuralNetClassifier
from skorch.callbacks import EarlyStopping

import skrhythm
from skrhythm import LogMelTransformer, MusicCNNClassifier, persistence
from skrhythm._store import file_mode
from skrhythm.baselines import BaselineCNNClassifier
from skrhythm.persistence import (
    TRUSTED_TYPES,
    ModelVersionError,
    UntrustedFileError,
    UntrustedTypesError,
    load_model,
    save_model,
)
from skrhythm.training import KeepBestModel

DATA = Path(__file__).parent / "data"

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
def test_newer_state_format_is_refused_before_anything_is_built(fitted, tmp_path, monkeypatch,
                                                                fmt):
    """A file of a later release whose state layout differs (here: no module state) is
    refused with ModelVersionError from its metadata, before any estimator is built."""
    from skrhythm import _formats

    pipe, _ = fitted
    path = tmp_path / f"model.{fmt}"
    cnn = pipe.named_steps["cnn"]
    with monkeypatch.context() as patch:
        patch.setattr(persistence, "__version__", "7.3.1")
        patch.setattr(persistence, "STATE_FORMAT", _formats.STATE_FORMAT + 1)
        patch.setattr(_formats, "STATE_FORMAT", _formats.STATE_FORMAT + 1)
        getstate = type(cnn).__getstate__

        def other_layout(self):
            state = getstate(self)
            state["_net_state"] = {"weights": state["_net_state"].pop("module")}
            return state

        patch.setattr(type(cnn), "__getstate__", other_layout)
        save_model(pipe, path)

    def built(self, state):
        raise AssertionError("an estimator was built from the file")

    monkeypatch.setattr(MusicCNNClassifier, "__setstate__", built)
    monkeypatch.setattr(LogMelTransformer, "__setstate__", built)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning before the error either
        with pytest.raises(ModelVersionError,
                           match=rf"state format {_formats.STATE_FORMAT + 1} by a newer "
                                 rf"skrhythm; this skrhythm reads formats up to "
                                 rf"{_formats.STATE_FORMAT}"):
            load_model(path, trusted=fmt != "skops")


def test_newer_state_format_is_refused_by_plain_unpickling(fitted, monkeypatch):
    from skrhythm import _formats

    cnn = fitted[0].named_steps["cnn"]
    with monkeypatch.context() as patch:
        patch.setattr(_formats, "STATE_FORMAT", _formats.STATE_FORMAT + 1)
        blob = pickle.dumps(cnn)
    with pytest.raises(ModelVersionError, match="newer skrhythm"):
        pickle.loads(blob)


@pytest.mark.parametrize("fmt", FORMATS)
def test_other_skrhythm_version_of_the_same_format_loads_with_a_warning(fitted, tmp_path,
                                                                        monkeypatch, fmt):
    pipe, audio = fitted
    path = tmp_path / f"model.{fmt}"
    with monkeypatch.context() as patch:
        patch.setattr(persistence, "__version__", "7.3.1")
        patch.setattr(skrhythm, "__version__", "7.3.1")
        save_model(pipe, path)
    with pytest.warns(UserWarning, match=r"saved by skrhythm 7\.3\.1 is loaded by skrhythm"):
        loaded = load_model(path, trusted=fmt != "skops")
    np.testing.assert_array_equal(loaded.predict_proba(audio), pipe.predict_proba(audio))


def test_damaged_content_of_a_current_file_is_a_clear_error(fitted, tmp_path, monkeypatch):
    pipe, _ = fitted
    cnn = pipe.named_steps["cnn"]
    getstate = type(cnn).__getstate__

    def no_module_state(self):
        state = getstate(self)
        del state["_net_state"]["module"]
        return state

    path = tmp_path / "model.skops"
    with monkeypatch.context() as patch:
        patch.setattr(type(cnn), "__getstate__", no_module_state)
        save_model(pipe, path)
    with pytest.raises(ValueError, match=r"model\.skops' does not hold a valid skrhythm model: "
                                         r"KeyError: 'module'"):
        load_model(path)


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
    """The model is marked as trained on CUDA (its tensors cannot be: no CUDA here)."""
    pipe, audio = fitted
    cuda_pipe = pickle.loads(pickle.dumps(pipe))
    cuda_pipe.named_steps["cnn"].device_ = "cuda"
    path = tmp_path / f"model.{fmt}"
    save_model(cuda_pipe, path)
    with pytest.warns(UserWarning, match="trained on 'cuda' but CUDA is not available"):
        loaded = load_model(path, trusted=fmt != "skops")
    assert loaded.named_steps["cnn"].device_ == "cpu"
    assert str(loaded.named_steps["cnn"].net_.device) == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(audio), pipe.predict_proba(audio))


# -- the estimators' own pickling --------------------------------------------------------


def round_trip(model, how, path):
    """``model`` written and read back by pickle, joblib or skops, as any user would."""
    if how == "pickle":
        return pickle.loads(pickle.dumps(model))
    if how == "joblib":
        joblib.dump(model, path)
        return joblib.load(path)
    skops.io.dump(model, path)
    untrusted = skops.io.get_untrusted_types(file=path)
    assert set(untrusted) <= set(TRUSTED_TYPES)  # the published list is all it needs
    return skops.io.load(path, trusted=untrusted)


LIBRARIES = ["pickle", "joblib", "skops"]


def tensors_and_nets(obj):
    """Torch and skorch objects anywhere in nested dicts, lists and tuples."""
    if isinstance(obj, (torch.Tensor, torch.nn.Module, NeuralNetClassifier)):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        return [found for value in obj for found in tensors_and_nets(value)]
    return []


def test_state_is_plain_data_with_a_version(fitted):
    cnn = fitted[0].named_steps["cnn"]
    state = cnn.__getstate__()
    assert state["_skrhythm_version"] == skrhythm.__version__
    assert state["_skrhythm_format"] == skrhythm._formats.STATE_FORMAT
    assert "net_" not in state and "history_" not in state
    assert not tensors_and_nets(state)
    net_state = state["_net_state"]
    assert set(net_state["module"]) == set(cnn.net_.module_.state_dict())
    assert all(isinstance(v, np.ndarray) for v in net_state["module"].values())
    assert type(net_state["history"]) is list and len(net_state["history"]) == 2
    assert all(type(epoch) is dict for epoch in net_state["history"])
    assert type(net_state["history"][0]["train_loss"]) is float
    assert cnn.net_ is not None and "net_" in cnn.__dict__  # the model is untouched


@pytest.mark.parametrize("how", LIBRARIES)
def test_libraries_round_trip_a_fitted_pipeline(fitted, tmp_path, how):
    pipe, audio = fitted
    loaded = round_trip(pipe, how, tmp_path / "model")
    np.testing.assert_array_equal(loaded.predict_proba(audio), pipe.predict_proba(audio))
    np.testing.assert_array_equal(loaded.predict(audio), pipe.predict(audio))
    cnn, original = loaded.named_steps["cnn"], pipe.named_steps["cnn"]
    assert isinstance(cnn.net_, NeuralNetClassifier) and cnn.history_ is cnn.net_.history
    assert cnn.history_[:, "train_loss"] == original.history_[:, "train_loss"]
    loaded_state = cnn.net_.optimizer_.state_dict()
    for key, value in original.net_.optimizer_.state_dict()["state"].items():
        assert torch.equal(loaded_state["state"][key]["momentum_buffer"],
                           value["momentum_buffer"])
    for name in ("classes_", "n_bands_in_", "mean_", "std_", "n_params_", "device_"):
        np.testing.assert_array_equal(getattr(cnn, name), getattr(original, name))


def test_trusted_types_list_every_public_skrhythm_estimator():
    for name in TRUSTED_TYPES:
        module, _, attribute = name.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), attribute), type)
    assert "torch.optim.sgd.SGD" in TRUSTED_TYPES
    estimators = set()
    for info in pkgutil.walk_packages(skrhythm.__path__, "skrhythm."):
        if info.name.startswith("skrhythm.nn._kernels._triton"):
            continue  # (Triton: only where the GPU extra is)
        for cls in vars(importlib.import_module(info.name)).values():
            if (isinstance(cls, type) and issubclass(cls, BaseEstimator)
                    and cls.__module__ == info.name and not cls.__name__.startswith("_")
                    and not inspect.isabstract(cls)
                    and not issubclass(cls, NeuralNet)):  # a skorch net is never saved
                estimators.add(f"{info.name}.{cls.__qualname__}")
    assert estimators == {t for t in TRUSTED_TYPES if t.startswith("skrhythm.")}
    assert {"skrhythm.classifier.MusicCNNClassifier", "skrhythm.features.LogMelTransformer",
            "skrhythm.rhythm.TempoFeatures"} <= estimators


@pytest.mark.parametrize("how", ["pickle", "skops"])
def test_warm_start_continues_after_unpickling(tmp_path, how):
    """Unpickled, a model trains on exactly as the one in memory (momentum, validation
    split, best epoch and learning-rate schedule included)."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 4, 24)).astype(np.float32), np.arange(8) % 2
    clf = MusicCNNClassifier(**TINY, patch_hop=4, train_split=0.25, warm_start=True)
    clf.fit(X, y)
    loaded = round_trip(clf, how, tmp_path / "model")
    loaded.fit(X, y)
    clf.fit(X, y)
    assert len(loaded.history_) == 4 and "valid_acc" in loaded.history_[-1]
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.history_[:, "valid_acc"] == clf.history_[:, "valid_acc"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_trained_state_loads_on_cpu(fitted):
    pipe, audio = fitted
    cnn = pipe.named_steps["cnn"]
    state = {**cnn.__getstate__(), "device_": "cuda"}
    loaded = MusicCNNClassifier.__new__(MusicCNNClassifier)
    with pytest.warns(UserWarning, match="trained on 'cuda' but CUDA is not available"):
        loaded.__setstate__(state)
    assert loaded.device_ == "cpu" and str(loaded.net_.device) == "cpu"
    X = pipe.named_steps["logmel"].transform(audio)
    np.testing.assert_array_equal(loaded.predict_proba(X), cnn.predict_proba(X))


def test_model_trained_on_a_gpu_this_machine_lacks_goes_to_the_first(fitted, monkeypatch):
    """A model trained on cuda:1 of a two-GPU server, loaded where there is one GPU."""
    cnn = fitted[0].named_steps["cnn"]
    state = {**cnn.__getstate__(), "device_": "cuda:1"}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    loaded = MusicCNNClassifier.__new__(MusicCNNClassifier)
    moved = []

    def build_net(n_bands):  # the net goes where device_ says (no GPU here to take it)
        moved.append(loaded.device_)
        raise RuntimeError("stop: no GPU on this test machine")

    monkeypatch.setattr(loaded, "_build_net", build_net)
    warning = (r"trained on 'cuda:1' but this machine has 1 CUDA device \(cuda:0\): its "
               r"network is loaded on 'cuda:0'")
    with pytest.warns(UserWarning, match=warning), pytest.raises(RuntimeError, match="stop"):
        loaded.__setstate__(state)
    assert moved == ["cuda:0"]


def test_state_of_another_skrhythm_version_warns(fitted):
    cnn = fitted[0].named_steps["cnn"]
    loaded = MusicCNNClassifier.__new__(MusicCNNClassifier)
    with pytest.warns(UserWarning, match=r"saved by skrhythm 9\.9\.9 .*fit it again"):
        loaded.__setstate__({**cnn.__getstate__(), "_skrhythm_version": "9.9.9"})


def test_unpickling_leaves_torch_random_state_alone(fitted):
    before = torch.random.get_rng_state()
    pickle.loads(pickle.dumps(fitted[0]))
    assert torch.equal(torch.random.get_rng_state(), before)


def test_fitted_model_keeps_no_validation_data_nor_best_weights():
    """A validation split used to stay in ``net_`` (and so in pickles, with a second
    copy of the weights): now a model fitted with one pickles to about the same size."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((24, 40, 250)).astype(np.float32), np.arange(24) % 2
    params = dict(max_epochs=2, filterbank="reference", random_state=0)
    plain = MusicCNNClassifier(**params).fit(X, y)
    held_out = MusicCNNClassifier(**params, train_split=0.25).fit(X, y)
    sizes = [len(pickle.dumps(clf)) for clf in (plain, held_out)]
    assert abs(sizes[1] - sizes[0]) < 0.1 * sizes[0], sizes
    assert sizes[1] < X[:6].nbytes  # far less than the 6 validation tracks
    assert held_out.net_.train_split is None
    keep_best = [cb for _, cb in held_out.net_.callbacks_ if isinstance(cb, KeepBestModel)]
    assert len(keep_best) == 1 and keep_best[0].best_state_ is None
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(held_out)).predict_proba(X),
                                  held_out.predict_proba(X))


def test_best_epoch_weights_are_kept():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((12, 4, 24)).astype(np.float32), np.arange(12) % 2
    clf = MusicCNNClassifier(**{**TINY, "max_epochs": 6}, train_split=0.5).fit(X, y)
    best = max(i for i, epoch in enumerate(clf.history_) if epoch["valid_acc_best"])
    refit = MusicCNNClassifier(**{**TINY, "max_epochs": best + 1}, train_split=0.5).fit(X, y)
    assert refit.history_[:, "valid_acc"] == clf.history_[: best + 1, "valid_acc"]
    for name, value in clf.net_.module_.state_dict().items():
        assert torch.equal(value, refit.net_.module_.state_dict()[name])


def test_skops_file_of_skrhythm_0_1_loads():
    """``tests/data/skrhythm-0.1.0.skops``: a MusicCNNClassifier saved by skrhythm
    0.1.0's ``save_model`` (which stored the net as a dict of arrays), with its
    input and predicted probabilities in ``skrhythm-0.1.0.npz``."""
    path, expected = DATA / "skrhythm-0.1.0.skops", np.load(DATA / "skrhythm-0.1.0.npz")
    plain = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))["model"]
    for clf in (load_model(path), plain):
        assert isinstance(clf.net_, NeuralNetClassifier) and len(clf.history_) == 2
        # parameters added since take the values it was trained with, not today's defaults
        assert (clf.momentum, clf.nesterov, clf.tempo_augment) == (0.0, False, None)
        group = clf.net_.optimizer_.param_groups[0]  # its optimizer_params still apply
        assert (group["momentum"], group["nesterov"]) == (0.9, False)
        np.testing.assert_allclose(clf.predict_proba(expected["X"]), expected["proba"],
                                   rtol=1e-6)


@pytest.mark.parametrize("name", ["per-length-adam", "whole-net-momentum"])
def test_pickle_with_one_filter_bank_parameter_per_length_loads(name):
    """``tests/data/{name}.pkl``: MusicCNNClassifiers pickled when the filter bank held
    one weight and one bias parameter per filter length, by the code that
    ``make_legacy_models.py`` names: trained with Adam and a parameter group of its own
    for the filter bank, or (pickled with the whole skorch net, as before the
    estimators stored its state) with SGD and momentum. Each loads into the two flat
    parameters and predicts the same, and its optimizer state is merged so that one
    more warm-start epoch gives what the old code gave."""
    expected = np.load(DATA / f"{name}.npz")
    clf = pickle.loads((DATA / f"{name}.pkl").read_bytes())
    assert [param for param, _ in clf.net_.module_.filterbank.named_parameters()] == [
        "weight", "bias"]
    np.testing.assert_allclose(clf.predict_proba(expected["X"]), expected["proba"], rtol=1e-6)
    clf.set_params(warm_start=True, max_epochs=1).fit(expected["X"], expected["y"])
    np.testing.assert_allclose(clf.predict_proba(expected["X"]),
                               expected["proba_after_warm_epoch"], rtol=1e-5)  # fmt: skip


# -- trust ---------------------------------------------------------------------------------


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


# -- hostile files ---------------------------------------------------------------------


@pytest.mark.parametrize(("step", "param", "value", "match"), [
    ("cnn", "patch_frames", 10**8, r"'patch_frames' parameter .* range \[1, 65536\]"),
    ("cnn", "batch_size", 10**9, "'batch_size' parameter"),
    ("cnn", "n_onet", 10**6, "'n_onet' parameter"),
    ("cnn", "onet_lengths", (2,) * 10**5, "onet_lengths must be at most 4096"),
    ("cnn", "pnet_lengths", (2**20,), "each an integer from 1 to 65536"),
    ("logmel", "sr", 10**9, "'sr' parameter"),
    ("logmel", "n_fft", 2**29, "'n_fft' parameter"),
    ("logmel", "hop_length", 1, "frames per second"),
    ("logmel", "duration", 1e9, "samples per track"),
])
def test_loaded_parameters_are_validated_before_anything_is_built(fitted, tmp_path, step,
                                                                   param, value, match):
    """Parameters of an untrusted file could ask for gigabytes at load or predict time."""
    pipe, _ = fitted
    hostile = pickle.loads(pickle.dumps(pipe))
    setattr(hostile.named_steps[step], param, value)  # no validation on attributes
    path = tmp_path / "hostile.skops"
    save_model(hostile, path)
    with pytest.raises(ValueError, match=rf"hostile\.skops' does not hold a valid skrhythm "
                                         rf"model: .*{match}"):
        load_model(path)


def test_a_network_too_large_to_build_is_refused_before_it_is_built(fitted, tmp_path):
    pipe, _ = fitted
    hostile = pickle.loads(pickle.dumps(pipe))
    hostile.named_steps["cnn"].set_params(n_onet=64, onet_filters=4096,
                                          onet_lengths=tuple(range(1000, 1016)))
    save_model(hostile, tmp_path / "big.skops")
    with pytest.raises(ValueError, match=r"would have [\d,]+ parameters, more than the 67,108,864"):
        load_model(tmp_path / "big.skops")


@pytest.mark.parametrize("fmt", ["skops", "joblib"])
def test_model_with_non_finite_weights_is_refused_as_the_files_fault(fitted, tmp_path, fmt):
    pipe, _ = fitted
    hostile = pickle.loads(pickle.dumps(pipe))
    with torch.no_grad():
        hostile.named_steps["cnn"].net_.module_.dense.weight[0, 0] = float("nan")
    path = tmp_path / f"nan.{fmt}"
    save_model(hostile, path)
    with pytest.raises(ValueError, match=r"nan\.\w+' does not hold .*weights that are not finite"):
        load_model(path, trusted=fmt != "skops")


def test_loaded_fitted_attributes_are_checked(fitted):
    cnn = fitted[0].named_steps["cnn"]
    for key, value in (("n_bands_in_", 10**7), ("std_", 0.0), ("mean_", float("nan")),
                       ("classes_", np.array(["one"]))):
        state = {**cnn.__getstate__(), key: value}
        with pytest.raises(ValueError, match="state is invalid"):
            MusicCNNClassifier.__new__(MusicCNNClassifier).__setstate__(state)
