"""
Rhythm or tempo?
================

Train an O-net + P-net with and without tempo augmentation and test both on
held-out recordings played 8 % and 15 % slower and faster.

A model that learned the dances' tempos loses accuracy when the tempo moves;
one that learned their rhythms keeps it. :func:`skrhythm.robustness.tempo_robustness`
time-stretches the held-out audio (a phase vocoder, pitch kept) and reports
each factor's accuracy and its drop; ``tempo_augment`` cuts every training
patch at a random tempo so that tempo alone no longer separates the classes.

.. note::

   The gallery runs this example in its fast mode (6 generated tracks per
   class of 12 s, 15 epochs, tested on 3 fresh tracks per class, so one
   track is 4 points). Run as a script (12 tracks per class of 30 s, 30
   epochs, 4 test tracks per class),
   ``python examples/tempo_robustness.py`` measured, on a 2-vCPU AMD EPYC VM:
   plain, 96.9 % at the original tempo, 84.4 and 87.5 % at x0.92 and x1.08,
   59.4 and 37.5 % at x0.85 and x1.15; tempo-augmented, 100 % at the
   original tempo and at x0.92 and x1.08, 90.6 and 96.9 % at x0.85 and
   x1.15. ``benchmarks/bench_tempo_robustness.py`` measures the same
   question over cross-validation folds.
"""

import pandas as pd
from _common import DURATION, EPOCHS, FAST, MODE, N_PER_CLASS
from sklearn.pipeline import Pipeline

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.datasets import make_ballroom_like
from skrhythm.experiments import DEFAULT_TEMPO_AUGMENT
from skrhythm.plotting import plot_tempo_robustness
from skrhythm.robustness import tempo_robustness

print(MODE)
train = make_ballroom_like(n_per_class=N_PER_CLASS, duration=DURATION, random_state=0)
test = make_ballroom_like(n_per_class=3 if FAST else 4, duration=DURATION, random_state=1)
# a stretched recording is 1/factor as long: features of a length every one reaches
logmel = LogMelTransformer(duration=DURATION / 1.2)
epochs = EPOCHS if FAST else 30

tables = []
for name, augment in (("plain", None), ("tempo-augmented", DEFAULT_TEMPO_AUGMENT)):
    pipe = Pipeline([
        ("logmel", logmel),
        ("cnn", MusicCNNClassifier(tempo_augment=augment, max_epochs=epochs, random_state=0)),
    ]).fit(list(train.data), train.target)
    table = tempo_robustness(pipe, list(test.data), test.target,
                             factors=(0.85, 0.92, 1.08, 1.15))
    print(f"{name} (tempo_augment={augment}):")
    print(table.round(3).to_string(index=False))
    tables.append(table.assign(model="o+p", hop=250, label=f"O-net + P-net, {name}"))
plot_tempo_robustness(pd.concat(tables), data_name=f"{len(test.target)} fresh generated tracks")
