"""The shared base of the patch CNN classifiers: training, patching, aggregation,
pickling, and the documentation of the parameters they share."""

from __future__ import annotations

import copy
import inspect
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import ProgressBar
from skorch.helper import predefined_split

from ._formats import (
    SavedStateMixin,
    is_per_length_layout,
    merge_per_length_layout,
    plain,
    upgrade_cnn_state,
)
from ._interrupts import propagate_sigint
from ._limits import CNN_BOUNDS, MAX_FRAMES, MAX_PARAMS, fitted_problem
from ._prediction import (
    check_finite,
    check_magnitude,
    pad_to_patch,
    patch_hop_of,
    patch_logits,
    softmax,
    track_classes,
    track_proba,
)
from ._sklearn_compat import Interval, StrOptions, fit_context
from ._spec import resolve_tempo_augment
from .training import (
    KeepBestModel,
    PaperLRSchedule,
    PatchDataset,
    PatchLoader,
    PatchNet,
)

__all__ = ["SHARED_DOCS", "BasePatchCNNClassifier", "resolve_device"]


def resolve_device(device):
    """Map ``"auto"`` to ``"cuda"`` when CUDA is available, else ``"cpu"``.

    A CUDA device is refused, with a ValueError naming it, when CUDA is not
    available or when this machine has no GPU of its index (``"cuda:1"`` on
    a machine with one GPU).
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    missing = _cuda_missing(device)
    if missing:
        raise ValueError(f"device={device!r} requested but {missing}")
    return device


def _cuda_missing(device):
    """Why ``device``, a CUDA device, is not on this machine; "" when it is or is no CUDA device."""
    if not str(device).startswith("cuda"):
        return ""
    if not torch.cuda.is_available():
        return "CUDA is not available"
    try:
        index = torch.device(device).index
    except RuntimeError as error:
        raise ValueError(f"device={device!r} is not a device torch knows ({error})") from None
    count = torch.cuda.device_count()
    if index is None or index < count:
        return ""
    names = "cuda:0" if count == 1 else f"cuda:0 to cuda:{count - 1}"
    return f"this machine has {count} CUDA device{'s' * (count != 1)} ({names})"


def _tensors(obj):
    """Copy of nested dicts, lists and tuples with NumPy arrays as tensors."""
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.array(obj))
    if isinstance(obj, dict):
        return {key: _tensors(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_tensors(value) for value in obj)
    return obj



#: numpydoc entries of the parameters and fitted attributes the CNN classifiers
#: share, substituted into their docstrings (see :func:`skrhythm._docstring.fill_doc`).
SHARED_DOCS = {
    "patch_hop": """patch_hop : int or None, default=None
    Hop in frames between the starts of a track's training and prediction
    patches; ``None`` means ``patch_frames`` (no overlap).""",
    "aggregate": """aggregate : {"vote", "mean"}, default="vote"
    Track prediction from its patches: majority vote of the patches' argmax
    (ties broken by mean probability), as in the paper, or argmax of the
    mean probability. :meth:`predict_proba` is always the mean.""",
    "tempo_augment": """tempo_augment : (float, float) or None, default=None
    Tempo augmentation: each training patch is cut at a tempo factor drawn
    log-uniformly from ``(low, high)`` (e.g. ``(0.85, 1.18)``), a window
    of ``patch_frames * factor`` frames resampled to ``patch_frames``
    (:func:`skrhythm.training.tempo_patches`), anew in every epoch and
    seeded by ``random_state``, so the network cannot learn the classes'
    tempos alone. Validation and prediction patches are not augmented.
    ``None`` trains on the patches as they are (the paper); ``(1, 1)``
    gives the same model, bitwise.""",
    "optimizer": """optimizer : torch optimizer class, default=torch.optim.SGD
    Optimizer of the network's weights.""",
    "lr": """lr : float, default=0.01
    Learning rate.""",
    "optimizer_params": """optimizer_params : dict or None, default=None
    Extra optimizer arguments, e.g. ``{"weight_decay": 1e-4}``; they
    override ``momentum`` and ``nesterov``.""",
    "lr_schedule": """lr_schedule : {"paper"} or None, default="paper"
    :class:`skrhythm.training.PaperLRSchedule`: halve the learning rate
    after 20 epochs without a new best training loss, stop after 40.
    ``None`` trains ``max_epochs`` epochs at ``lr``.""",
    "train_split": """train_split : float, int or None, default=None
    Tracks held out (fraction or count, stratified) for validation; the
    weights of the epoch with the best validation patch accuracy are kept.
    ``None`` trains on every track.""",
    "callbacks": """callbacks : list of skorch callbacks or None, default=None
    Extra callbacks (``EarlyStopping``, ``Checkpoint``, ...), copied at fit.""",
    "device": """device : str, default="cpu"
    ``"cpu"``, ``"cuda"`` (or ``"cuda:1"``, ...) or ``"auto"`` (CUDA when
    available).""",
    "cuda_graphs": """cuda_graphs : bool, default=False
    On a CUDA device, replay each full training batch's step (forward,
    backward, optimiser) from a CUDA graph captured once per fit, which
    removes most of the host's work per step: the same kernels, so the
    same model. It needs ``torch.optim.SGD`` and no callback acting on the
    gradients (otherwise a warning says so and the fit runs without);
    ignored on the CPU. Off by default until it has been checked on a GPU
    (documentation: "Performance and GPUs").""",
    "random_state": """random_state : int, RandomState instance or None, default=None
    Seeds weight initialisation, shuffling, dropout and the validation
    split; fits with the same seed and data give the same model.""",
    "verbose": """verbose : int, default=0
    1 prints skorch's epoch table, 2 adds a progress bar per epoch.""",
    "warm_start": """warm_start : bool, default=False
    Continue training the fitted network for ``max_epochs`` more epochs
    (same classes and bands; the standardisation is kept).""",
    "fitted_attributes": """classes_ : ndarray of shape (n_classes,)
    Class labels.
n_features_in_ : int
    Mel bands (or features of 2-D input).
n_frames_in_ : int
    Frames per track seen by the last fit.
n_bands_in_ : int
    Spectrogram bands the net takes: ``n_features_in_``, or 1 for 2-D input.
mean_, std_ : float
    Standardisation statistics of the training tracks (scalars).
net_ : skorch.NeuralNetClassifier
    The trained net (a subclass that reads the batch losses off the device
    once per epoch, not once per batch); its torch module is
    ``net_.module_``. It keeps no validation data, and pickling stores it
    as NumPy arrays (see :meth:`__getstate__`).
history_ : skorch.History
    Per-epoch training history.
device_ : str
    Device the net is on: the training device, or ``"cpu"`` once a
    CUDA-trained model is loaded where CUDA is not available.""",
}


class BasePatchCNNClassifier(SavedStateMixin, ClassifierMixin, BaseEstimator,
                             metaclass=ABCMeta):
    """Shared training, patching, aggregation and pickling of the spectrogram CNNs.

    Subclasses take their architecture parameters plus the common ones, which
    they forward to this ``__init__`` (documented once in :data:`SHARED_DOCS`),
    and define ``_build_module(n_bands, n_frames, n_classes)``, which returns
    a torch module mapping patches ``(batch, n_bands, n_frames)`` to logits and
    has a ``min_frames`` attribute.
    """

    _parameter_constraints = {
        **{name: [Interval(Integral, *bounds, closed="both")]
           for name, bounds in CNN_BOUNDS.items()},
        "patch_hop": [Interval(Integral, 1, MAX_FRAMES, closed="both"), None],
        "aggregate": [StrOptions({"vote", "mean"})],
        "tempo_augment": [tuple, list, None],
        "optimizer": [type, callable],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterov": ["boolean"],
        "optimizer_params": [dict, None],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "lr_schedule": [StrOptions({"paper"}), None],
        "train_split": [
            Interval(Real, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "callbacks": [list, None],
        "device": [str],
        "cuda_graphs": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        *,
        patch_frames,
        patch_hop,
        aggregate,
        tempo_augment,
        optimizer,
        lr,
        momentum,
        nesterov,
        optimizer_params,
        batch_size,
        max_epochs,
        lr_schedule,
        train_split,
        callbacks,
        device,
        cuda_graphs,
        random_state,
        verbose,
        warm_start,
    ):
        self.patch_frames = patch_frames
        self.patch_hop = patch_hop
        self.aggregate = aggregate
        self.tempo_augment = tempo_augment
        self.optimizer = optimizer
        self.lr = lr
        self.momentum = momentum
        self.nesterov = nesterov
        self.optimizer_params = optimizer_params
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.lr_schedule = lr_schedule
        self.train_split = train_split
        self.callbacks = callbacks
        self.device = device
        self.cuda_graphs = cuda_graphs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    def _validate_params(self):
        super()._validate_params()
        resolve_tempo_augment(self.tempo_augment)

    @abstractmethod
    def _build_module(self, n_bands, n_frames, n_classes):
        """The torch module for patches of ``n_bands`` x ``n_frames`` and ``n_classes``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # spectrograms (n_tracks, n_bands, n_frames)
        return tags

    # -- pickling (pickle, joblib, copy, skops) ----------------------------------

    def __getstate__(self):
        """State with the fitted skorch net as plain data (see :mod:`skrhythm._formats`).

        The net is replaced by what rebuilds it: the module's and the
        optimizer's ``state_dict`` (NumPy arrays on the CPU) and the history (a
        list of dicts); the parameters and the other fitted attributes are kept
        as they are. So pickle, joblib and :mod:`skops.io` store no torch or
        skorch object, and no validation data or other callback state.
        """
        state = super().__getstate__()
        net = state.pop("net_", None)
        if net is not None:
            state.pop("history_", None)
            state["_net_state"] = {
                "module": plain(net.module_.state_dict()),
                "optimizer": plain(net.optimizer_state()),
                "history": plain(list(net.history)),
            }
        return state

    def _upgrade_state(self, state):
        # parameters added since the model was saved take their defaults
        defaults = inspect.signature(type(self).__init__).parameters
        state, self._loaded_net_state = upgrade_cnn_state(
            state, self._get_param_names(),
            {name: defaults[name].default for name in self._get_param_names()})
        return state

    def __setstate__(self, state):
        """Restore a state of :meth:`__getstate__` (or of an older format), rebuilding the net.

        The state's format is checked first and the parameters and fitted
        attributes validated before anything is built
        (:class:`skrhythm._formats.SavedStateMixin`). The net goes to
        ``device_``, or, with a warning that sets ``device_``: to the CPU when
        that is a CUDA device and CUDA is not available, to ``"cuda:0"`` when
        this machine has no GPU of its index.
        """
        super().__setstate__(state)
        net_state = self.__dict__.pop("_loaded_net_state")
        if net_state is not None:
            self._restore_net(net_state)

    def _check_loaded(self):
        if not hasattr(self, "classes_"):
            return
        classes = np.asarray(self.classes_)
        problem = fitted_problem(len(classes) if classes.ndim == 1 else 0,
                                 getattr(self, "n_bands_in_", None), getattr(self, "mean_", None),
                                 getattr(self, "std_", None))
        if problem:
            raise ValueError(f"this {type(self).__name__}'s state is invalid: {problem}")

    def _restore_net(self, net_state):
        missing = _cuda_missing(self.device_)
        if missing:
            device = "cuda:0" if torch.cuda.is_available() else "cpu"
            warnings.warn(
                f"this {type(self).__name__} was trained on {self.device_!r} but {missing}: "
                f"its network is loaded on {'the CPU' if device == 'cpu' else repr(device)}",
                UserWarning,
                stacklevel=4,
            )
            self.device_ = device
        module_state = _tensors(net_state["module"])
        optimizer_state = _tensors(net_state["optimizer"])
        with torch.random.fork_rng(devices=[]):  # the new module's initial weights are drawn
            net = self._build_net(self.n_bands_in_)
            if is_per_length_layout(module_state):  # format 1
                net.initialize()
                module_state, optimizer_state = merge_per_length_layout(net, module_state,
                                                                        optimizer_state)
            net.initialize_from_state(module_state, optimizer_state, net_state["history"])
        if not all(torch.isfinite(p).all() for p in net.module_.parameters()):
            raise ValueError(f"this {type(self).__name__}'s network has weights that are not "
                             "finite (NaN or infinity)")
        self.net_, self.history_ = net, net.history

    # -- input ---------------------------------------------------------------

    def _validate_X(self, X, y=None, reset=True):
        """Validate input and return float32 spectrograms (n_tracks, n_bands, n_frames)."""
        kwargs = dict(allow_nd=True, dtype=np.float32, reset=reset)
        if y is None:
            X = validate_data(self, X, **kwargs)
        else:
            X, y = validate_data(self, X, y, **kwargs)
        if X.ndim == 2:  # one band per track: (n_samples, n_features) -> (n, 1, n_features)
            X = X[:, None, :]
        elif X.ndim != 3:
            raise ValueError(
                f"expected spectrograms of shape (n_tracks, n_mels, n_frames), got {X.ndim}-D input"
            )
        if X.shape[2] == 0:
            raise ValueError("spectrograms have 0 frames")
        if X.shape[1] == 0:
            raise ValueError("spectrograms have 0 bands (n_mels=0?)")
        self._check_magnitude(X, reset)
        return X, y

    def _check_magnitude(self, X, reset):
        """Refuse prediction input so far from the training data that the net would overflow."""
        if not reset and hasattr(self, "std_"):
            check_magnitude(X, self.mean_, self.std_)

    @property
    def effective_patch_hop(self):
        """The hop between a track's patches, in frames (``patch_hop``, or ``patch_frames``)."""
        return patch_hop_of(self.patch_hop, self.patch_frames)

    def _prepare(self, X):
        """Pad tracks shorter than a patch with the training mean (0 once standardised)."""
        return pad_to_patch(X, self.patch_frames, self.mean_)

    # -- fitting ---------------------------------------------------------------

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the network on the patches of the training tracks.

        Parameters
        ----------
        X : array-like of shape (n_tracks, n_mels, n_frames) or (n_tracks, n_frames)
            Log-mel spectrograms (e.g. from :class:`skrhythm.LogMelTransformer`);
            2-D input is taken as single-band spectrograms.
        y : array-like of shape (n_tracks,)
            Class labels, one per track.

        Returns
        -------
        self
        """
        warm = self.warm_start and hasattr(self, "net_")
        # A warm start validates against the fitted model, so that a refused fit
        # changes nothing (no band count or statistics of the refused input).
        X, y = self._validate_X(X, y, reset=not warm)
        check_classification_targets(y)
        if warm and X.shape[1] != self.n_bands_in_:
            raise ValueError(
                f"warm_start: X has {X.shape[1]} bands, the fitted network takes "
                f"{self.n_bands_in_}; the model is unchanged"
            )
        if warm:
            y_idx = self._encode_known(y)
        else:
            self.classes_, y_idx = np.unique(y, return_inverse=True)
            if len(self.classes_) < 2:
                raise ValueError(
                    f"training data hold 1 class ({self.classes_[0]!r}); "
                    "a classifier needs at least 2 classes"
                )
            self.mean_ = float(X.mean(dtype=np.float64))
            self.std_ = float(X.std(dtype=np.float64)) or 1.0
        self.n_frames_in_ = X.shape[2]
        self.n_bands_in_ = X.shape[1]
        X = self._prepare(X)
        seed = self._fit_seed()
        self.device_ = resolve_device(self.device)
        devices = [torch.device(self.device_).index or 0] if self.device_.startswith("cuda") else []
        # propagate_sigint: skorch ends training on KeyboardInterrupt (how early
        # stopping works), so a user's Ctrl-C is re-raised once the net returns.
        with torch.random.fork_rng(devices=devices), propagate_sigint():
            torch.manual_seed(seed)
            train, valid = self._split(X, y_idx, seed)
            if not warm:
                self.net_ = self._build_net(X.shape[1])
            # The validation tracks serve this fit only: the fitted model does not keep them.
            self.net_.train_split = None if valid is None else predefined_split(valid)
            if warm:
                self.net_.partial_fit(train, None, epochs=self.max_epochs)
            else:
                self.net_.fit(train, None)
            self.net_.train_split = None
        self.history_ = self.net_.history
        self.n_params_ = sum(p.numel() for p in self.net_.module_.parameters())
        return self

    def _encode_known(self, y):
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"warm_start: labels {unknown.tolist()} were not seen in the first fit"
            )
        return np.searchsorted(self.classes_, y)

    def _fit_seed(self):
        """The seed of a fit's weights, shuffling, dropout, augmentation and validation split."""
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def validation_split(self, y):
        """The tracks :meth:`fit` trains on and those it holds out for validation.

        The split ``fit`` makes of tracks labelled ``y`` (``train_split`` of
        them, stratified), so that the held-out tracks can be scored after
        the fit, e.g. for a model card. They chose the epoch whose weights
        the model keeps, so their scores are somewhat optimistic.

        Parameters
        ----------
        y : array-like of shape (n_tracks,)
            The labels ``fit`` was (or will be) given.

        Returns
        -------
        train, valid : ndarray of int
            Track indices; ``valid`` is empty when ``train_split`` is None.

        Raises
        ------
        ValueError
            If ``random_state`` is not an integer: the split could not be made
            again as ``fit`` made it.
        """
        if isinstance(self.random_state, bool) or not isinstance(self.random_state, Integral):
            raise ValueError(f"validation_split needs an integer random_state to split as fit "
                             f"does, got {self.random_state!r}")
        _, y_idx = np.unique(np.asarray(y), return_inverse=True)
        return self._split_indices(y_idx, self._fit_seed())

    def _split_indices(self, y_idx, seed):
        if self.train_split is None:
            return np.arange(len(y_idx)), np.arange(0)
        try:
            return train_test_split(np.arange(len(y_idx)), test_size=self.train_split,
                                    random_state=seed, stratify=y_idx)
        except ValueError as exc:
            raise ValueError(
                f"cannot hold out train_split={self.train_split!r} tracks: {exc}"
            ) from exc

    def _split(self, X, y_idx, seed):
        """Track-level train/validation split (patches of a track never straddle it)."""
        augment = {"tempo_range": self.tempo_augment, "seed": seed}
        idx_train, idx_valid = self._split_indices(y_idx, seed)
        if not len(idx_valid):
            return self._dataset(X, y_idx, **augment), None
        return (
            self._dataset(X[idx_train], y_idx[idx_train], **augment),
            self._dataset(X[idx_valid], y_idx[idx_valid]),
        )

    def _dataset(self, X, y_idx=None, tempo_range=None, seed=0):
        """Patches of ``X`` on the net's device (copied there once), tempo-augmented or not."""
        return PatchDataset(X, y_idx, self.patch_frames, self.effective_patch_hop,
                            mean=self.mean_, std=self.std_, device=self.device_,
                            tempo_range=tempo_range, seed=seed)

    def _build_net(self, n_bands):
        """The skorch net, without validation data (:meth:`fit` sets its ``train_split``).

        The module is first built on torch's ``meta`` device, which allocates
        nothing, to refuse one of over :data:`MAX_PARAMS` parameters (from a
        hostile model file, say) before it takes the memory.
        """
        with torch.device("meta"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            probe = self._build_module(n_bands, self.patch_frames, len(self.classes_))
        n_params = sum(p.numel() for p in probe.parameters())
        if n_params > MAX_PARAMS:
            raise ValueError(
                f"this {type(self).__name__} would have {n_params:,} parameters, more than the "
                f"{MAX_PARAMS:,} skrhythm builds; choose a smaller architecture"
            )
        module = self._build_module(n_bands, self.patch_frames, len(self.classes_))
        if self.patch_frames < module.min_frames:
            raise ValueError(
                f"patch_frames={self.patch_frames} is shorter than the longest filter "
                f"({module.min_frames} frames)"
            )
        callbacks = [copy.deepcopy(cb) for cb in self.callbacks or []]
        if self.lr_schedule == "paper":
            callbacks.append(PaperLRSchedule())
        if self.train_split is not None:
            callbacks.append(KeepBestModel("valid_acc_best"))
        if self.verbose and self.verbose > 1:
            callbacks.append(ProgressBar())
        optimizer_params = {}
        if isinstance(self.optimizer, type) and issubclass(self.optimizer, torch.optim.SGD):
            optimizer_params = {"momentum": self.momentum,
                                "nesterov": bool(self.nesterov and self.momentum > 0)}
        optimizer_params.update(self.optimizer_params or {})
        optimizer_params = {f"optimizer__{k}": v for k, v in optimizer_params.items()}
        return PatchNet(
            module,
            criterion=torch.nn.CrossEntropyLoss,
            optimizer=self.optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=PatchLoader,
            iterator_valid=PatchLoader,
            iterator_train__shuffle=True,
            train_split=None,
            callbacks=callbacks,
            classes=list(range(len(self.classes_))),
            device=self.device_,
            cuda_graphs=self.cuda_graphs,
            verbose=int(bool(self.verbose)),
            **optimizer_params,
        )

    # -- prediction --------------------------------------------------------------

    def predict_patch_proba(self, X):
        """Class probabilities of every patch of every track.

        Parameters
        ----------
        X : array-like of shape (n_tracks, n_mels, n_frames)

        Returns
        -------
        proba : ndarray of shape (n_tracks, n_patches, n_classes)
        """
        check_is_fitted(self)
        X, _ = self._validate_X(X, reset=False)
        logits = patch_logits(self.net_.module_, self._prepare(X), mean=self.mean_,
                              std=self.std_, patch_frames=self.patch_frames,
                              patch_hop=self.effective_patch_hop,
                              batch_size=self.batch_size, device=self.device_)
        return softmax(logits.astype(np.float64), axis=2)

    def predict_proba(self, X):
        """Per-track class probabilities: the mean of the track's patch probabilities.

        Parameters
        ----------
        X : array-like of shape (n_tracks, n_mels, n_frames)

        Returns
        -------
        proba : ndarray of shape (n_tracks, n_classes)
        """
        return track_proba(check_finite(self.predict_patch_proba(X), self.net_.module_))

    def predict(self, X):
        """Per-track class: majority vote of the patches or argmax of the mean probability.

        With ``aggregate="vote"`` each patch votes for its most probable class
        and the track takes the class with most votes, ties broken by the mean
        probability; with ``aggregate="mean"`` the track takes the argmax of
        :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_tracks, n_mels, n_frames)

        Returns
        -------
        y : ndarray of shape (n_tracks,)
        """
        patch_proba = check_finite(self.predict_patch_proba(X), self.net_.module_)
        return self.classes_[track_classes(patch_proba, self.aggregate)]
