"""Torch modules: the 1-by-n filter bank and the networks built on it."""

from .filterbank import FilterBank1xN
from .musiccnn import MusicCNN

__all__ = ["FilterBank1xN", "MusicCNN"]
