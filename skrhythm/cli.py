"""The ``skrhythm`` command: ``compare``, ``train`` and ``predict``.

Each sub-command checks its options, then calls the library:
``compare`` is :func:`skrhythm.experiments.compare`; ``train`` fits
:func:`skrhythm.experiments.make_model` models behind a
:class:`~skrhythm.LogMelTransformer` and saves them with
:func:`skrhythm.persistence.save_model`. Parsing imports neither torch nor
scikit-learn, so ``--help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import warnings
from contextlib import contextmanager, nullcontext
from pathlib import Path

import numpy as np

from . import __version__
from ._limits import TEMPO_FACTORS, tempo_range_problem
from ._spec import DATA_HELP, DEFAULT_TEMPO_AUGMENT, MODELS, PROTOCOLS, OptionError, parse_data_spec


class CLIError(Exception):
    """An error reported as one line, without a traceback."""


class Interrupted(CLIError):
    """The user interrupted the command (Ctrl-C); exit code 130."""


#: Suffixes ``train --out`` accepts (the formats of :func:`skrhythm.persistence.save_model`).
MODEL_SUFFIXES = (".skops", ".joblib", ".pkl", ".pickle")

#: Fewest tracks of a class that ``train`` accepts without a warning.
FEW_TRACKS = 5


def _models(value):
    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        names = ", ".join(unknown) or repr(value)
        raise argparse.ArgumentTypeError(
            f"unknown model(s) {names}; choose from {', '.join(MODELS)}"
        )
    return tuple(dict.fromkeys(names))


def _positive(value):
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return number


def _n_jobs(value):
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number == 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive number of jobs, or -1 for every core (-2: all but one), "
            f"got {value}")
    return number


def _sizes(value):
    sizes = [_positive(v.strip()) for v in value.split(",") if v.strip()]
    if not sizes:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {value!r}")
    return tuple(sorted(set(sizes)))


def _factors(value):
    """Tempo factors ``0.92,1.08``, or ``none``; checked against their bounds by the library."""
    if value.strip().lower() == "none":
        return ()
    try:
        return tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected tempo factors such as 0.92,1.08, or none; got {value!r}") from None


def _augment(value):
    """``tempo`` (the default range) or ``tempo:LOW,HIGH``."""
    kind, _, factors = value.partition(":")
    if kind.strip().lower() != "tempo":
        raise argparse.ArgumentTypeError(
            f"expected tempo or tempo:LOW,HIGH (e.g. tempo:0.85,1.18); got {value!r}")
    if not factors:
        return "default"
    bounds = _factors(factors)
    if len(bounds) != 2 or tempo_range_problem("--augment", bounds):
        low, high = TEMPO_FACTORS
        raise argparse.ArgumentTypeError(
            f"expected tempo:LOW,HIGH with {low:g} <= LOW <= HIGH <= {high:g} (e.g. "
            f"tempo:0.85,1.18); got {value!r}")
    return bounds


def _fraction(value):
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {value}")
    return number


def _model_list():
    width = max(map(len, MODELS))
    return "\n".join(f"  {name:<{width}}  {spec.label}" for name, spec in MODELS.items())


EPILOG = f"""\
models (--models, --model):
{_model_list()}

examples:
  skrhythm compare                                   # quick protocol, generated data
  skrhythm compare --models onet,o+p,tempo --folds 5 --repeats 3 --out run1
  skrhythm compare --protocol paper --data ballroom:~/data/Ballroom --n-jobs 4
  skrhythm compare --out run1 --resume               # continue an interrupted run
  skrhythm datasize --data ballroom:~/data/Ballroom --sizes 2,4,8,16,32
  skrhythm train --model o+p --data folder:my_dances --out o+p.skops
  skrhythm train --model onet,pnet,tempo --out 'models/{{model}}.skops'
  skrhythm predict o+p.skops song1.mp3 song2.wav
"""

DEVICE_HELP = "where the CNNs train: cpu, cuda, or auto (cuda when there is one; default cpu)"
SEED_HELP = "seed of the generated data, the folds and the models (default 0)"
AUGMENT_HELP = ("train the CNNs with tempo augmentation, so that they learn rhythms rather than "
                "tempos: each patch cut at a random tempo factor in LOW-HIGH (default "
                f"{DEFAULT_TEMPO_AUGMENT[0]:g},{DEFAULT_TEMPO_AUGMENT[1]:g}); without: none, as "
                "the paper")
THREADS_HELP = ("torch threads per fit (default: 1 when --n-jobs runs several fits at a time, "
                "else torch's default, one per core); recorded in config.json")


def build_parser():
    """The argument parser of the ``skrhythm`` command."""
    parser = argparse.ArgumentParser(
        prog="skrhythm",
        description="Rhythm and dance-style classification with the O-net/P-net CNNs of "
        "Pons & Serra (ICASSP 2017).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"skrhythm {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an unexpected error")
    # Sub-command copy of --debug; SUPPRESS keeps the main parser's value when absent.
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show the traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", required=True)

    cmp = sub.add_parser("compare", help="run the paper's architecture comparison",
                         parents=[debug], epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    cmp.add_argument("--data", default="embedded", help=DATA_HELP)
    cmp.add_argument("--protocol", choices=sorted(PROTOCOLS), default="quick",
                     help="quick: a few minutes on a laptop CPU (default); paper: 10 folds, "
                     "both hops, all models, up to 250 epochs")
    cmp.add_argument("--models", "--model", dest="models", type=_models,
                     help="comma-separated model names (see below; default: the protocol's)")
    cmp.add_argument("--folds", type=_positive,
                     help="number of folds, at least 2 (default: the protocol's)")
    cmp.add_argument("--repeats", type=_positive, default=1,
                     help="repetitions of the cross-validation, fold seeds seed+r (default 1)")
    cmp.add_argument("--cv", choices=("stratified", "paper"),
                     help="fold scheme (default: the protocol's)")
    cmp.add_argument("--epochs", type=_positive,
                     help="maximum training epochs (default: the protocol's)")
    cmp.add_argument("--n-per-class", type=_positive,
                     help="tracks per class of the embedded data (default: the protocol's)")
    cmp.add_argument("--tempo-shifts", type=_factors, metavar="FACTORS",
                     help="the tempo-robustness test: every fit also predicts its test tracks "
                     "played at these tempo factors, e.g. 0.92,1.08 (the default), or none")
    cmp.add_argument("--augment", type=_augment, metavar="tempo[:LOW,HIGH]", help=AUGMENT_HELP)
    cmp.add_argument("--n-jobs", type=_n_jobs, default=1,
                     help="(model, fold) fits run in parallel; -1: one per core (default 1)")
    cmp.add_argument("--threads", type=_positive, help=THREADS_HELP)
    cmp.add_argument("--scheduler", help="address of a dask.distributed scheduler to run on")
    cmp.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu", help=DEVICE_HELP)
    cmp.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    cmp.add_argument("--out", default="skrhythm-results",
                     help="output folder (default skrhythm-results)")
    cmp.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    cmp.add_argument("--no-progress", action="store_true",
                     help="no progress display (bars in a terminal, one line per fit elsewhere)")

    dsz = sub.add_parser(
        "datasize", help="accuracy against training tracks per class (the poster's claim 2)",
        parents=[debug], epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train every model on nested, stratified subsets of each fold's training "
        "tracks (the same folds for every model) and test on the whole test fold; write "
        "datasize.csv/json/md and datasize.png to --out.")
    dsz.add_argument("--data", default="embedded", help=DATA_HELP)
    dsz.add_argument("--models", "--model", dest="models", type=_models,
                     default=("o+p", "timefreq", "blackbox", "rhythm"),
                     help="comma-separated model names, o+p among them (default "
                     "o+p,timefreq,blackbox,rhythm)")
    dsz.add_argument("--sizes", type=_sizes,
                     help="training tracks per class, comma-separated (default 2,4,8,... up "
                     "to what every fold holds)")
    dsz.add_argument("--folds", type=_positive, default=3, help="number of folds (default 3)")
    dsz.add_argument("--hop", type=_positive, default=250,
                     help="O-net/P-net patch hop in frames (default 250)")
    dsz.add_argument("--epochs", type=_positive,
                     help="CNN epochs at the largest size; smaller sizes train proportionally "
                     "more, for the same number of gradient steps (default: the quick "
                     "protocol's)")
    dsz.add_argument("--n-per-class", type=_positive,
                     help="tracks per class of the embedded data (default: the quick protocol's)")
    dsz.add_argument("--n-jobs", type=_n_jobs, default=1,
                     help="fits run in parallel; -1: one per core (default 1)")
    dsz.add_argument("--threads", type=_positive, help=THREADS_HELP)
    dsz.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu", help=DEVICE_HELP)
    dsz.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    dsz.add_argument("--out", default="skrhythm-datasize",
                     help="output folder (default skrhythm-datasize)")
    dsz.add_argument("--no-progress", action="store_true", help="no progress display")

    trn = sub.add_parser("train", help="fit models on a data set and save them",
                         parents=[debug], epilog=EPILOG,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    trn.add_argument("--data", default="embedded", help=DATA_HELP)
    trn.add_argument("--models", "--model", dest="models", type=_models, default=("o+p",),
                     help="model name(s), comma-separated (default o+p); each is trained on "
                     "its own and saved to its own file")
    trn.add_argument("--hop", type=_positive, default=80,
                     help="patch hop of the CNNs in frames (default 80)")
    trn.add_argument("--epochs", type=_positive,
                     help="training epochs of the CNNs (default: each model's own, 50 for the "
                     "O-net/P-net models, 30 for the CBMI baselines)")
    trn.add_argument("--augment", type=_augment, metavar="tempo[:LOW,HIGH]", help=AUGMENT_HELP)
    trn.add_argument("--valid", type=_fraction, default=0.2,
                     help="fraction of the tracks held out to report validation accuracy per "
                     "epoch (default 0.2; 0: none). The model keeps the weights of its best "
                     "validation epoch")
    trn.add_argument("--n-per-class", type=_positive, default=12,
                     help="tracks per class of the embedded data (default 12)")
    trn.add_argument("--n-jobs", type=_n_jobs, default=1,
                     help="tracks generated, decoded and transformed in parallel (default 1)")
    trn.add_argument("--threads", type=_positive, help="torch threads (default: torch's)")
    trn.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu", help=DEVICE_HELP)
    trn.add_argument("--seed", type=int, default=0, help=SEED_HELP)
    trn.add_argument("--out", required=True,
                     help="model file: .skops (safe to share), .joblib or .pkl; with several "
                     "models, a name holding {model}, replaced by each model's name "
                     "(e.g. 'models/{model}.skops')")

    prd = sub.add_parser(
        "predict", help="predict the style of whole recordings with a saved model",
        parents=[debug], description="Predict the style of each recording from all its windows "
        "(patches) and report how much of it the windows cover. Files that cannot be read stop "
        "the command, unless --skip-bad.")
    prd.add_argument("model", help="a model file written by 'skrhythm train'")
    prd.add_argument("files", nargs="+", metavar="AUDIO",
                     help="audio files, directories (searched recursively) or quoted glob "
                     "patterns such as 'dances/**/*.mp3'; WAV, FLAC, OGG, Opus, MP3, M4A/AAC, "
                     "AIFF and AU are read")
    prd.add_argument("--format", choices=("table", "csv", "json"), default="table",
                     help="output on stdout: a line per recording, CSV or JSON (default table)")
    prd.add_argument("--duration", type=_seconds, metavar="SECONDS",
                     help="use only the first SECONDS of each recording (default: all of it)")
    prd.add_argument("--windows", metavar="FILE",
                     help="also write every window's class probabilities (start and end in "
                     "seconds) to FILE, .csv or .json (CNN models)")
    prd.add_argument("--skip-bad", action="store_true",
                     help="leave out files that cannot be read, list them at the end, and "
                     "predict the others (exit code 0 if any was predicted)")
    prd.add_argument("--trusted", action="store_true",
                     help="trust the model file as a program you run: needed for .joblib/.pkl "
                     "files (loading them runs any code they hold), and allows every type "
                     "in a .skops file")
    return parser


def _say(message):
    print(message, file=sys.stderr, flush=True)


def _check_device(device):
    """``--device cuda`` needs CUDA; checked before any data are read."""
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise CLIError("--device cuda: CUDA is not available on this machine; use "
                           "--device cpu, or auto (CUDA when there is one)")


#: The flag of each option the library names by its parameter (see OptionError).
FLAGS = {"n_folds": "--folds", "max_epochs": "--epochs", "n_per_class": "--n-per-class",
         "models": "--models", "cv": "--cv", "sizes": "--sizes", "device": "--device",
         "n_jobs": "--n-jobs", "threads": "--threads", "repeats": "--repeats",
         "protocol": "--protocol", "data": "--data", "hop": "--hop",
         "tempo_shifts": "--tempo-shifts", "tempo_augment": "--augment"}


def _as_flag(error):
    """An OptionError of the library in the words of the command line."""
    flag = FLAGS.get(error.option, f"--{error.option.replace('_', '-')}")
    value = ",".join(map(str, error.value)) if isinstance(error.value, (list, tuple)) \
        else error.value
    if error.option == "tempo_augment":
        value = f"tempo:{value}"
    return f"{flag} {value}: {error.problem}"


# -- compare -------------------------------------------------------------------------------


def cmd_compare(args):
    from .experiments import (
        RunFolderLocked,
        check_run_options,
        compare,
        make_protocol,
    )

    parse_data_spec(args.data)
    _check_device(args.device)
    options = dict(models=args.models, n_folds=args.folds, cv=args.cv, max_epochs=args.epochs,
                   n_per_class=args.n_per_class, tempo_shifts=args.tempo_shifts,
                   tempo_augment=args.augment)
    make_protocol(args.protocol, **options)
    check_run_options(device=args.device, n_jobs=args.n_jobs, threads=args.threads,
                      repeats=args.repeats)
    out = Path(args.out)
    try:
        with _backend(args.scheduler):
            compare(args.data, protocol=args.protocol, out_dir=out, **options,
                    repeats=args.repeats, seed=args.seed, device=args.device,
                    n_jobs=args.n_jobs, threads=args.threads, resume=args.resume,
                    progress=not args.no_progress)
    except RunFolderLocked as exc:
        raise CLIError(str(exc)) from None
    except KeyboardInterrupt:
        done = len(list((out / "folds").glob("*.json")))
        raise Interrupted(f"interrupted: {done} finished fold results are kept in {out} "
                          "(the interrupted fits wrote nothing); continue with the same "
                          "command and --resume") from None
    return 0


# -- datasize ------------------------------------------------------------------------------


def cmd_datasize(args):
    from .experiments import RunFolderLocked, check_run_options
    from .experiments.datasize import datasize_experiment

    parse_data_spec(args.data)
    _check_device(args.device)
    if "o+p" not in args.models:
        raise CLIError("--models must include o+p (the claim is about O-net + P-net)")
    check_run_options(device=args.device, n_jobs=args.n_jobs, threads=args.threads)
    try:
        datasize_experiment(args.data, out_dir=args.out, models=args.models, sizes=args.sizes,
                            n_folds=args.folds, hop=args.hop, max_epochs=args.epochs,
                            n_per_class=args.n_per_class, seed=args.seed, device=args.device,
                            n_jobs=args.n_jobs, threads=args.threads,
                            progress=not args.no_progress)
    except RunFolderLocked as exc:
        raise CLIError(str(exc)) from None
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: no data-size results were written to {args.out} (the "
                          "feature cache is kept)") from None
    return 0


class _backend:
    """joblib's dask backend on a scheduler address, or nothing."""

    def __init__(self, address):
        self.address = address
        if address is not None:
            try:
                import distributed  # noqa: F401
            except ImportError:
                raise CLIError("--scheduler needs the distributed extra: "
                               "pip install 'skrhythm[distributed]'") from None

    def __enter__(self):
        if self.address is None:
            self._ctx = None
            return self
        import joblib
        from distributed import Client

        self._client = Client(self.address)
        self._ctx = joblib.parallel_backend("dask")
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.__exit__(*exc)
            self._client.close()
        return False


# -- train ---------------------------------------------------------------------------------


def _train_outputs(names, out):
    """The file each model is saved to: ``out``, with ``{model}`` replaced by its name."""
    if len(names) > 1 and "{model}" not in out:
        raise CLIError(f"--out {out!r}: with several models ({', '.join(names)}) the file name "
                       "must hold {model}, replaced by each model's name, e.g. "
                       "'models/{model}.skops'")
    paths = {name: Path(out.replace("{model}", name)) for name in names}
    for path in paths.values():
        if path.suffix.lower() not in MODEL_SUFFIXES:
            raise CLIError(f"--out {out!r}: a model file ends in .skops (safe to share), "
                           f".joblib or .pkl, not {path.suffix or 'no suffix'!r}")
        if path.is_dir():
            raise CLIError(f"--out {out!r}: {path} is a folder")
        existing = next(p for p in path.parents if p.exists())  # the rest is created
        if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            raise CLIError(f"--out {out!r}: {existing} is not a folder that can be written")
    return paths


def _validation(y, fraction):
    """``train_split`` for the CNNs: ``fraction`` when every class can give tracks, else None."""
    _, counts = np.unique(y, return_counts=True)
    n_valid = int(np.ceil(fraction * len(y)))
    if fraction and counts.min() >= 2 and len(counts) <= n_valid <= len(y) - len(counts):
        return fraction
    if fraction:
        _say(f"  note: too few tracks to hold out {fraction:g} of them for validation with "
             "every class in both parts; the accuracy shown is on the training patches only")
    return None


def cmd_train(args):
    outputs = _train_outputs(args.models, args.out)
    parse_data_spec(args.data)
    _check_device(args.device)
    from sklearn.pipeline import Pipeline

    from . import experiments
    from .experiments._data import transform_with_bar
    from .features import LogMelTransformer
    from .inference import RESERVED_NAMES
    from .parallel import limit_torch_threads
    from .persistence import save_model
    from .training import show_epochs

    inputs, y, _, description = experiments.load_data(
        args.data, n_per_class=args.n_per_class, duration=30.0, seed=args.seed,
        n_jobs=args.n_jobs)
    classes, counts = np.unique(y, return_counts=True)
    clash = sorted(set(map(str, classes)) & set(RESERVED_NAMES))
    if clash:
        raise CLIError(f"--data {args.data}: the labels {', '.join(clash)} are names of the "
                       f"columns 'skrhythm predict' writes ({', '.join(RESERVED_NAMES)}), so the "
                       "model's predictions could not be written; rename those folders")
    _say(f"skrhythm train: {', '.join(args.models)} on {description}: {len(y)} tracks, "
         f"{len(classes)} classes")
    few = [f"{c} ({n})" for c, n in zip(classes, counts) if n < FEW_TRACKS]
    if few:
        _say(f"  warning: classes with fewer than {FEW_TRACKS} tracks: {', '.join(few)}; the "
             "model will hardly learn them")
    logmel = LogMelTransformer(duration=30.0)
    X = transform_with_bar(logmel.set_params(n_jobs=args.n_jobs), inputs, True)
    logmel.set_params(n_jobs=None)
    del inputs
    valid = _validation(y, args.valid)
    augment = DEFAULT_TEMPO_AUGMENT if args.augment == "default" else args.augment
    if args.device == "cpu" and any(MODELS[name].filterbank for name in outputs):
        from .nn._kernels._numba import prepare_kernels

        prepare_kernels(notify=lambda message: _say(f"  {message}..."))
    for name, path in outputs.items():
        model = experiments.make_model(name, args.hop, max_epochs=args.epochs,
                                       train_split=valid, random_state=args.seed,
                                       device=args.device, tempo_augment=augment)
        restore = show_epochs(model, _say, prefix=f"  {name}: ")
        _say(f"{name} ({MODELS[name].label}):")
        try:
            with limit_torch_threads(args.threads) if args.threads else nullcontext():
                model.fit(X, y)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted: training of {name} stopped, nothing was saved to "
                              f"{path}") from None
        if restore is not None:
            restore(model)  # the saved model holds no progress display
        else:
            _say(f"  {name}: training accuracy {np.mean(model.predict(X) == y):.3f}")
        save_model(Pipeline([("logmel", logmel), ("model", model)]), path)
        _say(f"  saved to {path}")
    return 0


# -- predict -------------------------------------------------------------------------------


def _seconds(value):
    number = float(value)
    if not number > 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value}")
    return number


def cmd_predict(args):
    from ._store import atomic_write
    from .audio import AudioDecodeError, find_audio_files
    from .inference import RESERVED_NAMES, RecordingWarning, load_for_prediction, predict_tables

    if hasattr(sys.stdout, "reconfigure"):  # file names that are not UTF-8 print as on disk
        sys.stdout.reconfigure(errors="surrogateescape")
    if args.windows:
        _check_output_file("--windows", args.windows, (".csv", ".json"))
    files = find_audio_files(args.files)  # names the argument that matches nothing
    model = load_for_prediction(args.model, trusted=args.trusted)
    if _uses_cpu_kernels(model):
        from .nn._kernels._numba import prepare_kernels

        prepare_kernels(training=False, notify=lambda message: _say(f"{message}..."))
    try:
        with warnings.catch_warnings():  # padded and skipped files are reported below
            warnings.simplefilter("ignore", RecordingWarning)
            predictions, windows, errors = predict_tables(
                model, files, duration=args.duration, windows=bool(args.windows),
                on_error="skip" if args.skip_bad else "raise",
                progress=len(files) > 1 and sys.stderr.isatty())
    except (OSError, AudioDecodeError) as exc:
        hint = "; --skip-bad predicts the other files" if len(files) > 1 else ""
        raise CLIError(f"{exc}{hint}") from None
    table = predictions.rename(columns={"prediction": "style"})
    classes = [c for c in table if c not in RESERVED_NAMES]  # a column per class
    table[classes] = table[classes].round(4)
    table[["seconds", "seconds_used"]] = table[["seconds", "seconds_used"]].round(2)
    if args.format == "json":
        print(_json_records(table))
    elif args.format == "csv":
        table.to_csv(sys.stdout, index=False, lineterminator="\n")
    else:
        for row in table.to_dict(orient="records"):
            top = sorted(classes, key=lambda c: -row[c])[:3]
            scores = "  (" + ", ".join(f"{c} {row[c]:.2f}" for c in top) + ")" if top else ""
            print(f"{row['file']}: {row['style']}{scores}  [{_coverage(row)}]")
    if args.windows:
        # surrogateescape: names that are not UTF-8 are written as on disk
        with atomic_write(args.windows, "w", encoding="utf-8", errors="surrogateescape") as f:
            if args.windows.lower().endswith(".json"):
                f.write(_json_records(windows) + "\n")
            else:
                windows.to_csv(f, index=False)
        _say(f"{len(windows)} windows of {len(table)} recordings written to {args.windows}")
    if errors:
        _say(f"skipped {len(errors)} of {len(files)} files that could not be read:\n"
             + "\n".join(f"  {name}: {cause}" for name, cause in errors.items()))
    return 0


def _uses_cpu_kernels(model):
    """Whether a model loaded for prediction runs the numba filter bank."""
    cnn = getattr(model, "module", None)  # a SavedCNN
    if cnn is None:
        cnn = getattr(getattr(model[-1], "net_", None), "module_", None)
    bank = getattr(cnn, "filterbank", None)
    if bank is None:
        return False
    from .nn._kernels import FAST

    return bank.resolved_implementation(next(bank.parameters()).device) == FAST


def _check_output_file(option, name, suffixes):
    """Refuse, before any work, an output file that could not be written."""
    path = Path(name)
    if path.suffix.lower() not in suffixes:
        raise CLIError(f"{option} {name}: the file name must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise CLIError(f"{option} {name}: is a folder")
    folder = path.parent
    if not folder.is_dir():
        raise CLIError(f"{option} {name}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CLIError(f"{option} {name}: folder {folder} cannot be written")


def _json_records(table):
    """A table as a JSON list of records: valid JSON whatever the file names.

    A name that is not UTF-8 on disk holds surrogate escapes, which are written
    as ``\\udcXX`` escapes: Python's json module reads them back to the same
    name, and ``os.fsencode`` gives its bytes.
    """
    records = [{key: _json_value(value) for key, value in row.items()}
               for row in table.to_dict(orient="records")]
    text = json.dumps(records, indent=1, ensure_ascii=False, allow_nan=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_value(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _coverage(row):
    """How much of a recording a prediction rests on, in words."""
    if row["n_windows"] == 0:
        text = f"{row['seconds_used']:.1f} s, features of the whole recording (no windows)"
    elif row["padded"]:
        text = f"{row['seconds']:.1f} s, padded: shorter than one window of the model"
    else:
        text = (f"{row['seconds_used']:.1f} of {row['seconds']:.1f} s in "
                f"{row['n_windows']} windows")
    return text + (", cropped to --duration" if row["cropped"] else "")


@contextmanager
def _warnings_as_lines(command):
    """Show warnings as ``skrhythm COMMAND: warning: ...`` lines, without source paths."""
    previous = warnings.formatwarning

    def line(message, category, filename, lineno, line=None):
        return f"skrhythm {command}: warning: {message}\n"

    warnings.formatwarning = line  # (what Python shows; recorded warnings stay as they are)
    try:
        yield
    finally:
        warnings.formatwarning = previous


def main(argv=None):
    """Entry point of the ``skrhythm`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command = {"compare": cmd_compare, "datasize": cmd_datasize, "train": cmd_train,
               "predict": cmd_predict}[args.command]
    debug = getattr(args, "debug", False)
    from .parallel import workers_die_with_this_process

    try:
        # a killed command leaves no worker behind; warnings read as the command's own
        with workers_die_with_this_process(), _warnings_as_lines(args.command):
            return command(args)
    except Interrupted as exc:
        print(f"skrhythm {args.command}: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"skrhythm {args.command}: interrupted", file=sys.stderr)
        return 130
    except OptionError as exc:
        print(f"skrhythm {args.command}: error: {_as_flag(exc)}", file=sys.stderr)
        return 1
    except (CLIError, OSError, ValueError, ImportError) as exc:  # FileNotFoundError, ... too
        if debug:
            import traceback

            traceback.print_exc()
        print(f"skrhythm {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if debug:
            import traceback

            traceback.print_exc()
        else:
            print(f"skrhythm {args.command}: error: {type(exc).__name__}: {exc} (an unexpected "
                  "error; run again with --debug to see where it happened)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
