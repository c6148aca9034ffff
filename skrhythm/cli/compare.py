"""``skrhythm compare``: the architecture comparison, :func:`skrhythm.experiments.compare`."""

from __future__ import annotations

import argparse

from .._spec import CV_SCHEMES, PROTOCOLS
from ._common import (
    AUGMENT_HELP,
    DEVICE_HELP,
    EPILOG,
    SEED_HELP,
    THREADS_HELP,
    add_data,
    augment,
    factors,
    library_errors,
    model_names,
    n_jobs,
    positive,
)

HELP = "run the paper's architecture comparison"


def add_parser(subparsers, parents):
    parser = subparsers.add_parser("compare", help=HELP, parents=parents, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data(parser)
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="quick",
                        help="quick: a few minutes on a laptop CPU (default); paper: 10 folds, "
                        "both hops, all models, up to 250 epochs")
    parser.add_argument("--models", "--model", dest="models", type=model_names,
                        help="comma-separated model names (see below; default: the protocol's)")
    parser.add_argument("--folds", type=positive,
                        help="number of folds, at least 2 (default: the protocol's)")
    parser.add_argument("--repeats", type=positive, default=1,
                        help="repetitions of the cross-validation, fold seeds seed+r (default 1)")
    parser.add_argument("--cv", choices=CV_SCHEMES,
                        help="fold scheme (default: the protocol's): stratified (replicas and "
                        "duplicates kept together), paper (shuffled, as the paper's code), "
                        "album (Ballroom: no album on both sides), artist (Extended Ballroom: "
                        "no artist on both sides), group (folder: the groups of its groups.csv, "
                        "else of one sub-folder level <label>/<group>/<file>)")
    parser.add_argument("--epochs", type=positive,
                        help="maximum training epochs (default: the protocol's)")
    parser.add_argument("--n-per-class", type=positive,
                        help="tracks per class of the embedded data (default: the protocol's)")
    parser.add_argument("--tempo-shifts", type=factors, metavar="FACTORS",
                        help="the tempo-robustness test: every fit also predicts its test "
                        "tracks played at these tempo factors, e.g. 0.92,1.08 (the default), "
                        "or none")
    parser.add_argument("--augment", type=augment, metavar="tempo[:LOW,HIGH]|none",
                        help=AUGMENT_HELP + " (default none: the paper's training)")
    parser.add_argument("--confusion", type=model_names, default=(), metavar="MODELS",
                        help="also draw these models' confusion matrices (default: none; every "
                        "model's counts are written to confusion/*.csv, the best CNN's picture "
                        "always)")
    parser.add_argument("--n-jobs", type=n_jobs, default=1,
                        help="(model, fold) fits run in parallel; -1: one per core (default 1)")
    parser.add_argument("--threads", type=positive, help=THREADS_HELP)
    parser.add_argument("--scheduler", help="address of a dask.distributed scheduler to run on")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                        help=DEVICE_HELP)
    parser.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    parser.add_argument("--out", default="skrhythm-results",
                        help="output folder (default skrhythm-results)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run in --out")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress display (bars in a terminal, one line per fit "
                        "elsewhere)")
    return parser


def run(args):
    from ..experiments import compare
    from ..parallel import dask_backend

    with library_errors(), dask_backend(args.scheduler):
        compare(args.data, protocol=args.protocol, out_dir=args.out, models=args.models,
                n_folds=args.folds, cv=args.cv, max_epochs=args.epochs,
                n_per_class=args.n_per_class, tempo_shifts=args.tempo_shifts,
                tempo_augment=args.augment, repeats=args.repeats, seed=args.seed,
                device=args.device, n_jobs=args.n_jobs, threads=args.threads,
                resume=args.resume, confusion=args.confusion, progress=not args.no_progress)
    return 0
