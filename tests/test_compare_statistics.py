"""The comparison's statistics in its outputs: intervals, paired differences, claim 1."""

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from skrhythm import experiments, stats
from skrhythm.experiments._reports import in_model_order

FAST = dict(n_folds=2, n_per_class=3, max_epochs=1, progress=False, verbose=False)


@pytest.fixture(scope="module")
def descriptors(tmp_path_factory):
    out = tmp_path_factory.mktemp("stats") / "run"
    return out, experiments.compare(out_dir=out, models=("tempo", "rhythm"), repeats=2, **FAST)


def test_tables_carry_the_intervals_of_the_records(descriptors):
    out, result = descriptors
    summary = stats.model_summary(result.records)
    written = pd.read_csv(out / "results.csv")
    for model in ("tempo", "rhythm"):
        row = written[written["model"] == model].iloc[0]
        expected = summary[summary["model"] == model].iloc[0]
        assert row["ci_low"] == pytest.approx(expected["ci_low"])
        assert row["ci_high"] == pytest.approx(expected["ci_high"])
        assert row["accuracy"] == pytest.approx(expected["accuracy"])


def test_pairwise_differences_are_written_as_computed(descriptors):
    out, result = descriptors
    expected = stats.pairwise(in_model_order(result.records))
    written = pd.read_csv(out / "pairwise.csv")
    assert len(written) == 1
    assert (written.loc[0, "model_a"], written.loc[0, "model_b"]) == ("rhythm", "tempo")
    for column in ("difference", "diff_low", "diff_high", "p", "p_holm", "p_mcnemar"):
        np.testing.assert_allclose(written[column], expected[column], rtol=1e-9)
    stored = json.loads((out / "results.json").read_text())["statistics"]
    assert stored["pairwise"][0]["difference"] == pytest.approx(expected.loc[0, "difference"])
    assert (out / "pairwise.png").is_file() and (out / "pairwise.svg").is_file()


def test_results_md_states_the_tests_and_the_claim(descriptors):
    out, result = descriptors
    text = (out / "results.md").read_text()
    assert "2 folds x 2 repeat(s)" in text
    assert "## Paired differences" in text and "Nadeau & Bengio" in text
    diff = 100 * stats.pairwise(in_model_order(result.records))["difference"][0]
    assert f"| Rhythm descriptor + SVM | Tempo only + SVM | {diff:+.1f}" in text
    assert "## Poster claim 1" in text and "cannot be tested" in text
    claims = json.loads((out / "results.json").read_text())["statistics"]["claims"]
    assert claims["hops"] == [] and "cannot be tested" in claims["summary"]


def test_claim_one_is_judged_on_the_cnns(tmp_path, monkeypatch):
    from skrhythm import plotting

    titles = []
    draw = plotting.plot_confusion_matrix
    monkeypatch.setattr(plotting, "plot_confusion_matrix",
                        lambda *a, **k: titles.append(k["title"]) or draw(*a, **k))
    result = experiments.compare(out_dir=tmp_path / "run", models=("onet", "pnet", "o+p", "rhythm"),
                                 **FAST)
    claims = json.loads((tmp_path / "run" / "results.json").read_text())["statistics"]["claims"]
    (hop,) = claims["hops"]
    assert hop["hop"] == 250 and hop["missing"] == ["2onet", "2pnet"]
    assert [c["rival"] for c in hop["comparisons"]] == ["onet", "pnet"]
    assert all(c["verdict"] in ("supported", "contradicted", "not shown")
               for c in hop["comparisons"])
    # The confusion matrix is the best CNN's, even where the descriptor is more accurate.
    cnns = result.table[result.table["model"] != "rhythm"]
    best = cnns.loc[cnns["accuracy"].idxmax()]
    tied = [f"{r.label} (hop 250)" for r in cnns.itertuples()
            if r.accuracy == best["accuracy"] and r.model != best["model"]]
    tie = f" (tied with {', '.join(tied)})" if tied else ""
    assert titles == [f"{best['label']} (hop 250), most accurate CNN{tie}: all test folds"]


def test_a_tie_for_the_most_accurate_cnn_is_named(tmp_path, monkeypatch):
    """The quick start's P-net and O-net + P-net both reached 94.79 %: one was named best."""
    from skrhythm import plotting

    titles = []
    monkeypatch.setattr(plotting, "plot_confusion_matrix",
                        lambda *a, **k: titles.append(k["title"]) or plt.subplots()[1])
    records = [{"model": m, "label": label, "hop": 250, "repeat": 0, "fold": f,
                "y_true": ["a", "b"], "y_pred": ["a", "a"]}
               for m, label in (("pnet", "P-net"), ("o+p", "O-net + P-net")) for f in (0, 1)]
    table = pd.DataFrame([{"model": m, "label": label, "hop": 250, "params": 1.0,
                           "accuracy": 0.5, "accuracy_std": 0.0, "folds": 2, "repeats": 1}
                          for m, label in (("pnet", "P-net"), ("o+p", "O-net + P-net"))])
    experiments.write_plots(table, records, tmp_path)
    assert titles == ["P-net (hop 250), most accurate CNN (tied with O-net + P-net (hop 250)): "
                      "all test folds"]


def test_markdown_intervals_are_clipped_to_percentages():
    table = pd.DataFrame([{"label": "A", "hop": 250, "params": 10, "accuracy": 0.9,
                           "accuracy_std": 0.2, "ci_low": 0.5, "ci_high": 1.3,
                           "patch_accuracy": 0.8, "fit_time": 1.0}])
    assert "| 50.0 to 100.0 |" in experiments.markdown_table(table)
