"""How the CNN estimators train: patches, their skorch net, callbacks and CUDA graphs.

- :class:`PatchDataset` and :class:`PatchLoader` (``_patches``): the
  spectrograms stored once on the training device, a mini-batch of patches
  gathered by one indexing operation;
- :class:`PatchNet` (``_net``): skorch's classifier, reading the batch
  losses off a GPU once per epoch, building a loaded model's optimizer on
  first use, replaying training steps from CUDA graphs (``_cuda_graph``);
- the callbacks (``_callbacks``): the paper's learning-rate schedule and
  stopping rule, the best validation epoch's weights, one line per epoch.
"""

from ._callbacks import EpochProgress, KeepBestModel, PaperLRSchedule, StopTraining, show_epochs
from ._net import PatchNet
from ._patches import PatchDataset, PatchLoader

__all__ = [
    "EpochProgress",
    "KeepBestModel",
    "PaperLRSchedule",
    "PatchDataset",
    "PatchLoader",
    "PatchNet",
    "StopTraining",
    "show_epochs",
]
