"""
Your own copy of Ballroom
=========================

Run on your own copy of Ballroom: ``python ballroom.py /path/to/data``.

``/path/to/data`` holds ``BallroomData/<Folder>/<id>.wav`` as unpacked from
the ISMIR 2004 archive. Replicas (Sturm) share a group, so
StratifiedGroupKFold never puts a replica pair on both sides of a split.
Without an argument (and in the examples' fast mode) a miniature Ballroom-like
tree is generated so that the script runs anywhere.

.. note::

   Without a path the tracks are GENERATED rhythms under Ballroom's folder
   names and track ids, not the recordings: the numbers below say that the
   code runs, nothing about Ballroom. The gallery runs it in its fast mode (6
   tracks per class of 12 s, 15 epochs). On the real set, the paper's
   protocol is ``skrhythm compare --protocol paper --data ballroom:PATH``.
"""

import sys
import tempfile
import warnings
from pathlib import Path

from _common import DURATION, EPOCHS, MODE, N_PER_CLASS
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.datasets import load_ballroom, make_ballroom_like
from skrhythm.plotting import plot_confusion_matrix


def miniature_ballroom(root):
    """Generated audio under real Ballroom folder names and track ids."""
    from importlib.resources import files

    import pandas as pd
    import soundfile as sf

    index = pd.read_csv(files("skrhythm.datasets") / "data" / "ballroom_index.csv")
    fake = make_ballroom_like(n_per_class=N_PER_CLASS, duration=DURATION, random_state=0)
    for style in fake.target_names:
        rows = index[index["style"] == style].head(N_PER_CLASS)
        for wave, row in zip(fake.data[fake.target == style], rows.itertuples()):
            path = Path(root) / "BallroomData" / row.folder / f"{row.track_id}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, wave, 44100)
    return root


print(MODE)
if len(sys.argv) > 1:
    data_home = sys.argv[1]
else:
    data_home = miniature_ballroom(tempfile.mkdtemp())
    print(f"No Ballroom path given: using a miniature tree of GENERATED audio (synthetic "
          f"rhythms under Ballroom's names, not the real recordings) in {data_home}")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the miniature tree lacks most files: skipped, not fatal
    ballroom = load_ballroom(data_home, on_error="skip")
print(f"{len(ballroom.filenames)} tracks, styles: {', '.join(ballroom.target_names)}")
pipe = Pipeline([
    ("logmel", LogMelTransformer(duration=30.0, n_jobs=2)),
    ("cnn", MusicCNNClassifier(n_onet=1, n_pnet=1, patch_hop=80, max_epochs=EPOCHS,
                               random_state=0)),
])
cv = StratifiedGroupKFold(n_splits=2, shuffle=True, random_state=0)
predicted = cross_val_predict(pipe, ballroom.filenames, ballroom.target,
                              groups=ballroom.groups, cv=cv)
print(f"track accuracy: {(predicted == ballroom.target).mean():.3f}, mean recall "
      f"{balanced_accuracy_score(ballroom.target, predicted):.3f}")
plot_confusion_matrix(ballroom.target, predicted, labels=ballroom.target_names,
                      title="O-net + P-net (hop 80), 2 folds, replicas grouped")
