"""The O-net / P-net CNN of Pons & Serra (ICASSP 2017) as a scikit-learn classifier."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import torch

from ._cnn_base import SHARED_DOCS, BasePatchCNNClassifier
from ._docstring import fill_doc
from ._limits import MUSICCNN_BOUNDS, lengths_problem
from ._sklearn_compat import Interval, StrOptions
from .nn import AUTO, IMPLEMENTATIONS, REFERENCE, triton_missing
from .nn.musiccnn import (
    DROPOUT,
    ONET_FILTERS,
    ONET_LENGTHS,
    PNET_FILTERS,
    PNET_LENGTHS,
    POOL_BANDS,
    MusicCNN,
    network_arguments,
)

__all__ = ["MusicCNNClassifier"]


@fill_doc(SHARED_DOCS)
class MusicCNNClassifier(BasePatchCNNClassifier):
    """O-net / P-net CNN of Pons & Serra (ICASSP 2017) as a scikit-learn classifier.

    A single layer of 1-by-n time filters over log-mel spectrogram patches:
    ``n_onet`` copies of the O-net (``onet_filters`` filters for each length
    in ``onet_lengths``: onsets) and ``n_pnet`` copies of the P-net
    (``pnet_filters`` per length in ``pnet_lengths``: rhythm patterns), each a
    valid convolution with bias and ReLU, max-pooled over ``pool_bands`` mel
    bands and all time positions, then dropout and a dense layer to the
    classes. The torch module (:class:`skrhythm.nn.MusicCNN`) is trained by a
    skorch :class:`~skorch.NeuralNetClassifier` built in :meth:`fit`.

    Tracks are cut into patches inside the estimator, so cross-validation
    splits by track: training uses every full ``patch_frames``-frame patch
    starting at multiples of ``patch_hop``; prediction aggregates a track's
    patches (``aggregate``). Tracks shorter than ``patch_frames`` are padded at
    the end with the training mean (0 after standardisation).

    The input is standardised with one mean and standard deviation (scalars)
    fitted on the training tracks only. The original code computed them over
    the whole data set, test songs included, which leaks test statistics.

    Parameters
    ----------
    n_onet, n_pnet : int, default=1
        Copies of the O-net and P-net filter sets (not both 0).
    onet_lengths : tuple of int, default=(6, 11, ..., 41)
        O-net filter lengths in frames.
    onet_filters : int, default=5
        O-net filters of each length.
    pnet_lengths : tuple of int, default=(46, 51, ..., 216)
        P-net filter lengths in frames.
    pnet_filters : int, default=1
        P-net filters of each length.
    pool_bands : int, default=4
        Mel bands max-pooled into one sub-band (40 bands give 10 sub-bands).
    dropout : float, default=0.5
        Dropout rate before the dense layer.
    filterbank : str, default="auto"
        Filter-bank implementation (see :class:`skrhythm.nn.FilterBank1xN`).
    patch_frames : int, default=250
        Patch length in frames (250 frames of hop 1024 at 44.1 kHz: 5.8 s).
    {patch_hop}
        The paper uses 250 and 80.
    {aggregate}
    {tempo_augment}
    {optimizer}
    {lr}
    momentum : float, default=0.9
        Momentum of :class:`torch.optim.SGD` (ignored by other optimizers).
        The paper trains with plain SGD (0; see
        :data:`skrhythm.training.PAPER_TRAINING`), which needs about 50
        epochs where Nesterov momentum needs 20 to 30.
    nesterov : bool, default=True
        Nesterov momentum (SGD with ``momentum > 0`` only).
    {optimizer_params}
    batch_size : int, default=50
        Patches per training batch; prediction takes as many tracks per
        batch as hold about that many patches.
    max_epochs : int, default=50
        Training epochs (passes over the training patches) of a fit. With
        the default optimizer the O-net + P-net is within a point of its
        accuracy after 100 epochs by then (``benchmarks/bench_convergence.py``);
        the paper trains up to 250.
    {lr_schedule}
    {train_split}
        The paper holds out 69 tracks.
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
        Trainable parameters (e.g. 11,608 for O-net + P-net, 40 bands, 8 classes).

    Examples
    --------
    >>> from sklearn.pipeline import Pipeline
    >>> from skrhythm import LogMelTransformer, MusicCNNClassifier
    >>> pipe = Pipeline([("logmel", LogMelTransformer()),
    ...                  ("cnn", MusicCNNClassifier(n_onet=1, n_pnet=1))])
    """

    _parameter_constraints = {
        **BasePatchCNNClassifier._parameter_constraints,
        **{name: [Interval(Integral, *bounds, closed="both")]
           for name, bounds in MUSICCNN_BOUNDS.items()},
        "onet_lengths": [tuple, list],
        "pnet_lengths": [tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "filterbank": [StrOptions(set(IMPLEMENTATIONS))],
    }

    def _validate_params(self):
        super()._validate_params()
        for name in ("onet_lengths", "pnet_lengths"):
            problem = lengths_problem(name, getattr(self, name))
            if problem:
                raise ValueError(problem)

    def __init__(
        self,
        n_onet=1,
        n_pnet=1,
        *,
        onet_lengths=ONET_LENGTHS,
        onet_filters=ONET_FILTERS,
        pnet_lengths=PNET_LENGTHS,
        pnet_filters=PNET_FILTERS,
        pool_bands=POOL_BANDS,
        dropout=DROPOUT,
        filterbank=AUTO,
        patch_frames=250,
        patch_hop=None,
        aggregate="vote",
        tempo_augment=None,
        optimizer=torch.optim.SGD,
        lr=0.01,
        momentum=0.9,
        nesterov=True,
        optimizer_params=None,
        batch_size=50,
        max_epochs=50,
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
        self.n_onet = n_onet
        self.n_pnet = n_pnet
        self.onet_lengths = onet_lengths
        self.onet_filters = onet_filters
        self.pnet_lengths = pnet_lengths
        self.pnet_filters = pnet_filters
        self.pool_bands = pool_bands
        self.dropout = dropout
        self.filterbank = filterbank

    def _build_module(self, n_bands, n_frames, n_classes):
        if self.n_onet == 0 and self.n_pnet == 0:
            raise ValueError("n_onet and n_pnet are both 0: the network would have no filters")
        module = MusicCNN(n_bands, n_classes, **network_arguments(self.get_params()))
        on_cuda = torch.device(self.device_).type == "cuda"
        if on_cuda and self.filterbank == AUTO and (
            module.filterbank.resolved_implementation(self.device_) == REFERENCE
        ):
            warnings.warn(
                f"{triton_missing()}, so on {self.device_!r} the filter bank "
                "runs its conv2d reference, which trains 8 to 22 times slower than the Triton "
                "kernels (documentation: 'Performance and GPUs'); the results agree within float "
                "tolerance. "
                "Install Triton 3.4 or later (pip install \"triton>=3.4\"; the Linux CUDA wheels "
                "of torch 2.8 and later include it), or pass filterbank='reference' to choose "
                "the reference",
                UserWarning,
                stacklevel=5,
            )
        return module
