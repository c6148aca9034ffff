"""Rhythm or tempo? The tempo-robustness test with and without tempo augmentation.

The question: how much accuracy does each model lose when the test tracks
are played 8 % slower or faster, and does training the CNNs with tempo
augmentation remove that loss without costing accuracy at the original
tempos? It runs ``skrhythm compare`` (quick protocol, embedded data, the
same folds) twice, without and with ``--augment tempo``, prints one table
of both, checks the targets (O-net + P-net: worst drop at most 5 points with
augmentation, original-tempo accuracy within 2 points of the unaugmented
model's) and writes everything to ``benchmarks/results/tempo_robustness.json``.

    python benchmarks/bench_tempo_robustness.py                 # ~10 min on 2 cores
    python benchmarks/bench_tempo_robustness.py --augment 0.8,1.25 --models o+p,pnet
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _report import write_json

from skrhythm import experiments
from skrhythm._spec import DEFAULT_TEMPO_AUGMENT, run_label


def run(models, augment, out, n_jobs, seed):
    start = time.perf_counter()
    result = experiments.compare(out_dir=out, models=models, tempo_augment=augment,
                                 n_jobs=n_jobs, seed=seed, progress=False, verbose=False)
    tempo = experiments.comparison_statistics(result.records)["tempo"]
    return tempo, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="o+p,pnet,onet,tempo,rhythm")
    parser.add_argument("--augment", default=",".join(f"{f:g}" for f in DEFAULT_TEMPO_AUGMENT),
                        help="LOW,HIGH tempo factors of the augmented run")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    models = tuple(args.models.split(","))
    augment = tuple(float(f) for f in args.augment.split(","))
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, range_ in (("plain", None), ("augmented", augment)):
            tempo, seconds = run(models, range_, Path(tmp) / name, args.n_jobs, args.seed)
            runs[name] = {"seconds": seconds, "tempo": tempo}
            print(f"{name}: compare took {seconds:.0f} s", flush=True)
    factors = sorted(f for f in runs["plain"]["tempo"]["factor"].unique() if f != 1.0)
    print(f"\n| model | training | original | {' | '.join(f'x{f:g}' for f in factors)} "
          "| worst drop (points) | 95% interval |")
    print("| --- | --- | ---: | " + " | ".join("---:" for _ in factors) + " | ---: | --- |")
    figures = {}
    for (model, hop), rows in runs["plain"]["tempo"].groupby(["model", "hop"], sort=False):
        for name in runs:
            t = runs[name]["tempo"]
            r = t[(t["model"] == model) & (t["hop"] == hop)].set_index("factor")
            if name == "augmented" and model in ("tempo", "rhythm"):
                continue  # not CNNs: augmentation does not apply
            worst = r.drop(index=1.0)["drop"].idxmax()
            figures[f"{model} / {name}"] = {
                "accuracy": {f"{f:g}": float(r.loc[f, "accuracy"]) for f in r.index},
                "worst_drop": float(r.loc[worst, "drop"]), "worst_factor": float(worst),
                "worst_drop_interval": [float(r.loc[worst, "drop_low"]),
                                        float(r.loc[worst, "drop_high"])],
                "worst_drop_p": float(r.loc[worst, "p"])}
            print(f"| {run_label(rows['label'].iloc[0], hop)} | {name} | "
                  f"{100 * r.loc[1.0, 'accuracy']:.1f} | "
                  + " | ".join(f"{100 * r.loc[f, 'accuracy']:.1f}" for f in factors)
                  + f" | {100 * r.loc[worst, 'drop']:+.1f} | {100 * r.loc[worst, 'drop_low']:+.1f}"
                  f" to {100 * r.loc[worst, 'drop_high']:+.1f} |")
    targets = {}
    if "o+p" in models:
        plain, aug = figures["o+p / plain"], figures["o+p / augmented"]
        targets = {
            "o+p worst drop with augmentation <= 5 points": aug["worst_drop"] <= 0.05,
            "o+p original accuracy within 2 points of unaugmented":
                abs(aug["accuracy"]["1"] - plain["accuracy"]["1"]) <= 0.02,
            "worst drop, augmented / plain": aug["worst_drop"] / plain["worst_drop"]
            if plain["worst_drop"] else None,
        }
        for what, value in targets.items():
            print(f"{what}: {value}")
    write_json("tempo_robustness", {
        "question": "accuracy at tempo x0.92 and x1.08, with and without tempo augmentation",
        "augment": augment, "models": models,
        "compare_seconds": {name: runs[name]["seconds"] for name in runs},
        "figures": figures, "targets": targets})


if __name__ == "__main__":
    main()
