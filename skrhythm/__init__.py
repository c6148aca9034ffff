"""skrhythm: musically motivated CNNs for rhythm classification, scikit-learn style."""

__version__ = "0.1.0"

__all__ = [
    "BaselineCNNClassifier",
    "LogMelTransformer",
    "MusicCNNClassifier",
    "RecordingWarning",
    "__version__",
    "predict_recordings",
]

# The public names are imported on first use, so that ``import skrhythm`` (and the
# command line's ``--help`` and ``--version``) loads neither torch nor scikit-learn.
_LAZY = {
    "BaselineCNNClassifier": "baselines",
    "LogMelTransformer": "features",
    "MusicCNNClassifier": "classifier",
    "RecordingWarning": "inference",
    "predict_recordings": "inference",
}


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
