"""Which training recipe converges: learning curves of the CNNs on the embedded data.

The question: with how many epochs, and which optimiser, does a CNN
estimator's ``fit`` finish learning on a small data set? For each recipe
(plain SGD as in the paper, SGD with Nesterov momentum, Adam) it trains the
O-net + P-net (and, with ``--models``, other models of ``skrhythm compare``)
on the quick protocol's folds of the embedded data and scores the held-out
tracks after every epoch. It prints, per recipe, the mean track accuracy at
a few epochs, the epoch after which the curve stays within 1 point of its
best, and writes every curve to ``benchmarks/results/convergence.json``.

    python benchmarks/bench_convergence.py            # O-net + P-net, ~5 min on 2 cores
    python benchmarks/bench_convergence.py --models o+p,onet,pnet --epochs 120
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from _report import write_json
from skorch.callbacks import Callback

from skrhythm._spec import MODELS
from skrhythm.experiments import comparison_features, make_folds, make_protocol

FIGURES = Path(__file__).parent / "figures"

#: Optimiser settings compared; every recipe keeps the paper's learning-rate rule.
RECIPES = {
    "sgd (paper)": {"optimizer": torch.optim.SGD, "lr": 0.01, "momentum": 0.0, "nesterov": False},
    "sgd nesterov 0.8": {"optimizer": torch.optim.SGD, "lr": 0.01, "momentum": 0.8,
                         "nesterov": True},
    "sgd nesterov 0.9": {"optimizer": torch.optim.SGD, "lr": 0.01, "momentum": 0.9,
                         "nesterov": True},
    "adam 1e-3": {"optimizer": torch.optim.Adam, "lr": 1e-3},
}


class ScoreEachEpoch(Callback):
    """Track accuracy of held-out tracks after every epoch (torch's random state untouched)."""

    def __init__(self, estimator, X, y):
        self.estimator, self.X, self.y, self.curve = estimator, X, y, []

    def __deepcopy__(self, memo):  # the estimator copies its callbacks at fit: keep this one
        return self

    def on_epoch_end(self, net, **kwargs):
        with torch.random.fork_rng():
            self.curve.append(float((self.estimator.predict(self.X) == self.y).mean()))


def curves(name, recipe, X, y, folds, epochs, seed):
    """Per-fold accuracy curves (n_folds, epochs) of model ``name`` trained with ``recipe``."""
    per_fold = []
    for train, test in folds:
        params = dict(recipe)
        if params["optimizer"] is not torch.optim.SGD:
            params.update(momentum=0.0, nesterov=False)
        hop = MODELS[name].runs_at((250,))[0]  # the quick protocol's hop, or the model's own
        estimator = MODELS[name].build(hop, training={"max_epochs": epochs, "random_state": seed,
                                                     **params}, features={})
        scorer = ScoreEachEpoch(estimator, X[test], y[test])
        estimator.set_params(callbacks=[scorer])
        estimator.fit(X[train], y[train])
        curve = scorer.curve + [scorer.curve[-1]] * (epochs - len(scorer.curve))  # stopped early
        per_fold.append(curve)
    return np.array(per_fold)


def converged_at(mean_curve, tolerance=0.01):
    """First epoch (1-based) after which the curve stays within ``tolerance`` of its best."""
    best = mean_curve.max()
    below = np.flatnonzero(mean_curve < best - tolerance)
    return int(below[-1] + 2) if below.size else 1


def plot_curves(results, path):
    """Mean accuracy curves of every (model, recipe) in ``results``, one panel per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(r["model"] for r in results.values()))
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 3.4), squeeze=False,
                             sharey=True, layout="constrained")
    colours = {recipe: f"C{i}" for i, recipe in enumerate(RECIPES)}
    for ax, model in zip(axes[0], models, strict=True):
        for r in results.values():
            if r["model"] == model:
                curve = 100 * np.asarray(r["mean_curve"])
                ax.plot(np.arange(1, curve.size + 1), curve, label=r["recipe"],
                        color=colours.get(r["recipe"]))
        ax.set_title(MODELS[model].label)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    axes[0][0].set_ylabel("held-out track accuracy (%)")
    fig.savefig(path, dpi=110)
    print(f"curves drawn in {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="o+p")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="convergence", help="name of the JSON in results/")
    parser.add_argument("--plot", nargs="+", metavar="JSON",
                        help="draw the curves of these result files and exit")
    args = parser.parse_args()
    if args.plot:
        import json

        results = {}
        for path in args.plot:
            results.update(json.loads(Path(path).read_text())["results"])
        plot_curves(results, FIGURES / "convergence.png")
        return
    protocol = make_protocol("quick")
    X, y, groups, description = comparison_features(
        "embedded", protocol=protocol, seed=args.seed, cache_dir="/tmp/skrhythm-bench-cache",
        progress=False)
    folds = make_folds(y, groups, protocol.n_folds, protocol.cv, args.seed)
    torch.set_num_threads(torch.get_num_threads())
    results = {}
    checkpoints = [e for e in (10, 20, 30, 50, 75, 100, 150, 250) if e <= args.epochs]
    print(f"{description}, {protocol.n_folds} folds, up to {args.epochs} epochs "
          "(mean track accuracy over the folds)")
    print(f"{'model':8} {'recipe':18} " + " ".join(f"{'ep' + str(e):>6}" for e in checkpoints)
          + "   best  converged  seconds")
    for name in args.models.split(","):
        for recipe_name in args.recipes.split(","):
            start = time.perf_counter()
            per_fold = curves(name, RECIPES[recipe_name], X, y, folds, args.epochs, args.seed)
            seconds = time.perf_counter() - start
            mean = per_fold.mean(axis=0)
            at = converged_at(mean)
            results[f"{name} / {recipe_name}"] = {
                "model": name, "recipe": recipe_name, "mean_curve": mean.tolist(),
                "fold_curves": per_fold.tolist(), "best": float(mean.max()),
                "converged_epoch": at, "seconds": seconds}
            print(f"{name:8} {recipe_name:18} "
                  + " ".join(f"{mean[e - 1]:6.3f}" for e in checkpoints)
                  + f"  {mean.max():5.3f}  {at:9d}  {seconds:7.0f}", flush=True)
    write_json(args.out, {"data": description, "n_folds": protocol.n_folds,
                               "epochs": args.epochs, "results": results})
    plot_curves(results, FIGURES / f"{args.out}.png")


if __name__ == "__main__":
    main()
