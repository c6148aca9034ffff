"""How the CNN estimators train: patches, their skorch net, callbacks and CUDA graphs.

- :class:`PatchDataset` and :class:`PatchLoader` (``_patches``): the
  spectrograms stored once on the training device, a mini-batch of patches
  gathered by one indexing operation, tempo-augmented by
  :func:`tempo_patches` when asked;
- :class:`PatchNet` (``_net``): skorch's classifier, reading the batch
  losses off a GPU once per epoch, building a loaded model's optimizer on
  first use, replaying training steps from CUDA graphs (``_cuda_graph``);
- the callbacks (``_callbacks``): the paper's learning-rate schedule and
  stopping rule, the best validation epoch's weights, one line per epoch;
- :data:`PAPER_TRAINING`: the paper's recipe, for
  ``MusicCNNClassifier(**PAPER_TRAINING)`` (the estimators' defaults
  converge sooner: Nesterov momentum).
"""

from .._spec import PAPER_TRAINING
from ._callbacks import EpochProgress, KeepBestModel, PaperLRSchedule, StopTraining, show_epochs
from ._net import PatchNet
from ._patches import PatchDataset, PatchLoader, tempo_patches, tempo_patches_reference

__all__ = [
    "EpochProgress",
    "KeepBestModel",
    "PAPER_TRAINING",
    "PaperLRSchedule",
    "PatchDataset",
    "PatchLoader",
    "PatchNet",
    "StopTraining",
    "show_epochs",
    "tempo_patches",
    "tempo_patches_reference",
]
