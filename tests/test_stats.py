"""skrhythm.stats: corrected intervals and t-tests, McNemar, Holm, the poster's claim 1."""

import json
import math

import numpy as np
import pytest
from scipy import stats as st

from skrhythm.stats import (
    claims,
    claims_markdown,
    corrected_interval,
    corrected_ttest,
    fold_scores,
    holm,
    mcnemar,
    model_summary,
    pairwise,
    tempo_drops,
)


def test_corrected_ttest_hand_worked():
    # d = [0.10, 0.00, 0.10]: mean 1/15, var (ddof=1) 1/300; J = 3, n_test/n_train = 32/64,
    # factor 1/3 + 1/2 = 5/6; var of the mean 5/1800 = 1/360; t^2 = (1/225) / (1/360) = 1.6.
    # Student's t with 2 df: sf(t) = (1 - t / sqrt(t^2 + 2)) / 2 = (1 - sqrt(1.6 / 3.6)) / 2
    # = (1 - 2/3) / 2 = 1/6, so the two-sided p is exactly 1/3.
    r = corrected_ttest([0.80, 0.75, 0.90], [0.70, 0.75, 0.80], n_train=64, n_test=32)
    assert r.mean == pytest.approx(1 / 15, rel=1e-12)
    assert r.t == pytest.approx(math.sqrt(1.6), rel=1e-12)
    assert r.df == 2
    assert r.p == pytest.approx(1 / 3, rel=1e-9)
    half = st.t.ppf(0.975, 2) * math.sqrt(1 / 360)
    assert (r.low, r.high) == pytest.approx((1 / 15 - half, 1 / 15 + half), rel=1e-12)


def test_corrected_ttest_repeated_cv_formula():
    # r = 2 repetitions of k = 5 folds: factor 1/(k r) + n_test/n_train (Bouckaert & Frank).
    rng = np.random.default_rng(3)
    a = rng.uniform(0.6, 0.9, 10)
    b = a - rng.normal(0.02, 0.03, 10)
    d = a - b
    t = d.mean() / math.sqrt((1 / 10 + 20 / 80) * d.var(ddof=1))
    r = corrected_ttest(a, b, n_train=80, n_test=20)
    assert r.t == pytest.approx(t, rel=1e-12)
    assert r.p == pytest.approx(2 * st.t.sf(abs(t), 9), rel=1e-9)
    # The correction widens the plain paired t-test's interval: its p is smaller.
    assert st.ttest_rel(a, b).pvalue < r.p
    assert corrected_ttest(b, a, 80, 20).t == pytest.approx(-r.t, rel=1e-12)


def test_corrected_interval_is_the_t_interval_with_corrected_variance():
    scores = [0.8, 0.75, 0.9, 0.85]
    mean, low, high = corrected_interval(scores, n_train=75, n_test=25, confidence=0.9)
    se = math.sqrt((1 / 4 + 25 / 75) * np.var(scores, ddof=1))
    half = st.t.ppf(0.95, 3) * se
    assert (mean, low, high) == pytest.approx((0.825, 0.825 - half, 0.825 + half), rel=1e-12)


def test_identical_models_give_p_one():
    r = corrected_ttest([0.5, 0.7, 0.6], [0.5, 0.7, 0.6], 10, 5)
    assert (r.mean, r.t, r.p, r.low, r.high) == (0.0, 0.0, 1.0, 0.0, 0.0)


def test_constant_nonzero_difference_has_no_p_value():
    r = corrected_ttest([0.6, 0.8, 0.7], [0.5, 0.7, 0.6], 10, 5)
    assert r.t == math.inf and math.isnan(r.p)
    assert r.mean == pytest.approx(0.1) and math.isnan(r.low) and math.isnan(r.high)
    assert corrected_ttest([0.5, 0.7, 0.6], [0.6, 0.8, 0.7], 10, 5).t == -math.inf


def test_one_fold_is_an_error():
    with pytest.raises(ValueError, match="at least two"):
        corrected_ttest([0.5], [0.6], 10, 5)
    with pytest.raises(ValueError, match="at least two"):
        corrected_interval([0.5], 10, 5)
    with pytest.raises(ValueError, match="same folds"):
        corrected_ttest([0.5, 0.6], [0.6, 0.7, 0.8], 10, 5)


def test_mcnemar_exact_hand_worked():
    # b = 1 (A only right), c = 6 (B only right): 2 P(X <= 1), X ~ Bin(7, 1/2) = 2 * 8/128.
    a = [1, 0, 0, 0, 0, 0, 0, 1, 1]
    b = [0, 1, 1, 1, 1, 1, 1, 1, 0]
    r = mcnemar(a, b)
    assert (r.b, r.c, r.method) == (2, 6, "exact")
    assert r.p == pytest.approx(2 * st.binom.cdf(2, 8, 0.5), rel=1e-12)
    assert mcnemar(a[:-1], b[:-1]).p == pytest.approx(16 / 128, rel=1e-12)


def test_mcnemar_large_counts_use_continuity_corrected_chi2():
    a = np.r_[np.ones(30, bool), np.zeros(10, bool), np.ones(5, bool)]
    b = np.r_[np.zeros(30, bool), np.ones(10, bool), np.ones(5, bool)]
    r = mcnemar(a, b)
    assert (r.b, r.c, r.method) == (30, 10, "chi2-cc")
    assert r.statistic == pytest.approx(19**2 / 40, rel=1e-12)
    assert r.p == pytest.approx(st.chi2.sf(19**2 / 40, 1), rel=1e-12)


def test_mcnemar_no_discordant_tracks():
    r = mcnemar([1, 0, 1], [1, 0, 1])
    assert (r.b, r.c, r.p) == (0, 0, 1.0)


def test_holm_hand_worked_and_nan():
    # sorted 0.01, 0.03, 0.04 -> 3*0.01, 2*0.03, max(0.06, 1*0.04)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    out = holm([0.02, np.nan, 0.5])
    assert out[0] == pytest.approx(0.04) and np.isnan(out[1]) and out[2] == pytest.approx(0.5)
    assert holm([0.9, 0.8]).tolist() == [1.0, 1.0]  # 2 * 0.8 capped at 1


def _records(accuracies, n_test=4, repeats=1, seed=0):
    """Fold records of models with the given per-fold accuracies (n_test tracks per fold)."""
    rng = np.random.default_rng(seed)
    records = []
    for (model, hop), accs in accuracies.items():
        for j, acc in enumerate(accs):
            repeat, fold = divmod(j, len(accs) // repeats)
            y_true = np.array(["a", "b"] * (n_test // 2))
            right = np.zeros(n_test, bool)
            right[rng.permutation(n_test)[: round(acc * n_test)]] = True
            y_pred = np.where(right, y_true, np.where(y_true == "a", "b", "a"))
            records.append({"model": model, "hop": hop, "fold": fold, "repeat": repeat,
                            "label": model.upper(), "params": 100, "accuracy": right.mean(),
                            "y_true": y_true.tolist(), "y_pred": y_pred.tolist(),
                            "test_index": list(range(fold * n_test, (fold + 1) * n_test))})
    return records


def test_fold_scores_derive_sizes():
    records = _records({("x", 250): [0.5, 0.75, 1.0], ("y", None): [0.25, 0.5, 0.5]})
    records[0]["n_train"] = 7
    records[4]["hop"] = float("nan")  # as a DataFrame's records give it
    scores = fold_scores(records)
    assert len(scores) == 6 and set(scores["hop"]) == {250, 0}
    assert scores["n_test"].tolist() == [4] * 6
    assert scores["n_train"].tolist() == [7, 8, 8, 8, 8, 8]
    with pytest.raises(ValueError, match="no accuracy"):
        fold_scores([{"model": "x", "fold": 0}])
    with pytest.raises(ValueError, match="two records"):
        fold_scores(records + records[:1])


def test_model_summary_uses_corrected_interval():
    records = _records({("x", 250): [0.5, 0.75, 1.0], ("y", 0): [0.25, 0.5, 0.5]})
    summary = model_summary(records)
    assert summary["model"].tolist() == ["x", "y"]
    row = summary.iloc[0]
    expected = corrected_interval([0.5, 0.75, 1.0], n_train=8, n_test=4)
    assert (row.accuracy, row.ci_low, row.ci_high) == pytest.approx(expected, rel=1e-12)
    assert row.accuracy_std == pytest.approx(0.25)
    assert (row.folds, row.repeats) == (3, 1)
    with pytest.raises(ValueError, match="model x .hop 250. has 1 fold"):
        model_summary(records[:1])


def test_pairwise_matches_the_tests_and_adjusts():
    acc = {("x", 250): [0.5, 0.75, 1.0, 1.0], ("y", 250): [0.25, 0.5, 0.5, 0.75],
           ("z", 0): [0.5, 0.5, 0.75, 0.75]}
    records = _records(acc, repeats=2)
    table = pairwise(records)
    assert list(zip(table["model_a"], table["model_b"])) == [("x", "y"), ("x", "z"), ("y", "z")]
    row = table.iloc[0]
    # 2 repeats of 2 folds of 4 tracks: n_train = 4, n_test = 4
    expected = corrected_ttest(acc[("x", 250)], acc[("y", 250)], n_train=4, n_test=4)
    assert (row.difference, row.t, row.p) == pytest.approx((expected.mean, expected.t, expected.p))
    assert row.folds == 4 and row.df == 3
    assert table["p_holm"].tolist() == pytest.approx(holm(table["p"]).tolist())
    # McNemar on the first repetition only (8 tracks, each once)
    by = {(r["model"], r["repeat"], r["fold"]): r for r in records}

    def correct(m):
        return np.concatenate([np.equal(by[m, 0, f]["y_pred"], by[m, 0, f]["y_true"])
                               for f in (0, 1)])
    mc = mcnemar(correct("x"), correct("y"))
    assert (row.mcnemar_b, row.mcnemar_c, row.p_mcnemar) == (mc.b, mc.c, mc.p)
    one = pairwise(records, pairs=[(("x", 250), ("z", float("nan")))])
    assert len(one) == 1 and one.loc[0, "p_holm"] == pytest.approx(one.loc[0, "p"])


def test_pairwise_identical_models():
    acc = [0.5, 0.75, 1.0]
    records = _records({("x", 250): acc})
    twin = [dict(r, model="twin") for r in records]
    row = pairwise(records + twin).iloc[0]
    assert (row.difference, row.p, row.p_mcnemar) == (0.0, 1.0, 1.0)


def test_pairwise_mismatched_folds_name_the_models():
    records = _records({("x", 250): [0.5, 0.75, 1.0], ("y", 250): [0.25, 0.5, 0.5]})
    with pytest.raises(ValueError, match=r"x \(hop 250\) and y \(hop 250\).*same folds"):
        pairwise(records[:-1])
    records[4]["test_index"] = [99, 98, 97, 96]
    with pytest.raises(ValueError, match=r"x \(hop 250\) and y \(hop 250\).*same tracks"):
        pairwise(records)
    with pytest.raises(ValueError, match="no fold records of model nope"):
        pairwise(records, pairs=[(("x", 250), ("nope", 0))])


def _claim_records(better_by, folds=5, n_test=20, seed=0):
    """o+p and its four rivals; o+p right on ``better_by`` more tracks per fold than each."""
    rng = np.random.default_rng(seed)
    acc = {}
    for model, params in (("o+p", 11608), ("onet", 4188), ("pnet", 7428), ("2onet", 8368),
                          ("2pnet", 14848)):
        base = rng.integers(10, 13, folds)
        acc[model] = (base + (better_by if model == "o+p" else 0), params)
    records = []
    for model, (right, params) in acc.items():
        for fold in range(folds):
            y_true = ["a"] * n_test
            y_pred = ["a"] * int(right[fold]) + ["b"] * (n_test - int(right[fold]))
            records.append({"model": model, "hop": 250, "fold": fold, "params": params,
                            "label": model, "accuracy": right[fold] / n_test,
                            "y_true": y_true, "y_pred": y_pred})
    return records


def test_claims_supported_when_the_numbers_give_it():
    report = claims(_claim_records(better_by=6))
    json.dumps(report, allow_nan=False)  # strict JSON
    (hop,) = report["hops"]
    assert hop["hop"] == 250 and hop["missing"] == []
    assert [c["rival"] for c in hop["comparisons"]] == ["onet", "pnet", "2onet", "2pnet"]
    assert hop["verdict"] == "supported"
    assert all(c["p_holm"] < 0.05 and c["diff"] > 0 for c in hop["comparisons"])
    assert "Claim 1 at hop 250: supported." in report["summary"]
    assert "11,608 vs 8,368 parameters" in report["summary"]
    md = claims_markdown(report)
    assert md.startswith("## Poster claim 1") and "| 250 | 2onet |" in md


def test_claims_not_shown_with_small_differences():
    report = claims(_claim_records(better_by=0, seed=1))
    assert report["hops"][0]["verdict"] in ("not shown", "contradicted")
    assert "supported" not in {c["verdict"] for c in report["hops"][0]["comparisons"]}


def test_claims_say_what_is_missing():
    records = [r for r in _claim_records(better_by=6) if r["model"] in ("o+p", "onet")]
    report = claims(records)
    assert report["hops"][0]["verdict"] == "not tested"
    assert report["hops"][0]["missing"] == ["pnet", "2onet", "2pnet"]
    assert "Missing from the run: pnet, 2onet, 2pnet" in report["summary"]
    none = claims([r for r in records if r["model"] == "onet"])
    assert none["hops"] == [] and "cannot be tested" in none["summary"]
    assert "cannot be tested" in claims_markdown(none)


def test_claims_never_call_an_undefined_p_significant():
    records = _claim_records(better_by=2)
    # o+p right on exactly 2 more tracks than onet on every fold: zero variance, p undefined
    onet = {r["fold"]: r for r in records if r["model"] == "onet"}
    for r in records:
        if r["model"] == "o+p":
            right = round(onet[r["fold"]]["accuracy"] * 20) + 2
            r["accuracy"] = right / 20
            r["y_pred"] = ["a"] * right + ["b"] * (20 - right)
    report = claims(records)
    first = report["hops"][0]["comparisons"][0]
    assert first["rival"] == "onet" and first["p"] is None and first["verdict"] == "not shown"
    assert "interval undefined), corrected p = undefined" in report["summary"]


def test_pairwise_without_predictions_has_no_mcnemar():
    records = _records({("x", 250): [0.5, 0.75, 1.0], ("y", 250): [0.25, 0.5, 0.5]})
    bare = [{k: r[k] for k in ("model", "hop", "fold", "accuracy")} | {"n_test": 4}
            for r in records]
    row = pairwise(bare).iloc[0]
    expected = corrected_ttest([0.5, 0.75, 1.0], [0.25, 0.5, 0.5], n_train=8, n_test=4)
    assert row.p == pytest.approx(expected.p) and math.isnan(row.p_mcnemar)
    assert row.mcnemar_method is None
    with pytest.raises(ValueError, match="no n_test, y_true or test_index"):
        fold_scores([{k: v for k, v in r.items() if k != "n_test"} for r in bare])


def _tempo_records():
    """Two folds of 4 tracks; at x1.08 the model misses 1 then 3 more tracks, at x0.92 none."""
    truth = [["a", "a", "b", "b"], ["a", "b", "a", "b"]]
    at_108 = [["b", "a", "b", "b"], ["b", "a", "b", "b"]]
    return [{"model": "m", "fold": k, "accuracy": 1.0, "y_true": truth[k], "y_pred": truth[k],
             "tempo_pred": {"0.92": truth[k], "1.08": at_108[k]}} for k in (0, 1)]


def test_tempo_drops_hand_worked():
    table = tempo_drops(_tempo_records()).set_index("factor")
    assert table.index.tolist() == [1.0, 0.92, 1.08]
    assert table.loc[1.0, "accuracy"] == 1.0 and table.loc[1.0, "drop"] == 0.0
    assert table.loc[0.92, "drop"] == 0.0 and table.loc[0.92, "p"] == 1.0
    assert table.loc[1.08, "accuracy"] == pytest.approx((0.75 + 0.25) / 2)
    assert table.loc[1.08, "drop"] == pytest.approx(0.5)
    # fold drops 0.25 and 0.75: the corrected interval over the folds (n_train = n_test = 4)
    mean, low, high = corrected_interval([0.25, 0.75], 4, 4)
    assert (table.loc[1.08, "drop_low"], table.loc[1.08, "drop_high"]) == pytest.approx((low, high))
    # 4 tracks right at the original tempo only, none the other way: exact 2 * 0.5**4
    assert table.loc[1.08, "p"] == pytest.approx(0.125)


def test_tempo_drops_without_shifts_or_with_one_fold():
    records = _tempo_records()
    assert tempo_drops([{k: v for k, v in r.items() if k != "tempo_pred"}
                        for r in records]).empty
    one = tempo_drops(records[:1]).set_index("factor")
    assert one.loc[1.08, "drop"] == pytest.approx(0.25) and math.isnan(one.loc[1.08, "drop_low"])
