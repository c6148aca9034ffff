"""The CBMI 2016 baseline CNNs (Time, Time-freq, Black-box) as one scikit-learn classifier."""

from __future__ import annotations

from numbers import Integral, Real

import torch

from ._cnn_base import SHARED_DOCS, BasePatchCNNClassifier
from ._docstring import fill_doc
from ._limits import MAX_FRAMES
from ._sklearn_compat import Interval, StrOptions
from .nn.baselines import BlackBoxCNN, TimeCNN, TimeFreqCNN

__all__ = ["BaselineCNNClassifier"]

ARCHITECTURES = ("time", "timefreq", "blackbox")


@fill_doc(SHARED_DOCS)
class BaselineCNNClassifier(BasePatchCNNClassifier):
    """Baseline CNNs of Pons, Lidy & Serra (CBMI 2016) as a scikit-learn classifier.

    One estimator for the three baselines the ICASSP 2017 paper compares the
    O-net / P-net with, chosen by ``architecture`` so that a grid search can
    pick the model (``{"cnn__architecture": ["time", "timefreq",
    "blackbox"]}``, or ``{"cnn": [MusicCNNClassifier(),
    BaselineCNNClassifier("time"), ...]}``):

    - ``"time"`` (:class:`skrhythm.nn.baselines.TimeCNN`): ``n_filters``
      1 x ``time_length`` filters max-pooled over all bands, dense to the
      classes (7,336 parameters for 40 x 80 patches and 8 classes);
    - ``"timefreq"`` (:class:`skrhythm.nn.baselines.TimeFreqCNN`): the time
      branch plus ``n_filters`` ``freq_length`` x 1 filters max-pooled over
      all frames, concatenated, dense ``hidden`` + ReLU, dense to the classes
      (196,816 parameters);
    - ``"blackbox"`` (:class:`skrhythm.nn.baselines.BlackBoxCNN`):
      ``n_filters`` ``kernel`` (12 x 8) filters max-pooled over
      ``pool_bands`` bands, dense ``hidden`` + ReLU, dense to the classes
      (3,275,312 parameters).

    All use valid convolutions with ReLU, Glorot-uniform weights, zero biases
    and dropout before each dense layer. Their dense layers see the time axis,
    so the networks are built for ``patch_frames``-frame patches (80 frames,
    about 1.86 s at 44.1 kHz with hop 1024, as in the CBMI code). Training,
    patching (tracks are cut into patches inside the estimator, so
    cross-validation splits by track), standardisation and the aggregation of
    patch predictions are those of :class:`skrhythm.MusicCNNClassifier`.

    Parameters
    ----------
    architecture : {"time", "timefreq", "blackbox"}, default="timefreq"
        Which baseline.
    n_filters : int, default=32
        Filters of each convolution (time, frequency and black-box filters).
    time_length : int, default=60
        Length in frames of the time filters (``"time"``, ``"timefreq"``).
    freq_length : int, default=32
        Height in bands of the frequency filters (``"timefreq"``); the input
        needs at least that many bands.
    kernel : tuple of int, default=(12, 8)
        Black-box filter size (bands, frames) (``"blackbox"``).
    pool_bands : int, default=4
        Black-box max-pooling over band positions, floored (``"blackbox"``).
    hidden : int, default=200
        Hidden dense units (``"timefreq"``, ``"blackbox"``).
    dropout : float, default=0.5
        Dropout before each dense layer.
    patch_frames : int, default=80
        Patch length in frames; at least ``time_length`` (``"time"``,
        ``"timefreq"``) or ``kernel[1]`` (``"blackbox"``).
    {patch_hop}
        The CBMI code uses non-overlapping patches.
    {aggregate}
    {tempo_augment}
    {optimizer}
    {lr}
    momentum : float, default=0.0
        Momentum of :class:`torch.optim.SGD` (ignored by other optimizers).
        Plain SGD, as the CBMI paper: at its learning rate and batches of
        10 patches, momentum 0.9 makes the Time baseline diverge.
    nesterov : bool, default=False
        Nesterov momentum (SGD with ``momentum > 0`` only).
    {optimizer_params}
    batch_size : int, default=10
        Patches per training batch (the CBMI code trains with batches of
        10); prediction takes as many tracks per batch as hold about that
        many patches.
    max_epochs : int, default=30
        Training epochs (passes over the training patches) of a fit; the
        Time baseline levels off after about 30 on a small data set
        (``benchmarks/bench_convergence.py``).
    {lr_schedule}
    {train_split}
    {callbacks}
    {device}
    {cuda_graphs}
    {random_state}
    {verbose}
    {warm_start}

    Attributes
    ----------
    {fitted_attributes}
    n_params_ : int
        Trainable parameters (7,336, 196,816 or 3,275,312 for 40 bands,
        80-frame patches and 8 classes).

    See Also
    --------
    skrhythm.MusicCNNClassifier : the O-net / P-net of the ICASSP 2017 paper.
    skrhythm.rhythm.make_rhythm_descriptor_pipeline : a non-deep baseline.

    References
    ----------
    J. Pons, T. Lidy and X. Serra, "Experimenting with musically motivated
    convolutional neural networks", CBMI 2016.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.pipeline import Pipeline
    >>> from skrhythm import LogMelTransformer
    >>> from skrhythm.baselines import BaselineCNNClassifier
    >>> pipe = Pipeline([("logmel", LogMelTransformer()), ("cnn", BaselineCNNClassifier())])
    >>> search = GridSearchCV(pipe, {"cnn__architecture": ["time", "timefreq", "blackbox"]})
    """

    _parameter_constraints = {
        **BasePatchCNNClassifier._parameter_constraints,
        "architecture": [StrOptions(set(ARCHITECTURES))],
        "n_filters": [Interval(Integral, 1, 4096, closed="both")],
        "time_length": [Interval(Integral, 1, MAX_FRAMES, closed="both")],
        "freq_length": [Interval(Integral, 1, 4096, closed="both")],
        "kernel": [tuple, list],
        "pool_bands": [Interval(Integral, 1, None, closed="left")],
        "hidden": [Interval(Integral, 1, 2**16, closed="both")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(
        self,
        architecture="timefreq",
        *,
        n_filters=32,
        time_length=60,
        freq_length=32,
        kernel=(12, 8),
        pool_bands=4,
        hidden=200,
        dropout=0.5,
        patch_frames=80,
        patch_hop=None,
        aggregate="vote",
        tempo_augment=None,
        optimizer=torch.optim.SGD,
        lr=0.01,
        momentum=0.0,
        nesterov=False,
        optimizer_params=None,
        batch_size=10,
        max_epochs=30,
        lr_schedule="paper",
        train_split=None,
        callbacks=None,
        device="cpu",
        cuda_graphs=False,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        super().__init__(
            patch_frames=patch_frames,
            patch_hop=patch_hop,
            aggregate=aggregate,
            tempo_augment=tempo_augment,
            optimizer=optimizer,
            lr=lr,
            momentum=momentum,
            nesterov=nesterov,
            optimizer_params=optimizer_params,
            batch_size=batch_size,
            max_epochs=max_epochs,
            lr_schedule=lr_schedule,
            train_split=train_split,
            callbacks=callbacks,
            device=device,
            cuda_graphs=cuda_graphs,
            random_state=random_state,
            verbose=verbose,
            warm_start=warm_start,
        )
        self.architecture = architecture
        self.n_filters = n_filters
        self.time_length = time_length
        self.freq_length = freq_length
        self.kernel = kernel
        self.pool_bands = pool_bands
        self.hidden = hidden
        self.dropout = dropout

    def _build_module(self, n_bands, n_frames, n_classes):
        if self.architecture == "time":
            return TimeCNN(
                n_bands,
                n_frames,
                n_classes,
                self.dropout,
                n_filters=self.n_filters,
                length=self.time_length,
            )
        if self.architecture == "timefreq":
            return TimeFreqCNN(
                n_bands,
                n_frames,
                n_classes,
                self.dropout,
                time_filters=self.n_filters,
                time_length=self.time_length,
                freq_filters=self.n_filters,
                freq_length=self.freq_length,
                hidden=self.hidden,
            )
        kernel = tuple(self.kernel)
        if len(kernel) != 2 or not all(isinstance(k, Integral) and k >= 1 for k in kernel):
            raise ValueError(
                f"kernel must be two positive integers (bands, frames), got {self.kernel!r}"
            )
        return BlackBoxCNN(
            n_bands,
            n_frames,
            n_classes,
            self.dropout,
            n_filters=self.n_filters,
            kernel=kernel,
            pool_bands=self.pool_bands,
            hidden=self.hidden,
        )
