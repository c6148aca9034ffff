"""What every command of the ``skrhythm`` command line shares: errors, option types, words.

Plain Python: importing it imports neither torch nor scikit-learn, so that
``skrhythm --help`` answers at once. The library names options by their
Python parameters (``n_folds=1: ...``); :func:`in_cli_words` names them by
their flags (``--folds 1: ...``), for every message the command line prints.
"""

from __future__ import annotations

import argparse
import re
import sys
import warnings
from contextlib import contextmanager

from .._spec import DATA_HELP, DEFAULT_TEMPO_AUGMENT, MODELS, OptionError, resolve_tempo_augment

__all__ = [
    "AUGMENT_HELP", "DEVICE_HELP", "EPILOG", "SEED_HELP", "THREADS_HELP", "CLIError",
    "Interrupted", "add_data", "augment", "factors", "in_cli_words", "library_errors",
    "model_names", "n_jobs", "positive", "say", "warnings_as_lines",
]


class CLIError(Exception):
    """An error reported as one line, without a traceback."""


class Interrupted(CLIError):
    """The user interrupted the command (Ctrl-C); exit code 130."""


def say(message):
    """Print a line of the command's account to stderr."""
    print(message, file=sys.stderr, flush=True)


# -- option types (argparse turns their errors into usage errors, exit code 2) ------------


def model_names(value):
    """``onet,o+p,...``: names of :data:`~skrhythm.experiments.MODELS`, each once."""
    names = [v.strip().lower() for v in value.split(",")]
    unknown = [n for n in names if n and n not in MODELS]
    if unknown or not all(names):
        problem = (f"unknown model(s) {', '.join(unknown)}" if unknown else
                   f"an empty model name in {value!r}")
        raise argparse.ArgumentTypeError(f"{problem}; choose from {', '.join(MODELS)}")
    return tuple(dict.fromkeys(names))


def positive(value):
    """A positive integer."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return number


def n_jobs(value):
    """A number of jobs: positive, or negative for 'all cores but ...'."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number == 0:
        raise argparse.ArgumentTypeError(
            f"expected a positive number of jobs, or -1 for every core (-2: all but one), "
            f"got {value}")
    return number


def factors(value):
    """Tempo factors ``0.92,1.08``, or ``none``; checked against their bounds by the library."""
    if value.strip().lower() == "none":
        return ()
    try:
        return tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected tempo factors such as 0.92,1.08, or none; got {value!r}") from None


def augment(value):
    """``tempo`` (the default range), ``tempo:LOW,HIGH`` or ``none``."""
    kind, _, bounds = value.strip().lower().partition(":")
    if kind == "none" and not bounds:
        return "none"
    if kind != "tempo":
        raise argparse.ArgumentTypeError(
            f"expected tempo, tempo:LOW,HIGH (e.g. tempo:0.8,1.25) or none; got {value!r}")
    if not bounds:
        return "default"
    try:
        return resolve_tempo_augment(factors(bounds))  # the library's one check
    except OptionError as exc:
        raise argparse.ArgumentTypeError(f"{value}: {exc.problem}") from None


# -- help ----------------------------------------------------------------------------------


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
  skrhythm predict --info o+p.skops                  # the model's card
"""

DEVICE_HELP = "where the CNNs train: cpu, cuda, or auto (cuda when there is one; default cpu)"
SEED_HELP = "seed of the generated data, the folds and the models (default 0)"
AUGMENT_HELP = ("tempo augmentation of the CNNs, so that they learn rhythms rather than tempos: "
                "each training patch cut at a random tempo factor in LOW-HIGH (tempo: "
                f"{DEFAULT_TEMPO_AUGMENT[0]:g},{DEFAULT_TEMPO_AUGMENT[1]:g}); none: without, as "
                "the paper")
THREADS_HELP = ("torch threads per fit (default: 1 when --n-jobs runs several fits at a time, "
                "else torch's default, one per core); recorded in config.json")


def add_data(parser):
    """The ``--data`` option every command that reads a data set takes."""
    parser.add_argument("--data", default="embedded", help=DATA_HELP)


# -- messages --------------------------------------------------------------------------------


#: The flag of each option the library names by its parameter (see OptionError).
FLAGS = {"n_folds": "--folds", "max_epochs": "--epochs", "n_per_class": "--n-per-class",
         "models": "--models", "cv": "--cv", "sizes": "--sizes", "device": "--device",
         "n_jobs": "--n-jobs", "threads": "--threads", "repeats": "--repeats",
         "protocol": "--protocol", "data": "--data", "hop": "--hop",
         "tempo_shifts": "--tempo-shifts", "tempo_augment": "--augment", "out": "--out",
         "out_dir": "--out", "resume": "--resume", "valid": "--valid", "groups": "--groups",
         "scheduler": "--scheduler", "confusion": "--confusion"}

_PARAMETER = re.compile(r"\b(" + "|".join(sorted(FLAGS, key=len, reverse=True))
                        + r")(=(\([^)]*\)|\[[^]]*\]|'[^']*'|[^\s,;:]+))?")


def _value(option, value):
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    if option == "tempo_augment" and value not in ("none", "default", None):
        value = f"tempo:{value}"
    return value


def in_cli_words(error):
    """An error's message with the library's parameter names as the command line's flags.

    An :class:`~skrhythm.experiments.OptionError` reads ``FLAG VALUE:
    PROBLEM``; in any message, ``n_folds=3`` reads ``--folds 3``,
    ``resume=True`` ``--resume`` and a bare ``out_dir`` ``--out``.
    """
    if isinstance(error, OptionError):
        flag = FLAGS.get(error.option, f"--{error.option.replace('_', '-')}")
        value = _value(error.option, error.value)
        head = flag if isinstance(value, bool) else f"{flag} {value}"
        text = f"{head}: {error.problem}"
    else:
        text = str(error)

    def flag(match):
        option, value = match.group(1), match.group(3)
        if value is None:  # a bare name: only out_dir is a word of its own
            return FLAGS[option] if option == "out_dir" else match.group(0)
        if value == "True":
            return FLAGS[option]
        return f"{FLAGS[option]} {value.strip(chr(39)).strip('()[]').replace(', ', ',')}"

    return _PARAMETER.sub(flag, text)


@contextmanager
def library_errors():
    """A run refused by a run folder's lock, or stopped by Ctrl-C, as the command's own lines.

    The library's KeyboardInterrupt says what was kept; it becomes an
    :class:`Interrupted` (exit code 130) with that message.
    """
    from ..experiments import RunFolderLocked

    try:
        yield
    except RunFolderLocked as exc:
        raise CLIError(str(exc)) from None
    except KeyboardInterrupt as exc:
        raise Interrupted(str(exc) or "interrupted") from None


@contextmanager
def warnings_as_lines(command):
    """Show warnings as ``skrhythm COMMAND: warning: ...`` lines, without source paths."""
    previous = warnings.formatwarning

    def line(message, category, filename, lineno, line=None):
        return f"skrhythm {command}: warning: {message}\n"

    warnings.formatwarning = line  # (what Python shows; recorded warnings stay as they are)
    try:
        yield
    finally:
        warnings.formatwarning = previous
