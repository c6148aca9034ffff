"""Write per-length-adam.pkl and .npz beside this file, as commit 20a3522 did.

That code's filter bank held one weight and one bias parameter per filter
length. The files hold a small MusicCNNClassifier trained there with Adam
(so with per-parameter optimizer state), its input, its probabilities, and its
probabilities after one more warm-start epoch. To write them again::

    git worktree add /tmp/old 20a3522
    cd /tmp/old && PYTHONPATH=. python /path/to/tests/data/make_per_length_adam.py
"""

import pickle
from pathlib import Path

import numpy as np
import torch

from skrhythm import MusicCNNClassifier

OUT = Path(__file__).parent / "per-length-adam"


def main():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 8, 24)).astype(np.float32)
    y = np.arange(12) % 3
    clf = MusicCNNClassifier(
        n_onet=2, n_pnet=1, onet_lengths=(3, 5), onet_filters=2, pnet_lengths=(7, 9, 11),
        patch_frames=20, patch_hop=4, max_epochs=2, batch_size=4, optimizer=torch.optim.Adam,
        lr=0.01, lr_schedule=None, random_state=0,
    ).fit(X, y)  # fmt: skip
    blob = pickle.dumps(clf)
    warm = pickle.loads(blob).set_params(warm_start=True, max_epochs=1).fit(X, y)
    OUT.with_suffix(".pkl").write_bytes(blob)
    np.savez(OUT.with_suffix(".npz"), X=X, y=y, proba=clf.predict_proba(X),
             proba_after_warm_epoch=warm.predict_proba(X))  # fmt: skip


if __name__ == "__main__":  # not when pytest imports it for doctests
    main()
