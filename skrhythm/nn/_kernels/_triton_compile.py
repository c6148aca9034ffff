"""What skrhythm's Triton kernels share: the element types they take, the device
they launch on, and their ahead-of-time compilation for an NVIDIA GPU, without one."""

from __future__ import annotations

import contextlib

import torch
import triton
import triton.language as tl

__all__ = ["DTYPES", "POINTERS", "OPTIONS", "compile_for_gpu", "launch", "launching_on"]

#: The torch dtypes the kernels take, as Triton element types and pointer types.
DTYPES = {torch.float32: tl.float32, torch.float64: tl.float64}
POINTERS = {torch.float32: "*fp32", torch.float64: "*fp64"}
#: Compile options of every launch: a product and a sum contracted into one fused
#: multiply-add, as Triton does by default up to 3.9 (3.10 turns that default off),
#: so that the kernels' results do not change with the Triton release.
OPTIONS = {"enable_fp_fusion": True}


def launching_on(tensor):
    """The context to launch a kernel on ``tensor`` in: its CUDA device made current.

    Triton launches a kernel on the current device and that device's current
    stream, whatever device its tensor arguments are on. A tensor on
    ``cuda:1`` while ``cuda:0`` is current would be read in the wrong
    device's context, unordered with the stream that wrote it. Under Triton's
    interpreter the tensors are on the CPU and nothing is switched.

    Parameters
    ----------
    tensor : torch.Tensor

    Returns
    -------
    context manager
    """
    return torch.cuda.device(tensor.device) if tensor.is_cuda else contextlib.nullcontext()


def launch(kernel, grid, *args, **meta):
    """Launch a ``@triton.jit`` kernel as every skrhythm kernel is launched.

    ``kernel[grid](*args, **meta)`` with the device of ``args[0]`` (a tensor)
    made current (:func:`launching_on`) and the compile :data:`OPTIONS`.
    """
    with launching_on(args[0]):
        return kernel[grid](*args, **meta, **OPTIONS)


def compile_for_gpu(kernel, signature, constants, num_warps=4, capability=90):
    """A ``@triton.jit`` kernel compiled as Triton would at its first call on a GPU.

    Triton lowers the kernel to PTX and assembles it with the ``ptxas`` it
    ships, for compute ``capability`` (90: the H100 and H200), with no GPU
    present. The interpreter (``TRITON_INTERPRET=1``) runs the kernels'
    semantics but not their compilation, so the tests compile them this way
    too; it must be unset in this process.

    Parameters
    ----------
    kernel : triton.runtime.JITFunction
    signature : dict of str to str
        Triton's type of each argument (``"*fp32"``, ``"i32"``,
        ``"constexpr"``, ...).
    constants : dict of str to object
        The value of each ``constexpr`` argument.
    num_warps : int, default=4
    capability : int, default=90

    Returns
    -------
    triton.compiler.CompiledKernel
        ``asm["ptx"]`` is its PTX, ``asm["cubin"]`` its machine code.
    """
    from triton.backends.compiler import GPUTarget

    if triton.knobs.runtime.interpret:
        raise RuntimeError(
            "Triton compiles kernels only in a process without its interpreter: "
            "unset TRITON_INTERPRET before importing triton"
        )
    source = triton.compiler.ASTSource(fn=kernel, signature=signature, constexprs=constants)
    return triton.compile(
        source, target=GPUTarget("cuda", capability, 32),
        options={"num_warps": num_warps, **OPTIONS},
    )  # fmt: skip
