"""``skrhythm datasize``: accuracy against training data, :func:`~skrhythm.experiments.datasize`."""

from __future__ import annotations

import argparse

from .._spec import DATASIZE_MODELS
from ._common import (
    DEVICE_HELP,
    EPILOG,
    SEED_HELP,
    THREADS_HELP,
    add_data,
    library_errors,
    model_names,
    n_jobs,
    positive,
)

HELP = "accuracy against training tracks per class (the poster's claim 2)"


def _sizes(value):
    sizes = [positive(v.strip()) for v in value.split(",") if v.strip()]
    if not sizes:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {value!r}")
    return tuple(sorted(set(sizes)))


def add_parser(subparsers, parents):
    parser = subparsers.add_parser(
        "datasize", help=HELP, parents=parents, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train every model on nested, stratified subsets of each fold's training "
        "tracks (the same folds for every model) and test on the whole test fold; write "
        "datasize.csv/json/md and datasize.png to --out.")
    add_data(parser)
    parser.add_argument("--models", "--model", dest="models", type=model_names,
                        default=DATASIZE_MODELS,
                        help="comma-separated model names, o+p among them (default "
                        f"{','.join(DATASIZE_MODELS)})")
    parser.add_argument("--sizes", type=_sizes,
                        help="training tracks per class, comma-separated (default 2,4,8,... up "
                        "to what every fold holds)")
    parser.add_argument("--folds", type=positive, default=3, help="number of folds (default 3)")
    parser.add_argument("--hop", type=positive, default=250,
                        help="O-net/P-net patch hop in frames (default 250)")
    parser.add_argument("--epochs", type=positive,
                        help="CNN epochs at the largest size; smaller sizes train "
                        "proportionally more, for the same number of gradient steps (default: "
                        "the quick protocol's)")
    parser.add_argument("--n-per-class", type=positive,
                        help="tracks per class of the embedded data (default: the quick "
                        "protocol's)")
    parser.add_argument("--n-jobs", type=n_jobs, default=1,
                        help="fits run in parallel; -1: one per core (default 1)")
    parser.add_argument("--threads", type=positive, help=THREADS_HELP)
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                        help=DEVICE_HELP)
    parser.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    parser.add_argument("--out", default="skrhythm-datasize",
                        help="output folder (default skrhythm-datasize)")
    parser.add_argument("--no-progress", action="store_true", help="no progress display")
    return parser


def run(args):
    from ..experiments.datasize import datasize_experiment

    with library_errors():
        datasize_experiment(args.data, out_dir=args.out, models=args.models, sizes=args.sizes,
                            n_folds=args.folds, hop=args.hop, max_epochs=args.epochs,
                            n_per_class=args.n_per_class, seed=args.seed, device=args.device,
                            n_jobs=args.n_jobs, threads=args.threads,
                            progress=not args.no_progress)
    return 0
