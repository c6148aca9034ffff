"""How hard is the synthetic Ballroom-like set? Tempo-only baselines vs the CNN.

The classes of :func:`skrhythm.datasets.make_ballroom_like` draw their tempi
from the real Ballroom tempo distributions, which overlap (Rumba/Samba,
ChaChaCha/Tango, Jive/VienneseWaltz). This benchmark measures how far tempo
alone gets and how far the O-net + P-net CNN gets, with the same stratified
folds:

- logistic regression on a spline expansion of the log2 tempo: the generator's
  true tempo, a librosa estimate (``librosa.feature.tempo``), and their
  octave-folded variants (log2 tempo modulo 1, which removes the estimator's
  octave errors and the octave information with them);
- ``Pipeline([LogMelTransformer, MusicCNNClassifier(n_onet=1, n_pnet=1)])``
  (SGD with momentum 0.9 by default, to converge in few epochs on a CPU).
  LogMelTransformer learns nothing, so the spectrograms are computed once and
  only the CNN is cross-validated.

Run (the default set is 8 classes x 10 tracks x 30 s at 44.1 kHz)::

    python benchmarks/bench_dataset_difficulty.py              # ~10 min on 2 cores
    python benchmarks/bench_dataset_difficulty.py --quick      # ~2 min smoke run
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import SplineTransformer

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.datasets import make_ballroom_like


def estimate_tempo(wave, sr):
    """librosa's global tempo estimate of one waveform, in bpm."""
    import librosa

    return float(librosa.feature.tempo(y=wave, sr=sr)[0])


def tempo_model(columns):
    """Logistic regression on splines of log2-tempo columns.

    ``columns`` maps column index -> "raw" (log2 bpm) or "folded" (log2 bpm
    modulo 1, expanded with periodic splines).
    """
    folded_knots = np.linspace(0.0, 1.0, 9)[:, None]
    splines = [
        (
            f"{kind}{i}",
            SplineTransformer(n_knots=10, extrapolation="constant")
            if kind == "raw"
            else SplineTransformer(knots=folded_knots, extrapolation="periodic"),
            [i],
        )
        for i, kind in columns.items()
    ]
    return make_pipeline(ColumnTransformer(splines), LogisticRegression(C=10.0, max_iter=5000))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-per-class", type=int, default=10)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--sr", type=int, default=44100)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD momentum of the CNN")
    parser.add_argument("--patch-hop", type=int, default=None, help="default: 250 (no overlap)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="5 tracks per class, 12 s at 22.05 kHz, patch hop 80, 20 epochs",
    )
    args = parser.parse_args()
    if args.quick:
        args.n_per_class, args.duration, args.sr = 5, 12.0, 22050
        args.patch_hop, args.epochs = 80, 20
    # Keep the paper's time scale (hop 1024 at 44.1 kHz, 250-frame patches).
    hop = int(round(1024 * args.sr / 44100))

    start = time.perf_counter()
    data = make_ballroom_like(
        args.n_per_class, args.duration, args.sr, random_state=args.seed, n_jobs=args.n_jobs
    )
    print(
        f"generated {data.data.shape[0]} tracks x {args.duration:g} s at {args.sr} Hz "
        f"in {time.perf_counter() - start:.1f} s"
    )
    y = data.target
    estimated = np.array(
        Parallel(n_jobs=args.n_jobs)(delayed(estimate_tempo)(w, data.sr) for w in data.data)
    )
    octave_error = np.abs(np.log2(estimated / data.tempo))
    print(
        f"librosa tempo within 4 % of the truth: {np.mean(octave_error < 0.057):.0%}, "
        f"off by an octave: {np.mean(np.abs(octave_error - 1) < 0.057):.0%}"
    )
    log_true, log_est = np.log2(data.tempo), np.log2(estimated)
    cv = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    candidates = [
        ("tempo LR", "true tempo", np.c_[log_true], {0: "raw"}),
        ("tempo LR", "true tempo, octave-folded", np.c_[log_true % 1], {0: "folded"}),
        ("tempo LR", "librosa tempo", np.c_[log_est], {0: "raw"}),
        ("tempo LR", "librosa tempo, octave-folded", np.c_[log_est % 1], {0: "folded"}),
        (
            "tempo LR",
            "librosa tempo, raw + folded",
            np.c_[log_est, log_est % 1],
            {0: "raw", 1: "folded"},
        ),
    ]
    rows = []
    for model, features, X, columns in candidates:
        scores = cross_validate(tempo_model(columns), X, y, cv=cv)
        rows.append((model, features, scores["test_score"], scores["fit_time"].mean()))

    logmel = LogMelTransformer(
        sr=args.sr, n_fft=2 * hop, hop_length=hop, duration=None, n_jobs=args.n_jobs
    )
    spectrograms = logmel.transform(data.data)
    cnn = MusicCNNClassifier(
        n_onet=1,
        n_pnet=1,
        patch_hop=args.patch_hop,
        max_epochs=args.epochs,
        optimizer_params={"momentum": args.momentum},
        random_state=0,
    )
    scores = cross_validate(cnn, spectrograms, y, cv=cv)
    rows.append(("O+P CNN", "log-mel", scores["test_score"], scores["fit_time"].mean()))

    print(
        f"\n{args.folds}-fold stratified CV accuracy (chance {1 / len(data.target_names):.1%}); "
        f"CNN: SGD lr 0.01 momentum {args.momentum}, {args.epochs} epochs, "
        f"patch hop {args.patch_hop or 250}"
    )
    print(f"| {'model':<9}| {'features':<30}| {'accuracy':<16}| fit s |")
    print(f"|{'-' * 10}|{'-' * 31}|{'-' * 17}|-------|")
    for model, features, acc, fit_time in rows:
        print(
            f"| {model:<9}| {features:<30}| {acc.mean():6.1%} +- {acc.std():5.1%} "
            f"| {fit_time:5.1f} |"
        )


if __name__ == "__main__":
    main()
