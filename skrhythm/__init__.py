"""skrhythm: musically motivated CNNs for rhythm classification, scikit-learn style."""

__version__ = "0.1.0"

from .baselines import BaselineCNNClassifier  # noqa: E402
from .classifier import MusicCNNClassifier  # noqa: E402
from .features import LogMelTransformer  # noqa: E402
from .inference import RecordingWarning, predict_recordings  # noqa: E402

__all__ = [
    "BaselineCNNClassifier",
    "LogMelTransformer",
    "MusicCNNClassifier",
    "RecordingWarning",
    "__version__",
    "predict_recordings",
]
