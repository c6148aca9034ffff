"""Paired statistics over the shared cross-validation folds of a comparison.

Every model of a comparison is tested on the same folds, so two models can
be compared fold by fold. Fold accuracies are not independent samples (the
training sets of k-fold cross-validation overlap), and the plain paired
t-test over folds is known to reject far too often. This module uses:

- the **corrected resampled t-test** of Nadeau & Bengio (2003), with the
  variance factor ``1/(k r) + n_test/n_train`` for ``r`` repetitions of
  ``k``-fold cross-validation (Bouckaert & Frank, 2004), ``k r - 1`` degrees
  of freedom, two-sided; the same corrected variance gives the confidence
  intervals of a model's mean accuracy and of a difference;
- **McNemar's test** on the track predictions pooled over the test folds of
  the first repetition (each track counted once): exact two-sided binomial
  test when the discordant tracks number fewer than 25, otherwise the
  chi-square statistic with Edwards' continuity correction, 1 degree of
  freedom;
- **Holm's step-down adjustment** of either p-value over the pairs compared.

The entry points take the fold records of :func:`skrhythm.experiments.run_comparison`
(one dict per model, hop and fold; keys ``model``, ``fold``, ``accuracy``,
and optionally ``hop``, ``repeat`` (default 0), ``label``, ``params``,
``y_true``, ``y_pred``, ``test_index``, ``n_train``, ``n_test``):
:func:`fold_scores`, :func:`model_summary`, :func:`pairwise`, :func:`claims`
and :func:`claims_markdown`. A model is a (``model``, ``hop``) pair.

References
----------
C. Nadeau and Y. Bengio, "Inference for the generalization error", Machine
Learning 52:239-281, 2003.
R. R. Bouckaert and E. Frank, "Evaluating the replicability of significance
tests for comparing learning algorithms", PAKDD 2004, LNAI 3056:3-12.
Q. McNemar, "Note on the sampling error of the difference between correlated
proportions or percentages", Psychometrika 12:153-157, 1947.
A. L. Edwards, "Note on the 'correction for continuity' in testing the
significance of the difference between correlated proportions",
Psychometrika 13:185-187, 1948.
S. Holm, "A simple sequentially rejective multiple test procedure",
Scandinavian Journal of Statistics 6:65-70, 1979.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import stats as _st

__all__ = [
    "CorrectedTTest",
    "McNemarTest",
    "claims",
    "claims_markdown",
    "class_recall",
    "corrected_interval",
    "corrected_ttest",
    "fold_scores",
    "holm",
    "json_value",
    "mcnemar",
    "mean_recall",
    "mean_recall_records",
    "model_summary",
    "pairwise",
    "points_interval",
    "tempo_drops",
]

#: Discordant tracks below which McNemar's test is the exact binomial test.
EXACT_BELOW = 25


def _check_folds(n_folds, what):
    if n_folds < 2:
        raise ValueError(
            f"{what} has {n_folds} fold score(s); a variance over folds needs at least two "
            "(run the comparison with two or more folds)"
        )


def _correction(n_scores, n_train, n_test):
    """Nadeau & Bengio's variance factor ``1/J + n_test/n_train`` for ``J`` fold scores."""
    if not (n_train > 0 and n_test > 0):
        raise ValueError(f"n_train and n_test must be positive, got {n_train} and {n_test}")
    return 1.0 / n_scores + n_test / n_train


def corrected_interval(scores, n_train, n_test, confidence=0.95):
    """Mean of fold scores and its t interval with the corrected variance.

    The interval is ``mean +- t(J-1) * sqrt((1/J + n_test/n_train) * s^2)``
    with ``s^2`` the sample variance (``ddof=1``) of the ``J`` fold scores
    (Nadeau & Bengio, 2003; Bouckaert & Frank, 2004, for ``J = k r``).

    Parameters
    ----------
    scores : array-like of shape (J,)
        One score per fold (all repetitions together).
    n_train, n_test : float
        Training and test tracks per fold (means, if the folds differ).
    confidence : float, default=0.95

    Returns
    -------
    mean, low, high : float
        ``low == high == mean`` when every fold has the same score. The
        interval is not clipped to the range of the score (with few folds
        an accuracy interval can pass 1).

    Examples
    --------
    >>> mean, low, high = corrected_interval([0.8, 0.75, 0.9], n_train=64, n_test=32)
    >>> round(mean, 4), round(low, 4), round(high, 4)
    (0.8167, 0.5167, 1.1167)
    """
    scores = np.asarray(scores, dtype=float)
    _check_folds(scores.size, "the score list")
    mean = float(scores.mean())
    se = math.sqrt(_correction(scores.size, n_train, n_test) * scores.var(ddof=1))
    half = float(_st.t.ppf(0.5 + confidence / 2, scores.size - 1)) * se
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class CorrectedTTest:
    """Result of :func:`corrected_ttest` (differences are ``a - b``)."""

    mean: float
    low: float
    high: float
    t: float
    df: int
    p: float


def corrected_ttest(a, b, n_train, n_test, confidence=0.95):
    """Corrected resampled t-test of paired fold scores (two-sided).

    With ``d_j = a_j - b_j`` over ``J = k r`` folds (``r`` repetitions of
    ``k``-fold cross-validation), ``t = mean(d) / sqrt((1/J + n_test/n_train)
    * var(d))``, ``var`` with ``ddof=1``, compared with Student's t with
    ``J - 1`` degrees of freedom (Nadeau & Bengio, 2003, Machine Learning
    52:239-281; Bouckaert & Frank, 2004).

    Edge cases: a difference of zero on every fold gives ``t = 0``, ``p = 1``.
    A nonzero difference that is the same on every fold (zero variance)
    (equal up to 1e-12, float rounding aside) gives ``t = +-inf`` and
    ``p = nan``: the test has no scale, and a zero
    variance among a few discrete fold accuracies does not show that the
    true variance is zero, so ``p = 0`` would claim a certainty the data do
    not give (McNemar's test still applies); the interval is NaN for the
    same reason.

    Parameters
    ----------
    a, b : array-like of shape (J,)
        Scores of two models on the same folds, in the same order.
    n_train, n_test : float
        Training and test tracks per fold (means, if the folds differ).
    confidence : float, default=0.95
        Of the interval of the mean difference.

    Returns
    -------
    CorrectedTTest

    Raises
    ------
    ValueError
        With fewer than two folds, or ``a`` and ``b`` of different lengths.

    Examples
    --------
    >>> r = corrected_ttest([0.8, 0.75, 0.9], [0.7, 0.75, 0.8], n_train=64, n_test=32)
    >>> round(r.t, 4), r.df, round(r.p, 4)
    (1.2649, 2, 0.3333)
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"a and b must be 1-D scores of the same folds, got shapes "
                         f"{a.shape} and {b.shape}")
    d = a - b
    _check_folds(d.size, "the paired score list")
    if np.ptp(d) <= 1e-12 * max(1.0, float(np.abs(d).max())):
        d = np.full(d.size, d.mean())  # equal up to rounding (0.6 - 0.5 != 0.8 - 0.7)
    mean, low, high = corrected_interval(d, n_train, n_test, confidence)
    se = math.sqrt(_correction(d.size, n_train, n_test) * d.var(ddof=1))
    df = d.size - 1
    if se > 0:
        t = mean / se
        p = float(2 * _st.t.sf(abs(t), df))
    elif mean == 0:
        t, p = 0.0, 1.0
    else:
        t, p, low, high = math.copysign(math.inf, mean), math.nan, math.nan, math.nan
    return CorrectedTTest(mean, low, high, float(t), df, p)


@dataclass(frozen=True)
class McNemarTest:
    """Result of :func:`mcnemar`.

    ``b``: tracks only model A classified correctly; ``c``: only model B;
    ``method``: ``"exact"`` (binomial) or ``"chi2-cc"`` (continuity corrected).
    """

    b: int
    c: int
    statistic: float
    p: float
    method: str


def mcnemar(correct_a, correct_b):
    """McNemar's test of two classifiers on the same tracks (two-sided).

    With ``b`` tracks right for A only and ``c`` right for B only: when
    ``b + c < 25`` the exact test, ``p = min(1, 2 P(X <= min(b, c)))`` for
    ``X ~ Binomial(b + c, 1/2)`` (statistic ``min(b, c)``); otherwise
    ``chi2 = (|b - c| - 1)^2 / (b + c)`` with 1 degree of freedom (McNemar,
    1947, with Edwards' 1948 continuity correction). No discordant track
    gives ``p = 1``.

    Parameters
    ----------
    correct_a, correct_b : array-like of bool, shape (n_tracks,)
        Whether each model classified each track correctly.

    Returns
    -------
    McNemarTest

    Examples
    --------
    >>> mcnemar([1, 0, 0, 0, 0, 0, 0, 1], [0, 1, 1, 1, 1, 1, 1, 1])
    McNemarTest(b=1, c=6, statistic=1.0, p=0.125, method='exact')
    """
    a, b_ = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b_.shape or a.ndim != 1:
        raise ValueError(f"correct_a and correct_b must be 1-D over the same tracks, got "
                         f"shapes {a.shape} and {b_.shape}")
    b, c = int((a & ~b_).sum()), int((~a & b_).sum())
    n = b + c
    if n == 0:
        return McNemarTest(0, 0, 0.0, 1.0, "exact")
    if n < EXACT_BELOW:
        return McNemarTest(b, c, float(min(b, c)),
                           float(min(1.0, 2 * _st.binom.cdf(min(b, c), n, 0.5))), "exact")
    chi2 = (abs(b - c) - 1) ** 2 / n
    return McNemarTest(b, c, float(chi2), float(_st.chi2.sf(chi2, 1)), "chi2-cc")


def holm(pvalues):
    """Holm's step-down adjusted p-values (NaN entries stay NaN and are not counted).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(4).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


# ---------------------------------------------------------------------------
# Recall


def class_recall(y_true, y_pred, labels=None):
    """Recall of every class: the fraction of its tracks predicted as it.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_tracks,)
    labels : sequence or None, default=None
        The classes, in the order wanted; None: those of ``y_true``, sorted.
        A class without tracks in ``y_true`` has no recall (NaN).

    Returns
    -------
    recall : dict
        ``{class: recall}``.

    Examples
    --------
    >>> class_recall(["a", "a", "b"], ["a", "b", "b"])
    {'a': 0.5, 'b': 1.0}
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {y_true.shape} and {y_pred.shape}")
    labels = np.unique(y_true) if labels is None else labels
    recall = {}
    for label in labels:
        mine = y_true == label
        recall[label.item() if isinstance(label, np.generic) else label] = (
            float(np.mean(y_pred[mine] == label)) if mine.any() else float("nan"))
    return recall


def mean_recall(y_true, y_pred):
    """The mean of the per-class recalls over the classes of ``y_true`` (balanced accuracy).

    Every class counts as much as every other, however many tracks it has:
    the figure MIR papers report beside accuracy on unbalanced sets such as
    Ballroom (60 Jive tracks, 111 Cha-cha-cha) and Extended Ballroom.

    Examples
    --------
    >>> mean_recall(["a", "a", "a", "b"], ["a", "a", "a", "a"])
    0.5
    """
    return float(np.mean(list(class_recall(y_true, y_pred).values())))


def mean_recall_records(records):
    """Fold records whose ``accuracy`` is the fold's mean recall, for the paired statistics.

    :func:`model_summary`, :func:`pairwise` and :func:`fold_scores` of these
    records give the mean recall's intervals and paired tests as they give
    the accuracy's. The track predictions are left out (McNemar's test is a
    test of track correctness, which is accuracy's, not mean recall's), so
    :func:`pairwise` reports no McNemar p-values for them.

    Parameters
    ----------
    records : list of dict
        Fold records with ``y_true`` and ``y_pred``.

    Returns
    -------
    records : list of dict
    """
    out = []
    for r in records:
        if r.get("y_true") is None or r.get("y_pred") is None:
            raise ValueError(f"fold record of {r.get('model')} fold {r.get('fold')} has no "
                             "y_true and y_pred to compute its mean recall from")
        recall = mean_recall(r["y_true"], r["y_pred"])
        out.append({**{k: v for k, v in r.items() if k != "y_pred"}, "accuracy": recall})
    return out


# ---------------------------------------------------------------------------
# Fold records -> tables


def _hop(value):
    """A record's hop as an int: 0 for models without patches (None or NaN)."""
    return 0 if value is None or value != value else int(value)


def _runs(records):
    """Fold records grouped by model: ``{(model, hop): {(repeat, fold): record}}``."""
    runs = {}
    for i, r in enumerate(records):
        missing = [k for k in ("model", "fold", "accuracy") if k not in r]
        if missing:
            raise ValueError(f"fold record {i} has no {', '.join(missing)}")
        key = (r["model"], _hop(r.get("hop")))
        fold = (int(r.get("repeat") or 0), int(r["fold"]))
        folds = runs.setdefault(key, {})
        if fold in folds:
            raise ValueError(f"model {_name(key)} has two records for repeat {fold[0]}, "
                             f"fold {fold[1]}")
        folds[fold] = r
    if not runs:
        raise ValueError("no fold records")
    return runs


def _name(key):
    model, hop = key
    return f"{model} (hop {hop})" if hop else str(model)


def _n_test(r):
    for key in ("n_test", "y_true", "test_index"):
        if r.get(key) is not None:
            return int(r[key]) if key == "n_test" else len(r[key])
    raise ValueError(f"fold record of {r['model']} fold {r['fold']} has no n_test, y_true "
                     "or test_index to count its test tracks")


def fold_scores(records):
    """One row per model, hop, repeat and fold: accuracy and the fold's sizes.

    ``n_train`` is the record's own when present, else the tracks of the
    repetition outside the fold's test part (the sum of ``n_test`` over the
    repetition's folds minus this fold's; a validation split taken from the
    training part counts as training, as it is part of the training
    procedure).

    Parameters
    ----------
    records : list of dict
        Fold records (see the module docstring).

    Returns
    -------
    scores : pandas.DataFrame
        Columns ``model, hop, label, params, repeat, fold, accuracy,
        n_train, n_test``; ``hop`` 0 for models without patches.
    """
    import pandas as pd

    rows = []
    for key, folds in _runs(records).items():
        totals = {}
        for (repeat, _), r in folds.items():
            totals[repeat] = totals.get(repeat, 0) + _n_test(r)
        for (repeat, fold), r in sorted(folds.items()):
            n_test = _n_test(r)
            n_train = r.get("n_train")
            rows.append({
                "model": key[0], "hop": key[1], "label": r.get("label", key[0]),
                "params": r.get("params"), "repeat": repeat, "fold": fold,
                "accuracy": float(r["accuracy"]), "n_test": n_test,
                "n_train": int(n_train) if n_train is not None else totals[repeat] - n_test,
            })
    return pd.DataFrame(rows)


def model_summary(records, confidence=0.95):
    """Per model and hop: mean track accuracy and its corrected t interval.

    The interval is :func:`corrected_interval` over all folds of all
    repetitions, with the mean training and test sizes of the folds.

    Parameters
    ----------
    records : list of dict
        Fold records.
    confidence : float, default=0.95

    Returns
    -------
    summary : pandas.DataFrame
        Columns ``model, hop, label, params, folds, repeats, accuracy,
        accuracy_std, ci_low, ci_high, confidence, n_train, n_test``, in
        the order the models first appear in ``records``.

    Raises
    ------
    ValueError
        If a model has a single fold score.
    """
    import pandas as pd

    rows = []
    for (model, hop), g in fold_scores(records).groupby(["model", "hop"], sort=False):
        _check_folds(len(g), f"model {_name((model, hop))}")
        n_train, n_test = g["n_train"].mean(), g["n_test"].mean()
        mean, low, high = corrected_interval(g["accuracy"], n_train, n_test, confidence)
        rows.append({
            "model": model, "hop": hop, "label": g["label"].iloc[0],
            "params": g["params"].iloc[0], "folds": len(g), "repeats": g["repeat"].nunique(),
            "accuracy": mean, "accuracy_std": float(g["accuracy"].std(ddof=1)),
            "ci_low": low, "ci_high": high, "confidence": confidence, "n_train": n_train,
            "n_test": n_test,
        })
    return pd.DataFrame(rows)


def _paired(runs, key_a, key_b):
    """Fold scores and pooled correctness of two models, checked to share their folds."""
    fa, fb = runs[key_a], runs[key_b]
    if set(fa) != set(fb):
        only = sorted(set(fa) ^ set(fb))
        raise ValueError(
            f"models {_name(key_a)} and {_name(key_b)} were not run on the same folds "
            f"((repeat, fold) present for one only: {only[:5]})"
        )
    for fold in sorted(fa):
        ra, rb = fa[fold], fb[fold]
        for field in ("test_index", "y_true"):
            if ra.get(field) is not None and rb.get(field) is not None and not np.array_equal(
                    np.asarray(ra[field]), np.asarray(rb[field])):
                raise ValueError(
                    f"models {_name(key_a)} and {_name(key_b)} were not tested on the same "
                    f"tracks in repeat {fold[0]}, fold {fold[1]} ({field} differs)"
                )
    folds = sorted(fa)
    acc_a = [float(fa[f]["accuracy"]) for f in folds]
    acc_b = [float(fb[f]["accuracy"]) for f in folds]
    first = [f for f in folds if f[0] == folds[0][0]]
    if all(fa[f].get("y_pred") is not None and fb[f].get("y_pred") is not None
           and fa[f].get("y_true") is not None for f in first):
        def correct(run):
            return np.concatenate([np.asarray(run[f]["y_pred"]) == np.asarray(fa[f]["y_true"])
                                   for f in first])
        pooled = (correct(fa), correct(fb))
    else:
        pooled = None
    return acc_a, acc_b, pooled


def pairwise(records, pairs=None, confidence=0.95):
    """Paired comparison of models on their shared folds.

    For each pair (A, B): the mean difference of track accuracy A - B over
    the folds with its corrected t interval, the corrected resampled t-test
    (:func:`corrected_ttest`), McNemar's test on the pooled track
    predictions of the first repetition (:func:`mcnemar`; NaN when the
    records hold no ``y_true``/``y_pred``), and Holm's adjustment of each
    p-value over the pairs of this call (:func:`holm`).

    Parameters
    ----------
    records : list of dict
        Fold records.
    pairs : list of ((model, hop), (model, hop)) or None
        The pairs to compare (``hop`` 0 or None for models without patches);
        default: every pair of models in record order. Holm's adjustment is
        over these pairs.
    confidence : float, default=0.95

    Returns
    -------
    table : pandas.DataFrame
        One row per pair: ``model_a, hop_a, label_a, model_b, hop_b,
        label_b, folds, difference, diff_low, diff_high, t, df, p, p_holm,
        mcnemar_b, mcnemar_c, mcnemar_method, p_mcnemar, p_mcnemar_holm``.

    Raises
    ------
    ValueError
        If two models were not run on the same folds (naming them), a model
        of ``pairs`` has no records, or there is a single fold.
    """
    import pandas as pd

    runs = _runs(records)
    scores = fold_scores(records)
    if pairs is None:
        pairs = list(combinations(runs, 2))
    else:
        pairs = [tuple((m, _hop(h)) for m, h in pair) for pair in pairs]
        for key in {k for pair in pairs for k in pair} - set(runs):
            raise ValueError(f"no fold records of model {_name(key)}")
    label = {k: runs[k][min(runs[k])].get("label", k[0]) for k in runs}
    rows = []
    for key_a, key_b in pairs:
        acc_a, acc_b, pooled = _paired(runs, key_a, key_b)
        sel = scores[(scores["model"] == key_a[0]) & (scores["hop"] == key_a[1])]
        test = corrected_ttest(acc_a, acc_b, sel["n_train"].mean(), sel["n_test"].mean(),
                               confidence)
        mc = mcnemar(*pooled) if pooled is not None else None
        rows.append({
            "model_a": key_a[0], "hop_a": key_a[1], "label_a": label[key_a],
            "model_b": key_b[0], "hop_b": key_b[1], "label_b": label[key_b],
            "folds": len(acc_a), "difference": test.mean, "diff_low": test.low,
            "diff_high": test.high, "t": test.t, "df": test.df, "p": test.p,
            "mcnemar_b": mc.b if mc else None, "mcnemar_c": mc.c if mc else None,
            "mcnemar_method": mc.method if mc else None,
            "p_mcnemar": mc.p if mc else math.nan,
        })
    table = pd.DataFrame(rows, columns=[
        "model_a", "hop_a", "label_a", "model_b", "hop_b", "label_b", "folds", "difference",
        "diff_low", "diff_high", "t", "df", "p", "mcnemar_b", "mcnemar_c", "mcnemar_method",
        "p_mcnemar"])
    table.insert(table.columns.get_loc("p") + 1, "p_holm", holm(table["p"]))
    table["p_mcnemar_holm"] = holm(table["p_mcnemar"])
    return table


def tempo_drops(records, confidence=0.95):
    """Per model and tempo factor: accuracy, its drop from the original tempo, interval, p.

    Records of a comparison run with tempo shifts hold ``tempo_pred``, the
    predictions of the fold's test tracks played at each factor
    (``{"1.08": [...], ...}``). For each model and factor: the mean track
    accuracy over the folds at that factor, the drop (accuracy at the
    original tempo minus at the factor, fold by fold) with its corrected t
    interval (:func:`corrected_interval`, as for a difference of models), and
    McNemar's test of the tracks' correctness at the two tempos, pooled over
    the test folds of the first repetition.

    Parameters
    ----------
    records : list of dict
        Fold records with ``tempo_pred``, ``y_true`` and ``y_pred``.
    confidence : float, default=0.95

    Returns
    -------
    table : pandas.DataFrame
        One row per model and factor, the original tempo (factor 1, drop 0)
        first: ``model, hop, label, factor, accuracy, drop, drop_low,
        drop_high, p``. The interval is NaN with a single fold. Empty when
        no record holds ``tempo_pred``.
    """
    import pandas as pd

    columns = ["model", "hop", "label", "factor", "accuracy", "drop", "drop_low", "drop_high",
               "p"]
    scores = fold_scores(records)
    rows = []
    for key, folds in _runs(records).items():
        order = sorted(folds)
        if not all(folds[f].get("tempo_pred") for f in order):
            continue
        label = folds[order[0]].get("label", key[0])
        sizes = scores[(scores["model"] == key[0]) & (scores["hop"] == key[1])]
        base = np.array([float(folds[f]["accuracy"]) for f in order])
        rows.append(dict(zip(columns, [*key, label, 1.0, float(base.mean()), 0.0, 0.0, 0.0,
                                       1.0], strict=True)))
        first = [f for f in order if f[0] == order[0][0]]
        truth = {f: np.asarray(folds[f]["y_true"]) for f in order}
        at_tempo = np.concatenate([np.asarray(folds[f]["y_pred"]) == truth[f] for f in first])
        for factor in sorted(folds[order[0]]["tempo_pred"], key=float):
            shifted = np.array([float((np.asarray(folds[f]["tempo_pred"][factor])
                                       == truth[f]).mean()) for f in order])
            drops = base - shifted
            if len(order) > 1:
                _, low, high = corrected_interval(drops, sizes["n_train"].mean(),
                                                  sizes["n_test"].mean(), confidence)
            else:
                low = high = math.nan
            at_factor = np.concatenate([np.asarray(folds[f]["tempo_pred"][factor]) == truth[f]
                                        for f in first])
            rows.append(dict(zip(columns, [*key, label, float(factor), float(shifted.mean()),
                                           float(drops.mean()), low, high,
                                           mcnemar(at_tempo, at_factor).p], strict=True)))
    return pd.DataFrame(rows, columns=columns)


# ---------------------------------------------------------------------------
# The poster's claim 1, in plain words

#: Claim 1 of the poster: O-net + P-net against each single net and each doubled net.
CLAIM1_RIVALS = ("onet", "pnet", "2onet", "2pnet")
CLAIM1_MODEL = "o+p"


def json_value(x):
    """Plain Python value, NaN and infinities as None (strict JSON has neither)."""
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def _verdict(diff, p_holm, alpha):
    if p_holm is not None and p_holm < alpha:
        return "supported" if diff > 0 else "contradicted"
    return "not shown"


def claims(records, alpha=0.05, confidence=0.95):
    """What the run supports of the poster's claim 1, per hop, as JSON-able data.

    Claim 1 (Pons & Serra, ICASSP 2017): O-net + P-net beats the O-net alone
    and the P-net alone, and beats doubling one net (2x O-net, 2x P-net) at
    fewer or similar parameters. At each hop where O-net + P-net ran, each
    of those four rivals present in the run is compared with
    :func:`pairwise` (Holm's adjustment over all comparisons of the claim).
    A comparison is ``"supported"`` when O-net + P-net is better with a
    Holm-adjusted corrected t-test p below ``alpha``, ``"contradicted"``
    when the rival is better at that level, else ``"not shown"`` (the
    difference is within what fold-to-fold noise gives; NaN p-values, see
    :func:`corrected_ttest`, are never significant). The claim at a hop is
    ``"supported"`` only if all four comparisons are, ``"contradicted"`` if
    any is, ``"not tested"`` when a needed model is missing, else
    ``"not shown"``.

    Parameters
    ----------
    records : list of dict
        Fold records.
    alpha : float, default=0.05
    confidence : float, default=0.95

    Returns
    -------
    report : dict
        ``claim``, ``alpha``, ``confidence``, ``test`` (the tests' names),
        ``hops`` (a list of ``{hop, verdict, missing, comparisons}``, each
        comparison with ``rival``, ``label``, ``params``, ``rival_params``,
        ``diff``, ``diff_low``, ``diff_high``, ``p``, ``p_holm``,
        ``p_mcnemar``, ``verdict``) and ``summary`` (plain words).
        Numbers are fractions of tracks (0.05 = 5 points); None where a
        value is undefined.
    """
    runs = _runs(records)
    report = {
        "claim": "O-net + P-net beats O-net alone and P-net alone, and beats doubling one "
                 "net (2x O-net, 2x P-net) at fewer or similar parameters",
        "alpha": alpha, "confidence": confidence,
        "score": "track accuracy, as the paper reports it",
        "test": "corrected resampled t-test (Nadeau & Bengio 2003; Bouckaert & Frank 2004), "
                "two-sided, Holm-adjusted over the claim's comparisons; McNemar's test on "
                "pooled track predictions for reference",
        "hops": [],
    }
    hops = sorted({hop for model, hop in runs if model == CLAIM1_MODEL}, reverse=True)
    pairs = [((CLAIM1_MODEL, hop), (rival, hop)) for hop in hops for rival in CLAIM1_RIVALS
             if (rival, hop) in runs]
    table = pairwise(records, pairs, confidence) if pairs else None
    params = {k: f[min(f)].get("params") for k, f in runs.items()}
    for hop in hops:
        rows = table[table["hop_a"] == hop] if table is not None else []
        comparisons = []
        for row in (rows.itertuples() if len(rows) else ()):
            p_holm = json_value(row.p_holm)
            comparisons.append({
                "rival": row.model_b, "label": row.label_b,
                "params": json_value(params[(CLAIM1_MODEL, hop)]),
                "rival_params": json_value(params[(row.model_b, hop)]),
                "diff": json_value(row.difference), "diff_low": json_value(row.diff_low),
                "diff_high": json_value(row.diff_high), "p": json_value(row.p), "p_holm": p_holm,
                "p_mcnemar": json_value(row.p_mcnemar),
                "verdict": _verdict(row.difference, p_holm, alpha),
            })
        missing = [r for r in CLAIM1_RIVALS if (r, hop) not in runs]
        verdicts = {c["verdict"] for c in comparisons}
        verdict = ("contradicted" if "contradicted" in verdicts else "not tested" if missing
                   else "supported" if verdicts == {"supported"} else "not shown")
        report["hops"].append({"hop": hop, "verdict": verdict, "missing": missing,
                               "comparisons": comparisons})
    report["summary"] = _summary(report)
    return report


def _pts(x):
    return "undefined" if x is None else f"{100 * x:+.1f}"


def points_interval(low, high):
    """An interval of a difference of accuracies in points, as the reports write it.

    Clipped to the -100 to +100 points a difference of two accuracies can
    take (the corrected t interval is not, with few folds); "undefined" when
    a bound is missing or not finite (the difference was the same on every
    fold).

    Examples
    --------
    >>> points_interval(-2.026, 1.526), points_interval(None, 0.1)
    ('-100.0 to +100.0', 'undefined')
    """
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return "undefined"
    return f"{100 * max(-1.0, low):+.1f} to {100 * min(1.0, high):+.1f}"


def _p(x):
    return "undefined" if x is None else f"{x:.3g}"


def _summary(report):
    if not report["hops"]:
        return ("Claim 1 cannot be tested: the run has no O-net + P-net (add o+p, onet, pnet, "
                "2onet and 2pnet to --models).")
    lines = []
    level = f"{100 * report['confidence']:.0f} %"
    for h in report["hops"]:
        where = f"at hop {h['hop']}" if h["hop"] else "without patches"
        head = {"supported": "supported", "contradicted": "contradicted",
                "not shown": "not shown (no difference is beyond fold-to-fold noise at "
                             f"alpha = {report['alpha']})",
                "not tested": "not fully tested"}[h["verdict"]]
        lines.append(f"Claim 1 {where}: {head}.")
        if h["missing"]:
            lines.append(f"  Missing from the run: {', '.join(h['missing'])} "
                         "(add them to --models).")
        for c in h["comparisons"]:
            rel = ("better than" if c["verdict"] == "supported" else
                   "worse than" if c["verdict"] == "contradicted" else "not distinguishable from")
            size = ""
            if c["params"] is not None and c["rival_params"] is not None:
                size = f"; {c['params']:,} vs {c['rival_params']:,} parameters"
            lines.append(
                f"  - O-net + P-net is {rel} {c['label']}: difference {_pts(c['diff'])} "
                f"points ({level} interval {points_interval(c['diff_low'], c['diff_high'])}), "
                f"corrected p = {_p(c['p'])}, Holm p = {_p(c['p_holm'])}, "
                f"McNemar p = {_p(c['p_mcnemar'])}{size}."
            )
    return "\n".join(lines)


def claims_markdown(report):
    """The report of :func:`claims` as a Markdown section (table and plain words)."""
    lines = ["## Poster claim 1", "", f"*{report['claim']}.*", "",
             f"Judged on {report.get('score', 'track accuracy')}. Test: {report['test']}; "
             f"alpha = {report['alpha']}.", ""]
    rows = [(h["hop"], c) for h in report["hops"] for c in h["comparisons"]]
    if rows:
        level = f"{100 * report['confidence']:.0f} %"
        lines += [f"| hop | O-net + P-net vs | difference (points) | {level} interval | "
                  "p (corrected) | p (Holm) | p (McNemar) | verdict |",
                  "| --- | --- | ---: | --- | ---: | ---: | ---: | --- |"]
        for hop, c in rows:
            lines.append(
                f"| {hop or '-'} | {c['label']} | {_pts(c['diff'])} | "
                f"{points_interval(c['diff_low'], c['diff_high'])} | {_p(c['p'])} | "
                f"{_p(c['p_holm'])} | "
                f"{_p(c['p_mcnemar'])} | {c['verdict']} |")
        lines.append("")
    lines.append(report["summary"])
    return "\n".join(lines) + "\n"
