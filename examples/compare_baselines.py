"""
The CNN baselines and the rhythm descriptor
===========================================

O-net + P-net against the CBMI 2016 CNN baselines and the non-deep rhythm descriptor.

The model itself is the searched parameter of a one-step pipeline, so
GridSearchCV evaluates every candidate on the same folds; all take the same
log-mel input.

.. note::

   The gallery runs this example in its fast mode (6 generated tracks per
   class of 12 s, 15 epochs). Run as a script (12 tracks per class of 30 s),
   ``python examples/compare_baselines.py`` measured track accuracies of
   0.906 (O-net + P-net), 0.948 (Time CNN), 0.979 (rhythm descriptor) and
   0.656 (tempo only) on a 2-vCPU AMD EPYC VM. The tempo-only SVM shows how far tempo alone gets on
   these data; ``skrhythm compare`` runs the same comparison with intervals,
   paired tests and the tempo-robustness test.
"""

import matplotlib.pyplot as plt
import pandas as pd
from _common import DURATION, EPOCHS, MODE, N_PER_CLASS
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.baselines import BaselineCNNClassifier
from skrhythm.datasets import make_ballroom_like
from skrhythm.rhythm import make_rhythm_descriptor_pipeline, make_tempo_pipeline

print(MODE)
data = make_ballroom_like(n_per_class=N_PER_CLASS, duration=DURATION, random_state=0)
X = LogMelTransformer(duration=DURATION).transform(data.data)
candidates = {
    "O-net + P-net": MusicCNNClassifier(n_onet=1, n_pnet=1, max_epochs=EPOCHS, random_state=0),
    # the baseline's own 30 epochs of plain SGD: with fewer it has not finished learning
    "Time CNN [CBMI 2016]": BaselineCNNClassifier("time", random_state=0),
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

fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
ax.barh(results["model"], 100 * results["mean_test_score"],
        xerr=100 * results["std_test_score"], capsize=4,
        color=["C0", "C1", "C2", "C7"])
ax.invert_yaxis()
ax.set_xlim(0, 100)
ax.axvline(100 / len(data.target_names), color="0.5", linestyle=":", label="chance")
ax.legend(loc="lower right")
ax.set_xlabel("track accuracy (%), mean +- sd over 2 folds")
ax.set_title("The same folds for every model")
