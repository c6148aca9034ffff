"""The ``skrhythm`` command: a thin layer over the library, one module per sub-command.

Each sub-command's module (:mod:`.compare`, :mod:`.datasize`, :mod:`.train`,
:mod:`.predict`) declares its options (``add_parser``) and calls one library
function (``run``): :func:`skrhythm.experiments.compare`,
:func:`skrhythm.experiments.datasize.datasize_experiment`,
:func:`skrhythm.experiments.train_models` and
:func:`skrhythm.inference.predict_tables`. The library checks the options and
names them by their parameters; :func:`main` reports every error in one line
in the command line's words (:func:`._common.in_cli_words`). Parsing imports
neither torch nor scikit-learn, so ``--help`` and ``--version`` answer at
once.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from . import compare, datasize, predict, train
from ._common import EPILOG, CLIError, Interrupted, in_cli_words, warnings_as_lines

__all__ = ["build_parser", "main"]

#: The sub-commands, in the order ``--help`` lists them.
COMMANDS = {"compare": compare, "datasize": datasize, "train": train, "predict": predict}


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
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in COMMANDS.values():
        module.add_parser(subparsers, [debug])
    return parser


def main(argv=None):
    """Entry point of the ``skrhythm`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    from ..parallel import workers_die_with_this_process

    try:
        # a killed command leaves no worker behind; warnings read as the command's own
        with workers_die_with_this_process(), warnings_as_lines(args.command):
            return COMMANDS[args.command].run(args)
    except Interrupted as exc:
        print(f"skrhythm {args.command}: {in_cli_words(exc)}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"skrhythm {args.command}: interrupted", file=sys.stderr)
        return 130
    except (CLIError, OSError, ValueError, ImportError) as exc:  # FileNotFoundError, ... too
        if debug:
            import traceback

            traceback.print_exc()
        print(f"skrhythm {args.command}: error: {in_cli_words(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:
        if debug:
            import traceback

            traceback.print_exc()
        else:
            print(f"skrhythm {args.command}: error: {type(exc).__name__}: {exc} (an unexpected "
                  "error; run again with --debug to see where it happened)", file=sys.stderr)
        return 1
