"""Peak memory of ``MusicCNNClassifier.predict`` on many short clips in one call.

Each clip is one patch: 40 mel bands x 250 frames of float32 (40 kB). For every
clip count (1,000 and 10,000 by default) a fresh process loads a model, builds
the input, resets its peak resident memory (Linux: ``/proc/self/clear_refs``)
and calls ``predict``. It reports

- ``input``: the size of the input array;
- ``peak_rss_added``: peak resident memory during ``predict`` minus the
  resident memory before it (all allocations: NumPy, torch, allocator caches);
- ``traced_peak``: the peak of the allocations :mod:`tracemalloc` sees during
  ``predict`` (NumPy arrays and Python objects; torch's are not traced);
- ``prepare_peak``: the same for the classifier's input standardisation
  (``_prepare``) alone, the suspect when memory grows with the clip count.

Prediction that streams batches adds about the same memory whatever the clip
count; memory that grows with the count (ratio near 10) comes from a copy of
the whole input.

Run::

    python benchmarks/bench_predict_memory.py [--sizes 1000 10000] [--n-mels 40] [--frames 250]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import joblib
import numpy as np


def _rss_kib(field):
    """``VmRSS`` (current) or ``VmHWM`` (peak) of this process in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def measure(model_path, n_clips):
    """Predict on ``n_clips`` one-patch clips; return the memory figures in MiB."""
    model = joblib.load(model_path)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_clips, model.n_features_in_, model.patch_frames), np.float32)
    model.predict(X[:10])  # warm up torch and the allocator outside the measurement
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _rss_kib("VmRSS")
    tracemalloc.start()
    start = time.perf_counter()
    model.predict(X)
    seconds = time.perf_counter() - start
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    model._prepare(X)
    prepare_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "n_clips": n_clips,
        "input_mib": X.nbytes / 2**20,
        "peak_rss_added_mib": (_rss_kib("VmHWM") - before) / 1024,
        "traced_peak_mib": traced_peak / 2**20,
        "prepare_peak_mib": prepare_peak / 2**20,
        "seconds": seconds,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--n-mels", type=int, default=40)
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))
        return

    import torch

    from skrhythm import MusicCNNClassifier

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, args.n_mels, args.frames), np.float32)
    # Untrained weights (max_epochs=0): memory does not depend on them.
    model = MusicCNNClassifier(patch_frames=args.frames, max_epochs=0, random_state=0)
    model.fit(X, np.arange(8) % 8)
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "model.joblib"
        joblib.dump(model, model_path)
        rows = []
        for n in args.sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(model_path), str(n)],
                check=True, capture_output=True, text=True,
            ).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"{'clips':>7} {'input MiB':>10} {'peak RSS added MiB':>19} "
          f"{'traced peak MiB':>16} {'_prepare MiB':>13} {'seconds':>8}")
    for r in rows:
        print(f"{r['n_clips']:>7} {r['input_mib']:>10.1f} {r['peak_rss_added_mib']:>19.1f} "
              f"{r['traced_peak_mib']:>16.1f} {r['prepare_peak_mib']:>13.1f} {r['seconds']:>8.1f}")
    first, last = rows[0], rows[-1]
    print(f"ratio {last['n_clips'] // first['n_clips']}x clips: peak RSS added x"
          f"{last['peak_rss_added_mib'] / first['peak_rss_added_mib']:.1f}, traced peak x"
          f"{last['traced_peak_mib'] / first['traced_peak_mib']:.1f}")


if __name__ == "__main__":
    main()
