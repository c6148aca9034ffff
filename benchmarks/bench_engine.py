"""Training throughput of the estimator against its ceilings, on the CPU or a GPU.

For each network and batch size, on random 40-band spectrograms of 30-s tracks
(1292 frames, patches of 250 frames at hop 250), it measures in the same run,
as patches per second of training:

* ``estimator``: ``MusicCNNClassifier.fit`` epochs, end to end (data to the
  device, batches gathered by index, skorch's loop, validation excluded), with
  the reference filter bank (``conv2d``) and with the fused one
  (``"auto"``: numba on the CPU, Triton on CUDA);
* ``raw loop``: a plain torch loop over the same module, optimiser and
  batches (data already on the device, no skorch): the ceiling for the
  estimator's own overhead. ``est/raw`` compares it with the whole fit
  call, ``ep/raw`` with the estimator's epochs alone (skorch's epoch
  durations), which leave out what a fit does once and the raw loop does
  before its clock starts: validating the input and copying it to the
  device. Short timed fits (``--fit-epochs``) weigh that once-a-fit work
  more than the paper's 100-epoch fits do;
* ``kernels``: the fused filter bank alone, forward and backward, on one
  fixed batch: the ceiling set by the kernels.

On CUDA it also times the estimator with ``cuda_graphs=True`` (its full
batches' steps replayed from a CUDA graph; ``graphed``). It prints the ratios
estimator / raw loop and estimator / kernels, graphed / estimator, and the
fused / reference speed-up. ``--host-overhead`` adds the time of a training
step whose kernels cost next to nothing (batch 1 of a small patch): the
Python, autograd and optimiser work per step, which on a GPU bounds the
rate at small batches since kernels run while the host queues the next.
Then (``--projection``) it times training epochs, with validation, of
every O-net/P-net model of the paper at hops 250 and 80 on the fused path, on
one fold of a Ballroom-sized set (628 training tracks, 69 of them held out
for validation), and projects the paper protocol: 10 such folds, ``--epochs``
epochs. It ends with the floor of that projection: the multiply-adds of the
protocol's training forward passes, each model's at the rate of its own
fused forward pass alone, measured in the same run; on CUDA every model is
timed both with skorch's step and with graphed steps. ``--concurrent K ...`` runs K fits at
once, each in its own process on the same device, and prints their total
training rate against the first K's (give 1 first): what ``n_jobs`` would
gain on one GPU.
``--real-fold`` checks the projection: one fold of the O-net + P-net on a
Ballroom-sized random set, fitted for ``--epochs`` epochs and predicted,
against the projection's figure for that fold.

Usage::

    python benchmarks/bench_engine.py --device cuda --batches 50 256 --host-overhead --projection
    python benchmarks/bench_engine.py --device cuda --skip-throughput --real-fold --cuda-graphs \
        --concurrent 1 2 4
    python benchmarks/bench_engine.py --device cpu --threads 2 --batches 50

Nothing here asserts anything; the device, versions and load are printed.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time

import numpy as np
import torch
from torch import nn

from skrhythm import MusicCNNClassifier
from skrhythm._prediction import patch_starts
from skrhythm.experiments import MODELS
from skrhythm.training import PatchDataset, PatchLoader

N_BANDS, N_FRAMES, N_CLASSES, PATCH = 40, 1292, 8, 250
NETWORKS = {"O+P": (1, 1), "8xO+8xP": (8, 8)}
PAPER_TRAIN_TRACKS, PAPER_VALID_TRACKS = 628 - 69, 69


def synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def data(n_tracks, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_tracks, N_BANDS, N_FRAMES)).astype(np.float32)
    return X, rng.integers(N_CLASSES, size=n_tracks)


def estimator(network, batch, device, filterbank, hop=PATCH, **params):
    n_onet, n_pnet = NETWORKS.get(network, (None, None))
    if n_onet is not None:
        params.update(n_onet=n_onet, n_pnet=n_pnet)
    return MusicCNNClassifier(
        **params, batch_size=batch, device=device, filterbank=filterbank, patch_hop=hop,
        lr_schedule=None, random_state=0,
    )  # fmt: skip


def timed_epochs(clf, X, y, epochs, device):
    """Seconds of ``epochs`` more epochs of a fitted estimator (a warm start), device work in."""
    clf.set_params(warm_start=True, max_epochs=epochs)
    synchronize(device)
    start = time.perf_counter()
    clf.fit(X, y)
    synchronize(device)
    return time.perf_counter() - start


def estimator_rate(network, batch, device, filterbank, X, y, epochs, **params):
    """Training patches per second of fit epochs (after a 1-epoch warm-up fit).

    Returns
    -------
    rate : float
        Over the whole fit call.
    epoch_rate : float
        Over its epochs alone (the durations skorch records, which end after
        the device has finished the epoch): without the work a fit does once,
        validating the input and copying it to the device.
    clf : MusicCNNClassifier
    """
    clf = estimator(network, batch, device, filterbank, max_epochs=1, **params).fit(X, y)
    seconds = timed_epochs(clf, X, y, epochs, device)
    epoch_seconds = sum(epoch["dur"] for epoch in clf.history_[-epochs:])
    patches = epochs * len(X) * len(patch_starts(X.shape[2], clf.patch_frames, clf.patch_frames))
    return patches / seconds, patches / epoch_seconds, clf


def raw_loop_rate(clf, X, y, device, epochs):
    """The same module, optimiser and batches in a plain torch loop (data on the device)."""
    module = clf.net_.module_
    optimizer = torch.optim.SGD(module.parameters(), lr=clf.lr)
    patch = clf.patch_frames
    y = np.searchsorted(clf.classes_, y)  # the estimator's class indices
    dataset = PatchDataset(X, y, patch, patch, clf.mean_, clf.std_, device=device)
    loader = PatchLoader(dataset, clf.batch_size, shuffle=True)
    module.train()

    def epoch():
        for patches, targets in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(module(patches), targets).backward()
            optimizer.step()

    epoch()  # warm-up
    synchronize(device)
    start = time.perf_counter()
    for _ in range(epochs):
        epoch()
    synchronize(device)
    return epochs * len(dataset) / (time.perf_counter() - start)


def kernel_rate(clf, device, batch, min_seconds=1.0):
    """The fused filter bank alone: forward and backward on one batch."""
    bank = clf.net_.module_.filterbank
    x = torch.randn(batch, N_BANDS, PATCH, device=device)
    grad = torch.randn(batch, bank.n_filters, bank.n_subbands, device=device)

    def step():
        bank.zero_grad()
        bank(x).backward(grad)

    return calls_per_second(step, device, min_seconds) * batch


def calls_per_second(call, device, min_seconds):
    """Calls of ``call`` per second over at least ``min_seconds``, after one untimed call."""
    call()
    synchronize(device)
    n_calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        call()
        n_calls += 1
    synchronize(device)
    return n_calls / (time.perf_counter() - start)


def throughput(args, device):
    X, y = data(args.tracks)
    cuda = torch.device(device).type == "cuda"
    header = (
        f"{'network':>8} {'batch':>5} | {'estimator':>9} {'raw loop':>9} {'kernels':>9} | "
        f"{'est/raw':>7} {'ep/raw':>6} {'est/kern':>8} | {'graphed':>9} {'graph/est':>9} | "
        f"{'reference':>9} {'fused/ref':>9}"
    )
    print("training patches/s (250-frame patches, hop 250)")
    print(header)
    print("-" * len(header))
    for network in args.networks:
        for batch in args.batches:
            fused, fused_epochs, clf = estimator_rate(network, batch, device, "auto", X, y,
                                                      args.fit_epochs)  # fmt: skip
            raw = raw_loop_rate(clf, X, y, device, args.fit_epochs)
            kernels = kernel_rate(clf, device, batch)
            graphed = "-"
            if cuda:
                rate, _, _ = estimator_rate(network, batch, device, "auto", X, y,
                                            args.fit_epochs, cuda_graphs=True)  # fmt: skip
                graphed = f"{rate:9.0f} {rate / fused:9.2f}"
            n_ref = max(2 * batch, len(X) // args.reference_fraction)
            reference, _, _ = estimator_rate(network, batch, device, "reference", X[:n_ref],
                                             y[:n_ref], 1)  # fmt: skip
            print(
                f"{network:>8} {batch:>5} | {fused:9.0f} {raw:9.0f} {kernels:9.0f} | "
                f"{fused / raw:7.2f} {fused_epochs / raw:6.2f} {fused / kernels:8.2f} | "
                f"{graphed:>19} | {reference:9.0f} {fused / reference:9.2f}",
                flush=True,
            )


def host_overhead(args, device):
    """Time per training step where the kernels cost next to nothing: the host's share.

    Batch 1 of a 4-band, 216-frame patch (the O-net + P-net's shortest), so
    a step's time is mostly Python, autograd and optimiser work (on a GPU:
    what launches the kernels), for the estimator and for the raw loop.
    """
    n_tracks = 400
    rng = np.random.default_rng(2)
    X = rng.standard_normal((n_tracks, 4, 216)).astype(np.float32)
    y = np.arange(n_tracks) % N_CLASSES
    rate, _, clf = estimator_rate("O+P", 1, device, "auto", X, y, args.fit_epochs,
                                  patch_frames=216)  # fmt: skip
    raw = raw_loop_rate(clf, X, y, device, args.fit_epochs)
    graphed = ""
    if torch.device(device).type == "cuda":
        rate_graphed, _, _ = estimator_rate("O+P", 1, device, "auto", X, y, args.fit_epochs,
                                            patch_frames=216, cuda_graphs=True)  # fmt: skip
        graphed = f", graphed estimator {1e6 / rate_graphed:.0f} us"
    print(f"\nhost time per training step (O+P, batch 1, 4 bands x 216 frames): "
          f"estimator {1e6 / rate:.0f} us, raw loop {1e6 / raw:.0f} us{graphed}")


def fold_epoch_seconds(X, y, hop, device, args, cuda_graphs=False, **params):
    """Seconds of one epoch of a paper fold, from ``--fit-epochs`` timed epochs.

    ``X`` and ``y`` are a fold's 628 training tracks, of which the estimator
    holds 69 out for validation, as in the paper: after a 1-epoch warm-up fit
    (compiling and tuning the kernels), ``--fit-epochs`` warm-start epochs are
    timed whole, validation included. Only the epoch count is scaled from
    this (a real fold is checked against it by :func:`real_fold`).

    Returns
    -------
    seconds : float
    clf : MusicCNNClassifier
        The timed estimator.
    """
    clf = estimator(None, args.projection_batch, device, "auto", hop=hop,
                    train_split=PAPER_VALID_TRACKS, max_epochs=1, cuda_graphs=cuda_graphs,
                    **params)  # fmt: skip
    clf.fit(X, y)  # warm-up
    return timed_epochs(clf, X, y, args.fit_epochs, device) / args.fit_epochs, clf


def projection(args, device):
    """Time fit epochs (with validation) of every O/P model on a fold; project the paper protocol.

    On CUDA each model is timed with skorch's step and with graphed steps.
    """
    X, y = data(PAPER_TRAIN_TRACKS + PAPER_VALID_TRACKS, seed=1)
    modes = [False, True] if torch.device(device).type == "cuda" else [False]
    print(f"\nprojection: 698 tracks, 10 folds of {PAPER_TRAIN_TRACKS} training + "
          f"{PAPER_VALID_TRACKS} validation tracks, {args.epochs} epochs, batch "
          f"{args.projection_batch}; each model's epochs timed on one such fold")
    columns = ["s/epoch", "patches/s", "protocol (h)"]
    labels = [f"{c}{' graphed' if graphs else ''}" for graphs in modes for c in columns]
    print(f"{'model':>22} {'hop':>4} " + " ".join(f"{label:>21}" for label in labels))
    totals, multiply_adds, floor, rates = dict.fromkeys(modes, 0.0), 0.0, 0.0, []
    for spec in MODELS.values():
        if not spec.filterbank:  # the O-net / P-net models
            continue
        for hop in (250, 80):
            cells = []
            patches = PAPER_TRAIN_TRACKS * len(patch_starts(N_FRAMES, PATCH, hop))  # an epoch's
            for graphs in modes:
                seconds, clf = fold_epoch_seconds(X, y, hop, device, args, graphs, **spec.params)
                hours = seconds * args.epochs * 10 / 3600
                totals[graphs] += hours
                cells += [f"{seconds:.3f}", f"{patches / seconds:.0f}", f"{hours:.2f}"]
            print(f"{spec.label:>22} {hop:>4} " + " ".join(f"{c:>21}" for c in cells), flush=True)
            if hop == 250:  # the forward rate depends on the model, not on the hop
                rates.append(forward_rate(clf, device, args.projection_batch))
            model_multiply_adds = forward_multiply_adds(clf) * patches * args.epochs * 10
            multiply_adds += model_multiply_adds
            floor += 2 * model_multiply_adds / rates[-1] / 3600
    print(f"{'all 16 runs':>22} {'':>4} " + " ".join(
        f"{'':>21} {'':>21} {totals[graphs]:21.2f}" for graphs in modes))
    if len(modes) == 2:
        print(f"graphed / skorch's step: {totals[True] / totals[False]:.2f} of the time")
    print(f"floor: the protocol's training forward passes are {multiply_adds:.2e} "
          f"multiply-adds; each model's at the rate of its own fused forward pass measured "
          f"here ({min(rates) / 1e9:.1f} to {max(rates) / 1e9:.1f} GFLOP/s, batch "
          f"{args.projection_batch}), they alone take {floor:.1f} h")


def real_fold(args, device):
    """One fold of the protocol, end to end, against the projection's figure for it.

    On a Ballroom-sized set of random spectrograms (698 tracks: 628 train, 69
    of them held out for validation, 70 test), for the O-net + P-net at hops
    250 and 80: what :func:`projection` counts for the fold (its
    :func:`fold_epoch_seconds` times ``--epochs``), then a fresh fit of
    ``--epochs`` epochs and the prediction of the test tracks, timed whole.
    """
    X, y = data(698, seed=3)
    train, test = slice(0, 628), slice(628, None)
    print(f"\none fold end to end (O+P, 628 + 70 tracks, {PAPER_VALID_TRACKS} of the 628 held "
          f"out, {args.epochs} epochs, batch {args.projection_batch}, "
          f"cuda_graphs={args.cuda_graphs})")
    print(f"{'hop':>4} {'projected (s)':>14} {'fit + predict (s)':>18} "
          f"{'measured / projected':>21}")
    for hop in (250, 80):
        seconds, clf = fold_epoch_seconds(X[train], y[train], hop, device, args,
                                          args.cuda_graphs, **MODELS["o+p"].params)  # fmt: skip
        projected = seconds * args.epochs
        clf.predict(X[test][:2])  # warm-up of prediction
        clf.set_params(warm_start=False, max_epochs=args.epochs)  # the next fit starts afresh
        start = time.perf_counter()
        clf.fit(X[train], y[train]).predict(X[test])
        measured = time.perf_counter() - start
        print(f"{hop:>4} {projected:14.1f} {measured:18.1f} {measured / projected:21.2f}",
              flush=True)


def concurrent(args, device):
    """Total training rate of K fits at once, one process each, against the first K's."""
    X, y = data(args.tracks)
    print(f"\nconcurrent fits (O+P, batch {args.batches[0]}, {args.tracks} tracks, "
          f"cuda_graphs={args.cuda_graphs}, one process each)")
    reference = f"vs {args.concurrent[0]} fit{'s' * (args.concurrent[0] > 1)}"
    print(f"{'fits':>5} {'patches/s together':>19} {reference:>10}")
    context = multiprocessing.get_context("spawn")
    first = None
    for n_fits in args.concurrent:
        barrier, results = context.Barrier(n_fits), context.Queue()
        workers = [context.Process(target=_concurrent_fit, args=(
            args.batches[0], device, args.fit_epochs, args.cuda_graphs, barrier, results, X, y,
            args.threads)) for _ in range(n_fits)]  # fmt: skip
        for worker in workers:
            worker.start()
        spans = [results.get() for _ in workers]
        for worker in workers:
            worker.join()
        start, end = min(s for s, _, _ in spans), max(e for _, e, _ in spans)
        rate = sum(patches for _, _, patches in spans) / (end - start)
        first = first or rate
        print(f"{n_fits:>5} {rate:19.0f} {rate / first:10.2f}", flush=True)


def _concurrent_fit(batch, device, epochs, cuda_graphs, barrier, results, X, y, threads):
    """One process of :func:`concurrent`: a warm-up fit, then timed epochs once all are ready."""
    if threads:
        torch.set_num_threads(threads)
    clf = estimator("O+P", batch, device, "auto", max_epochs=1, cuda_graphs=cuda_graphs)
    clf.fit(X, y)
    clf.set_params(warm_start=True, max_epochs=epochs)
    barrier.wait()
    start = time.time()
    clf.fit(X, y)
    synchronize(device)
    patches = len(patch_starts(X.shape[2], clf.patch_frames, clf.patch_frames))
    results.put((start, time.time(), epochs * len(X) * patches))


def forward_multiply_adds(clf):
    """Multiply-adds of one patch through the filter bank (valid correlations, every band)."""
    bank = clf.net_.module_.filterbank
    n = bank._filter_lengths
    return float(bank.n_subbands * bank.pool_bands * (n * (PATCH - n + 1)).sum())


def forward_rate(clf, device, batch, min_seconds=1.0):
    """FLOP/s (2 per multiply-add) of the fused filter bank's forward pass alone."""
    bank = clf.net_.module_.filterbank
    x = torch.randn(batch, N_BANDS, PATCH, device=device)
    with torch.no_grad():
        calls = calls_per_second(lambda: bank(x), device, min_seconds)
    return 2 * forward_multiply_adds(clf) * batch * calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, help="torch (and numba) threads")
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=NETWORKS)
    parser.add_argument("--batches", nargs="+", type=int, default=[50, 256])
    parser.add_argument("--tracks", type=int, help="training tracks (default: 64 CPU, 512 GPU)")
    parser.add_argument("--fit-epochs", type=int, default=2, help="epochs timed per fit")
    parser.add_argument("--reference-fraction", type=int, default=4,
                        help="the reference estimator is timed on 1/N of the tracks (slow)")
    parser.add_argument("--skip-throughput", action="store_true",
                        help="leave out the throughput table")
    parser.add_argument("--host-overhead", action="store_true",
                        help="time a training step whose kernels cost next to nothing")
    parser.add_argument("--projection", action="store_true", help="project the paper protocol")
    parser.add_argument("--projection-batch", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=100, help="epochs for the projection")
    parser.add_argument("--cuda-graphs", action="store_true",
                        help="graphed training steps in the concurrent fits and the real fold")
    parser.add_argument("--concurrent", nargs="+", type=int, metavar="K",
                        help="time K fits at once (one process each), for each K")
    parser.add_argument("--real-fold", action="store_true",
                        help="time one fold end to end against the projection's method")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    if args.tracks is None:
        args.tracks = 512 if torch.device(device).type == "cuda" else 64
    if torch.device(device).type == "cuda":
        import triton

        name = torch.cuda.get_device_name(device)
        print(f"{name}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
              f"triton {triton.__version__}")
    else:
        print(f"CPU: torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"{os.cpu_count()} CPUs")
    # most telling first: a run cut short by a time limit keeps what it printed
    if not args.skip_throughput:
        throughput(args, device)
    if args.host_overhead:
        host_overhead(args, device)
    if args.projection:
        projection(args, device)
    if args.real_fold:
        real_fold(args, device)
    if args.concurrent:
        concurrent(args, device)
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
