"""Small layers shared by the networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._kernels import triton_available

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
    (:mod:`skrhythm.nn._kernels._triton_dense`), instead of two launches per row.
    The kernel serves 2-d float32 or float64 input without gradients (as in
    prediction and validation); other input takes the single-row products,
    whose last bits can differ from the kernel's. Training uses the
    ordinary batched product.
    """

    def forward(self, x):
        if self.training:
            return F.linear(x, self.weight, self.bias)
        if self._rows_kernel_serves(x):
            from ._kernels._triton_dense import linear_rows

            return linear_rows(x, self.weight, self.bias)
        return torch.cat([F.linear(row[None].clone(), self.weight, self.bias) for row in x])

    def _rows_kernel_serves(self, x):
        return (
            x.device.type == "cuda" and x.ndim == 2 and self.bias is not None
            and x.dtype == self.weight.dtype in (torch.float32, torch.float64)
            and not torch.is_grad_enabled() and triton_available()
        )  # fmt: skip
