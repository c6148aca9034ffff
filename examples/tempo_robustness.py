"""
Rhythm or tempo?
================

Train an O-net + P-net with and without tempo augmentation and test both on
held-out recordings played 8 % slower and faster.

A model that learned the dances' tempos loses accuracy when the tempo moves;
one that learned their rhythms keeps it. :func:`skrhythm.robustness.tempo_robustness`
time-stretches the held-out audio (a phase vocoder, pitch kept) and reports
each factor's accuracy and its drop; ``tempo_augment`` cuts every training
patch at a random tempo so that tempo alone no longer separates the classes.
"""

from _common import DURATION, EPOCHS, FAST, N_PER_CLASS
from sklearn.pipeline import Pipeline

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.datasets import make_ballroom_like
from skrhythm.robustness import tempo_robustness

train = make_ballroom_like(n_per_class=N_PER_CLASS, duration=DURATION, random_state=0)
test = make_ballroom_like(n_per_class=1 if FAST else 4, duration=DURATION, random_state=1)
# a stretched recording is 1/factor as long: features of a length every one reaches
logmel = LogMelTransformer(duration=DURATION / 1.1)
epochs = EPOCHS if FAST else 30

for augment in (None, (0.85, 1.18)):
    pipe = Pipeline([
        ("logmel", logmel),
        ("cnn", MusicCNNClassifier(tempo_augment=augment, max_epochs=epochs, random_state=0)),
    ]).fit(list(train.data), train.target)
    table = tempo_robustness(pipe, list(test.data), test.target, factors=(0.92, 1.08))
    print(f"tempo_augment={augment}:")
    print(table.round(3).to_string(index=False))
