"""
A grid search over the filter sets
==================================

GridSearchCV over the number of O-net and P-net copies, on cached features.

The log-mel features do not depend on the CNN's parameters, so they are
computed once and the search runs on the spectrogram array.
"""

from _common import DURATION, EPOCHS, N_PER_CLASS
from sklearn.model_selection import GridSearchCV

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.datasets import make_ballroom_like

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
for params, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]):
    print(f"{params}: {score:.3f}")
print("best:", search.best_params_, f"({search.best_estimator_.n_params_:,} parameters)")
