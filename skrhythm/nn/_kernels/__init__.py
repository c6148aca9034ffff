"""The fused kernels of the 1-by-n filter bank: which implementation runs where.

:class:`~skrhythm.nn.FilterBank1xN` computes its valid correlations and the
sub-band x all-time max-pool either with the conv2d reference (plain torch,
slow and obviously correct) or with one of two fused kernel backends behind
one autograd Function (:mod:`._autograd`), which never store the full
activation and back-propagate through the pooled argmax only:

``FAST``
    numba kernels on CPU tensors (:mod:`._numba`), compiled on first use and
    cached on disk;
``TRITON``
    Triton kernels on CUDA tensors, or on CPU tensors in Triton's
    interpreter (:mod:`._triton`; the dense layer's in :mod:`._triton_dense`,
    their shared launch and compile helpers in :mod:`._triton_compile`).

:func:`resolve` says which one a forward pass on a device takes,
:func:`triton_missing` why Triton cannot run here, :func:`prepare_kernels`
compiles the numba kernels ahead of the work that uses them. The backends are imported
only when used, so numba and Triton load only where they run.
"""

from __future__ import annotations

import functools

__all__ = ["AUTO", "COMPILE_NOTICE", "FAST", "IMPLEMENTATIONS", "REFERENCE", "TRITON",
           "prepare_kernels", "resolve", "triton_available", "triton_missing"]

AUTO, FAST, TRITON, REFERENCE = "auto", "fast", "triton", "reference"

#: The filter bank's ``implementation`` values.
IMPLEMENTATIONS = (AUTO, FAST, TRITON, REFERENCE)

#: What :func:`prepare_kernels` tells its ``notify`` when it compiles.
COMPILE_NOTICE = ("preparing skrhythm's CPU kernels for this machine (once: they are cached "
                  "for later runs)")


def prepare_kernels(*, training=True, notify=None):
    """Compile, or load from numba's disk cache, the float32 CPU kernels of a fit or a prediction.

    Numba compiles a kernel for this machine's CPU the first time a process
    uses it (about 45 s for all of them on a 2-core VM), and keeps the
    machine code in its disk cache (``__pycache__`` beside the kernels, or
    the user's cache folder where that cannot be written), keyed on the
    CPU's name and features, so that no other CPU ever loads it; later
    processes load it in about a second. Calling this before fits are timed
    keeps a one-off compile out of their times, and tells the user why the
    first run waits.

    Parameters
    ----------
    training : bool, default=True
        Prepare the kernels of training (forward pass, weight gradient) and of
        prediction (windows); False: prediction's only.
    notify : callable or None
        Called once with :data:`COMPILE_NOTICE` when numba starts to compile
        a kernel; never when every kernel is loaded from the cache.
    """
    from ._numba import prepare_kernels as prepare  # numba loads only here

    prepare(training=training, notify=notify)


@functools.cache
def triton_missing():
    """Why the Triton kernels cannot run in this process; None when they can.

    They need a Triton that imports and has ``triton.knobs`` (new in Triton
    3.4; the Linux CUDA wheels of torch 2.8 and later ship such a Triton,
    those of torch 2.2 to 2.7 older ones). The feature is checked, not the
    version number, which nightly builds take from PyTorch's pin.

    Returns
    -------
    reason : str or None
    """
    try:
        import triton
    except Exception as error:  # not installed, or broken
        return f"Triton cannot be imported ({type(error).__name__}: {error})"
    if not hasattr(triton, "knobs"):
        return (f"Triton {getattr(triton, '__version__', '(no version)')} is installed, "
                "without the triton.knobs of Triton 3.4 and later that the kernels use")
    return None


def triton_available():
    """Whether the Triton kernels can run here (see :func:`triton_missing`)."""
    return triton_missing() is None


def resolve(implementation, device):
    """The implementation a forward pass on ``device`` takes: ``AUTO`` resolved.

    ``AUTO`` is ``FAST`` on the CPU, ``TRITON`` on CUDA when Triton can run,
    and ``REFERENCE`` otherwise (CUDA without Triton, other devices).
    """
    if implementation != AUTO:
        return implementation
    import torch

    device = torch.device(device)
    if device.type == "cpu":
        return FAST
    if device.type == "cuda" and triton_available():
        return TRITON
    return REFERENCE
