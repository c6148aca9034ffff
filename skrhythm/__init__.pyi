from .baselines import BaselineCNNClassifier as BaselineCNNClassifier
from .classifier import MusicCNNClassifier as MusicCNNClassifier
from .features import LogMelTransformer as LogMelTransformer
from .inference import RecordingWarning as RecordingWarning
from .inference import predict_recordings as predict_recordings

__version__: str
__all__: list[str]
