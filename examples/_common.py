"""Settings shared by the examples: ``SKRHYTHM_EXAMPLES_FAST=1`` makes each run in about a minute.

The documentation's gallery (and the tests) run the examples in this fast
mode: fewer and shorter tracks and fewer epochs than a script run, enough for
results well above chance whose direction is the full run's. Each example's
page says what its full run measured.
"""

import os

FAST = os.environ.get("SKRHYTHM_EXAMPLES_FAST") == "1"
#: Tracks per class of the generated data set, seconds per track, training epochs.
N_PER_CLASS, DURATION, EPOCHS = (6, 12.0, 15) if FAST else (12, 30.0, 15)
#: What the run is, for the first line each example prints.
MODE = (f"fast mode: {N_PER_CLASS} tracks per class of {DURATION:g} s, {EPOCHS} epochs"
        if FAST else f"{N_PER_CLASS} tracks per class of {DURATION:g} s, {EPOCHS} epochs")
