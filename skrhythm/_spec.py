"""What the comparison runs, by name: models, protocols and data sources.

Plain data, importable without torch or scikit-learn, so that the command
line parses (``skrhythm --help``, ``--version``) without loading them.
:mod:`skrhythm.experiments` builds the estimators these names stand for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ._limits import tempo_factors_problem, tempo_range_problem

__all__ = ["CV_SCHEMES", "DATASIZE_MODELS", "DATA_HELP", "DATA_LOADERS", "DEFAULT_TEMPO_AUGMENT",
           "MODELS", "PAPER_TRAINING", "PROTOCOLS",
           "ModelSpec", "OptionError", "Protocol", "check_model_names", "check_tempo_factors",
           "parse_data_spec", "resolve_tempo_augment", "run_label"]


class OptionError(ValueError):
    """An invalid option of a comparison: names the option, its value and what is wrong.

    The library's message names the Python parameter (``n_folds=1: ...``);
    the command line names its flag instead (``--folds 1: ...``).
    """

    def __init__(self, option, value, problem):
        self.option, self.value, self.problem = option, value, problem
        super().__init__(f"{option}={value!r}: {problem}")


@dataclass(frozen=True)
class ModelSpec:
    """A model of the comparison, and all its consumers need to know of it.

    Adding a model to ``skrhythm compare`` is one entry of :data:`MODELS`
    (and its estimator): the comparison, the data-size experiment, the
    progress display, the plots and the command line ask the entry.

    Attributes
    ----------
    label : str
        Name in the results table (the poster's wording).
    factory : str
        ``"module:name"`` of the estimator class or pipeline factory
        (imported by :meth:`build`, so that this module stays light).
    params : dict
        Arguments of the factory: the architecture.
    network : bool, default=True
        A network trained for epochs: the factory takes the training
        settings (``max_epochs``, ``momentum``, ``nesterov``, ``train_split``,
        ``random_state``, ``device``, ``tempo_augment``) and the patch hop.
        Otherwise it takes the feature settings (``sr``, ``hop_length``).
    hops : tuple or None, default=None
        Patch hops the model runs at; None: the protocol's (``(None,)`` for
        a model without patches).
    cost : float, default=1.0
        Relative cost of one patch-epoch (networks), for the time estimate
        before the model's first fit is timed.
    saves_model : bool, default=False
        The run keeps the fitted model of fold 0 of the first repeat (for the
        filters plot).
    filterbank : bool, default=False
        Uses the 1-by-n filter bank, whose CPU kernels are prepared before
        the fits.
    """

    label: str
    factory: str
    params: dict = field(default_factory=dict)
    network: bool = True
    hops: tuple | None = None
    cost: float = 1.0
    saves_model: bool = False
    filterbank: bool = False

    def build(self, hop, *, training, features):
        """The unfitted estimator at patch hop ``hop``.

        Parameters
        ----------
        hop : int or None
        training : dict
            Training settings, for networks.
        features : dict
            ``sr`` and ``hop_length`` of the spectrograms, for the others.
        """
        from importlib import import_module

        module, _, name = self.factory.partition(":")
        factory = getattr(import_module(module), name)
        if self.network:
            return factory(**self.params, patch_hop=hop, **training)
        return factory(**self.params, **features)

    def runs_at(self, protocol_hops):
        """The patch hops this model runs at under a protocol of ``protocol_hops``."""
        return protocol_hops if self.hops is None else self.hops

    def prior_cost(self, hop, max_epochs, n_frames, patch_frames=250):
        """Rough cost of a fit, used until the model's own fits are timed.

        Networks: cost x patches per track x epochs; other models: as much as
        one small network's epoch.
        """
        if not self.network:
            return 1.0
        return self.cost * (1 + max(n_frames - patch_frames, 0) // (hop or patch_frames)) \
            * max_epochs


def _onp(n_onet, n_pnet):
    parts = [f"{k}x " * (k > 1) + name for k, name in ((n_onet, "O-net"), (n_pnet, "P-net")) if k]
    # a P-net's patch-epoch takes about 1.5 times an O-net's (the quick protocol's fit times)
    return ModelSpec(" + ".join(parts), "skrhythm.classifier:MusicCNNClassifier",
                     {"n_onet": n_onet, "n_pnet": n_pnet}, cost=n_onet + 1.5 * n_pnet,
                     saves_model=True, filterbank=True)


def _baseline(label, architecture, cost):
    return ModelSpec(label, "skrhythm.baselines:BaselineCNNClassifier",
                     {"architecture": architecture}, hops=(80,), cost=cost)


def _descriptor(label, factory):
    return ModelSpec(label, f"skrhythm.rhythm:{factory}", network=False, hops=(None,))


#: Models by command-line name, in the poster's order.
MODELS = {
    "onet": _onp(1, 0),
    "pnet": _onp(0, 1),
    "2onet": _onp(2, 0),
    "o+p": _onp(1, 1),
    "2pnet": _onp(0, 2),
    "2o+2p": _onp(2, 2),
    "4o+4p": _onp(4, 4),
    "8o+8p": _onp(8, 8),
    # costs: Time measured (2.5 O-nets a patch-epoch); the larger two not yet
    "timefreq": _baseline("Time-freq [CBMI 2016]", "timefreq", 4.0),
    "time": _baseline("Time [CBMI 2016]", "time", 2.5),
    "blackbox": _baseline("Black-box [CBMI 2016]", "blackbox", 4.0),
    "rhythm": _descriptor("Rhythm descriptor + SVM", "make_rhythm_descriptor_pipeline"),
    "tempo": _descriptor("Tempo only + SVM", "make_tempo_pipeline"),
}


#: Models of the data-size experiment by default: O-net + P-net against the larger CNN
#: baselines and the non-deep descriptor.
DATASIZE_MODELS = ("o+p", "timefreq", "blackbox", "rhythm")


#: The paper's training recipe for the CNN estimators (plain SGD at 0.01, up to 250
#: epochs, halving the rate after 20 epochs without a better training loss, stopping
#: after 40): ``MusicCNNClassifier(**PAPER_TRAINING)``; ``--protocol paper`` uses it.
PAPER_TRAINING = {"lr": 0.01, "momentum": 0.0, "nesterov": False, "max_epochs": 250,
                  "lr_schedule": "paper"}


@dataclass(frozen=True)
class Protocol:
    """How the comparison is run.

    Attributes
    ----------
    name : str
    models : tuple of str
        Keys of :data:`MODELS`.
    hops : tuple of int
        Patch hops for the O-net/P-net models; the baselines use their own
        (80) and the descriptors none.
    n_folds : int
    cv : {"stratified", "paper", "album", "artist", "group"}
        ``"stratified"``: stratified folds, group-aware when the data have
        groups (replicas never straddle train and test); ``"paper"``: plain
        shuffled K-fold with seed 11, as in the original code; ``"album"``,
        ``"artist"``, ``"group"``: stratified as far as the groups allow,
        no album (Ballroom), artist (Extended Ballroom) or group (an audio
        folder's ``groups.csv`` or sub-folders) on both sides of a split.
    max_epochs : int
    momentum, nesterov : float, bool or None
        SGD momentum of the CNNs (the paper: none, plain SGD with learning
        rate 0.01); None: each estimator's default (Nesterov momentum 0.9
        for the O-net/P-net models, plain SGD for the CBMI baselines).
    train_split : int, float or None
        Validation tracks held out of each training fold (the paper: 69).
    n_per_class : int
        Tracks per class of the embedded dataset.
    duration : float
        Seconds per track.
    tempo_shifts : tuple of float
        Tempo factors at which every fold's test tracks are played again
        and predicted (the tempo-robustness test); empty: none.
    tempo_augment : (float, float) or None
        Tempo augmentation of the CNNs' training patches (their
        ``tempo_augment``); None: none, as in the paper.
    """

    name: str
    models: tuple
    hops: tuple
    n_folds: int
    cv: str = "stratified"
    max_epochs: int = 20
    momentum: float | None = None
    nesterov: bool | None = None
    train_split: int | float | None = None
    n_per_class: int = 20
    duration: float = 30.0
    tempo_shifts: tuple = (0.92, 1.08)
    tempo_augment: tuple | None = None


PROTOCOLS = {
    "quick": Protocol(
        "quick",
        models=("onet", "pnet", "2onet", "o+p", "2pnet", "time", "tempo", "rhythm"),
        hops=(250,),
        n_folds=3,
        max_epochs=30,
        n_per_class=12,
    ),
    "paper": Protocol(
        "paper",
        models=tuple(MODELS),
        hops=(250, 80),
        n_folds=10,
        cv="paper",
        max_epochs=PAPER_TRAINING["max_epochs"],
        momentum=PAPER_TRAINING["momentum"],
        nesterov=PAPER_TRAINING["nesterov"],
        train_split=69,
        n_per_class=87,
    ),
}

#: Fold schemes of a comparison (see :class:`Protocol`).
CV_SCHEMES = ("stratified", "paper", "album", "artist", "group")

#: Range of tempo factors ``--augment tempo`` (and ``skrhythm train`` by default) trains
#: with: log-symmetric (1 / 0.85 = 1.18). Measured on the embedded data, an O-net + P-net
#: trained with it lost 3.1 points at tempo x0.85 and x1.15 (``skrhythm train``'s hop 80
#: and 50 epochs; ``benchmarks/bench_augment_range.py``) and 3.1 at x0.92 and x1.08 (the
#: quick protocol; ``bench_tempo_robustness.py``). Wider ranges hold +-15 % as well after
#: train's 50 epochs but cost accuracy in the quick protocol's 30 (0.75-1.33: 85.4 % at
#: x1 and a 13.5-point drop; 0.8-1.25: 89.6 % and 6.2; this range 91.7 % and 3.1).
DEFAULT_TEMPO_AUGMENT = (0.85, 1.18)


def check_model_names(models, option="models"):
    """Model names as a tuple, each once; the one check that they are keys of :data:`MODELS`.

    Raises
    ------
    OptionError
        Naming ``option``, when a name is unknown or there is none.
    """
    models = (models,) if isinstance(models, str) else tuple(models)
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise OptionError(option, ",".join(models), f"unknown model(s) "
                          f"{', '.join(unknown) or 'none given'}; choose from {', '.join(MODELS)}")
    return tuple(dict.fromkeys(models))


def resolve_tempo_augment(value, option="tempo_augment"):
    """The range of tempo factors a tempo-augmentation setting stands for.

    The one check of every ``tempo_augment`` (the estimators', the library
    functions', the command line's ``--augment``).

    Parameters
    ----------
    value : (float, float), "default", "none" or None
        A range ``(low, high)``; ``"default"``: :data:`DEFAULT_TEMPO_AUGMENT`;
        ``"none"`` or None: no augmentation.
    option : str, default="tempo_augment"
        The name an error gives the setting.

    Returns
    -------
    tempo_range : (float, float) or None

    Raises
    ------
    OptionError
        If ``value`` is no range of tempo factors within :data:`skrhythm._limits.TEMPO_FACTORS`.

    Examples
    --------
    >>> resolve_tempo_augment("default")
    (0.85, 1.18)
    >>> resolve_tempo_augment((1.2, 0.8))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    skrhythm._spec.OptionError: tempo_augment=(1.2, 0.8): expected None or a range (low, high) ...
    """
    if isinstance(value, str) and value in ("default", "none"):
        return DEFAULT_TEMPO_AUGMENT if value == "default" else None
    problem = tempo_range_problem(value)
    if problem:
        raise OptionError(option, value, problem)
    return None if value is None else (float(value[0]), float(value[1]))


def check_tempo_factors(factors, option):
    """Tempo factors (of a robustness test or a stretch) as a tuple of floats; the one check.

    Raises
    ------
    OptionError
        Naming ``option``, unless ``factors`` are 1 to 64 factors within
        :data:`skrhythm._limits.TEMPO_FACTORS`.
    """
    problem = tempo_factors_problem(list(factors) if isinstance(factors, tuple) else factors)
    if problem:
        raise OptionError(option, factors, problem)
    return tuple(float(f) for f in factors)

DATA_HELP = (
    "embedded (generated ballroom-style set, the default), ballroom:PATH, "
    "extended-ballroom:PATH or folder:PATH (one sub-folder per label)"
)

#: Data sources read from disk, and their loaders in :mod:`skrhythm.datasets`.
DATA_LOADERS = {"ballroom": "load_ballroom", "extended-ballroom": "load_extended_ballroom",
                "folder": "load_audio_folder"}


def run_label(label, hop):
    """How tables and plots name a model run: ``"O-net (hop 250)"``, or the label alone."""
    return f"{label} (hop {hop})" if hop else str(label)


def parse_data_spec(spec):
    """Split a data source ``"kind:PATH"`` (or ``"embedded"``) and check it, reading nothing.

    Parameters
    ----------
    spec : str
        ``"embedded"``, ``"ballroom:PATH"``, ``"extended-ballroom:PATH"`` or
        ``"folder:PATH"``.

    Returns
    -------
    kind : str
    path : pathlib.Path or None
        ``None`` for the embedded data.

    Raises
    ------
    ValueError
        If the kind is unknown, the path is missing, or it does not exist.

    Examples
    --------
    >>> parse_data_spec("embedded")
    ('embedded', None)
    """
    kind, _, path = str(spec).partition(":")
    kind = kind.lower()
    if kind == "embedded" and not path:
        return kind, None
    if kind not in DATA_LOADERS or not path:
        raise OptionError("data", spec, f"expected {DATA_HELP}")
    path = Path(path).expanduser()
    if not path.exists():
        raise OptionError("data", spec, f"{path} does not exist")
    return kind, path
