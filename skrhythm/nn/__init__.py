"""Torch modules: the 1-by-n filter bank and the networks built on it.

The filter bank runs one of the implementations named in
:data:`IMPLEMENTATIONS`: the conv2d reference, numba kernels on the CPU
(``FAST``, compiled ahead by :func:`prepare_kernels`) or Triton kernels on
CUDA (``TRITON``); ``AUTO`` chooses by device.
"""

from ._kernels import (
    AUTO,
    COMPILE_NOTICE,
    FAST,
    IMPLEMENTATIONS,
    REFERENCE,
    TRITON,
    prepare_kernels,
    triton_available,
    triton_missing,
)
from .filterbank import FilterBank1xN, uses_cpu_kernels
from .musiccnn import MusicCNN

__all__ = ["AUTO", "COMPILE_NOTICE", "FAST", "IMPLEMENTATIONS", "REFERENCE", "TRITON",
           "FilterBank1xN", "MusicCNN", "prepare_kernels", "triton_available", "triton_missing",
           "uses_cpu_kernels"]
