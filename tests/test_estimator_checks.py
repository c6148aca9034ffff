"""scikit-learn's estimator checks, with no expected failures and no skip tags."""

import pandas  # noqa: F401  - installed so that no check is skipped for lack of it
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from skrhythm import LogMelTransformer, MusicCNNClassifier


def fast_music_cnn(**params):
    """A small, quickly trained MusicCNNClassifier for the checks' tiny 2-D data."""
    defaults = dict(
        onet_lengths=(2,),
        pnet_lengths=(3,),
        onet_filters=4,
        pnet_filters=4,
        patch_frames=8,
        optimizer=torch.optim.Adam,
        lr=0.05,
        batch_size=32,
        max_epochs=20,
        random_state=0,
    )
    return MusicCNNClassifier(**{**defaults, **params})


@parametrize_with_checks(
    [
        LogMelTransformer(sr=8000, n_fft=64, hop_length=16, n_mels=8, duration=None),
        fast_music_cnn(),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
