"""Where a training step's time goes: torch's profiler over estimator fit epochs.

Fits ``MusicCNNClassifier`` (O-net + P-net by default, hop 250, the paper's
batch of 50) on random 40-band spectrograms of 30-s tracks, then profiles
``--epochs`` more epochs and prints the operators that take the most host
(CPU) time and the most device time, and how much of the wall time the
device was busy with kernels and copies (the profiler's own ranges, such as
the optimiser step, left out). When the device is busy for a small share of
the time, the host (Python, dispatch, kernel launches) sets the pace, not
the kernels. The profiler slows the host down, so the step time here is
longer than unprofiled.

Usage::

    python benchmarks/profile_step.py --device cuda [--cuda-graphs]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from skrhythm import MusicCNNClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--network", nargs=2, type=int, default=[1, 1], metavar=("ONET", "PNET"))
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--tracks", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=12, help="operators listed per table")
    parser.add_argument("--cuda-graphs", action="store_true", help="graphed training steps")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.tracks, 40, 1292)).astype(np.float32)
    y = rng.integers(8, size=args.tracks)
    clf = MusicCNNClassifier(n_onet=args.network[0], n_pnet=args.network[1],
                             batch_size=args.batch, device=args.device, lr_schedule=None,
                             max_epochs=1, random_state=0,
                             cuda_graphs=args.cuda_graphs).fit(X, y)  # fmt: skip
    clf.set_params(warm_start=True, max_epochs=args.epochs)
    cuda = torch.device(args.device).type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        start = time.perf_counter()
        clf.fit(X, y)
        if cuda:
            torch.cuda.synchronize()
        wall = time.perf_counter() - start
    steps = sum(epoch["train_batch_count"] for epoch in clf.history_[-args.epochs :])
    print(f"{args.device}: {steps} steps in {wall:.2f} s, {1e3 * wall / steps:.2f} ms a step, "
          f"{steps * args.batch / wall:.0f} patches/s")  # fmt: skip
    events = prof.key_averages()
    print(events.table(sort_by="self_cpu_time_total", row_limit=args.rows))
    if cuda:
        print(events.table(sort_by="self_device_time_total", row_limit=args.rows))
        kernels = [event for event in prof.events()
                   if event.device_type == DeviceType.CUDA and not event.is_user_annotation]
        busy = sum(event.self_device_time_total for event in kernels) / 1e6  # fmt: skip
        print(f"device busy (kernels and copies) {busy:.3f} s of {wall:.3f} s wall "
              f"({busy / wall:.0%})")  # fmt: skip


if __name__ == "__main__":
    main()
