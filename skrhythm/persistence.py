"""Saving and loading fitted skrhythm models: skops (safe), joblib and pickle.

The estimators pickle themselves as plain data (see
:meth:`skrhythm.classifier.BasePatchCNNClassifier.__getstate__`), so
:mod:`pickle`, :mod:`joblib` and :mod:`skops.io` work on fitted models and
pipelines directly. Beyond the types skops trusts by default, a skops file of
skrhythm models holds only those in :data:`TRUSTED_TYPES`; once
:func:`skops.io.get_untrusted_types` shows that, load it with::

    skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))

:func:`save_model` and :func:`load_model` do this, and the checks below. The
file format follows the file name's suffix:

``.skops``
    :mod:`skops.io`, the format to exchange models in. Loading builds only
    types known to be safe: skops' own list (Python and NumPy containers,
    scikit-learn estimators, ...), the estimators of skrhythm and torch
    optimizer classes (which appear as parameters). Any other type in the
    file is refused with :class:`UntrustedTypesError` unless the caller names
    it in ``trusted`` after auditing the file (e.g. with
    :func:`skops.io.get_untrusted_types`), or trusts the whole file
    (``trusted=True``). Parameters that would point the loaded model at files
    to read are switched off, with a warning: ``LogMelTransformer.cache`` and
    the ``memory`` of scikit-learn pipelines become ``None`` (a cache folder
    named by the file could hold pickles planted for it).
``.joblib``, ``.pkl``, ``.pickle``
    :mod:`joblib` and :mod:`pickle`. **Unpickling runs whatever code the file
    asks for**, so :func:`load_model` refuses these files
    (:class:`UntrustedFileError`) unless called with ``trusted=True``: load
    only files you wrote yourself or whose source you trust as you would a
    program. Fast, and exact for any object.

Every file records the state format (:data:`skrhythm._formats.STATE_FORMAT`)
and the versions of skrhythm, torch and scikit-learn that wrote it, and
:func:`load_model` reads them before it builds anything: a file of a newer
format is refused with :class:`ModelVersionError`, one of an older format is
migrated (skrhythm 0.1's files load), and other versions of skrhythm, torch
or scikit-learn give a warning. A
loaded model's parameters are validated as ``fit`` validates them, bounds
included, so a hostile file cannot make skrhythm allocate gigabytes; a file
whose content is not what it claims raises a :class:`ValueError` naming it.

A model trained on a GPU loads on a machine without CUDA, in any format: its
networks are rebuilt on the CPU and the classifiers' ``device_`` then reads
``"cpu"``.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pickle
import warnings
from contextlib import contextmanager
from pathlib import Path

import joblib
import sklearn
import torch
from sklearn.base import BaseEstimator

from . import __version__
from ._formats import STATE_FORMAT, ModelVersionError, SavedStateMixin, check_format
from ._spec import MODELS
from ._store import atomic_write
from .features import LogMelTransformer

__all__ = [
    "TRUSTED_TYPES",
    "ModelVersionError",
    "UntrustedFileError",
    "UntrustedTypesError",
    "load_model",
    "read_card",
    "save_model",
]

_FORMATS = {".skops": "skops", ".joblib": "joblib", ".pkl": "pickle", ".pickle": "pickle"}
_FILE_KIND = "skrhythm-model"

# every model's module, so that TRUSTED_TYPES finds its estimator classes
for _module in sorted({spec.factory.partition(":")[0] for spec in MODELS.values()}):
    importlib.import_module(_module)


def _saved_state_types(base=SavedStateMixin):
    """The public, concrete estimator classes whose state is plain data checked on loading."""
    found = []
    for cls in base.__subclasses__():
        found += _saved_state_types(cls)
        if not cls.__name__.startswith("_") and not inspect.isabstract(cls):
            found.append(cls)
    return found


#: Names (``"module.Class"``) of the types a skops file of skrhythm models holds
#: beyond those skops trusts by default: skrhythm's estimators (every public class
#: whose pickled state is plain data, checked before anything is built:
#: :class:`skrhythm._formats.SavedStateMixin`) and the torch optimizer classes (the
#: classifiers' ``optimizer`` parameter).
TRUSTED_TYPES = sorted(
    {f"{cls.__module__}.{cls.__qualname__}" for cls in _saved_state_types()}
    | {f"{c.__module__}.{c.__qualname__}" for c in vars(torch.optim).values()
       if isinstance(c, type) and issubclass(c, torch.optim.Optimizer)}
)


class UntrustedFileError(ValueError):
    """Loading the file could run code, and the caller did not say it trusts it."""


class UntrustedTypesError(UntrustedFileError):
    """A skops file holds types that are neither known to be safe nor trusted."""


def _format(path):
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        raise ValueError(
            f"cannot tell the model format of {os.fspath(path)!r}: use one of the suffixes "
            f"{', '.join(_FORMATS)}"
        )
    return _FORMATS[suffix]


def _metadata(card=None):
    metadata = {
        "kind": _FILE_KIND,
        "format": STATE_FORMAT,
        "skrhythm": __version__,
        "torch": str(torch.__version__),
        "sklearn": sklearn.__version__,
    }
    if card is not None:
        metadata["card"] = str(card)
    return metadata


def _require_model_file(metadata, path):
    """Refuse a file whose metadata (a dict, or None when unreadable) are not save_model's."""
    if not isinstance(metadata, dict) or metadata.get("kind") != _FILE_KIND:
        raise ValueError(f"{os.fspath(path)!r} is not a model file written by skrhythm.save_model")


def _pickle_metadata(f):
    """The metadata at the start of a joblib/pickle model file, or None; no class is built."""
    try:
        return _MetadataUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, ValueError):
        return None


def _check_metadata(metadata, path):
    """Check a file's metadata, read before anything in it is built."""
    _require_model_file(metadata, path)
    check_format(metadata.get("format"), repr(os.fspath(path)))
    # (another skrhythm version is reported by the estimators as they load)
    for library, version in (("torch", str(torch.__version__)), ("sklearn", sklearn.__version__)):
        if metadata.get(library) != version:
            warnings.warn(
                f"{os.fspath(path)!r} was saved with {library} {metadata.get(library)}, "
                f"{library} {version} is installed; predictions may differ slightly",
                UserWarning,
                stacklevel=3,
            )


def save_model(model, path, *, card=None):
    """Save a fitted estimator or pipeline; the format follows the suffix.

    Parameters
    ----------
    model : estimator
        Any (fitted) scikit-learn estimator, pipeline or search, e.g. a
        ``Pipeline(LogMelTransformer, MusicCNNClassifier)``.
    path : str or path-like
        Ends in ``.skops`` (safe to share), ``.joblib``, ``.pkl`` or
        ``.pickle`` (unsafe to load from untrusted sources); see the module
        docstring.
    card : str or None, default=None
        The model's card (Markdown, e.g. from
        :func:`skrhythm.experiments.model_card`), stored in the file's
        metadata: :func:`read_card` reads it without loading the model.

    Examples
    --------
    >>> import os, tempfile
    >>> from skrhythm import LogMelTransformer
    >>> from skrhythm.persistence import load_model, save_model
    >>> path = os.path.join(tempfile.mkdtemp(), "logmel.skops")
    >>> save_model(LogMelTransformer(n_mels=64), path)
    >>> load_model(path).n_mels
    64
    """
    fmt = _format(path)
    if fmt == "skops":
        import skops.io

        with atomic_write(path) as f:
            skops.io.dump({"metadata": _metadata(card), "model": model}, f)
        return
    with atomic_write(path) as f:
        # The metadata come first, in a pickle without any class, so that
        # load_model can check the versions before unpickling the model.
        pickle.dump(_metadata(card), f, protocol=pickle.HIGHEST_PROTOCOL)
        if fmt == "joblib":
            joblib.dump(model, f)
        else:
            pickle.dump(model, f, protocol=pickle.HIGHEST_PROTOCOL)


def read_card(path):
    """The model card a model file carries, read without loading the model; None if none.

    Reads only the file's metadata (no type is built, so any model file may
    be read, trusted or not). :func:`skrhythm.experiments.train_models` (and
    ``skrhythm train``) store a card in every model they save; files saved
    without one, or by skrhythm 0.2 and earlier, give None.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_model`.

    Returns
    -------
    card : str or None
        Markdown.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is not a model file written by :func:`save_model`.
    """
    if _format(path) == "skops":
        metadata = _skops_metadata(path)
    else:
        with open(path, "rb") as f:
            metadata = _pickle_metadata(f)
    _require_model_file(metadata, path)
    card = metadata.get("card")
    return card if isinstance(card, str) else None


class _MetadataUnpickler(pickle.Unpickler):
    """Reads the metadata dict of a joblib/pickle model file, refusing any class."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"unexpected type {module}.{name} in the metadata")


def _neutralise_file_parameters(obj, path, found=None):
    """Set the parameters of a loaded model that name folders to read from to ``None``."""
    found = [] if found is None else found
    if isinstance(obj, BaseEstimator):
        for name in ("cache",) if isinstance(obj, LogMelTransformer) else ("memory",):
            if obj.__dict__.get(name) is not None:
                found.append(f"{type(obj).__name__}.{name}={obj.__dict__[name]!r}")
                setattr(obj, name, None)
        values = obj.__dict__.values()
    elif isinstance(obj, dict):
        values = obj.values()
    elif isinstance(obj, (list, tuple)):
        values = obj
    else:
        values = ()
    for value in values:
        _neutralise_file_parameters(value, path, found)
    return found


def load_model(path, *, trusted=None):
    """Load a model written by :func:`save_model`.

    Parameters
    ----------
    path : str or path-like
        A ``.skops``, ``.joblib``, ``.pkl`` or ``.pickle`` file.
    trusted : bool, list of str or None, default=None
        ``True``: you trust the file as you would a program you run; needed
        for joblib and pickle files (unpickling runs any code the file asks
        for) and, for a skops file, allows every type it holds. A list of
        type names (``"module.Class"``, skops files only): extra types to
        allow, such as skorch callbacks passed to a classifier, or the scorer
        and splitter objects a fitted
        :class:`~sklearn.model_selection.GridSearchCV` holds (save its
        ``best_estimator_`` to avoid them); audit a file's types with
        :func:`skops.io.get_untrusted_types` first. ``None`` or ``False``:
        only skops files, with types known to be safe.

    Returns
    -------
    model : estimator
        From a skops file, with ``LogMelTransformer.cache`` and pipelines'
        ``memory`` set to ``None`` (a warning says so when they were set).

    Raises
    ------
    UntrustedFileError
        If the file is a joblib/pickle file and ``trusted`` is not ``True``.
    UntrustedTypesError
        If a skops file holds types that are neither safe nor trusted.
    ModelVersionError
        If the file was written by another major.minor version of skrhythm.
    ValueError
        If the suffix is unknown or the file was not written by :func:`save_model`.
    """
    fmt = _format(path)
    if not (trusted is None or isinstance(trusted, bool)):
        if isinstance(trusted, str) or not all(isinstance(t, str) for t in trusted):
            raise TypeError(f"trusted must be True, False, None or a list of type names, "
                            f"got {trusted!r}")
        if fmt != "skops":
            raise UntrustedFileError(
                f"{os.fspath(path)!r} is a {fmt} file: it cannot be trusted type by type, "
                "since unpickling can run any code; pass trusted=True if you trust the whole "
                "file, or load a .skops file"
            )
    if fmt == "skops":
        return _load_skops(path, trusted)
    if trusted is not True:
        raise UntrustedFileError(
            f"{os.fspath(path)!r} is a {fmt} file, and loading it runs any code it holds. "
            "Nothing was loaded. Load it only if you wrote it or trust its source as you "
            "would a program: load_model(path, trusted=True), or --trusted on the command "
            "line. Share models as .skops files, which load safely"
        )
    with open(path, "rb") as f:
        _check_metadata(_pickle_metadata(f), path)
        with _naming(path):
            return joblib.load(f) if fmt == "joblib" else pickle.load(f)


@contextmanager
def _naming(path):
    """Errors of building a model from a file as one ValueError naming the file.

    A file whose metadata passed but whose content is not a model of this
    skrhythm (damaged, crafted, parameters out of bounds) fails in the
    estimators' ``__setstate__``; :class:`ModelVersionError` passes as it is.
    """
    try:
        yield
    except ModelVersionError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ValueError(f"{os.fspath(path)!r} does not hold a valid skrhythm model: "
                         f"{type(exc).__name__}: {exc}") from exc


def _skops_metadata(path):
    """The metadata of a skops model file, read from its schema without building anything."""
    from ._skops_schema import SchemaError, read_schema

    try:
        metadata = read_schema(path).get("metadata")
    except SchemaError:
        return None
    return metadata if isinstance(metadata, dict) else None


def _load_skops(path, trusted):
    import skops.io

    _check_metadata(_skops_metadata(path), path)
    found = skops.io.get_untrusted_types(file=path)
    allowed = set(found if trusted is True else trusted or ())
    refused = sorted(t for t in found if t not in allowed and t not in TRUSTED_TYPES)
    if refused:
        raise UntrustedTypesError(
            f"{os.fspath(path)!r} holds types that are not known to be safe: "
            f"{', '.join(refused)}. Nothing was loaded. If you trust the file and these "
            "types, pass them as load_model(..., trusted=[...])"
        )
    with _naming(path):
        content = skops.io.load(path, trusted=found)
    model = content["model"]
    switched_off = _neutralise_file_parameters(model, path)
    if switched_off:
        warnings.warn(
            f"{os.fspath(path)!r} sets {', '.join(switched_off)}: a loaded model does not "
            "read folders named by its file (they could hold pickles planted for it), so "
            "these are None now; set them again if you want a cache",
            UserWarning,
            stacklevel=3,
        )
    return model
