"""Small layers shared by the networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .filterbank import triton_available

__all__ = ["BatchInvariantLinear"]


class BatchInvariantLinear(nn.Linear):
    """A dense layer whose evaluation-mode output for a row never depends on the batch.

    A batched matrix product may pick different kernels (and summation
    orders) for different batch sizes, and a single-row product may take
    another path for a row that is not aligned in memory, so a row's output
    can change in the last bits with the rows beside it. In evaluation mode
    this layer computes every row alone, so predictions for a track are the
    same alone, in a batch, or in another order (scikit-learn's subset- and
    order-invariance checks): on the CPU it applies the same single-row
    product to a freshly allocated (so aligned) copy of every row; on CUDA
    one Triton kernel computes all rows, each in the same fixed order
    (:mod:`skrhythm.nn._triton_dense`), instead of two launches per row
    (without gradients, as in prediction and validation). Training uses the
    ordinary batched product.
    """

    def forward(self, x):
        if self.training:
            return F.linear(x, self.weight, self.bias)
        if x.device.type == "cuda" and triton_available() and not torch.is_grad_enabled():
            from ._triton_dense import linear_rows

            return linear_rows(x, self.weight, self.bias)
        return torch.cat([F.linear(row[None].clone(), self.weight, self.bias) for row in x])
