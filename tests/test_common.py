"""scikit-learn's estimator checks on every public estimator skrhythm ships, found by walking
the package, and on the pipelines of its public factories; and the estimators' documentation.

Each estimator is checked with its shipped architecture (the CNN classifiers trained for fewer
epochs, see ``CHECK_TRAINING``) and in the small configurations other tests train quickly. No
check is skipped; the only expected failures are the pipelines', each with its reason.
"""

import importlib
import inspect
import pkgutil
import re

import pandas  # noqa: F401  - installed so that no check is skipped for lack of it
import pytest
import torch
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch import NeuralNet

import skrhythm
from skrhythm import BaselineCNNClassifier, LogMelTransformer, MusicCNNClassifier
from skrhythm.baselines import ARCHITECTURES
from skrhythm.rhythm import RhythmDescriptor, TempoFeatures

#: Training of the CNN classifiers checked with their shipped architecture: 3 epochs of Adam
#: instead of the shipped 20 of SGD. The shipped training passes every check, but takes three
#: times as long; 2 epochs of SGD fit the checks' blobs below the 0.83 accuracy that
#: check_classifiers_train asks.
CHECK_TRAINING = dict(optimizer=torch.optim.Adam, max_epochs=3)

#: Shipped configurations checked, beyond the defaults: every baseline architecture, with
#: the filters that span bands (32 and 12 bands by default) cut to the checks' single band.
SHIPPED_VARIANTS = {
    BaselineCNNClassifier: [
        dict(architecture="time"),
        dict(architecture="timefreq", freq_length=1),
        dict(architecture="blackbox", kernel=(1, 8), pool_bands=1),
    ],
}


def public_modules(package=skrhythm):
    """The package and its modules whose dotted names have no part starting with ``_``."""
    yield package
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            yield importlib.import_module(info.name)


def all_estimators():
    """Public, concrete :class:`~sklearn.base.BaseEstimator` subclasses defined in skrhythm,
    sorted by name: not the skorch net the CNN classifiers train with
    (:class:`skrhythm.training.PatchNet`), a torch module's wrapper that skorch checks."""
    found = {
        obj
        for module in public_modules()
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and inspect.isclass(obj)
        and issubclass(obj, BaseEstimator)
        and obj.__module__.partition(".")[0] == "skrhythm"
        and not inspect.isabstract(obj)
        and not issubclass(obj, NeuralNet)
    }
    return sorted(found, key=lambda cls: cls.__name__)


def all_pipeline_factories():
    """Public ``make_*_pipeline`` functions of skrhythm, sorted by name."""
    found = {
        obj
        for module in public_modules()
        for name, obj in vars(module).items()
        if re.fullmatch(r"make_\w+_pipeline", name)
        and inspect.isfunction(obj)
        and obj.__module__.partition(".")[0] == "skrhythm"
    }
    return sorted(found, key=lambda func: func.__name__)


def shipped(cls):
    """Instances of ``cls`` with its shipped parameters (CNNs: trained by ``CHECK_TRAINING``)."""
    trains = "max_epochs" in cls().get_params(deep=False)
    return [
        cls(**variant, **(CHECK_TRAINING if trains else {}))
        for variant in SHIPPED_VARIANTS.get(cls, [{}])
    ]


#: Quick training of the small networks below on the checks' tiny single-band data.
FAST_TRAINING = dict(
    patch_frames=8,
    optimizer=torch.optim.Adam,
    lr=0.05,
    batch_size=32,
    max_epochs=20,
    random_state=0,
)
#: A small O-net / P-net.
FAST_MUSIC_CNN = dict(onet_lengths=(2,), pnet_lengths=(3,), onet_filters=4, pnet_filters=4)
#: A small network of each baseline architecture.
FAST_ARCH = {
    "time": dict(time_length=2),
    "timefreq": dict(time_length=2, freq_length=1, hidden=8),
    "blackbox": dict(kernel=(1, 2), pool_bands=1, hidden=8),
}


SHIPPED = [estimator for cls in all_estimators() for estimator in shipped(cls)]
FACTORY_PIPELINES = {factory.__name__: factory() for factory in all_pipeline_factories()}
FAST = [
    LogMelTransformer(sr=8000, n_fft=64, hop_length=16, n_mels=8, duration=None),
    MusicCNNClassifier(**FAST_MUSIC_CNN, **FAST_TRAINING),
    *(
        BaselineCNNClassifier(architecture, n_filters=4, **small, **FAST_TRAINING)
        for architecture, small in FAST_ARCH.items()
    ),
]


#: Checks every Pipeline fails: it fits the estimators of its ``steps`` parameter in place
#: (scikit-learn expects the same failures of its own Pipeline).
PIPELINE_FAILURES = dict.fromkeys(
    ["check_dont_overwrite_parameters", "check_estimators_overwrite_params"],
    "Pipeline fits the estimators in its steps parameter in place",
)
#: Further expected failures of each factory's pipeline.
FACTORY_FAILURES = {
    "make_tempo_pipeline": {
        "check_classifiers_train": "the checks' 2-column blobs, read as spectrograms of 1 band "
        "and 2 frames, have no tempo to classify by",
    },
}


def expected_failed_checks(estimator):
    for name, pipeline in FACTORY_PIPELINES.items():
        if estimator is pipeline:
            return {**PIPELINE_FAILURES, **FACTORY_FAILURES.get(name, {})}
    return {}


def test_discovery_finds_the_public_estimators():
    assert all_estimators() == [
        BaselineCNNClassifier,
        LogMelTransformer,
        MusicCNNClassifier,
        RhythmDescriptor,
        TempoFeatures,
    ]
    assert list(FACTORY_PIPELINES) == ["make_rhythm_descriptor_pipeline", "make_tempo_pipeline"]
    assert all(isinstance(pipe, Pipeline) for pipe in FACTORY_PIPELINES.values())


def test_every_baseline_architecture_is_checked():
    checked = [e.architecture for e in SHIPPED if isinstance(e, BaselineCNNClassifier)]
    assert sorted(checked) == sorted(ARCHITECTURES)


@pytest.mark.parametrize("cls", [MusicCNNClassifier, BaselineCNNClassifier])
def test_cnn_classifiers_declare_spectrogram_input(cls):
    input_tags = get_tags(cls()).input_tags
    assert input_tags.three_d_array and input_tags.two_d_array


@parametrize_with_checks(
    [*SHIPPED, *FACTORY_PIPELINES.values(), *FAST],
    expected_failed_checks=expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def documented(obj, section):
    """Names documented in a numpydoc ``section`` ("Parameters", "Attributes") of ``obj``."""
    doc = inspect.cleandoc(obj.__doc__)
    match = re.search(rf"^{section}\n-+\n(.*?)(?:\n\n\S[^\n]*\n-+\n|\Z)", doc, re.S | re.M)
    assert match, f"{obj.__name__} has no {section} section"
    entries = re.findall(r"^(\w[\w, ]*?) :", match[1], re.M)
    return [name for entry in entries for name in entry.split(", ")]


@pytest.mark.parametrize("cls", all_estimators(), ids=lambda cls: cls.__name__)
def test_docstring_documents_every_parameter_in_order(cls):
    assert documented(cls, "Parameters") == list(inspect.signature(cls).parameters)
    assert not re.search(r"^\s*\{\w+\}\s*$", cls.__doc__, re.M), "unfilled placeholder"


def test_cnn_classifiers_share_their_common_documentation():
    def entries(cls):
        doc = inspect.cleandoc(cls.__doc__)
        return set(re.findall(r"^\w+ : .*\n(?:    .*\n)+", doc, re.M))

    shared = entries(MusicCNNClassifier) & entries(BaselineCNNClassifier)
    names = {entry.partition(" :")[0] for entry in shared}
    assert {"aggregate", "optimizer", "lr", "lr_schedule", "device", "warm_start"} <= names
    for cls in (MusicCNNClassifier, BaselineCNNClassifier):
        attributes = documented(cls, "Attributes")
        assert set(attributes) >= {"classes_", "n_bands_in_", "net_", "n_params_", "device_"}


def test_fill_doc_names_an_unknown_placeholder():
    from skrhythm._docstring import fill_doc

    def f():
        """Doc.

        {known}
        {unknown}
        """

    with pytest.raises(ValueError, match=r"f: docstring placeholder \{unknown\} has no entry"):
        fill_doc({"known": "x : int"})(f)
