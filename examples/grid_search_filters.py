"""
A grid search over the filter sets
==================================

GridSearchCV over the number of O-net and P-net copies, on cached features.

The log-mel features do not depend on the CNN's parameters, so they are
computed once and the search runs on the spectrogram array. The plot shows
each candidate's cross-validated accuracy against its size: the poster's
question of how much accuracy each filter set buys.

.. note::

   The gallery runs this example in its fast mode (6 generated tracks per
   class of 12 s, 15 epochs). Run as a script (12 tracks per class of 30 s),
   ``python examples/grid_search_filters.py`` measured track accuracies of
   0.917 (P-net), 0.896 (2x P-net), 0.885 (O-net + P-net) and 0.875 (O-net +
   2x P-net) on a 2-vCPU AMD EPYC VM. With 2 folds of generated data these
   differences are within fold-to-fold noise: ``skrhythm compare`` gives
   intervals and paired tests.
"""

import matplotlib.pyplot as plt
from _common import DURATION, EPOCHS, MODE, N_PER_CLASS
from sklearn.model_selection import GridSearchCV

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.datasets import make_ballroom_like
from skrhythm.nn import MusicCNN

print(MODE)
data = make_ballroom_like(n_per_class=N_PER_CLASS, duration=DURATION, random_state=0)
X = LogMelTransformer(duration=DURATION).transform(data.data)
search = GridSearchCV(
    MusicCNNClassifier(max_epochs=EPOCHS, random_state=0),
    {"n_onet": [0, 1], "n_pnet": [1, 2]},
    cv=2,
    n_jobs=2,
    error_score="raise",
)
search.fit(X, data.target)
results = search.cv_results_
names = []
for params in results["params"]:  # each candidate's size, from the network it builds
    net = MusicCNN(X.shape[1], len(data.target_names), **params)
    size = sum(p.numel() for p in net.parameters())
    names.append(f"{params['n_onet']}x O-net + {params['n_pnet']}x P-net\n({size:,} parameters)")
for params, score in zip(results["params"], results["mean_test_score"]):
    print(f"{params}: {score:.3f}")
print("best:", search.best_params_, f"({search.best_estimator_.n_params_:,} parameters)")

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.barh(names, 100 * results["mean_test_score"], xerr=100 * results["std_test_score"],
        color="C0", capsize=4)
ax.set_xlabel("track accuracy (%), mean +- sd over 2 folds")
ax.set_xlim(0, 100)
ax.axvline(100 / len(data.target_names), color="0.5", linestyle=":", label="chance")
ax.legend(loc="lower right")
ax.set_title("GridSearchCV over the O-net and P-net copies")
