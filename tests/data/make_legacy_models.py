"""Write the fixtures of models saved by earlier code, beside this file.

Each is a small MusicCNNClassifier pickled by code whose filter bank held one
weight and one bias parameter per filter length, with an ``.npz`` of its
input, its probabilities, and its probabilities after one more warm-start
epoch (which shows that its optimizer state was restored):

``per-length-adam``
    trained with Adam, the filter bank in a parameter group of its own (so
    the optimizer numbers its parameters in another order than the module:
    skorch puts a group's parameters in reverse order); written by commit
    20a3522 (any commit from 848652f, which pickles the net as state arrays,
    to before 194ba72).
``whole-net-momentum``
    trained with SGD and momentum; written by commit 848652f^ (or earlier),
    whose pickles hold the skorch net itself.

To write one again, run this file with that code::

    git worktree add /tmp/old 20a3522
    cd /tmp/old && PYTHONPATH=. python /path/to/tests/data/make_legacy_models.py per-length-adam
"""

import pickle
import sys
from pathlib import Path

import numpy as np
import torch

from skrhythm import MusicCNNClassifier

OPTIMIZERS = {
    "per-length-adam": {"optimizer": torch.optim.Adam,
                        "optimizer_params": {"param_groups": [("filterbank.*", {"lr": 0.05})]}},
    "whole-net-momentum": {"optimizer_params": {"momentum": 0.9}},
}


def main(kind):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 8, 24)).astype(np.float32)
    y = np.arange(12) % 3
    clf = MusicCNNClassifier(
        n_onet=2, n_pnet=1, onet_lengths=(3, 5), onet_filters=2, pnet_lengths=(7, 9, 11),
        patch_frames=20, patch_hop=4, max_epochs=2, batch_size=4, lr=0.01, lr_schedule=None,
        random_state=0, **OPTIMIZERS[kind],
    ).fit(X, y)  # fmt: skip
    blob = pickle.dumps(clf)
    warm = pickle.loads(blob).set_params(warm_start=True, max_epochs=1).fit(X, y)
    out = Path(__file__).parent / kind
    out.with_suffix(".pkl").write_bytes(blob)
    np.savez(out.with_suffix(".npz"), X=X, y=y, proba=clf.predict_proba(X),
             proba_after_warm_epoch=warm.predict_proba(X))  # fmt: skip


if __name__ == "__main__":  # not when pytest imports it for doctests
    main(sys.argv[1])
