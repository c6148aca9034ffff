"""Small layers shared by the networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BatchInvariantLinear"]


class BatchInvariantLinear(nn.Linear):
    """A dense layer whose evaluation-mode output for a row never depends on the batch.

    A batched matrix product may pick different kernels (and summation
    orders) for different batch sizes, so a row's output can change in the
    last bits with the rows beside it. In evaluation mode this layer applies
    the same single-row product to every row, so predictions for a track are
    the same alone or in a batch (scikit-learn's subset-invariance check).
    Training uses the ordinary batched product.
    """

    def forward(self, x):
        if self.training or x.shape[0] <= 1:
            return F.linear(x, self.weight, self.bias)
        return torch.cat([F.linear(row[None], self.weight, self.bias) for row in x])
