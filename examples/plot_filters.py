"""
What the filters learned
========================

Fit an O-net + P-net and draw what it learned: its 1-by-n filters and a confusion matrix.

``python plot_filters.py [FOLDER]`` writes the plots (PNG and SVG) to FOLDER,
by default ``skrhythm-example-plots``.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from _common import DURATION, EPOCHS, N_PER_CLASS  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from skrhythm import LogMelTransformer, MusicCNNClassifier  # noqa: E402
from skrhythm.datasets import make_ballroom_like  # noqa: E402
from skrhythm.plotting import plot_confusion_matrix, plot_filters, save_figure  # noqa: E402

data = make_ballroom_like(n_per_class=N_PER_CLASS, duration=DURATION, random_state=0)
X = LogMelTransformer(duration=DURATION).transform(data.data)
X_train, X_test, y_train, y_test = train_test_split(
    X, data.target, test_size=0.5, stratify=data.target, random_state=0
)
clf = MusicCNNClassifier(n_onet=1, n_pnet=1, max_epochs=EPOCHS, random_state=0)
clf.fit(X_train, y_train)
out = Path(sys.argv[1] if len(sys.argv) > 1 else "skrhythm-example-plots")
out.mkdir(parents=True, exist_ok=True)
print("written:", *save_figure(plot_filters(clf, model="O-net + P-net"), out / "filters"))
ax = plot_confusion_matrix(y_test, clf.predict(X_test), labels=data.target_names,
                           title="O-net + P-net, half of the generated tracks")
print("written:", *save_figure(ax, out / "confusion_matrix"))
