"""Which tempo-augmentation range makes a trained model hold its accuracy at +-15 % tempo?

The question behind ``skrhythm train``'s default ``--augment tempo`` range:
an O-net + P-net (shipped defaults, patch hop 80, as ``skrhythm train``
fits it) is trained on the embedded generated data without augmentation
and with each candidate range, and tested on fresh generated tracks (another
seed) played at tempo x0.85, x0.92, x1, x1.08 and x1.15: the same tracks,
generated again at each tempo (``make_ballroom_like(tempo_scale=...)``), so
only the tempo changes. It prints one table (accuracy per tempo, the worst
drop at +-8 % and at +-15 % in points) and writes
``benchmarks/results/augment_range.json``. The reference is the model
trained without augmentation, in the same run.

    python benchmarks/bench_augment_range.py                      # ~45 min on 2 cores
    python benchmarks/bench_augment_range.py --ranges none,0.8-1.25 --n-per-class 8
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _report import write_json

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.datasets import make_ballroom_like

FACTORS = (0.85, 0.92, 1.0, 1.08, 1.15)


def features(n_per_class, seed, tempo_scale=1.0):
    data = make_ballroom_like(n_per_class=n_per_class, random_state=seed,
                              tempo_scale=tempo_scale, n_jobs=-1)
    return LogMelTransformer(duration=30.0, n_jobs=-1).transform(data.data), data.target


def parse_range(text):
    if text == "none":
        return None
    low, high = text.split("-")
    return float(low), float(high)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranges", default="none,0.85-1.18,0.8-1.25,0.75-1.33,0.7-1.4",
                        help="comma-separated LOW-HIGH ranges, 'none' for no augmentation")
    parser.add_argument("--n-per-class", type=int, default=24,
                        help="training tracks per class (default 24: 192 tracks)")
    parser.add_argument("--n-test", type=int, default=8, help="test tracks per class")
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    X, y = features(args.n_per_class, args.seed)
    tests = {f: features(args.n_test, args.seed + 1000, f) for f in FACTORS}
    rows = {}
    print(f"| augmentation | fit (s) | {' | '.join(f'x{f:g}' for f in FACTORS)} "
          "| worst drop +-8 % | worst drop +-15 % |")
    print("| --- | ---: | " + " | ".join("---:" for _ in FACTORS) + " | ---: | ---: |",
          flush=True)
    for text in args.ranges.split(","):
        augment = parse_range(text)
        model = MusicCNNClassifier(patch_hop=80, max_epochs=args.epochs, tempo_augment=augment,
                                   random_state=args.seed)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
        accuracy = {f: float(np.mean(model.predict(X_f) == y_f)) for f, (X_f, y_f) in tests.items()}
        near = max(accuracy[1.0] - accuracy[f] for f in (0.92, 1.08))
        far = max(accuracy[1.0] - accuracy[f] for f in (0.85, 1.15))
        rows[text] = {"augment": augment, "fit_seconds": seconds,
                      "accuracy": {f"{f:g}": a for f, a in accuracy.items()},
                      "worst_drop_8": near, "worst_drop_15": far}
        print(f"| {text} | {seconds:.0f} | "
              + " | ".join(f"{100 * accuracy[f]:.1f}" for f in FACTORS)
              + f" | {100 * near:+.1f} | {100 * far:+.1f} |", flush=True)
    write_json("augment_range", {
        "question": "accuracy of O-net + P-net (hop 80) at tempo x0.85-x1.15 after training "
                    "with each tempo-augmentation range",
        "train_tracks": len(y), "test_tracks_per_tempo": len(tests[1.0][1]),
        "epochs": args.epochs, "seed": args.seed, "ranges": rows})


if __name__ == "__main__":
    main()
