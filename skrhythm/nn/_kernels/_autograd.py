"""Autograd for the fused filter bank, shared by its CPU (numba) and GPU (Triton) kernels.

The pooled output of a filter in a sub-band depends on one input window only,
the one at the position of the maximum, so a kernel backend needs just three
operations:

``forward(x, w, geometry) -> (maxima, argmax)``
    For every sample, filter and sub-band, the largest valid correlation over
    the sub-band's bands and all time positions, and its flat position
    ``band * n_frames + t`` (first one in that order when several tie).
``weight_grad(x, grad, argmax, geometry, w) -> grad_w``
    A gather: each filter's gradient is the sum of the windows at its argmax
    positions weighted by the output gradient.
``input_grad(w, grad, argmax, geometry, x) -> grad_x``
    A scatter of the weights to those windows.

``geometry`` is whatever the backend needs to know the filters' lengths and
offsets in the concatenated weight vector and the pooling (numpy arrays for
numba, device tensors for Triton).
"""

from __future__ import annotations

import torch

__all__ = ["PooledCorrelation"]


class PooledCorrelation(torch.autograd.Function):
    """Max over sub-bands and time of valid 1-by-n correlations, backward through the argmax."""

    @staticmethod
    def forward(ctx, x, w, backend, geometry):
        x = x.detach().contiguous()
        w = w.detach().contiguous()
        maxima, argmax = backend.forward(x, w, geometry)
        ctx.save_for_backward(x, w, argmax)
        ctx.backend, ctx.geometry = backend, geometry
        return maxima

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        x, w, argmax = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            grad_x = ctx.backend.input_grad(w, grad, argmax, ctx.geometry, x)
        if ctx.needs_input_grad[1]:
            grad_w = ctx.backend.weight_grad(x, grad, argmax, ctx.geometry, w)
        return grad_x, grad_w, None, None
