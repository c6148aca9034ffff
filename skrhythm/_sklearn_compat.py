"""Every private scikit-learn name skrhythm uses, imported here and nowhere else.

The estimators declare their parameters with scikit-learn's constraint
objects (``Interval``, ``StrOptions``, ``HasMethods``), validate them with
its ``_fit_context`` and name their output features with
``_check_feature_names_in``. These live in private modules, which
scikit-learn may move or change in any release; keeping the imports in one
module makes a new scikit-learn one file to adapt: where a name moved, this
module raises an :class:`ImportError` that says which scikit-learn skrhythm
supports, except ``fit_context``, which falls back to validating the
parameters before ``fit`` (what it does besides is an optimisation).
"""

from __future__ import annotations

import functools

import sklearn

__all__ = ["HasMethods", "Interval", "StrOptions", "check_feature_names_in", "fit_context"]

#: The scikit-learn releases skrhythm is tested with (``pyproject.toml`` says the same).
SUPPORTED = ">=1.6,<1.10"

try:
    from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
except ImportError as error:  # pragma: no cover - only with an unsupported scikit-learn
    raise ImportError(
        f"skrhythm needs scikit-learn{SUPPORTED}; scikit-learn {sklearn.__version__} has no "
        f"parameter constraints where skrhythm looks for them ({error})"
    ) from error

try:
    from sklearn.base import _fit_context as _sklearn_fit_context
except ImportError:  # pragma: no cover - only with an unsupported scikit-learn
    _sklearn_fit_context = None

try:
    from sklearn.utils.validation import _check_feature_names_in as check_feature_names_in
except ImportError as error:  # pragma: no cover - only with an unsupported scikit-learn
    raise ImportError(
        f"skrhythm needs scikit-learn{SUPPORTED}; scikit-learn {sklearn.__version__} has no "
        f"_check_feature_names_in where skrhythm looks for it ({error})"
    ) from error


def fit_context(*, prefer_skip_nested_validation):
    """Decorator of ``fit``: validate the estimator's parameters first, as scikit-learn does.

    scikit-learn's ``_fit_context`` where it exists; otherwise a decorator
    that calls ``self._validate_params()`` before ``fit``.
    """
    if _sklearn_fit_context is not None:
        return _sklearn_fit_context(prefer_skip_nested_validation=prefer_skip_nested_validation)

    def decorator(fit):
        @functools.wraps(fit)
        def wrapper(estimator, *args, **kwargs):
            estimator._validate_params()
            return fit(estimator, *args, **kwargs)

        return wrapper

    return decorator

