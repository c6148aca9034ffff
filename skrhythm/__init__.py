"""skrhythm: musically motivated CNNs for rhythm classification, scikit-learn style.

The public names of the top level are imported on first use, from the
modules that :data:`_LAZY` names, so that ``import skrhythm`` (and the
command line's ``--help`` and ``--version``) loads neither torch nor
scikit-learn. ``__init__.pyi`` says the same to type checkers and IDEs.
"""

__version__ = "0.2.0"

#: Each public name of the top level and the module that defines it.
_LAZY = {
    "BaselineCNNClassifier": "baselines",
    "LogMelTransformer": "features",
    "MusicCNNClassifier": "classifier",
    "RecordingWarning": "inference",
    "predict_recordings": "inference",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # found once
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
