"""Small layers shared by the networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BatchInvariantLinear"]


class BatchInvariantLinear(nn.Linear):
    """A dense layer whose evaluation-mode output for a row never depends on the batch.

    A batched matrix product may pick different kernels (and summation
    orders) for different batch sizes, and a single-row product may take
    another path for a row that is not aligned in memory, so a row's output
    can change in the last bits with the rows beside it. In evaluation mode
    this layer applies the same single-row product to a freshly allocated
    (so aligned) copy of every row, so predictions for a track are the same
    alone, in a batch, or in another order (scikit-learn's subset- and
    order-invariance checks). Training uses the ordinary batched product.
    """

    def forward(self, x):
        if self.training:
            return F.linear(x, self.weight, self.bias)
        return torch.cat([F.linear(row[None].clone(), self.weight, self.bias) for row in x])
