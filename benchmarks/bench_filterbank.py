"""Throughput of the 1-by-n filter bank: ``"reference"`` against ``"fast"`` on the CPU.

For each network (O-net, P-net, O+P, 8xO+8xP) and batch size, on random
40-band x 250-frame patches, it measures in the same run, alternating the two
implementations:

* filter bank alone, forward without gradients (inference);
* one training step of the whole MusicCNN: forward, cross-entropy, backward,
  SGD step (the input needs no gradient, as in training);

and prints patches per second, the fast/reference ratio and, for the forward,
GFLOP/s counted as 2 x the exact multiply-adds of the valid convolutions
(per patch: sum over filters of n * bands_used * (n_frames - n + 1)). The peak
memory column is the growth of the maximum resident set size over one training
step (after a warm-up at batch 1): peak minus current resident set size, with
the peak reset just before the step (Linux ``/proc/self/clear_refs``), in a
fresh subprocess per implementation, network and batch size. The time the numba kernels take to
compile (first call, once per process) is printed first.

A prediction section then times the logits of every patch of 30-s tracks
(1,292 frames) for O+P at hops 250 and 80, in the same run: (a) the obvious
torch code (``implementation="reference"``, the tracks cut into patches,
batches of 50 patches through the evaluation-mode MusicCNN), (b) the same with
the fast filter bank, (c) ``MusicCNN.forward_windows`` on whole tracks (about
50 patches per call), each track correlated once; it prints patches per
second and the ratios to (a).

Run ``python benchmarks/bench_filterbank.py`` (``--quick`` for a short run,
``--threads N`` to set the number of torch and numba threads,
``--prediction-only`` for the prediction section alone).
Nothing here asserts anything: timings on a shared machine are noisy, so the
load average is printed alongside.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn

from skrhythm.nn.musiccnn import MusicCNN

N_BANDS, N_FRAMES, N_CLASSES = 40, 250, 8
NETWORKS = {"O": (1, 0), "P": (0, 1), "O+P": (1, 1), "8xO+8xP": (8, 8)}
TRACK_FRAMES, PREDICT_HOPS, PREDICT_BATCH, PREDICT_TRACKS = 1292, (250, 80), 50, 8


def build(network, implementation, seed=0):
    n_onet, n_pnet = NETWORKS[network]
    torch.manual_seed(seed)
    return MusicCNN(N_BANDS, N_CLASSES, n_onet, n_pnet, implementation=implementation)


def multiply_adds(net):
    """Exact multiply-adds of the valid convolutions for one patch."""
    bank = net.filterbank
    bands = bank.n_subbands * bank.pool_bands
    return sum(c * n * bands * (N_FRAMES - n + 1) for n, c in zip(bank.lengths, bank.counts))


def batch_of(batch, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, N_BANDS, N_FRAMES, generator=gen)
    y = torch.randint(N_CLASSES, (batch,), generator=gen)
    return x, y


def training_step(net, optimizer, x, y):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    optimizer.step()


def make_runs(network, batch):
    """One zero-argument callable per (task, implementation)."""
    x, y = batch_of(batch)
    runs = {}
    for implementation in ("reference", "fast"):
        net = build(network, implementation)
        optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

        def forward(net=net):
            with torch.no_grad():
                net.filterbank(x)

        def step(net=net, optimizer=optimizer):
            training_step(net, optimizer, x, y)

        runs["forward", implementation] = forward
        runs["train", implementation] = step
    return runs, multiply_adds(net)


def make_prediction_runs(hop):
    """Logits of every patch of ``PREDICT_TRACKS`` 30-s tracks, one callable per method."""
    gen = torch.Generator().manual_seed(2)
    tracks = torch.randn(PREDICT_TRACKS, N_BANDS, TRACK_FRAMES, generator=gen)
    starts = np.arange(0, TRACK_FRAMES - N_FRAMES + 1, hop)
    nets = {name: build("O+P", name).eval() for name in ("reference", "fast")}

    def by_patch(net):
        def run():
            patches = tracks.unfold(2, N_FRAMES, hop).transpose(1, 2)
            with torch.no_grad():
                for batch in patches.reshape(-1, N_BANDS, N_FRAMES).split(PREDICT_BATCH):
                    net(batch)

        return run

    def windowed():
        for batch in tracks.split(max(1, PREDICT_BATCH // len(starts))):
            nets["fast"].forward_windows(batch, starts, N_FRAMES)

    runs = {
        "reference": by_patch(nets["reference"]),
        "fast": by_patch(nets["fast"]),
        "windowed": windowed,
    }
    return runs, PREDICT_TRACKS * len(starts)


def prediction_section(repeats, min_seconds):
    print(
        f"\nprediction, O+P, {PREDICT_TRACKS} tracks of {TRACK_FRAMES} frames: (a) reference and "
        f"(b) fast by patch (batches of {PREDICT_BATCH}), (c) fast windowed (whole tracks)"
    )
    header = (
        f"{'hop':>4} {'patches':>7} | {'(a) patch/s':>11} | {'(b) patch/s':>11} {'b/a':>5} | "
        f"{'(c) patch/s':>11} {'c/a':>5} {'c/b':>5}"
    )
    print(header)
    print("-" * len(header))
    for hop in PREDICT_HOPS:
        runs, n_patches = make_prediction_runs(hop)
        seconds = time_alternating(runs, repeats, min_seconds)
        ref, fast, windowed = (seconds[key] for key in ("reference", "fast", "windowed"))
        print(
            f"{hop:>4} {n_patches:>7} | {n_patches / ref:11.1f} | "
            f"{n_patches / fast:11.1f} {ref / fast:5.2f} | "
            f"{n_patches / windowed:11.1f} {ref / windowed:5.2f} {fast / windowed:5.2f}",
            flush=True,
        )


def time_alternating(functions, repeats, min_seconds):
    """Median seconds per call of each function, calls of the functions interleaved."""
    for f in functions.values():
        f()  # warm-up
    times = {key: [] for key in functions}
    for _ in range(repeats):
        for key, f in functions.items():
            n_calls, start = 0, time.perf_counter()
            while True:
                f()
                n_calls += 1
                elapsed = time.perf_counter() - start
                if elapsed >= min_seconds:
                    break
            times[key].append(elapsed / n_calls)
    return {key: statistics.median(t) for key, t in times.items()}


def peak_memory_mib(network, batch, implementation):
    """Max-RSS growth (MiB) over one training step, in a fresh interpreter."""
    command = [sys.executable, __file__, "--memory", network, str(batch), implementation]
    command += ["--threads", str(torch.get_num_threads())]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def resident_kib(field):
    """``VmRSS`` (current) or ``VmHWM`` (peak) resident set size of this process, in KiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_child(network, batch, implementation):
    net = build(network, implementation)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    training_step(net, optimizer, *batch_of(1))  # compiles the kernels, warms the allocator
    x, y = batch_of(batch)
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # reset the peak resident set size to the current one
    before = resident_kib("VmRSS")
    training_step(net, optimizer, x, y)
    print((resident_kib("VmHWM") - before) / 1024)


def compile_seconds():
    """Seconds of the first fast forward and backward (numba compilation, float32)."""
    net = build("O+P", "fast")
    x, y = batch_of(1)
    start = time.perf_counter()
    with torch.no_grad():
        net.filterbank(x)
    forward = time.perf_counter() - start
    x.requires_grad_(True)  # compile the input-gradient kernel too
    start = time.perf_counter()
    nn.functional.cross_entropy(net(x), y).backward()
    return forward, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="O+P only, batch 1 and 50")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory column")
    parser.add_argument("--threads", type=int, help="torch (and so numba) threads to use")
    parser.add_argument(
        "--prediction-only", action="store_true", help="only the prediction section"
    )
    parser.add_argument("--memory", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory:
        network, batch, implementation = args.memory
        memory_child(network, int(batch), implementation)
        return

    networks = ["O+P"] if args.quick else list(NETWORKS)
    batches = [1, 50] if args.quick else [1, 50, 64]
    repeats, min_seconds = (3, 0.2) if args.quick else (5, 0.5)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    if args.prediction_only:
        prediction_section(repeats, min_seconds)
        print_load()
        return
    forward, backward = compile_seconds()
    print(f"numba compile: first forward {forward:.2f} s, first backward {backward:.2f} s")
    header = (
        f"{'network':>8} {'batch':>5} | {'task':>7} | {'ref patch/s':>11} {'fast patch/s':>12} "
        f"{'ratio':>6} | {'ref GFLOP/s':>11} {'fast GFLOP/s':>12} | {'ref MiB':>7} {'fast MiB':>8}"
    )
    print(header)
    print("-" * len(header))
    for network in networks:
        for batch in batches:
            runs, macs = make_runs(network, batch)
            seconds = time_alternating(runs, repeats, min_seconds)
            memory = {}
            if not args.no_memory:
                for implementation in ("reference", "fast"):
                    memory[implementation] = peak_memory_mib(network, batch, implementation)
            for task in ("forward", "train"):
                ref, fast = seconds[task, "reference"], seconds[task, "fast"]
                line = (
                    f"{network:>8} {batch:>5} | {task:>7} | "
                    f"{batch / ref:11.1f} {batch / fast:12.1f} {ref / fast:6.2f} | "
                )
                if task == "forward":
                    gflop = 2 * macs * batch / 1e9
                    line += f"{gflop / ref:11.1f} {gflop / fast:12.1f}"
                else:
                    line += f"{'':>11} {'':>12}"
                    if memory:
                        line += f" | {memory['reference']:7.1f} {memory['fast']:8.1f}"
                print(line, flush=True)
    prediction_section(repeats, min_seconds)
    print_load()


def print_load():
    print("load average (1, 5, 15 min): {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


if __name__ == "__main__":
    main()
