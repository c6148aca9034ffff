"""skrhythm: musically motivated CNNs for rhythm classification, scikit-learn style."""

__version__ = "0.1.0"

from .classifier import MusicCNNClassifier  # noqa: E402
from .features import LogMelTransformer  # noqa: E402

__all__ = ["LogMelTransformer", "MusicCNNClassifier", "__version__"]
