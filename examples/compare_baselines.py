"""
The CNN baselines and the rhythm descriptor
===========================================

O-net + P-net against the CBMI 2016 CNN baselines and the non-deep rhythm descriptor.

The model itself is the searched parameter of a one-step pipeline, so
GridSearchCV evaluates every candidate on the same folds; all take the same
log-mel input.
"""

import pandas as pd
from _common import DURATION, EPOCHS, N_PER_CLASS
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.baselines import BaselineCNNClassifier
from skrhythm.datasets import make_ballroom_like
from skrhythm.rhythm import make_rhythm_descriptor_pipeline, make_tempo_pipeline

data = make_ballroom_like(n_per_class=N_PER_CLASS, duration=DURATION, random_state=0)
X = LogMelTransformer(duration=DURATION).transform(data.data)
candidates = {
    "O-net + P-net": MusicCNNClassifier(n_onet=1, n_pnet=1, max_epochs=EPOCHS, random_state=0),
    "Time CNN [CBMI 2016]": BaselineCNNClassifier("time", max_epochs=EPOCHS, random_state=0),
    "Rhythm descriptor + SVM": make_rhythm_descriptor_pipeline(),
    "Tempo only + SVM": make_tempo_pipeline(),
}
search = GridSearchCV(
    Pipeline([("model", candidates["O-net + P-net"])]),
    {"model": list(candidates.values())},
    cv=StratifiedKFold(2, shuffle=True, random_state=0),
)
search.fit(X, data.target)
results = pd.DataFrame(search.cv_results_)
results["model"] = list(candidates)  # cv_results_ follow the candidates' order
print(results[["model", "mean_test_score", "std_test_score", "mean_fit_time"]].to_string())
