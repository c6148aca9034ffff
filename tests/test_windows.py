"""Prediction by track: the windowed filter bank against forward passes on the patches."""

import numpy as np
import pytest
import torch

from skrhythm.nn._kernels import triton_available, triton_missing
from skrhythm.nn._kernels._numba import pooled_correlation, pooled_correlation_windows
from skrhythm.nn.filterbank import FilterBank1xN
from skrhythm.nn.musiccnn import ONET_LENGTHS, PNET_LENGTHS, MusicCNN

OP_LENGTHS, OP_COUNTS = ONET_LENGTHS + PNET_LENGTHS, (5,) * 8 + (1,) * 35


def make_bank(lengths, counts, n_bands, pool_bands=4, seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    return FilterBank1xN(lengths, counts, n_bands, pool_bands).to(dtype)


def center_biases(bank, x, starts, patch_frames):
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
    bank = make_bank(OP_LENGTHS, OP_COUNTS, 40)
    x = torch.randn(2, 40, 1292, generator=torch.Generator().manual_seed(1))
    starts = hop_starts(1292, 250, hop)
    assert len(starts) == n_patches
    center_biases(bank, x, starts, 250)

    bank.implementation = "fast"
    fast = bank.forward_windows(x, starts, 250)
    assert fast.shape == (2, n_patches, sum(OP_COUNTS), 10)
    assert (fast == 0).any() and (fast > 0).any()  # both ReLU branches are exercised
    assert torch.equal(fast, each_patch(bank, x, starts, 250))
    bank.implementation = "reference"
    torch.testing.assert_close(bank.forward_windows(x, starts, 250), fast, rtol=1e-5, atol=1e-5)


# (lengths, counts, n_bands, pool_bands, batch, n_frames, patch_frames, starts)
CASES = {
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
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_windows_match_each_patch(case, implementation):
    lengths, counts, n_bands, pool_bands, batch, n_frames, patch_frames, starts = case
    bank = make_bank(lengths, counts, n_bands, pool_bands)
    bank.implementation = implementation
    x = torch.randn(batch, n_bands, n_frames, generator=torch.Generator().manual_seed(2))
    center_biases(bank, x, starts, patch_frames)

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


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_fast_windows_match_reference(case):
    lengths, counts, n_bands, pool_bands, batch, n_frames, patch_frames, starts = case
    bank = make_bank(lengths, counts, n_bands, pool_bands, seed=3)
    x = torch.randn(batch, n_bands, n_frames, generator=torch.Generator().manual_seed(3))
    center_biases(bank, x, starts, patch_frames)
    bank.implementation = "fast"
    fast = bank.forward_windows(x, starts, patch_frames)
    bank.implementation = "reference"
    reference = bank.forward_windows(x, starts, patch_frames)
    assert (reference == 0).any() and (reference > 0).any()
    torch.testing.assert_close(fast, reference, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_kernel_matches_pooled_correlation(case):
    """Before bias and ReLU, on 1 and 2 threads."""
    lengths, counts, n_bands, pool_bands, batch, n_frames, patch_frames, starts = case
    bank = make_bank(lengths, counts, n_bands, pool_bands, seed=4)
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
    bank = make_bank((3, 5), (2, 1), 6, seed=6)
    x = torch.randn(1, 6, 30, generator=torch.Generator().manual_seed(6))
    starts, patch_frames = [18, 0, 9], 12
    center_biases(bank, x, starts, patch_frames)
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
    bank = make_bank((2, 3, 5), (3, 3, 2), 8, seed=5)
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
    bank = make_bank((4, 7), (2, 3), 9, dtype=torch.float64)
    x = torch.randn(2, 9, 60, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    starts = hop_starts(60, 20, 7)
    bank.implementation = "fast"
    fast = bank.forward_windows(x, starts, 20)
    assert fast.dtype == torch.float64
    assert torch.equal(fast, each_patch(bank, x, starts, 20))
    bank.implementation = "reference"
    torch.testing.assert_close(fast, bank.forward_windows(x, starts, 20))


def test_track_alone_or_in_a_batch():
    bank = make_bank((5, 30), (4, 2), 12)
    x = torch.randn(5, 12, 120, generator=torch.Generator().manual_seed(7))
    starts = hop_starts(120, 50, 20)
    full = bank.forward_windows(x, starts, 50)
    for i in range(len(x)):
        assert torch.equal(bank.forward_windows(x[i : i + 1], starts, 50)[0], full[i])


@pytest.mark.parametrize("implementation", ["fast", "reference"])
def test_no_patches_and_no_gradients(implementation):
    bank = make_bank((3, 7), (2, 3), 8)
    bank.implementation = implementation
    x = torch.randn(2, 8, 50, requires_grad=True)
    assert bank.forward_windows(x, [], 30).shape == (2, 0, 5, 2)
    assert not bank.forward_windows(x, [0, 20], 30).requires_grad


def test_bad_input():
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
