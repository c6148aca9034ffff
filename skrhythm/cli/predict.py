"""``skrhythm predict``: the style of whole recordings, :func:`~skrhythm.inference.predict_tables`.

Also ``skrhythm predict --info MODEL``: the model's card
(:func:`skrhythm.persistence.read_card`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings

from ._common import CLIError, say

HELP = "predict the style of whole recordings with a saved model"


def _seconds(value):
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number > 0:  # also refuses NaN
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value}")
    return number


def add_parser(subparsers, parents):
    parser = subparsers.add_parser(
        "predict", help=HELP, parents=parents,
        description="Predict the style of each recording from all its windows (patches) and "
        "report how much of it the windows cover. Files that cannot be read stop the "
        "command, unless --skip-bad. With --info, print the model's card instead.")
    parser.add_argument("model", help="a model file written by 'skrhythm train'")
    parser.add_argument("files", nargs="*", metavar="AUDIO",
                        help="audio files, directories (searched recursively) or quoted glob "
                        "patterns such as 'dances/**/*.mp3'; WAV, FLAC, OGG, Opus, MP3, "
                        "M4A/AAC, AIFF and AU are read")
    parser.add_argument("--info", action="store_true",
                        help="print the model's card (what it was trained on, how well it "
                        "did, what it is for) and exit")
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table",
                        help="output on stdout: a line per recording, CSV or JSON (default "
                        "table)")
    parser.add_argument("--duration", type=_seconds, metavar="SECONDS",
                        help="use only the first SECONDS of each recording (default: all of it)")
    parser.add_argument("--windows", metavar="FILE",
                        help="also write every window's class probabilities (start and end in "
                        "seconds) to FILE, .csv or .json (CNN models)")
    parser.add_argument("--skip-bad", action="store_true",
                        help="leave out files that cannot be read, list them at the end, and "
                        "predict the others (exit code 0 if any was predicted)")
    parser.add_argument("--trusted", action="store_true",
                        help="trust the model file as a program you run: needed for "
                        ".joblib/.pkl files (loading them runs any code they hold), and allows "
                        "every type in a .skops file")
    return parser


def run(args):
    from .._store import atomic_write, unwritable
    from ..audio import AudioDecodeError, find_audio_files
    from ..inference import check_model_file

    if args.windows:
        if not args.windows.lower().endswith((".csv", ".json")):
            raise CLIError(f"--windows {args.windows}: the file name must end in .csv or .json")
        problem = unwritable(args.windows, make_folders=False)
        if problem:
            raise CLIError(f"--windows {args.windows}: {problem}")
    files = find_audio_files(args.files) if args.files else []  # names what matches nothing
    check_model_file(args.model)  # before anything loads
    if args.info:
        return _info(args.model)
    if not files:
        raise CLIError("no AUDIO given: name the recordings to predict (or --info to see the "
                       "model's card)")
    from ..inference import RESERVED_NAMES, RecordingWarning, load_for_prediction, predict_tables

    if hasattr(sys.stdout, "reconfigure"):  # file names that are not UTF-8 print as on disk
        sys.stdout.reconfigure(errors="surrogateescape")
    model = load_for_prediction(args.model, trusted=args.trusted,
                                notify=lambda message: say(f"{message}..."))
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
        say(f"{len(windows)} windows of {len(table)} recordings written to {args.windows}")
    if errors:
        say(f"skipped {len(errors)} of {len(files)} files that could not be read:\n"
            + "\n".join(f"  {name}: {cause}" for name, cause in errors.items()))
    return 0


def _info(path):
    from ..persistence import read_card

    card = read_card(path)
    if card is None:
        print(f"{path} holds no model card (saved without one, e.g. by skrhythm 0.2 or by "
              "save_model without card=); it still loads and predicts")
    else:
        print(card)
    return 0


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
    import numpy as np

    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _coverage(row):
    """How much of a recording a prediction rests on, in words."""
    part = f"{row['seconds_used']:.1f} of {row['seconds']:.1f} s"
    if row["cropped"]:
        part += " (cropped to --duration)"
    if row["n_windows"] and not row["padded"]:
        return f"{part} in {row['n_windows']} windows"
    if not row["cropped"]:
        part = f"{row['seconds']:.1f} s"
    return part + (", padded: shorter than one window of the model" if row["n_windows"]
                   else ", features of the whole recording (no windows)")
