"""Data sets: Ballroom copies, audio folders and a synthetic Ballroom-like generator.

Loaders read a user's local copy of Ballroom, Extended Ballroom or any
``<label>/<file>`` audio tree (nothing is downloaded). Following
scikit-learn's conventions they return a :class:`~sklearn.utils.Bunch` (or
``(X, y)`` with ``return_X_y=True``) whose ``filenames`` can be passed
straight to :class:`skrhythm.LogMelTransformer`, with ``target`` (class
names), ``target_names``, ``tempo`` (bpm, NaN where unknown), ``groups`` (for
GroupKFold: replicas and duplicates share a group) and ``DESCR``.
"""

from ._ballroom import ballroom_album, load_ballroom, load_extended_ballroom
from ._base import DatasetIntegrityError
from ._folder import GROUPS_FILE, load_audio_folder, load_waveforms, write_audio_folder
from ._synthetic import make_ballroom_like

__all__ = [
    "GROUPS_FILE",
    "DatasetIntegrityError",
    "ballroom_album",
    "load_audio_folder",
    "load_ballroom",
    "load_extended_ballroom",
    "load_waveforms",
    "make_ballroom_like",
    "write_audio_folder",
]
