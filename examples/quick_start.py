"""
Quick start
===========

Cross-validate O-net + P-net on the embedded ballroom-style data set.

The pipeline starts from waveforms (file paths work the same way): the
LogMelTransformer computes the paper's log-mel spectrograms and the
classifier cuts them into 250-frame patches, trains on the patches and
predicts each track by majority vote.
"""

from _common import DURATION, EPOCHS, N_PER_CLASS
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.datasets import make_ballroom_like

data = make_ballroom_like(n_per_class=N_PER_CLASS, duration=DURATION, random_state=0)
pipe = Pipeline([
    ("logmel", LogMelTransformer(duration=DURATION)),
    ("cnn", MusicCNNClassifier(n_onet=1, n_pnet=1, max_epochs=EPOCHS, random_state=0)),
])
cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
scores = cross_val_score(pipe, data.data, data.target, cv=cv)
print(f"O-net + P-net track accuracy: {scores.mean():.3f} +- {scores.std():.3f} "
      f"(chance {1 / len(data.target_names):.3f})")
