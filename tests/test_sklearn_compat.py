"""skrhythm._sklearn_compat: scikit-learn's private names, and what stands in where one moved."""

from numbers import Integral

import pytest
from sklearn.base import BaseEstimator

from skrhythm import _sklearn_compat
from skrhythm._sklearn_compat import Interval, fit_context


class Counter(BaseEstimator):
    _parameter_constraints = {"n": [Interval(Integral, 0, None, closed="left")]}

    def __init__(self, n=1):
        self.n = n


@pytest.mark.parametrize("sklearn_has_it", [True, False])
def test_fit_context_validates_the_parameters_before_fit(monkeypatch, sklearn_has_it):
    if not sklearn_has_it:  # as if scikit-learn had moved it
        monkeypatch.setattr(_sklearn_compat, "_sklearn_fit_context", None)

    class Fitted(Counter):
        @fit_context(prefer_skip_nested_validation=True)
        def fit(self, X=None, y=None):
            """Fit."""
            self.fitted_ = True
            return self

    assert Fitted(n=2).fit().fitted_
    assert Fitted.fit.__doc__ == "Fit."
    with pytest.raises(ValueError, match="'n' parameter"):
        Fitted(n=-1).fit()
