"""Settings for every test, the doctests in skrhythm/ included, whatever is collected first."""

import os
from pathlib import Path

# scikit-learn's array-API check (run with NumPy input) is skipped unless this is set
# before SciPy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import torch  # noqa: E402

# Without a GPU the Triton kernels run on CPU tensors in Triton's interpreter, which
# must be chosen before Triton is imported.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# The Triton modules cannot be imported for their doctests without a Triton the kernels
# can use (the gpu extra; an older one lacks triton.knobs).
from skrhythm.nn._kernels import triton_available  # noqa: E402

collect_ignore = []
if not triton_available():
    kernels = Path(__file__).parent / "skrhythm" / "nn" / "_kernels"
    collect_ignore += [str(p) for p in kernels.glob("_triton*.py")]
