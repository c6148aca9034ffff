"""The ``skrhythm`` command: ``compare``, ``train`` and ``predict``."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from . import __version__

DATA_HELP = (
    "embedded (generated ballroom-style set, the default), ballroom:PATH, "
    "extended-ballroom:PATH or folder:PATH (one sub-folder per label)"
)


class CLIError(Exception):
    """An error reported as one line, without a traceback."""


class Interrupted(CLIError):
    """The user interrupted the command (Ctrl-C); exit code 130."""


def _models(value):
    from .experiments import MODELS

    names = [v.strip().lower() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        names = ", ".join(unknown) or repr(value)
        raise argparse.ArgumentTypeError(
            f"unknown model(s) {names}; choose from {', '.join(MODELS)}"
        )
    return tuple(names)


def _positive(value):
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return number


def build_parser():
    """The argument parser of the ``skrhythm`` command."""
    from .experiments import PROTOCOLS

    parser = argparse.ArgumentParser(
        prog="skrhythm",
        description="Rhythm and dance-style classification with the O-net/P-net CNNs of "
        "Pons & Serra (ICASSP 2017).",
    )
    parser.add_argument("--version", action="version", version=f"skrhythm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    cmp = sub.add_parser("compare", help="run the paper's architecture comparison")
    cmp.add_argument("--data", default="embedded", help=DATA_HELP)
    cmp.add_argument("--protocol", choices=sorted(PROTOCOLS), default="quick",
                     help="quick: a few minutes on a laptop CPU (default); paper: 10 folds, "
                     "both hops, all models, up to 250 epochs")
    cmp.add_argument("--models", type=_models, help="comma-separated model names")
    cmp.add_argument("--folds", type=_positive, help="number of folds")
    cmp.add_argument("--cv", choices=("stratified", "paper"),
                     help="fold scheme (default: the protocol's)")
    cmp.add_argument("--epochs", type=_positive, help="maximum training epochs")
    cmp.add_argument("--n-per-class", type=_positive, help="tracks per class (embedded data)")
    cmp.add_argument("--n-jobs", type=int, default=1, help="parallel (model, fold) fits")
    cmp.add_argument("--scheduler", help="address of a dask.distributed scheduler to run on")
    cmp.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    cmp.add_argument("--seed", type=int, default=0)
    cmp.add_argument("--out", default="skrhythm-results", help="output folder")
    cmp.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    cmp.add_argument("--no-progress", action="store_true", help="no progress bar")

    trn = sub.add_parser("train", help="fit a model on a data set and save it")
    trn.add_argument("--data", default="embedded", help=DATA_HELP)
    trn.add_argument("--model", type=_models, default=("o+p",), help="model name (default o+p)")
    trn.add_argument("--hop", type=_positive, default=80, help="patch hop (default 80)")
    trn.add_argument("--epochs", type=_positive, default=20)
    trn.add_argument("--n-per-class", type=_positive, default=12)
    trn.add_argument("--device", default="cpu")
    trn.add_argument("--seed", type=int, default=0)
    trn.add_argument("--out", required=True, help="model file: .skops (safe) or .joblib")

    prd = sub.add_parser(
        "predict", help="predict the style of whole recordings with a saved model",
        description="Predict the style of each recording from all its windows (patches) and "
        "report how much of it the windows cover. Files that cannot be read stop the command, "
        "unless --skip-bad.")
    prd.add_argument("model", help="a model file written by 'skrhythm train'")
    prd.add_argument("files", nargs="+", metavar="AUDIO",
                     help="audio files, directories (searched recursively) or quoted glob "
                     "patterns such as 'dances/**/*.mp3'; WAV, FLAC, OGG, Opus, MP3, M4A/AAC, "
                     "AIFF and AU are read")
    prd.add_argument("--format", choices=("table", "csv", "json"), default="table")
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


# -- data ----------------------------------------------------------------------------------


def load_data(spec, *, n_per_class, duration, seed):
    """Resolve a ``--data`` value: return (inputs, target, groups, description).

    ``inputs`` are waveforms (embedded data) or file paths.
    """
    kind, _, path = spec.partition(":")
    kind = kind.lower()
    if kind == "embedded" and not path:
        from .datasets import make_ballroom_like

        bunch = make_ballroom_like(n_per_class=n_per_class, duration=duration, random_state=seed)
        return bunch.data, np.asarray(bunch.target), None, f"embedded ({n_per_class} per class)"
    loaders = {"ballroom": "load_ballroom", "extended-ballroom": "load_extended_ballroom",
               "folder": "load_audio_folder"}
    if kind not in loaders or not path:
        raise CLIError(f"--data {spec!r}: expected {DATA_HELP}")
    if not Path(path).exists():
        raise CLIError(f"--data {spec!r}: {path} does not exist")
    from . import datasets

    bunch = getattr(datasets, loaders[kind])(path)
    groups = bunch.get("groups")
    return list(bunch.filenames), np.asarray(bunch.target), groups, f"{kind}:{Path(path).resolve()}"


def _features(inputs, params, cache_dir, n_jobs):
    """Log-mel features of the inputs, cached on disk by their content and the parameters.

    The cache key is a hash of the waveforms, or each file's path, size and
    modification time. The entry is stored with its checksum (see
    :mod:`skrhythm._store`); a damaged entry is computed again, with a warning.
    """
    import hashlib

    from ._store import DamagedFileError, load_array, save_array
    from .features import LogMelTransformer

    key = hashlib.sha256(json.dumps([params, __version__], sort_keys=True).encode())
    if isinstance(inputs, np.ndarray):
        key.update(np.ascontiguousarray(inputs).view(np.uint8))
    else:
        for p in inputs:
            stat = Path(p).stat()
            key.update(json.dumps([os.fsdecode(p), stat.st_size, stat.st_mtime_ns]).encode(
                "utf-8", "surrogateescape"))
    path = Path(cache_dir) / f"features-{key.hexdigest()[:32]}.npz"
    try:
        return load_array(path)
    except FileNotFoundError:
        pass
    except DamagedFileError as exc:
        _say(f"  warning: feature cache {exc}; computing the features again")
    X = LogMelTransformer(**params, n_jobs=n_jobs).transform(inputs)
    save_array(path, X)
    return X


# -- commands ------------------------------------------------------------------------------


def cmd_compare(args):
    from dataclasses import replace

    from .experiments import PROTOCOLS, RunFolderLocked, run_folder_lock

    protocol = PROTOCOLS[args.protocol]
    protocol = replace(
        protocol,
        models=args.models or protocol.models,
        n_folds=args.folds or protocol.n_folds,
        cv=args.cv or protocol.cv,
        max_epochs=args.epochs or protocol.max_epochs,
        n_per_class=args.n_per_class or protocol.n_per_class,
    )
    out = Path(args.out)
    try:
        with run_folder_lock(out):
            return _compare_locked(args, protocol, out)
    except RunFolderLocked as exc:
        raise CLIError(str(exc)) from None


def _read_config(path):
    """The options a run folder's ``config.json`` records; a damaged one is an error."""
    fix = ("it records the options of that run, checked by --resume; delete it to resume "
           "anyway (the stored fold results are still checked against this run's settings)")
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CLIError(f"{path} is damaged ({exc}); {fix}") from None
    missing = [k for k in ("protocol", "data", "seed") if not isinstance(stored, dict)
               or k not in stored]
    if missing:
        raise CLIError(f"{path} is damaged (no {', '.join(missing)}); {fix}")
    return stored


def _compare_locked(args, protocol, out):
    from .experiments import MODELS, run_comparison, run_info, summarize, write_json_atomic

    feature_params = {"sr": 44100, "hop_length": 1024}
    info = run_info(protocol, data=args.data, seed=args.seed, device=args.device,
                    n_jobs=args.n_jobs, feature_params=feature_params)
    config_path = out / "config.json"
    if args.resume and config_path.exists():
        stored = _read_config(config_path)
        for key in ("protocol", "data", "seed"):
            if json.dumps(stored[key], sort_keys=True) != json.dumps(info[key], sort_keys=True,
                                                                        default=list):
                raise CLIError(f"--resume: the run in {out} used another {key} "
                               f"({stored[key]!r}); use the same options or another --out")
    elif (out / "folds").exists() and any((out / "folds").iterdir()) and not args.resume:
        raise CLIError(f"{out} already holds results; pass --resume to continue, "
                       "or choose another --out")
    _say(f"skrhythm compare: protocol {protocol.name!r}: {len(protocol.models)} models, "
         f"{protocol.n_folds} folds ({protocol.cv}), up to {protocol.max_epochs} epochs, "
         f"hops {'/'.join(map(str, protocol.hops))}; data {args.data}")
    if protocol.name == "quick":
        _say("  (quick protocol: fewer models, folds, epochs and tracks than the paper; "
             "--protocol paper runs the full comparison)")
    inputs, y, groups, description = load_data(args.data, n_per_class=protocol.n_per_class,
                                                duration=protocol.duration, seed=args.seed)
    info["data_description"] = description
    info["n_tracks"] = len(y)
    write_json_atomic(config_path, info)
    _say(f"  {len(y)} tracks, {len(set(y))} classes; computing log-mel features (cached)...")
    X = _features(inputs, {"duration": protocol.duration, **feature_params},
                  out / "cache", args.n_jobs)
    del inputs
    runner = dict(protocol=protocol, out_dir=out, groups=groups, seed=args.seed,
                  device=args.device, n_jobs=args.n_jobs, resume=True,
                  feature_params=feature_params, progress=not args.no_progress)
    try:
        with _backend(args.scheduler):
            records = run_comparison(X, y, **runner)
    except KeyboardInterrupt:
        done = len(list((out / "folds").glob("*.json")))
        raise Interrupted(f"interrupted: {done} finished fold results are kept in {out} "
                          "(the interrupted fits wrote nothing); continue with the same "
                          "command and --resume") from None
    table = summarize(records)
    _write_tables(table, out, info)
    _say("\n" + _markdown(table))
    _plots(table, records, out, MODELS)
    _say(f"\nResults, configuration and plots in {out}/ (results.csv, results.json, "
         "results.md, accuracy_vs_params.png, ...)")
    return 0


class _backend:
    """joblib's dask backend on a scheduler address, or nothing."""

    def __init__(self, address):
        self.address = address

    def __enter__(self):
        if self.address is None:
            self._ctx = None
            return self
        try:
            from distributed import Client
        except ImportError:
            raise CLIError("--scheduler needs the distributed extra: "
                           "pip install 'skrhythm[distributed]'") from None
        import joblib

        self._client = Client(self.address)
        self._ctx = joblib.parallel_backend("dask")
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.__exit__(*exc)
            self._client.close()
        return False


def _markdown(table):
    lines = ["| model | hop | params | track accuracy (%) | patch accuracy (%) | fit time (s) |",
             "| --- | --- | ---: | --- | ---: | ---: |"]
    for r in table.itertuples():
        params = "-" if r.params is None or np.isnan(float(r.params)) else f"{int(r.params):,}"
        patch = "-" if np.isnan(r.patch_accuracy) else f"{100 * r.patch_accuracy:.2f}"
        lines.append(f"| {r.label} | {r.hop or '-'} | {params} | "
                     f"{100 * r.accuracy:.2f} +- {100 * r.accuracy_std:.2f} | {patch} | "
                     f"{r.fit_time:.1f} |")
    return "\n".join(lines)


def _write_tables(table, out, info):
    from ._store import atomic_write
    from .experiments import write_json_atomic

    with atomic_write(out / "results.csv", "w") as f:
        table.to_csv(f, index=False)
    write_json_atomic(out / "results.json",
                      {"config": info, "results": table.to_dict(orient="records")})
    with atomic_write(out / "results.md", "w") as f:
        f.write(f"# skrhythm compare ({info['protocol']['name']} protocol)\n\n"
                f"{_markdown(table)}\n")


def _plots(table, records, out, models):
    import joblib
    import matplotlib

    matplotlib.use("Agg")
    from .plotting import (
        plot_accuracy_vs_params,
        plot_confusion_matrix,
        plot_filters,
        save_figure,
    )

    save_figure(plot_accuracy_vs_params(table), out / "accuracy_vs_params")
    best = table.loc[table["accuracy"].idxmax()]
    folds = [r for r in records if r["model"] == best["model"] and (r["hop"] or 0) == best["hop"]]
    y_true = np.concatenate([r["y_true"] for r in folds])
    y_pred = np.concatenate([r["y_pred"] for r in folds])
    save_figure(plot_confusion_matrix(y_true, y_pred, title=f"{best['label']} (hop {best['hop']}),"
                                      " all test folds"), out / "confusion_matrix")
    # The models this run wrote, or whose checksum read_fold_record verified.
    fitted = sorted(r["model_file"] for r in records if r.get("model_file"))
    preferred = [p for p in fitted if p.startswith("models/o+p_")] or fitted
    if preferred:
        save_figure(plot_filters(joblib.load(out / preferred[0])), out / "filters")


def cmd_train(args):
    from sklearn.pipeline import Pipeline

    from .experiments import make_model
    from .features import LogMelTransformer
    from .persistence import save_model

    (name,) = args.model[:1]
    inputs, y, _, description = load_data(args.data, n_per_class=args.n_per_class,
                                          duration=30.0, seed=args.seed)
    model = make_model(name, args.hop, max_epochs=args.epochs, random_state=args.seed,
                       device=args.device)
    if hasattr(model, "verbose"):
        model.set_params(verbose=1)
    pipe = Pipeline([("logmel", LogMelTransformer(duration=30.0)), ("model", model)])
    _say(f"skrhythm train: {name} on {description}: {len(y)} tracks")
    try:
        pipe.fit(inputs, y)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: training stopped, nothing was saved to {args.out}") \
            from None
    save_model(pipe, args.out)
    _say(f"saved to {args.out}")
    return 0


def _seconds(value):
    number = float(value)
    if not number > 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value}")
    return number


def cmd_predict(args):
    import warnings

    from .audio import AudioDecodeError, find_audio_files
    from .inference import RecordingWarning, predict_recordings
    from .persistence import load_model

    if hasattr(sys.stdout, "reconfigure"):  # file names that are not UTF-8 print as on disk
        sys.stdout.reconfigure(errors="surrogateescape")
    if args.windows and Path(args.windows).suffix.lower() not in (".csv", ".json"):
        raise CLIError(f"--windows {args.windows}: the file name must end in .csv or .json")
    files = find_audio_files(args.files)  # names the argument that matches nothing
    pipe = load_model(args.model, trusted=args.trusted)
    try:
        with warnings.catch_warnings():  # padded and skipped files are reported below
            warnings.simplefilter("ignore", RecordingWarning)
            result = predict_recordings(pipe, files, duration=args.duration,
                                        windows=bool(args.windows),
                                        on_error="skip" if args.skip_bad else "raise",
                                        progress=len(files) > 1 and sys.stderr.isatty())
    except (OSError, AudioDecodeError) as exc:
        hint = "; --skip-bad predicts the other files" if len(files) > 1 else ""
        raise CLIError(f"{exc}{hint}") from None
    table = result.predictions.rename(columns={"prediction": "style"})
    classes = [c for c in map(str, pipe.classes_) if c in table]
    table[classes] = table[classes].round(4)
    table[["seconds", "seconds_used"]] = table[["seconds", "seconds_used"]].round(2)
    if args.format == "json":
        print(table.to_json(orient="records", indent=1))
    elif args.format == "csv":
        table.to_csv(sys.stdout, index=False, lineterminator="\n")
    else:
        for row in table.to_dict(orient="records"):
            top = sorted(classes, key=lambda c: -row[c])[:3]
            scores = "  (" + ", ".join(f"{c} {row[c]:.2f}" for c in top) + ")" if top else ""
            print(f"{row['file']}: {row['style']}{scores}  [{_coverage(row)}]")
    if args.windows:
        if args.windows.lower().endswith(".json"):
            result.windows.to_json(args.windows, orient="records", indent=1)
        else:
            result.windows.to_csv(args.windows, index=False)
        _say(f"{len(result.windows)} windows of {len(table)} recordings written to "
             f"{args.windows}")
    if result.errors:
        _say(f"skipped {len(result.errors)} of {len(files)} files that could not be read:\n"
             + "\n".join(f"  {name}: {cause}" for name, cause in result.errors.items()))
    return 0


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


def _say(message):
    print(message, file=sys.stderr, flush=True)


def main(argv=None):
    """Entry point of the ``skrhythm`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    command = {"compare": cmd_compare, "train": cmd_train, "predict": cmd_predict}[args.command]
    try:
        return command(args)
    except Interrupted as exc:
        print(f"skrhythm {args.command}: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"skrhythm {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CLIError, FileNotFoundError, FileExistsError, ValueError, ImportError) as exc:
        print(f"skrhythm {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
