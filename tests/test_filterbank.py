"""The fused filter banks (numba on the CPU, Triton on the GPU) against the conv2d reference.

The Triton kernels run on CUDA when a GPU is present, otherwise on CPU tensors
in Triton's interpreter (``TRITON_INTERPRET=1``, set in conftest.py); they are
skipped only where Triton is not installed or too old (``pip install -e ".[gpu]"``).
"""

import builtins
import contextlib
import json
import os
import re
import subprocess
import sys
import types

import numpy as np
import pytest
import torch

from skrhythm.nn._kernels import IMPLEMENTATIONS, triton_available, triton_missing
from skrhythm.nn._kernels._numba import (
    _TILE,
    _correlate_plain,
    _correlate_scan,
    pooled_correlation,
    pooled_correlation_windows,
)
from skrhythm.nn.filterbank import FilterBank1xN, n_subbands
from skrhythm.nn.musiccnn import ONET_LENGTHS, PNET_LENGTHS, MusicCNN

CUDA = torch.cuda.is_available()
needs_triton = pytest.mark.skipif(
    not triton_available(), reason=f'{triton_missing()} (pip install -e ".[gpu]")'
)
#: The fused implementations and the device each runs on here.
FUSED = [
    pytest.param(("fast", "cpu"), id="fast"),
    # in the interpreter (no CUDA) the Triton cases take seconds each: slow
    pytest.param(("triton", "cuda" if CUDA else "cpu"), id="triton",
                 marks=[needs_triton] + ([] if CUDA else [pytest.mark.slow])),
]


def make_bank(lengths, counts, n_bands, pool_bands=4, seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    bank = FilterBank1xN(lengths, counts, n_bands, pool_bands).to(dtype)
    with torch.no_grad():
        for b in bank.biases:
            b.uniform_(-1.0, 0.5)
    return bank


def center_biases(bank, x):
    """Biases near minus the mean pooled maximum, so that about half the ReLUs are off."""
    with torch.no_grad():
        for b in bank.biases:
            b.zero_()
        maxima = bank._forward_reference(x)
        centers = -(maxima.mean(dim=(0, 2)) + 0.01)
        for b, c in zip(bank.biases, centers.split(bank.counts)):
            b.copy_(c)


def outputs_and_grads(bank, x, implementation, grad_out, device="cpu"):
    """Output and the gradients of input and parameters, computed on ``device``, on the CPU."""
    bank.implementation = implementation
    bank.to(device)
    x = x.detach().to(device).requires_grad_(True)
    bank.zero_grad()
    out = bank(x)
    out.backward(grad_out.to(device))
    # copies: moving the bank to another device later moves its gradients in place
    grads = [x.grad.cpu().clone()] + [p.grad.cpu().clone() for p in bank.parameters()]
    bank.to("cpu")
    return out.detach().cpu(), grads


# (lengths, counts, n_bands, pool_bands, batch, n_frames)
CASES = [
    ((6, 11), (5, 5), 40, 4, 3, 60),
    ((1, 2, 3, 4, 5), (1, 2, 3, 2, 1), 8, 4, 1, 9),  # batch 1, filter as long as the input
    ((7, 20, 33), (2, 1, 3), 10, 4, 5, 40),  # 10 bands / 4: 2 sub-bands, 2 bands dropped
    ((5, 9), (3, 2), 3, 4, 4, 30),  # fewer bands than pool_bands: one sub-band
    ((13, 4), (2, 2), 12, 3, 2, 50),  # pool_bands 3, lengths not ascending
    ((8,), (6,), 7, 1, 3, 25),  # no pooling over bands
    (ONET_LENGTHS + PNET_LENGTHS, (5,) * 8 + (1,) * 35, 40, 4, 2, 250),  # O-net + P-net
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("fused", FUSED)
def test_fused_matches_reference(fused, case):
    implementation, device = fused
    lengths, counts, n_bands, pool_bands, batch, n_frames = case
    bank = make_bank(lengths, counts, n_bands, pool_bands)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(batch, n_bands, n_frames, generator=gen)
    grad_out = torch.randn(batch, sum(counts), n_subbands(n_bands, pool_bands), generator=gen)
    center_biases(bank, x)

    ref, ref_grads = outputs_and_grads(bank, x, "reference", grad_out)
    fast, fast_grads = outputs_and_grads(bank, x, implementation, grad_out, device)

    assert fast.dtype == torch.float32
    assert fast.shape == ref.shape == (batch, sum(counts), bank.n_subbands)
    assert (ref == 0).any() and (ref > 0).any()  # both ReLU branches are exercised
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-5)
    names = ["input"] + [name for name, _ in bank.named_parameters()]
    for name, g_fast, g_ref in zip(names, fast_grads, ref_grads):
        torch.testing.assert_close(g_fast, g_ref, rtol=1e-5, atol=1e-5, msg=name)
    # bands beyond the last full sub-band get no gradient
    assert not fast_grads[0][:, bank.n_subbands * bank.pool_bands :].any()


def forward(bank, x, implementation, device="cpu"):
    """Output without gradients of ``bank`` on ``device``, returned on the CPU."""
    bank.implementation = implementation
    with torch.no_grad():
        out = bank.to(device)(x.to(device)).cpu()
    bank.to("cpu")
    return out


@pytest.mark.parametrize("fused", FUSED)
def test_non_contiguous_input(fused):
    bank = make_bank((3, 10), (2, 2), 8)
    x = torch.randn(4, 30, 8).transpose(1, 2)
    torch.testing.assert_close(forward(bank, x, *fused), forward(bank, x, "reference"))


@pytest.mark.parametrize("fused", FUSED)
def test_ties_constant_input(fused):
    """Constant input: every window ties. Forward values must agree, and the
    gradients must be a valid subgradient (all windows are equal, so the weight
    gradient does not depend on which argmax is chosen, and the input gradient
    has the same total and lies in the pooled bands)."""
    lengths, counts = (3, 6), (2, 1)
    bank = make_bank(lengths, counts, 10, seed=3)
    x = torch.full((2, 10, 12), 0.7)
    grad_out = torch.randn(2, 3, 2, generator=torch.Generator().manual_seed(0))
    ref, ref_grads = outputs_and_grads(bank, x, "reference", grad_out)
    fast, fast_grads = outputs_and_grads(bank, x, fused[0], grad_out, fused[1])
    torch.testing.assert_close(fast, ref)
    for g_fast, g_ref in zip(fast_grads[1:], ref_grads[1:]):
        torch.testing.assert_close(g_fast, g_ref)
    torch.testing.assert_close(fast_grads[0].sum(dim=(1, 2)), ref_grads[0].sum(dim=(1, 2)))
    assert not fast_grads[0][:, 8:].any()


@pytest.mark.parametrize("fused", FUSED)
def test_ties_small_integers_forward_exact(fused):
    """Many exact ties. Weights, biases and inputs are small multiples of 1/2, so
    every partial sum is exactly representable in float32: the result is exact
    whatever the summation order or the point where the bias is added (FMA or
    not, any SIMD width), and the two paths must agree bitwise."""
    bank = make_bank((2, 3), (3, 3), 8, seed=4)
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for w, b in zip(bank.weights, bank.biases):
            w.copy_(torch.randint(-2, 3, w.shape, generator=gen))
            b.copy_(torch.randint(-6, 3, b.shape, generator=gen) / 2)
    x = torch.randint(0, 3, (5, 8, 10), generator=gen).float()
    fast, ref = forward(bank, x, *fused), forward(bank, x, "reference")
    assert (ref == 0).any() and (ref > 0).any()
    assert torch.equal(fast, ref)


@pytest.mark.parametrize("fused", FUSED)
def test_batch_composition_invariance(fused):
    if fused[0] == "triton" and fused[1] == "cpu":  # a smaller bank for the interpreter
        bank, x = make_bank((3, 10, 17), (5, 5, 1), 12), torch.randn(9, 12, 40)
    else:
        bank = make_bank(ONET_LENGTHS + PNET_LENGTHS, (5,) * 8 + (1,) * 35, 40)
        x = torch.randn(9, 40, 250, generator=torch.Generator().manual_seed(2))
    full = forward(bank, x, *fused)
    for i in range(len(x)):
        assert torch.equal(forward(bank, x[i : i + 1], *fused)[0], full[i])
    assert torch.equal(forward(bank, x[3:7], *fused), full[3:7])


def correlate_tiled(lengths, x, w, offsets, lo, hi, best=-np.inf, base=1000):
    """Run the tiled correlation of a group of filters on a zero-padded copy of ``x``."""
    size, pad = len(lengths), _TILE + max(lengths)
    row = len(x) + pad
    xp = np.zeros(row, x.dtype)
    xp[: len(x)] = x
    y = np.full(size * row, 99, x.dtype)
    bests, positions = np.full(size, best), np.full(size, -1)
    lengths = np.asarray(lengths, np.int64)
    _correlate_scan(size, y, row, xp, w, offsets, lengths, 0, lo, hi, bests, positions, base)
    return y.reshape(size, row), bests, positions


def correlate_plain(x, w, offset, n, lo, hi):
    y = np.empty(hi - lo, x.dtype)
    _correlate_plain(y, x[lo:], w, offset, n, hi - lo)
    return y


def scan_in_order(y, best, best_at, base):
    for t, value in enumerate(y):
        if value > best:
            best, best_at = value, base + t
    return best, best_at


# Groups of filters (lengths ascending, equal or not) and output ranges around the tile
# sizes (8 lanes; 4 vectors per filter in a group, 8 for one filter).
GROUPS = [(3,), (41,), (150,), (1, 1), (6, 6, 6, 6), (46, 51, 56), (21, 26, 150, 151)]
RANGES = [(0, 1), (0, 7), (0, 8), (0, 31), (0, 32), (0, 33), (0, 64), (0, 65), (0, 100),
          (0, 129), (5, 77), (100, 101)]  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lengths", GROUPS, ids=str)
def test_register_tiles_bitwise_equal_the_plain_loop(dtype, lengths):
    """Every filter of a group sums its taps in the plain loop's order: bitwise equal
    outputs, and the running maximum ends where an in-order scan ends."""
    rng = np.random.default_rng(len(lengths))
    x = rng.standard_normal(400).astype(dtype)
    offsets = np.cumsum(np.asarray(lengths) + 3).astype(np.int64)  # with gaps between them
    w = rng.standard_normal(offsets[-1] + lengths[-1]).astype(dtype)
    for lo, hi in RANGES:
        hi += lengths[-1] - lengths[0]  # every filter has an output
        y, bests, positions = correlate_tiled(lengths, x, w, offsets, lo, hi)
        for j, n in enumerate(lengths):
            hi_j = hi - (n - lengths[0])
            plain = correlate_plain(x, w, offsets[j], n, lo, hi_j)
            assert y[j, lo:hi_j].tobytes() == plain.tobytes(), (lo, hi, j)
            assert (y[j, :lo] == 99).all()
            assert (bests[j], positions[j]) == scan_in_order(plain, -np.inf, -1, 1000 + lo)


@pytest.mark.parametrize("lengths", [(5,), (5, 5, 6, 7)], ids=str)
@pytest.mark.parametrize("hi", [1, 5, 9, 33, 65, 100])
def test_register_tiles_scan_ties_and_nan_like_the_plain_loop(lengths, hi):
    """Skipping tiles that cannot raise the running maximum changes nothing: same value,
    first position of ties (small integers tie often), NaN never chosen, for any
    starting value."""
    gen = np.random.default_rng(hi)
    offsets = np.arange(len(lengths), dtype=np.int64) * 8
    w = gen.integers(-2, 3, 8 * len(lengths)).astype(np.float32)
    x = gen.integers(0, 3, hi + 10).astype(np.float32)
    if hi > 1:
        x[hi // 2 + 4] = np.nan  # spoils a few outputs in the middle
    plain = correlate_plain(x, w, offsets[0], lengths[0], 0, hi)
    assert np.isnan(plain).any() == (hi > 1) and not np.isnan(plain).all()
    finite = np.sort(plain[~np.isnan(plain)])
    for best in (-np.inf, finite[len(finite) // 2], finite[-1], np.inf):
        y, bests, positions = correlate_tiled(lengths, x, w, offsets, 0, hi, best)
        np.testing.assert_array_equal(y[0, :hi], plain)
        assert (bests[0], positions[0]) == scan_in_order(plain, best, -1, 1000)


def test_thread_count_does_not_change_results():
    bank = make_bank((5, 30), (4, 2), 12)
    x = torch.randn(6, 12, 80)
    n_threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = bank._forward_fast(x)
    finally:
        torch.set_num_threads(n_threads)
    assert torch.equal(bank._forward_fast(x), one)


def test_gradcheck_float64():
    gen = torch.Generator().manual_seed(5)
    lengths = np.array([2, 3, 3, 5], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    x = torch.randn(2, 5, 9, dtype=torch.float64, generator=gen, requires_grad=True)
    w = torch.randn(int(lengths.sum()), dtype=torch.float64, generator=gen, requires_grad=True)

    def pooled(x, w):
        return pooled_correlation(x, w, lengths, offsets, 2, 2)

    assert torch.autograd.gradcheck(pooled, (x, w))


@needs_triton
def test_triton_gradcheck_float64():
    from skrhythm.nn._kernels._triton import pooled_correlation as triton_pooled

    device = "cuda" if CUDA else "cpu"
    gen = torch.Generator().manual_seed(5)
    lengths = torch.tensor([2, 3, 3, 5], dtype=torch.int32, device=device)
    offsets = torch.tensor([0, 2, 5, 8], dtype=torch.int32, device=device)
    x = torch.randn(2, 5, 9, dtype=torch.float64, generator=gen).to(device).requires_grad_()
    w = torch.randn(13, dtype=torch.float64, generator=gen).to(device).requires_grad_()

    def pooled(x, w):
        return triton_pooled(x, w, lengths, offsets, 2, 2, 5)

    # fast_mode checks random projections of the Jacobian: few interpreted launches
    assert torch.autograd.gradcheck(pooled, (x, w), fast_mode=True)


@pytest.mark.slow
@needs_triton
def test_every_tuned_triton_tile_gives_the_same_maxima():
    """The autotuner may pick any tile shape on a GPU: each must give the numba result."""
    from skrhythm.nn._kernels import _triton as tfb

    device = "cuda" if CUDA else "cpu"
    lengths = np.repeat(np.array([3, 8, 20, 33], np.int64), [5, 3, 9, 1])
    offsets = (np.cumsum(lengths) - lengths).astype(np.int64)
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(2, 9, 140, generator=gen)
    w = torch.randn(int(lengths.sum()), generator=gen)
    expected = pooled_correlation(x, w, lengths, offsets, 4, 2)
    maxima = torch.empty(2, len(lengths), 2, device=device)
    argmax = torch.empty(2, len(lengths), 2, dtype=torch.int32, device=device)
    for block_f, block_t, block_k, _ in tfb.FORWARD_TILES:
        maxima.fill_(0)
        grid = (2 * 2, -(-len(lengths) // block_f))
        tfb._forward_kernel.fn[grid](
            x.to(device), w.to(device),
            torch.as_tensor(lengths, dtype=torch.int32, device=device),
            torch.as_tensor(offsets, dtype=torch.int32, device=device),
            maxima, argmax, 9, 140, len(lengths), 4, 2,
            DTYPE=tfb.tl.float32, BLOCK_F=block_f, BLOCK_T=block_t, BLOCK_K=block_k,
        )  # fmt: skip
        torch.testing.assert_close(maxima.cpu(), expected, msg=f"tile {block_f}x{block_t}")


@pytest.mark.parametrize("fused", FUSED)
def test_float64_module_matches_reference(fused):
    bank = make_bank((4, 7), (2, 3), 9, dtype=torch.float64)
    x = torch.randn(3, 9, 20, dtype=torch.float64)
    fast = forward(bank, x, *fused)
    assert fast.dtype == torch.float64
    torch.testing.assert_close(fast, forward(bank, x, "reference"))


def test_auto_selects_by_device(monkeypatch):
    calls = []
    monkeypatch.setattr(FilterBank1xN, "_forward_fast", lambda self, x: calls.append("fast"))
    monkeypatch.setattr(
        FilterBank1xN, "_forward_reference", lambda self, x: calls.append("reference")
    )
    bank = FilterBank1xN((3,), (2,), 4)
    bank(torch.zeros(1, 4, 5))
    bank(torch.zeros(1, 4, 5, device="meta"))  # a non-CPU device (stands in for CUDA)
    bank.implementation = "reference"
    bank(torch.zeros(1, 4, 5))
    bank.implementation = "fast"
    bank(torch.zeros(1, 4, 5, device="meta"))
    assert calls == ["fast", "reference", "reference", "fast"]


def test_auto_picks_triton_on_cuda(monkeypatch):
    import skrhythm.nn._kernels as filterbank

    bank = FilterBank1xN((3,), (2,), 4)
    assert bank.resolved_implementation("cpu") == "fast"
    assert bank.resolved_implementation("cuda") == ("triton" if triton_available() else "reference")
    monkeypatch.setattr(filterbank, "triton_available", lambda: False)
    assert bank.resolved_implementation("cuda:0") == "reference"
    bank.implementation = "reference"
    assert bank.resolved_implementation("cpu") == "reference"


@pytest.fixture
def fresh_triton_check():
    """``triton_missing`` looks Triton up again now, and again after the test."""
    import skrhythm.nn._kernels as filterbank

    filterbank.triton_missing.cache_clear()
    yield filterbank
    filterbank.triton_missing.cache_clear()


@pytest.mark.parametrize(("version", "knobs"), [
    ("3.3.1", False), ("2.2.0", False), ("3.4.0+gitold", False),  # what the kernels lack
    ("3.4.0", True), ("3.6.0+git9a1b2c", True), ("3.3.0+gitnightly", True), ("10.0", True),
])  # fmt: skip
def test_triton_without_what_the_kernels_use_is_not_used(monkeypatch, fresh_triton_check,
                                                         version, knobs):  # fmt: skip
    """Triton before 3.4 (CUDA builds of torch before 2.8) lacks the ``triton.knobs`` the
    kernels use; the feature decides, not the version (nightlies take theirs from torch's
    pin): "auto" takes the reference on CUDA, and asking for "triton" says why it cannot."""
    filterbank = fresh_triton_check
    triton = types.SimpleNamespace(__version__=version, **({"knobs": object()} if knobs else {}))
    monkeypatch.setitem(sys.modules, "triton", triton)
    assert filterbank.triton_available() is knobs
    bank = FilterBank1xN((3,), (2,), 4)
    assert bank.resolved_implementation("cuda") == ("triton" if knobs else "reference")
    if not knobs:
        assert filterbank.triton_missing() == (
            f"Triton {version} is installed, without the triton.knobs of Triton 3.4 and later "
            "that the kernels use"
        )
        bank.implementation = "triton"
        cannot = re.escape(f'"triton" cannot run: Triton {version} is')
        with pytest.raises(RuntimeError, match=cannot):
            bank(torch.zeros(1, 4, 5))


@pytest.mark.parametrize("failure", [None, RuntimeError("CUDA driver too old")])
def test_triton_that_cannot_be_imported_is_not_used(monkeypatch, fresh_triton_check, failure):
    if failure is None:
        monkeypatch.setitem(sys.modules, "triton", None)  # import triton raises ImportError
    else:  # installed but broken

        def broken_import(name, *args, **kwargs):
            if name == "triton":
                raise failure
            return real_import(name, *args, **kwargs)

        real_import = builtins.__import__
        monkeypatch.setattr(builtins, "__import__", broken_import)
    assert not fresh_triton_check.triton_available()
    reason = fresh_triton_check.triton_missing()
    assert reason.startswith("Triton cannot be imported (")
    if failure is not None:
        assert "RuntimeError: CUDA driver too old" in reason


@needs_triton
def test_every_triton_kernel_launches_on_the_device_of_its_input(monkeypatch):
    """Triton launches on the current device, whatever device the tensors are on: every
    launch (forward, both gradients, the dense layer's) runs under ``launching_on`` its
    input, which on CUDA makes the input's device current (e.g. ``cuda:1``), and asks for
    fused multiply-adds (``OPTIONS``), which Triton 3.10 no longer makes by default."""
    from skrhythm.nn._kernels import _triton as tfb
    from skrhythm.nn._kernels import _triton_compile, _triton_dense

    assert isinstance(_triton_compile.launching_on(torch.zeros(1)), contextlib.nullcontext)
    if CUDA:
        assert _triton_compile.launching_on(torch.zeros(1, device="cuda:0")).idx == 0
    device = "cuda" if CUDA else "cpu"
    depth, launches = [], []

    @contextlib.contextmanager
    def launching_on(tensor):
        depth.append(tensor)
        yield
        depth.pop()

    class Watched:
        def __init__(self, module, name):
            self.kernel, self.name = getattr(module, name), name
            monkeypatch.setattr(module, name, self)

        def __getitem__(self, grid):
            def launch(*args, **kwargs):
                launches.append((self.name, len(depth), kwargs.get("enable_fp_fusion")))
                return self.kernel[grid](*args, **kwargs)

            return launch

    monkeypatch.setattr(_triton_compile, "launching_on", launching_on)
    for name in ("_forward_kernel", "_weight_grad_kernel", "_input_grad_kernel"):
        Watched(tfb, name)
    Watched(_triton_dense, "_linear_rows_kernel")
    bank = FilterBank1xN((3, 5), (2, 1), 4, implementation="triton").to(device)
    x = torch.randn(2, 4, 9, device=device, requires_grad=True)
    bank(x).sum().backward()
    _triton_dense.linear_rows(*(torch.randn(shape, device=device) for shape in [(3, 4), (2, 4), 2]))
    # each once, under launching_on, with multiply-adds fused whatever Triton's default
    assert sorted(launches) == [(name, 1, True) for name in (
        "_forward_kernel", "_input_grad_kernel", "_linear_rows_kernel", "_weight_grad_kernel")]


@needs_triton
def test_triton_needs_cuda_or_interpreter(monkeypatch):
    import skrhythm.nn._kernels._triton as triton_filterbank

    monkeypatch.setattr(triton_filterbank, "interpreted", lambda: False)
    bank = FilterBank1xN((3,), (2,), 4, implementation="triton")
    with pytest.raises(ValueError, match="CUDA tensor.*TRITON_INTERPRET"):
        bank(torch.zeros(1, 4, 5))


@needs_triton
def test_compile_forward_refuses_the_interpreter(monkeypatch):
    import triton

    import skrhythm.nn._kernels._triton as triton_filterbank

    monkeypatch.setattr(triton.knobs.runtime, "interpret", True)
    with pytest.raises(RuntimeError, match="unset TRITON_INTERPRET"):
        triton_filterbank.compile_forward(triton_filterbank.FORWARD_TILES[0])


COMPILE_EVERY_KERNEL = """
import json, torch
from skrhythm.nn._kernels import _triton as tfb
from skrhythm.nn._kernels._triton_dense import compile_linear_rows
result = {}
for capability in CAPABILITIES:
    for dtype in (torch.float32, torch.float64) if capability == 90 else (torch.float32,):
        kernels = {f"forward {tile}": tfb.compile_forward(tile, dtype, capability)
                   for tile in tfb.FORWARD_TILES}
        kernels.update(tfb.compile_backward(dtype, capability))
        kernels.update({f"dense {shape}": compile_linear_rows(*shape, dtype, capability)
                        for shape in ((8, 400), (200, 33))})
        for name, kernel in kernels.items():
            ptx = kernel.asm["ptx"]
            fma = "fma.rn.f32" if dtype == torch.float32 else "fma.rn.f64"
            result[f"sm_{capability} {dtype} {name}"] = [
                len(kernel.asm["cubin"]), fma in ptx, "mma" in ptx, kernel.metadata.shared]
print(json.dumps(result))
"""
#: Volta (V100), Turing (T4), Ampere (A100, RTX 30), Ada (L4, RTX 40), Hopper (H100, H200),
#: Blackwell (B200, RTX 50).
CAPABILITIES = (70, 75, 80, 86, 89, 90, 100, 120)


@pytest.mark.slow
@needs_triton
def test_every_triton_kernel_compiles_for_volta_to_blackwell():
    """The interpreter runs the kernels' semantics, not their compilation: compile every
    kernel (every tuned tile of the forward kernel, the backward kernels, the dense
    layer's) as Triton does at its first call on a GPU, for each architecture from Volta
    to Blackwell (assembled by the ptxas Triton ships), in a process without the
    interpreter. In float32 the correlations must stay float32 fused multiply-adds, never
    TF32 tensor-core products (which round the inputs to 10 bits), and no kernel may need
    more than the 48 KiB of shared memory every one of these GPUs gives a block. The
    forward and dense kernels keep their fused multiply-adds under the default of Triton
    3.10 and later, which no longer contracts a product and a sum unless asked."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = "0"
    script = COMPILE_EVERY_KERNEL.replace("CAPABILITIES", repr(CAPABILITIES))
    run = subprocess.run([sys.executable, "-c", script], env=env, text=True,
                         capture_output=True, timeout=900)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.splitlines()[-1])
    from skrhythm.nn._kernels._triton import FORWARD_TILES

    per_dtype = len(FORWARD_TILES) + 2 + 2  # forward tiles, backward, dense
    assert len(result) == (len(CAPABILITIES) + 1) * per_dtype
    for name, (cubin_bytes, fma, matrix_units, shared_bytes) in result.items():
        assert cubin_bytes > 0 and shared_bytes <= 48 * 1024, name
        if "forward" in name or "dense" in name:
            assert fma, name
        if "float32 forward" in name:
            assert not matrix_units, name


def test_two_flat_parameters_and_their_per_length_views():
    """A training step handles two filter-bank tensors, however many lengths there are;
    ``weights`` and ``biases`` are views of them, so writing a view changes the output."""
    bank = make_bank((3, 5, 8), (2, 1, 3), 8)
    assert [name for name, _ in bank.named_parameters()] == ["weight", "bias"]
    assert bank.weight.shape == (3 * 2 + 5 + 8 * 3,) and bank.bias.shape == (6,)
    assert [w.shape for w in bank.weights] == [(2, 3), (1, 5), (3, 8)]
    assert [b.shape for b in bank.biases] == [(2,), (1,), (3,)]
    x = torch.randn(2, 8, 20)
    before = forward(bank, x, "reference")
    with torch.no_grad():
        bank.biases[2][1] += 100.0
    after = forward(bank, x, "reference")
    assert (after[:, 4] > 90).all() and (before[:, 4] < 90).all()
    assert torch.equal(after[:, :4], before[:, :4]) and torch.equal(after[:, 5], before[:, 5])


def test_defaults_are_auto():
    assert set(IMPLEMENTATIONS) == {"auto", "fast", "triton", "reference"}
    assert FilterBank1xN((3,), (1,), 4).implementation == "auto"
    assert MusicCNN(40, 3).filterbank.implementation == "auto"
    assert MusicCNN(40, 3, implementation="reference").filterbank.implementation == "reference"


def test_musiccnn_fast_matches_reference():
    torch.manual_seed(0)
    net = MusicCNN(40, 5, n_onet=2, n_pnet=1, implementation="fast").eval()
    x = torch.randn(3, 40, 250)
    with torch.no_grad():
        fast = net(x)
        net.filterbank.implementation = "reference"
        torch.testing.assert_close(fast, net(x), rtol=1e-5, atol=1e-5)


def test_bad_input():
    bank = FilterBank1xN((3, 5), (1, 1), 6, implementation="fast")
    with pytest.raises(ValueError, match="shape"):
        bank(torch.zeros(6, 10))
    with pytest.raises(ValueError, match="shape"):
        bank(torch.zeros(2, 5, 10))
    with pytest.raises(ValueError, match="frames"):
        bank(torch.zeros(2, 6, 4))
    with pytest.raises(TypeError, match="dtype"):
        bank(torch.zeros(2, 6, 10, dtype=torch.float64))
    with pytest.raises(ValueError, match="CPU"):
        bank(torch.zeros(2, 6, 10, device="meta"))
    with pytest.raises(ValueError, match="implementation"):
        FilterBank1xN((3,), (1,), 6, implementation="fastest")


# -- windows of whole tracks (prediction) --------------------------------------------------


OP_LENGTHS, OP_COUNTS = ONET_LENGTHS + PNET_LENGTHS, (5,) * 8 + (1,) * 35


def windows_bank(lengths, counts, n_bands, pool_bands=4, seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    return FilterBank1xN(lengths, counts, n_bands, pool_bands).to(dtype)


def center_window_biases(bank, x, starts, patch_frames):
    """Each bias minus the median of its filter's pooled maxima: about half the ReLUs are off."""
    w = torch.cat([w.detach().reshape(-1) for w in bank.weights])
    maxima = pooled_correlation_windows(
        x.float(),
        w.float(),
        bank._filter_lengths,
        bank._filter_offsets,
        bank.pool_bands,
        bank.n_subbands,
        np.asarray(starts),
        patch_frames,
    )
    medians = maxima.permute(2, 0, 1, 3).flatten(1).median(dim=1).values
    with torch.no_grad():
        for b, m in zip(bank.biases, medians.split(bank.counts)):
            b.copy_(-m)


def each_patch(module, x, starts, patch_frames):
    """``module`` on every patch alone, stacked as ``(batch, n_patches, ...)``."""
    with torch.no_grad():
        return torch.stack(
            [
                torch.stack([module(x[b : b + 1, :, s : s + patch_frames])[0] for s in starts])
                for b in range(len(x))
            ]
        )


def stacked_patches(x, starts, patch_frames):
    return torch.stack([x[:, :, s : s + patch_frames] for s in starts], dim=1).flatten(0, 1)


def hop_starts(n_frames, patch_frames, hop):
    return np.arange(0, n_frames - patch_frames + 1, hop)


@pytest.mark.parametrize(("hop", "n_patches"), [(250, 5), (80, 14)])
def test_onet_pnet_30s_tracks(hop, n_patches):
    """O-net + P-net on 1,292-frame (30 s) tracks at the paper's two hops."""
    bank = windows_bank(OP_LENGTHS, OP_COUNTS, 40)
    x = torch.randn(2, 40, 1292, generator=torch.Generator().manual_seed(1))
    starts = hop_starts(1292, 250, hop)
    assert len(starts) == n_patches
    center_window_biases(bank, x, starts, 250)

    bank.implementation = "fast"
    fast = bank.forward_windows(x, starts, 250)
    assert fast.shape == (2, n_patches, sum(OP_COUNTS), 10)
    assert (fast == 0).any() and (fast > 0).any()  # both ReLU branches are exercised
    assert torch.equal(fast, each_patch(bank, x, starts, 250))
    bank.implementation = "reference"
    torch.testing.assert_close(bank.forward_windows(x, starts, 250), fast, rtol=1e-5, atol=1e-5)


# (lengths, counts, n_bands, pool_bands, batch, n_frames, patch_frames, starts)
WINDOW_CASES = {
    "uneven hop": ((6, 11), (5, 5), 40, 4, 3, 100, 30, hop_starts(100, 30, 17)),
    "one patch per track": ((3, 9), (2, 2), 8, 4, 2, 40, 40, [0]),
    "batch 1, hop 1, patch = longest filter": (
        (1, 2, 3, 4, 5),
        (1, 2, 3, 2, 1),
        8,
        4,
        1,
        20,
        5,
        hop_starts(20, 5, 1),
    ),
    "unsorted, repeated starts, 2 bands dropped": (
        (7, 20, 33),
        (2, 1, 3),
        10,
        4,
        2,
        90,
        40,
        [50, 0, 13, 50, 7],
    ),
    "fewer bands than pool_bands": ((5, 9), (3, 2), 3, 4, 2, 60, 25, [0, 35, 10]),
    "pool_bands 3, gaps, lengths not ascending": ((13, 4), (2, 2), 12, 3, 2, 80, 20, [0, 30, 60]),
    "no pooling over bands": ((8,), (6,), 7, 1, 3, 45, 20, [25, 0]),
}


@pytest.mark.parametrize("implementation", ["fast", "reference"])
@pytest.mark.parametrize("case", WINDOW_CASES.values(), ids=WINDOW_CASES.keys())
def test_windows_match_each_patch(case, implementation):
    lengths, counts, n_bands, pool_bands, batch, n_frames, patch_frames, starts = case
    bank = windows_bank(lengths, counts, n_bands, pool_bands)
    bank.implementation = implementation
    x = torch.randn(batch, n_bands, n_frames, generator=torch.Generator().manual_seed(2))
    center_window_biases(bank, x, starts, patch_frames)

    windows = bank.forward_windows(x, starts, patch_frames)
    assert windows.shape == (batch, len(starts), sum(counts), bank.n_subbands)
    alone = each_patch(bank, x, starts, patch_frames)
    if implementation == "fast":  # same multiply-adds in the same order
        assert torch.equal(windows, alone)
    else:  # the same forward pass on the stacked patches, which may differ from one alone
        with torch.no_grad():
            stacked = bank(stacked_patches(x, starts, patch_frames))
        assert torch.equal(windows, stacked.reshape(windows.shape))
        torch.testing.assert_close(windows, alone, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", WINDOW_CASES.values(), ids=WINDOW_CASES.keys())
def test_fast_windows_match_reference(case):
    lengths, counts, n_bands, pool_bands, batch, n_frames, patch_frames, starts = case
    bank = windows_bank(lengths, counts, n_bands, pool_bands, seed=3)
    x = torch.randn(batch, n_bands, n_frames, generator=torch.Generator().manual_seed(3))
    center_window_biases(bank, x, starts, patch_frames)
    bank.implementation = "fast"
    fast = bank.forward_windows(x, starts, patch_frames)
    bank.implementation = "reference"
    reference = bank.forward_windows(x, starts, patch_frames)
    assert (reference == 0).any() and (reference > 0).any()
    torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", WINDOW_CASES.values(), ids=WINDOW_CASES.keys())
def test_kernel_matches_pooled_correlation(case):
    """Before bias and ReLU, on 1 and 2 threads."""
    lengths, counts, n_bands, pool_bands, batch, n_frames, patch_frames, starts = case
    bank = windows_bank(lengths, counts, n_bands, pool_bands, seed=4)
    x = torch.randn(batch, n_bands, n_frames, generator=torch.Generator().manual_seed(4))
    w = torch.cat([w.detach().reshape(-1) for w in bank.weights])
    args = (w, bank._filter_lengths, bank._filter_offsets, bank.pool_bands, bank.n_subbands)
    expected = pooled_correlation(stacked_patches(x, starts, patch_frames), *args)
    expected = expected.reshape(batch, len(starts), bank.n_filters, bank.n_subbands)
    n_threads = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            windows = pooled_correlation_windows(x, *args, np.asarray(starts), patch_frames)
            assert torch.equal(windows, expected)
    finally:
        torch.set_num_threads(n_threads)


@pytest.mark.skipif(not triton_available(), reason=f"{triton_missing()} (the gpu extra)")
def test_triton_windows_run_forward_on_the_patches():
    """Triton (on CUDA, else in its interpreter on the CPU, see conftest.py) has no
    windowed kernel: the gathered patches go through its forward pass."""
    bank = windows_bank((3, 5), (2, 1), 6, seed=6)
    x = torch.randn(1, 6, 30, generator=torch.Generator().manual_seed(6))
    starts, patch_frames = [18, 0, 9], 12
    center_window_biases(bank, x, starts, patch_frames)
    bank.implementation = "fast"
    fast = bank.forward_windows(x, starts, patch_frames)
    bank.implementation = "triton"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    bank.to(device)
    triton = bank.forward_windows(x.to(device), starts, patch_frames).cpu()
    with torch.no_grad():
        stacked = bank(stacked_patches(x, starts, patch_frames).to(device)).cpu()
    assert torch.equal(triton, stacked.reshape(triton.shape))
    torch.testing.assert_close(triton, fast, rtol=1e-5, atol=1e-5)


def test_ties_small_integers_exact():
    """Weights, inputs and biases are small multiples of 1/2: every sum is exact in
    float32 whatever the order (FMA or not, any SIMD width), so the fast and the
    reference windows and the patches alone must all agree bitwise, despite many ties."""
    bank = windows_bank((2, 3, 5), (3, 3, 2), 8, seed=5)
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for w, b in zip(bank.weights, bank.biases):
            w.copy_(torch.randint(-2, 3, w.shape, generator=gen))
            b.copy_(torch.randint(-8, 3, b.shape, generator=gen) / 2)
    x = torch.randint(0, 3, (3, 8, 40), generator=gen).float()
    starts = hop_starts(40, 12, 5)
    results = []
    for implementation in ("fast", "reference"):
        bank.implementation = implementation
        results.append(bank.forward_windows(x, starts, 12))
        results.append(each_patch(bank, x, starts, 12))
    assert (results[0] == 0).any() and (results[0] > 0).any()
    for result in results[1:]:
        assert torch.equal(result, results[0])


def test_float64():
    bank = windows_bank((4, 7), (2, 3), 9, dtype=torch.float64)
    x = torch.randn(2, 9, 60, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    starts = hop_starts(60, 20, 7)
    bank.implementation = "fast"
    fast = bank.forward_windows(x, starts, 20)
    assert fast.dtype == torch.float64
    assert torch.equal(fast, each_patch(bank, x, starts, 20))
    bank.implementation = "reference"
    torch.testing.assert_close(fast, bank.forward_windows(x, starts, 20))


def test_track_alone_or_in_a_batch():
    bank = windows_bank((5, 30), (4, 2), 12)
    x = torch.randn(5, 12, 120, generator=torch.Generator().manual_seed(7))
    starts = hop_starts(120, 50, 20)
    full = bank.forward_windows(x, starts, 50)
    for i in range(len(x)):
        assert torch.equal(bank.forward_windows(x[i : i + 1], starts, 50)[0], full[i])


@pytest.mark.parametrize("implementation", ["fast", "reference"])
def test_no_patches_and_no_gradients(implementation):
    bank = windows_bank((3, 7), (2, 3), 8)
    bank.implementation = implementation
    x = torch.randn(2, 8, 50, requires_grad=True)
    assert bank.forward_windows(x, [], 30).shape == (2, 0, 5, 2)
    assert not bank.forward_windows(x, [0, 20], 30).requires_grad


def test_bad_windows_input():
    bank = FilterBank1xN((3, 5), (1, 1), 6, implementation="fast")
    x = torch.zeros(2, 6, 20)
    with pytest.raises(ValueError, match="shape"):
        bank.forward_windows(torch.zeros(2, 5, 20), [0], 10)
    with pytest.raises(TypeError, match="dtype"):
        bank.forward_windows(x.double(), [0], 10)
    for patch_frames in (4, 21):
        with pytest.raises(ValueError, match="patch_frames"):
            bank.forward_windows(x, [0], patch_frames)
    for starts in ([-1, 0], [0, 11], [[0, 5]], [0.0, 5.0], [True]):
        with pytest.raises(ValueError, match="starts"):
            bank.forward_windows(x, starts, 10)
    with pytest.raises(ValueError, match="CPU"):
        bank.forward_windows(torch.zeros(2, 6, 20, device="meta"), [0], 10)


@pytest.mark.parametrize("hop", [250, 80])
def test_musiccnn_forward_windows(hop):
    torch.manual_seed(8)
    net = MusicCNN(40, 5, implementation="fast").eval()
    x = torch.randn(2, 40, 1292, generator=torch.Generator().manual_seed(8))
    starts = hop_starts(1292, 250, hop)
    fast = net.forward_windows(x, starts, 250)
    assert fast.shape == (2, len(starts), 5)
    assert torch.equal(fast, each_patch(net, x, starts, 250))  # batch-invariant dense layer

    net.filterbank.implementation = "reference"
    reference = net.forward_windows(x, starts, 250)
    with torch.no_grad():
        stacked = net(stacked_patches(x, starts, 250))
    assert torch.equal(reference, stacked.reshape(reference.shape))
    torch.testing.assert_close(reference, fast, rtol=1e-5, atol=1e-5)


def test_dense_row_independent_of_its_position():
    """Rows at every memory alignment inside a batch (750 floats = 3,000 bytes per row)
    give the logits of the row alone: the windowed logits rely on it."""
    torch.manual_seed(9)
    dense = MusicCNN(40, 5).dense.eval()
    x = torch.randn(16, 750, generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        full = dense(x)
        for i in range(len(x)):
            assert torch.equal(full[i], dense(x[i : i + 1].clone())[0])
