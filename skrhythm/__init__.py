"""skrhythm: musically motivated CNNs for rhythm classification, scikit-learn style."""

__version__ = "0.2.0"

#: The names of the package's top level, each found in the module whose ``__all__``
#: lists it.
__all__ = [
    "BaselineCNNClassifier",
    "LogMelTransformer",
    "MusicCNNClassifier",
    "RecordingWarning",
    "__version__",
    "predict_recordings",
]


def _home(name):
    """The top-level module whose ``__all__`` lists ``name``, read without importing it.

    The public names are imported on first use, so that ``import skrhythm``
    (and the command line's ``--help`` and ``--version``) loads neither torch
    nor scikit-learn.
    """
    import ast
    from pathlib import Path

    for path in sorted(Path(__file__).parent.glob("[!_]*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and getattr(node.targets[0], "id", None) == "__all__"
                    and name in ast.literal_eval(node.value)):
                return path.stem
    return None


def __getattr__(name):
    home = _home(name) if name in __all__ else None
    if home is not None:
        from importlib import import_module

        value = getattr(import_module(f".{home}", __name__), name)
        globals()[name] = value  # found once
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
