"""Settings shared by the examples: ``SKRHYTHM_EXAMPLES_FAST=1`` makes each run in seconds (CI)."""

import os

FAST = os.environ.get("SKRHYTHM_EXAMPLES_FAST") == "1"
#: Tracks per class of the generated data set, seconds per track, training epochs.
N_PER_CLASS, DURATION, EPOCHS = (2, 12.0, 1) if FAST else (12, 30.0, 15)
