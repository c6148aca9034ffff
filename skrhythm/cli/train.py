"""``skrhythm train``: fit models, save them with cards (``experiments.train_models``)."""

from __future__ import annotations

import argparse

from ._common import (
    AUGMENT_HELP,
    DEVICE_HELP,
    EPILOG,
    SEED_HELP,
    add_data,
    augment,
    factors,
    library_errors,
    model_names,
    n_jobs,
    positive,
)

HELP = "fit models on a data set and save them, each with its model card"


def _fraction(value):
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {value}")
    return number


def add_parser(subparsers, parents):
    parser = subparsers.add_parser("train", help=HELP, parents=parents, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data(parser)
    parser.add_argument("--models", "--model", dest="models", type=model_names, default=("o+p",),
                        help="model name(s), comma-separated (default o+p); each is trained on "
                        "its own and saved to its own file")
    parser.add_argument("--hop", type=positive, default=80,
                        help="patch hop of the CNNs in frames (default 80)")
    parser.add_argument("--epochs", type=positive,
                        help="training epochs of the CNNs (default: each model's own, 50 for "
                        "the O-net/P-net models, 30 for the CBMI baselines)")
    parser.add_argument("--augment", type=augment, default="tempo",
                        metavar="tempo[:LOW,HIGH]|none",
                        help=AUGMENT_HELP + " (default tempo)")
    parser.add_argument("--valid", type=_fraction, default=0.2,
                        help="fraction of the tracks held out to report validation accuracy "
                        "per epoch (default 0.2; 0: none). The model keeps the weights of its "
                        "best validation epoch; its card gives its scores on these tracks")
    parser.add_argument("--tempo-shifts", type=factors, metavar="FACTORS",
                        default=(0.85, 0.92, 1.08, 1.15),
                        help="tempo factors at which the validation tracks are played again "
                        "for the model card (default 0.85,0.92,1.08,1.15; none: no test)")
    parser.add_argument("--n-per-class", type=positive, default=12,
                        help="tracks per class of the embedded data (default 12)")
    parser.add_argument("--n-jobs", type=n_jobs, default=1,
                        help="tracks generated, decoded and transformed in parallel (default 1)")
    parser.add_argument("--threads", type=positive, help="torch threads (default: torch's)")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu",
                        help=DEVICE_HELP)
    parser.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    parser.add_argument("--out", required=True,
                        help="model file: .skops (safe to share), .joblib or .pkl, with its "
                        "card beside it (NAME.card.md); with several models, a name holding "
                        "{model}, replaced by each model's name (e.g. 'models/{model}.skops')")
    return parser


def run(args):
    from ..experiments import train_models

    with library_errors():
        train_models(args.data, args.models, out=args.out, hop=args.hop,
                     max_epochs=args.epochs, tempo_augment=args.augment, valid=args.valid,
                     tempo_shifts=args.tempo_shifts, n_per_class=args.n_per_class,
                     seed=args.seed, device=args.device, n_jobs=args.n_jobs,
                     threads=args.threads)
    return 0
