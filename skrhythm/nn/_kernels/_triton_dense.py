"""A dense layer whose output for a row never depends on the other rows (Triton kernel).

The GPU path of :class:`skrhythm.nn.layers.BatchInvariantLinear` in evaluation
mode. One program computes one row: it walks the inputs in ``BLOCK_IN``-wide
chunks, accumulates ``weight * x`` per (output, lane), and sums the lanes at
the end. The block sizes depend only on the layer's shape, never on the
batch, so every row is computed by the same operations in the same order:
the batch, and a row's place in it, cannot change its bits. A cuBLAS matrix
product may pick another kernel (and summation order) for another batch
size; a Python loop over rows would launch two kernels per row.

Kernels run on CUDA tensors, or on CPU tensors under Triton's interpreter
(``TRITON_INTERPRET=1``), which the tests use.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._triton_compile import DTYPES, POINTERS, compile_for_gpu, launch

__all__ = ["linear_rows", "compile_linear_rows"]


@triton.jit
def _linear_rows_kernel(
    x_ptr, w_ptr, b_ptr, out_ptr, n_in, n_out,
    DTYPE: tl.constexpr, BLOCK_OUT: tl.constexpr, BLOCK_IN: tl.constexpr,
):  # fmt: skip
    row = tl.program_id(0)
    o = tl.arange(0, BLOCK_OUT)
    o_mask = o < n_out
    acc = tl.zeros([BLOCK_OUT, BLOCK_IN], DTYPE)
    for i0 in range(0, n_in, BLOCK_IN):
        i = i0 + tl.arange(0, BLOCK_IN)
        i_mask = i < n_in
        x = tl.load(x_ptr + row * n_in + i, mask=i_mask, other=0.0)
        w_mask = o_mask[:, None] & i_mask[None, :]
        w = tl.load(w_ptr + o[:, None] * n_in + i[None, :], mask=w_mask, other=0.0)
        acc += w * x[None, :]
    out = tl.sum(acc, axis=1) + tl.load(b_ptr + o, mask=o_mask, other=0.0)
    tl.store(out_ptr + row * n_out + o, out, mask=o_mask)


def _blocks(n_out, n_in):
    """``(BLOCK_OUT, BLOCK_IN)``: all outputs, and at most 4096 products per chunk."""
    block_out = triton.next_power_of_2(n_out)
    return block_out, max(16, min(triton.next_power_of_2(n_in), 4096 // block_out))


def linear_rows(x, weight, bias):
    """``x @ weight.T + bias``, each row computed alone (no gradient).

    Parameters
    ----------
    x : torch.Tensor of shape (batch, n_in)
        float32 or float64, on a CUDA device (or the CPU under Triton's
        interpreter).
    weight : torch.Tensor of shape (n_out, n_in)
        Of the dtype of ``x``, as ``bias``.
    bias : torch.Tensor of shape (n_out,)

    Returns
    -------
    torch.Tensor of shape (batch, n_out)
    """
    x, weight, bias = (t.detach().contiguous() for t in (x, weight, bias))
    n_out, n_in = weight.shape
    if x.ndim != 2 or x.shape[1] != n_in or bias.shape != (n_out,):
        raise ValueError(
            f"linear_rows takes x of shape (batch, {n_in}) and a bias of shape ({n_out},), "
            f"got {tuple(x.shape)} and {tuple(bias.shape)}"
        )
    if not x.dtype == weight.dtype == bias.dtype in DTYPES:
        raise TypeError(
            "linear_rows takes float32 or float64 tensors of one dtype, "
            f"got {x.dtype}, {weight.dtype} and {bias.dtype}"
        )
    out = torch.empty(len(x), n_out, dtype=x.dtype, device=x.device)
    if len(x):
        block_out, block_in = _blocks(n_out, n_in)
        launch(
            _linear_rows_kernel, (len(x),), x, weight, bias, out, n_in, n_out,
            DTYPE=DTYPES[x.dtype], BLOCK_OUT=block_out, BLOCK_IN=block_in,
        )  # fmt: skip
    return out


def compile_linear_rows(n_out, n_in, dtype=torch.float32, capability=90):
    """The kernel for an ``(n_out, n_in)`` layer, compiled for a GPU that need not be present.

    See :func:`skrhythm.nn._kernels._triton_compile.compile_for_gpu`.
    """
    pointer = POINTERS[dtype]
    signature = {"x_ptr": pointer, "w_ptr": pointer, "b_ptr": pointer, "out_ptr": pointer,
                 "n_in": "i32", "n_out": "i32", "DTYPE": "constexpr", "BLOCK_OUT": "constexpr",
                 "BLOCK_IN": "constexpr"}  # fmt: skip
    block_out, block_in = _blocks(n_out, n_in)
    constants = {"DTYPE": DTYPES[dtype], "BLOCK_OUT": block_out, "BLOCK_IN": block_in}
    return compile_for_gpu(_linear_rows_kernel, signature, constants, capability=capability)
