"""End to end: wall time of the default ``skrhythm compare`` and a projection of the paper protocol.

The projection times one training epoch of every O-net/P-net model at hops 250
and 80 on generated 30-s tracks, per training patch, and scales it to the
paper protocol on a Ballroom-sized set: 698 tracks, 10 folds (9/10 of the
tracks train, 69 of them held out for validation), ``--epochs`` epochs.

Usage: ``python benchmarks/bench_compare.py [--skip-compare] [--epochs 100]``
"""

import argparse
import subprocess
import sys
import tempfile
import time

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.datasets import make_ballroom_like
from skrhythm.experiments import MODELS
from skrhythm.training import patch_starts

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--skip-compare", action="store_true")
parser.add_argument("--epochs", type=int, default=100, help="epochs assumed for the projection")
parser.add_argument("--tracks", type=int, default=16, help="tracks timed per model")
args = parser.parse_args()

if not args.skip_compare:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "skrhythm.cli", "compare", "--out", out,
                        "--no-progress"], check=True, capture_output=True)
        wall = time.perf_counter() - start
        print(f"skrhythm compare (default quick protocol): {wall:.0f} s wall")

data = make_ballroom_like(n_per_class=max(1, args.tracks // 8), random_state=0)
X = LogMelTransformer().transform(data.data)
train_tracks = 698 * 9 // 10 - 69
print(f"\nprojection: 698 tracks, 10 folds, {train_tracks} training tracks per fold, "
      f"{args.epochs} epochs")
print(f"{'model':>22} {'hop':>4} {'s/epoch here':>13} {'patches/s':>10} {'paper protocol (h)':>19}")
total = 0.0
for spec in MODELS.values():
    if spec.kind != "musiccnn":
        continue
    for hop in (250, 80):
        clf = MusicCNNClassifier(**spec.params, patch_hop=hop, max_epochs=1, random_state=0)
        clf.fit(X, data.target)  # compiles the kernels; not timed
        start = time.perf_counter()
        clf.set_params(warm_start=True).fit(X, data.target)
        seconds = time.perf_counter() - start
        patches = len(X) * len(patch_starts(X.shape[2], 250, hop))
        per_patch = seconds / patches
        hours = per_patch * train_tracks * len(patch_starts(1292, 250, hop)) * args.epochs * 10
        total += hours / 3600
        print(f"{spec.label:>22} {hop:>4} {seconds:>13.2f} {1 / per_patch:>10.0f} "
              f"{hours / 3600:>19.1f}")
print(f"{'all 16 runs':>22} {'':>4} {'':>13} {'':>10} {total:>19.1f}")
