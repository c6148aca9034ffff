"""
What the filters learned
========================

Fit an O-net + P-net and draw what it learned: its 1-by-n filters, the tempi
its long filters respond to, and a confusion matrix.

Each row of the first figure is one learned filter; the bottom panel gives
each pattern-scale filter's periodicity on a tempo axis, with the training
classes' tempo ranges shaded: a filter whose periodicity peaks inside one
class's range has learned that class's tempo, one without such a peak a
pattern. ``python plot_filters.py FOLDER`` also writes the figures (PNG and
SVG) to FOLDER.

.. note::

   The gallery runs this example in its fast mode (6 generated tracks per
   class of 12 s, 15 epochs), trained on half of them. Run as a script
   (12 tracks per class of 30 s), ``python examples/plot_filters.py`` measured
   a held-out track accuracy of 0.854 (chance 0.125) on a 2-vCPU AMD EPYC VM.
"""

import sys
from pathlib import Path

from _common import DURATION, EPOCHS, MODE, N_PER_CLASS
from sklearn.model_selection import train_test_split

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.datasets import make_ballroom_like
from skrhythm.experiments import class_tempo_ranges
from skrhythm.plotting import plot_confusion_matrix, plot_filters, save_figure

print(MODE)
data = make_ballroom_like(n_per_class=N_PER_CLASS, duration=DURATION, random_state=0)
X = LogMelTransformer(duration=DURATION).transform(data.data)
X_train, X_test, y_train, y_test = train_test_split(
    X, data.target, test_size=0.5, stratify=data.target, random_state=0
)
clf = MusicCNNClassifier(n_onet=1, n_pnet=1, max_epochs=EPOCHS, random_state=0)
clf.fit(X_train, y_train)
print(f"held-out track accuracy: {(clf.predict(X_test) == y_test).mean():.3f} "
      f"(chance {1 / len(data.target_names):.3f})")
filters = plot_filters(clf, model="O-net + P-net",
                       tempo_ranges=class_tempo_ranges(data.target, data.tempo))

# %%
# Which styles the held-out half of the tracks was taken for: the diagonal is
# each style's recall.

confusion = plot_confusion_matrix(y_test, clf.predict(X_test), labels=data.target_names,
                                  title="O-net + P-net, the held-out half of the tracks")
if len(sys.argv) > 1:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for ax, name in ((filters, "filters"), (confusion, "confusion_matrix")):
        print("written:", *save_figure(ax, out / name))
