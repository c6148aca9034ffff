"""Benchmark the baselines against the O-net / P-net on synthetic Ballroom-like data.

Runs the CBMI 2016 CNN baselines (:class:`skrhythm.baselines.BaselineCNNClassifier`),
the O-net + P-net (:class:`skrhythm.MusicCNNClassifier`) and the non-deep
rhythm-descriptor and tempo pipelines (:mod:`skrhythm.rhythm`) on the same
stratified folds of :func:`skrhythm.datasets.make_ballroom_like`, from log-mel
spectrograms computed once, and prints a table of parameter counts, track
accuracy (mean +- std over folds) and mean fit time per fold, one row as
each model finishes (cheapest first).

Usage::

    python benchmarks/bench_baselines.py            # 80 tracks of 30 s, 5 folds, 20 epochs
    python benchmarks/bench_baselines.py --quick    # 32 tracks of 10 s, 2 folds, 2 epochs

Synthetic data are not Ballroom: the numbers compare the models with each
other on one easy, generated task, not with the paper's.
"""

from __future__ import annotations

import argparse
import time

from sklearn.model_selection import StratifiedKFold, cross_validate

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.baselines import BaselineCNNClassifier
from skrhythm.datasets import make_ballroom_like
from skrhythm.rhythm import make_rhythm_descriptor_pipeline, make_tempo_pipeline


def make_models(sr, hop_length, max_epochs, seed):
    """Models by table label; the CNNs use 80-frame patch hops, as the paper's best runs."""
    cnn = dict(max_epochs=max_epochs, random_state=seed)
    return {
        "Tempo only (SVM)": make_tempo_pipeline(sr, hop_length),
        "Rhythm descriptor + tempo (SVM)": make_rhythm_descriptor_pipeline(sr, hop_length),
        "Time [CBMI 2016]": BaselineCNNClassifier("time", **cnn),
        "Time-freq [CBMI 2016]": BaselineCNNClassifier("timefreq", **cnn),
        "Black-box [CBMI 2016]": BaselineCNNClassifier("blackbox", **cnn),
        "O-net + P-net": MusicCNNClassifier(1, 1, patch_hop=80, **cnn),
    }


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small, fast run (smoke test)")
    parser.add_argument("--n-per-class", type=int, help="tracks per class (default 10; quick 4)")
    parser.add_argument("--duration", type=float, help="seconds per track (default 30; quick 10)")
    parser.add_argument("--folds", type=int, help="stratified folds (default 5; quick 2)")
    parser.add_argument("--epochs", type=int, help="CNN max_epochs (default 20; quick 2)")
    parser.add_argument("--seed", type=int, default=0, help="data, folds and weights seed")
    parser.add_argument("--only", nargs="+", metavar="WORD", help="run models whose label has WORD")
    args = parser.parse_args(argv)
    defaults = (4, 10.0, 2, 2) if args.quick else (10, 30.0, 5, 20)
    for name, default in zip(("n_per_class", "duration", "folds", "epochs"), defaults):
        if getattr(args, name) is None:
            setattr(args, name, default)
    return args


def main(argv=None):
    args = parse_args(argv)
    logmel = LogMelTransformer(duration=None)  # paper features: 44.1 kHz, hop 1024, 40 bands
    start = time.perf_counter()
    data = make_ballroom_like(args.n_per_class, args.duration, logmel.sr, random_state=args.seed)
    X = logmel.transform(data.data)
    y = data.target
    print(
        f"make_ballroom_like: {len(y)} tracks x {args.duration:g} s, {len(data.target_names)} "
        f"classes; log-mel {X.shape[1:]} in {time.perf_counter() - start:.1f} s; "
        f"{args.folds} stratified folds, CNN max_epochs={args.epochs}, seed {args.seed}"
    )
    folds = list(StratifiedKFold(args.folds, shuffle=True, random_state=args.seed).split(X, y))
    models = make_models(logmel.sr, logmel.hop_length, args.epochs, args.seed)
    if args.only:
        models = {k: m for k, m in models.items() if any(w.lower() in k.lower() for w in args.only)}
    header = f"| {'model':<32} | {'params':>9} | {'accuracy (%)':>14} | {'fit time (s)':>12} |"
    print("\n" + header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|", flush=True)
    rows = []
    for label, model in models.items():
        res = cross_validate(model, X, y, cv=folds, return_estimator=True, error_score="raise")
        n_params = getattr(res["estimator"][0], "n_params_", None)
        acc, fit_time = res["test_score"], res["fit_time"].mean()
        rows.append((label, n_params, acc.mean(), acc.std(), fit_time))
        params = "-" if n_params is None else f"{n_params:,}"
        accuracy = f"{100 * acc.mean():.1f} +- {100 * acc.std():.1f}"
        print(f"| {label:<32} | {params:>9} | {accuracy:>14} | {fit_time:>12.1f} |", flush=True)
    return rows


if __name__ == "__main__":
    main()
