"""skrhythm.experiments.datasize: the data-size experiment, from Python and the command line."""

import matplotlib

matplotlib.use("Agg")

import json  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from skrhythm.experiments import make_folds, make_model  # noqa: E402
from skrhythm.experiments.datasize import (  # noqa: E402
    datasize_claim,
    datasize_differences,
    nested_subsets,
    run_datasize,
    summarize_datasize,
)
from skrhythm.plotting import plot_datasize, save_figure  # noqa: E402
from skrhythm.stats import corrected_interval, corrected_ttest  # noqa: E402

MODELS = ("o+p", "time", "rhythm")
SIZES = (1, 2)


def spectrograms(n_per_class=4, n_frames=260, seed=0):
    """Log-mel-like arrays of three classes: pulses every 11, 17 or 23 frames in noise."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for label, period in (("a", 11), ("b", 17), ("c", 23)):
        for _ in range(n_per_class):
            x = rng.normal(0, 0.3, (40, n_frames))
            x[:, rng.integers(period)::period] += 2.0
            X.append(x)
            y.append(label)
    return np.stack(X).astype(np.float32), np.array(y)


@pytest.fixture(scope="module")
def data():
    return spectrograms()


@pytest.fixture(scope="module")
def table(data):
    X, y = data
    return run_datasize(X, y, models=MODELS, n_per_class=SIZES, n_folds=2, max_epochs=2)


def test_nested_subsets_are_nested_and_stratified():
    y = np.array(["a"] * 6 + ["b"] * 5 + ["c"] * 7)
    train = np.arange(1, 18)
    subsets = nested_subsets(y, train, [4, 1, 2], seed=[0, 1])
    assert sorted(subsets) == [1, 2, 4]
    for n, idx in subsets.items():
        assert set(idx) <= set(train)
        assert dict(zip(*np.unique(y[idx], return_counts=True))) == {"a": n, "b": n, "c": n}
    assert set(subsets[1]) < set(subsets[2]) < set(subsets[4])
    again = nested_subsets(y, train, [4, 1, 2], seed=[0, 1])
    assert all(np.array_equal(again[n], subsets[n]) for n in subsets)
    other = nested_subsets(y, train, [4], seed=[0, 2])
    assert not np.array_equal(other[4], subsets[4])
    with pytest.raises(ValueError, match="n_per_class=5 is more than the training tracks of "
                                         "class 'a' in a fold .4."):
        nested_subsets(y, np.r_[2:6, 6:11, 11:18], [5], seed=0)
    with pytest.raises(ValueError, match="positive"):
        nested_subsets(y, train, [0], seed=0)


def test_table_holds_every_fit_on_shared_folds(data, table):
    X, y = data
    assert len(table) == len(MODELS) * len(SIZES) * 2
    assert list(table["model"].unique()) == list(MODELS)
    assert set(table["hop"]) == {250, 80, 0}
    assert (table["n_train"] == 3 * table["n_per_class"]).all()
    folds = make_folds(y, None, 2, "stratified", 0)
    for row in table.itertuples():
        assert row.y_true == y[folds[row.fold][1]].tolist()  # test fold unchanged
        assert row.n_test == len(folds[row.fold][1])
        assert row.accuracy == pytest.approx(np.mean(np.equal(row.y_true, row.y_pred)))
    # a row holds what its fit computed: the descriptor refitted on the same subset
    row = table[(table["model"] == "rhythm") & (table["n_per_class"] == 2)
                & (table["fold"] == 1)].iloc[0]
    train, test = folds[1]
    subset = nested_subsets(y, train, SIZES, seed=[0, 1])[2]
    again = make_model("rhythm", None, max_epochs=2).fit(X[subset], y[subset]).predict(X[test])
    assert row.y_pred == again.tolist()


def test_summary_and_differences(table):
    summary = summarize_datasize(table)
    assert list(zip(summary["model"], summary["n_per_class"])) == [
        (m, n) for m in MODELS for n in SIZES]
    g = table[(table["model"] == "time") & (table["n_per_class"] == 2)]
    expected = corrected_interval(g["accuracy"], n_train=6, n_test=6)
    row = summary[(summary["model"] == "time") & (summary["n_per_class"] == 2)].iloc[0]
    assert (row.accuracy, row.ci_low, row.ci_high) == pytest.approx(expected)
    diffs = datasize_differences(table)
    assert list(zip(diffs["n_per_class"], diffs["model_b"])) == [
        (n, m) for n in SIZES for m in ("time", "rhythm")]
    d = diffs.iloc[-1]
    ref = table[(table["model"] == "o+p") & (table["n_per_class"] == 2)]["accuracy"]
    rival = table[(table["model"] == "rhythm") & (table["n_per_class"] == 2)]["accuracy"]
    test = corrected_ttest(ref.to_numpy(), rival.to_numpy(), n_train=6, n_test=6)
    assert d.difference == pytest.approx(test.mean)
    assert d.p == pytest.approx(test.p, nan_ok=True)
    with pytest.raises(ValueError, match="reference model 'nope'"):
        datasize_differences(table, reference="nope")


def test_mean_recall_of_every_fit_agrees_with_scikit_learn(table):
    from sklearn.metrics import recall_score

    for row in table.itertuples():
        assert row.mean_recall == pytest.approx(
            recall_score(row.y_true, row.y_pred, labels=sorted(set(row.y_true)),
                         average="macro"))
    summary = summarize_datasize(table)
    g = table[(table["model"] == "time") & (table["n_per_class"] == 2)]
    row = summary[(summary["model"] == "time") & (summary["n_per_class"] == 2)].iloc[0]
    expected = corrected_interval(g["mean_recall"], n_train=6, n_test=6)
    assert (row.mean_recall, row.recall_ci_low, row.recall_ci_high) == pytest.approx(expected)


def test_plot_has_a_line_per_model(table, tmp_path):
    summary = summarize_datasize(table)
    ax = plot_datasize(summary, data_name="generated spectrograms")
    lines = [line for line in ax.get_lines() if line.get_label()[0] != "_"]
    assert [line.get_label() for line in lines] == [
        "O-net + P-net (hop 250)", "Time [CBMI 2016] (hop 80)", "Rhythm descriptor + SVM"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        line.get_label() for line in lines]
    for line, model in zip(lines, MODELS):
        s = summary[summary["model"] == model]
        assert line.get_xdata().tolist() == list(SIZES)
        assert line.get_ydata() == pytest.approx(100 * s["accuracy"].to_numpy())
    assert len(ax.collections) == len(MODELS)  # interval bands
    assert ax.get_xlabel() == "training tracks per class"
    assert ax.get_ylabel() == "track accuracy (%)"
    assert "generated spectrograms" in ax.get_title()
    assert "corrected resampled t" in " ".join(t.get_text() for t in ax.texts)
    paths = save_figure(ax, tmp_path / "datasize")
    assert all(p.stat().st_size > 1000 for p in paths)
    plt.close("all")


def test_bad_arguments(data):
    X, y = data
    with pytest.raises(ValueError, match="unknown model.*nope"):
        run_datasize(X, y, models=("o+p", "nope"))
    with pytest.raises(ValueError, match="n_per_class=3 is more"):
        run_datasize(X, y, models=("rhythm",), n_per_class=(3,), n_folds=2)
    with pytest.raises(ValueError, match="X has 12 tracks but y has 11"):
        run_datasize(X, y[:-1], models=("rhythm",))


def _table(accuracy):
    """A run_datasize-like table from {(model, n): [accuracy per fold]} (10 test tracks)."""
    rows = []
    for (model, n), accs in accuracy.items():
        for fold, acc in enumerate(accs):
            right = round(10 * acc)
            rows.append({"model": model, "label": model.upper(), "hop": 0, "n_per_class": n,
                         "fold": fold, "accuracy": acc, "n_train": 2 * n, "n_test": 10,
                         "y_true": ["a"] * 10, "y_pred": ["a"] * right + ["b"] * (10 - right)})
    return pd.DataFrame(rows)


def test_claim2_supported_when_the_lead_shrinks():
    table = _table({("o+p", 2): [0.9, 0.8, 0.9, 0.8, 0.9], ("x", 2): [0.3, 0.3, 0.4, 0.2, 0.4],
                    ("o+p", 8): [0.9, 0.9, 0.8, 0.9, 0.9], ("x", 8): [0.9, 0.8, 0.8, 0.9, 0.8]})
    report = datasize_claim(table)
    json.dumps(report, allow_nan=False)
    assert report["sizes"] == [2, 8] and report["verdict"] == "supported"
    (rival,) = report["rivals"]
    lead_small = np.array([0.6, 0.5, 0.5, 0.6, 0.5])
    lead_large = np.array([0.0, 0.1, 0.0, 0.0, 0.1])
    expected = corrected_ttest(lead_small, lead_large, n_train=4, n_test=10)
    assert rival["change"] == pytest.approx(expected.mean)
    assert rival["p"] == pytest.approx(expected.p) and rival["p_holm"] == pytest.approx(expected.p)
    assert rival["lead_small"] == pytest.approx(0.54) and rival["lead_large"] == pytest.approx(0.04)
    assert "Claim 2 (the less data, the more useful the design strategy): supported" in \
        report["summary"]
    assert "vs X: lead +54.0 points" in report["summary"]


def test_claim2_not_shown_or_not_tested(table):
    report = datasize_claim(table)
    assert report["verdict"] in ("not shown", "supported", "contradicted")
    assert [r["model"] for r in report["rivals"]] == ["time", "rhythm"]
    flat = _table({("o+p", 2): [0.5, 0.6, 0.5], ("x", 2): [0.5, 0.5, 0.6],
                   ("o+p", 8): [0.6, 0.5, 0.6], ("x", 8): [0.5, 0.6, 0.6]})
    assert datasize_claim(flat)["verdict"] == "not shown"
    one = datasize_claim(flat[flat["n_per_class"] == 2])
    assert one["verdict"] == "not tested" and "one training size" in one["summary"]


def test_smaller_subsets_train_for_as_many_steps(table):
    cnn = table[table["model"] != "rhythm"]
    assert dict(zip(cnn["n_per_class"], cnn["epochs"])) == {1: 4, 2: 2}  # 2 epochs x 2/n
    assert table[table["model"] == "rhythm"]["epochs"].isna().all()


@pytest.mark.slow
def test_the_command_runs_the_experiment_on_generated_data(tmp_path, capsys, monkeypatch):
    from skrhythm import cli

    out = tmp_path / "run"
    argv = ["datasize", "--models", "o+p,rhythm", "--sizes", "1,2", "--n-per-class", "4",
            "--folds", "2", "--epochs", "1", "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 0
    written = pd.read_csv(out / "datasize.csv")
    assert len(written) == 2 * 2 * 2
    assert dict(zip(written["model"] + written["n_per_class"].astype(str), written["epochs"])) \
        == pytest.approx({"o+p1": 2, "o+p2": 1, "rhythm1": np.nan, "rhythm2": np.nan},
                         nan_ok=True)
    stored = json.loads((out / "datasize.json").read_text())
    assert stored["config"]["sizes"] == [1, 2] and stored["config"]["n_tracks"] == 32
    assert stored["claim"]["sizes"] == [1, 2]
    assert [r["model"] for r in stored["claim"]["rivals"]] == ["rhythm"]
    summary = summarize_datasize(written)
    text = (out / "datasize.md").read_text()
    for r in summary.itertuples():
        assert f"| {r.label} | {r.n_per_class} | {100 * r.accuracy:.1f} |" in text
    assert stored["claim"]["summary"] in text and stored["claim"]["summary"] in \
        capsys.readouterr().err
    assert (out / "datasize.png").stat().st_size > 1000
    # A second run never overwrites the results; bad options are refused before any data.
    assert cli.main(argv) == 1
    assert "already holds data-size results" in capsys.readouterr().err
    from skrhythm.experiments import _data

    monkeypatch.setattr(_data, "list_data", lambda *a, **k: pytest.fail("data read"))
    assert cli.main(["datasize", "--models", "onet,rhythm", "--out", str(tmp_path / "x")]) == 1
    assert "--models onet,rhythm: must include o+p" in capsys.readouterr().err


@pytest.mark.slow
def test_a_full_disk_at_the_plot_leaves_no_results_and_the_run_can_be_repeated(
        tmp_path, capsys, monkeypatch):
    import errno

    import matplotlib.figure

    from skrhythm import cli

    out = tmp_path / "run"
    argv = ["datasize", "--models", "o+p,rhythm", "--sizes", "1,2", "--n-per-class", "4",
            "--folds", "2", "--epochs", "1", "--out", str(out), "--no-progress"]
    savefig = matplotlib.figure.Figure.savefig

    def disk_full(self, fname, *args, **kwargs):
        if kwargs.get("format") == "svg":
            raise OSError(errno.ENOSPC, "No space left on device")
        return savefig(self, fname, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(matplotlib.figure.Figure, "savefig", disk_full)
        assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert f"No space left on device): '{out / 'datasize.svg'}'" in err
    assert "unexpected" not in err
    assert not [p.name for p in out.iterdir() if p.name.startswith("datasize")]  # none at all
    assert not list(out.glob(".*.tmp"))
    assert cli.main(argv) == 0  # the same command runs again
    assert {p.name for p in out.glob("datasize.*")} == {
        "datasize.csv", "datasize.json", "datasize.md", "datasize.png", "datasize.svg"}


def test_write_errors_name_the_file(tmp_path):
    from skrhythm._store import atomic_write

    blocked = tmp_path / "file"
    blocked.write_text("x")
    with pytest.raises(OSError, match=rf"cannot write .*'{blocked / 'sub' / 'out.csv'}'"):
        with atomic_write(blocked / "sub" / "out.csv", "w") as f:  # its folder is a file
            f.write("a")


@pytest.mark.slow
def test_progress_bars_only_on_a_terminal(tmp_path, capsys):
    """Run into a log file (stderr no terminal), datasize drew tqdm bars into it."""
    from skrhythm import cli

    assert cli.main(["datasize", "--models", "o+p,rhythm", "--sizes", "1,2", "--n-per-class",
                     "4", "--folds", "2", "--epochs", "1", "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "%|" not in err and "\r" not in err and "skrhythm datasize:" in err


def test_lead_intervals_are_clipped_to_what_a_difference_can_be():
    """Reported: 'an interval of -202.6 to +152.6' points."""
    from skrhythm.experiments.datasize import _claim_words

    rival = {"label": "Black-box", "lead_small": -0.25, "lead_small_low": -2.026,
             "lead_small_high": 1.526, "lead_large": 0.0, "lead_large_low": -0.1,
             "lead_large_high": 0.1, "change": -0.25, "p_holm": 0.5, "verdict": "not shown"}
    report = {"claim": "c", "verdict": "not shown", "alpha": 0.05, "confidence": 0.95,
              "sizes": [2, 8], "rivals": [rival]}
    text = _claim_words(report, "O-net + P-net")
    assert "interval -100.0 to +100.0) with 2 tracks per class" in text
    assert "-202.6" not in text
