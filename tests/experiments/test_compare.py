"""skrhythm.experiments: the comparison from Python, repeats, threads, progress, statistics."""

import dataclasses
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from sklearn.dummy import DummyClassifier

from skrhythm import MusicCNNClassifier, cli, experiments, stats
from skrhythm.experiments import _compare
from skrhythm.experiments._progress import FitProgress
from skrhythm.experiments._reports import in_model_order
from skrhythm.training import EpochProgress

TEMPO = dict(models=("tempo",), n_folds=2, n_per_class=2, max_epochs=1, tempo_shifts=())


@pytest.fixture(scope="module")
def repeated(tmp_path_factory):
    out = tmp_path_factory.mktemp("repeated") / "run"
    result = experiments.compare(out_dir=out, **TEMPO, repeats=2, progress=False,
                                 verbose=False)
    return out, result


@pytest.mark.slow
def test_python_and_the_command_write_the_same_files(repeated, tmp_path, capsys):
    out, result = repeated
    argv = ["compare", "--models", "tempo", "--folds", "2", "--n-per-class", "2", "--epochs",
            "1", "--repeats", "2", "--tempo-shifts", "none", "--out", str(tmp_path / "cli")]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "[4/4] tempo hop - repeat 1 fold 1: accuracy" in err  # not a terminal: one line a fit
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert names == {p.relative_to(tmp_path / "cli").as_posix()
                     for p in (tmp_path / "cli").rglob("*") if p.is_file()}
    assert {"results.csv", "results.json", "results.md", "config.json",
            "accuracy_vs_params.png", "confusion_matrix.svg"} <= names
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv").drop(columns="fit_time"),
                                  pd.read_csv(tmp_path / "cli" / "results.csv")
                                  .drop(columns="fit_time"))
    written = pd.read_csv(out / "results.csv")
    assert list(result.table["model"]) == list(written["model"])
    np.testing.assert_allclose(result.table["accuracy"], written["accuracy"], rtol=1e-12)


def test_repeats_shuffle_the_folds_anew_and_are_kept_apart(repeated):
    out, result = repeated
    assert sorted(p.name for p in (out / "folds").glob("*.json")) == [
        "tempo_hop0_fold0.json", "tempo_hop0_fold1.json",
        "tempo_hop0_rep1_fold0.json", "tempo_hop0_rep1_fold1.json"]
    records = result.records
    assert sorted((r["repeat"], r["fold"]) for r in records) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    tests = {(r["repeat"], r["fold"]): sorted(r["test_index"]) for r in records}
    assert tests[0, 0] != tests[1, 0] and tests[0, 0] != tests[1, 1]
    for r in records:
        assert len(r["y_true"]) == len(r["y_pred"]) == len(r["test_index"])
        assert r["accuracy"] == pytest.approx(np.mean(np.asarray(r["y_true"])
                                                      == np.asarray(r["y_pred"])))
    row = result.table.iloc[0]
    assert (row["folds"], row["repeats"]) == (2, 2)
    assert row["accuracy"] == pytest.approx(np.mean([r["accuracy"] for r in records]))
    config = json.loads((out / "config.json").read_text())
    assert config["repeats"] == 2 and config["threads"] == torch.get_num_threads()


def test_resume_covers_the_repeats(repeated, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(repeated[0], out)
    (out / "config.json").unlink()
    kept = {p: p.stat().st_mtime_ns for p in (out / "folds").glob("*.json")}
    again = experiments.compare(out_dir=out, **TEMPO, repeats=2, resume=True, progress=False,
                                verbose=False)
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())
    assert len(again.records) == 4
    # A record moved to another repeat's name is refused: the fingerprint covers the repeat.
    (out / "folds" / "tempo_hop0_rep1_fold0.json").unlink()
    folds = out / "folds"
    shutil.copy(folds / "tempo_hop0_fold0.json", folds / "tempo_hop0_rep1_fold0.json")
    with pytest.raises(experiments.RunFolderError, match="rep1_fold0.json was computed with"):
        experiments.compare(out_dir=out, **TEMPO, repeats=2, resume=True, progress=False,
                            verbose=False)


def test_compare_refuses_to_overwrite_and_checks_options_first(repeated, monkeypatch):
    monkeypatch.setattr(_compare, "list_data", lambda *a, **k: pytest.fail("data read"))
    with pytest.raises(FileExistsError, match="resume=True"):
        experiments.compare(out_dir=repeated[0], **TEMPO, repeats=2, verbose=False)
    for bad, match in [(dict(n_jobs=0), "n_jobs=0"), (dict(threads=0), "threads=0"),
                       (dict(repeats=0), "repeats=0"), (dict(device="gpu"), "device='gpu'"),
                       (dict(models=("nope",)), "unknown model"),
                       (dict(data="folder:/no/such"), "does not exist")]:
        options = {**TEMPO, **bad}
        with pytest.raises(ValueError, match=match):
            experiments.compare(out_dir=repeated[0] / "new", verbose=False, **options)
    assert not (repeated[0] / "new").exists()


class ThreadSpy(DummyClassifier):
    """Records torch's thread count while it is fitted."""

    def fit(self, X, y, sample_weight=None):
        self.threads_ = torch.get_num_threads()
        return super().fit(X, y, sample_weight)


def test_threads_limit_torch_in_every_fit(monkeypatch, tmp_path):
    fitted = []

    def spy(*args, **kwargs):
        return ThreadSpy(strategy="most_frequent")

    real_run_fold = _compare._run_fold

    def run_fold(*args):
        record = real_run_fold(*args)
        fitted.append(record)
        return record

    monkeypatch.setattr(_compare, "make_model", spy)
    monkeypatch.setattr(_compare, "_run_fold", run_fold)
    seen = []
    monkeypatch.setattr(ThreadSpy, "predict", lambda self, X: (seen.append(self.threads_),
                                                               DummyClassifier.predict(self, X))[1])
    X, y = np.zeros((8, 2, 300), np.float32), np.arange(8) % 2
    before = torch.get_num_threads()
    threads = 2 if before == 1 else 1
    experiments.run_comparison(X, y, protocol=experiments.make_protocol("quick", **TEMPO),
                               out_dir=tmp_path, threads=threads, progress=False)
    assert set(seen) == {threads} and len(fitted) == 2
    assert torch.get_num_threads() == before


def test_time_left_is_weighted_by_each_models_cost():
    protocol = experiments.make_protocol("quick", max_epochs=10)
    tasks = [("onet", 250, 0, f) for f in range(3)] + [("time", 80, 0, f) for f in range(3)]
    progress = FitProgress(tasks, 0, protocol, 1292, 1, enabled=False)
    assert progress.seconds_left() is None
    progress.finished({"model": "onet", "hop": 250, "repeat": 0, "fold": 0, "fit_time": 10.0,
                       "accuracy": 0.5})
    onet, time = (experiments.MODELS[m].prior_cost(h, 10, 1292) for m, h in (("onet", 250),
                                                                                ("time", 80)))
    assert time > onet  # the Time baseline is the costlier fit
    assert progress.seconds_left() == pytest.approx(2 * 10.0 + 3 * 10.0 * time / onet)
    progress.finished({"model": "time", "hop": 80, "repeat": 0, "fold": 0, "fit_time": 100.0,
                       "accuracy": 0.5})
    rate = 110.0 / (onet + time)  # seconds per unit of cost, over every fit so far
    assert progress.seconds_left() == pytest.approx(rate * (2 * onet + 2 * time))


def test_one_quick_fit_does_not_halve_the_time_left():
    """Reported: 'about 9 min left' at [15/24], 'about 3 min' at [16/24] after one Time fit
    ran quickly, then the two remaining Time fits took 177 s and 388 s."""
    protocol = experiments.make_protocol("quick")
    names = ("onet", "pnet", "2onet", "o+p", "2pnet")
    tasks = [(m, 250, 0, f) for m in names for f in range(3)]
    tasks += [("time", 80, 0, f) for f in range(3)]
    progress = FitProgress(tasks, 0, protocol, 1292, 1, enabled=False)
    rate = 0.5  # seconds per unit of cost of the 15 CNN fits
    for name, hop, repeat, fold in tasks[:15]:
        progress.finished({"model": name, "hop": hop, "repeat": repeat, "fold": fold,
                           "accuracy": 0.5, "fit_time": rate * progress.cost[(name, hop)]})
    before = progress.seconds_left()
    assert before == pytest.approx(3 * rate * progress.cost[("time", 80)])
    progress.finished({"model": "time", "hop": 80, "repeat": 0, "fold": 0, "accuracy": 0.5,
                       "fit_time": before / 3 / 2})  # one fit at twice the expected speed
    assert progress.seconds_left() > 0.8 * 2 * before / 3


def test_epoch_progress_reports_every_epoch_without_colours():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 4, 40)).astype(np.float32), np.arange(12) % 2
    lines = []
    clf = MusicCNNClassifier(onet_lengths=(2,), pnet_lengths=(3,), patch_frames=16,
                             filterbank="reference", random_state=0, max_epochs=3,
                             train_split=0.5, callbacks=[EpochProgress(lines.append, "m: ")])
    from sklearn.base import clone

    clone(clf).fit(X, y)  # the estimator copies its callbacks; the copies share the sink
    assert [line.split(",")[0] for line in lines] == ["m: epoch 1/3", "m: epoch 2/3",
                                                      "m: epoch 3/3"]
    for line in lines:
        assert "train acc" in line and "valid acc" in line and "\x1b" not in line
        acc = float(line.split("train acc ")[1].split(",")[0])
        assert 0 <= acc <= 1


def test_progress_in_a_terminal_shows_fits_epochs_and_scores(monkeypatch, tmp_path):
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 40, 300)).astype(np.float32), np.arange(8) % 2
    protocol = experiments.make_protocol("quick", models=("onet",), n_folds=2, max_epochs=2)
    records = experiments.run_comparison(X, y, protocol=protocol, out_dir=tmp_path)
    text = screen.getvalue()
    assert "models x folds" in text and "2/2" in text
    assert "onet hop 250 fold 1" in text and "epoch" in text and "train acc" in text
    assert f"accuracy {records[-1]['accuracy']:.3f}" in text
    models = list((tmp_path / "models").iterdir())
    assert len(models) == 1  # saved without the progress display
    import joblib

    assert joblib.load(models[0]).callbacks is None


def test_kernels_are_prepared_before_any_fit_is_timed(tmp_path, monkeypatch):
    """The one-off numba compile made the first fit's time (and so the ETA) 30 s too long."""
    from skrhythm.nn._kernels import _numba as _fast_filterbank

    calls = []
    prepare, run_fold = _fast_filterbank.prepare_kernels, _compare._run_fold
    monkeypatch.setattr(_fast_filterbank, "prepare_kernels",
                        lambda **kw: (calls.append("prepare"), prepare(**kw))[1])
    monkeypatch.setattr(_compare, "_run_fold",
                        lambda *a, **kw: (calls.append("fit"), run_fold(*a, **kw))[1])
    X, y = np.zeros((8, 4, 300), np.float32), np.arange(8) % 2
    protocol = experiments.make_protocol("quick", models=("onet", "tempo"), n_folds=2,
                                         max_epochs=1)
    experiments.run_comparison(X, y, protocol=protocol, out_dir=tmp_path, progress=False)
    assert calls[0] == "prepare" and calls.count("prepare") == 1 and calls.count("fit") == 4


# -- statistics in the outputs ----------------------------------------------------------


FAST = dict(n_folds=2, n_per_class=3, max_epochs=1, tempo_shifts=(), progress=False,
            verbose=False)


@pytest.fixture(scope="module")
def descriptors(tmp_path_factory):
    out = tmp_path_factory.mktemp("stats") / "run"
    # the tempo-robustness test on (the default), the descriptors' fits cost nothing
    return out, experiments.compare(out_dir=out, models=("tempo", "rhythm"), repeats=2,
                                    **{**FAST, "tempo_shifts": None})


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
    assert "2 folds (stratified) x 2 repeat(s)" in text
    assert "## Paired differences" in text and "Nadeau & Bengio" in text
    diff = 100 * stats.pairwise(in_model_order(result.records))["difference"][0]
    assert f"| Rhythm descriptor + SVM | Tempo only + SVM | {diff:+.1f}" in text
    assert "## Poster claim 1" in text and "cannot be tested" in text
    claims = json.loads((out / "results.json").read_text())["statistics"]["claims"]
    assert claims["hops"] == [] and "cannot be tested" in claims["summary"]


def test_mean_and_per_class_recall_agree_with_scikit_learn(descriptors):
    from sklearn.metrics import recall_score

    out, result = descriptors
    written = pd.read_csv(out / "results.csv")
    per_class = pd.read_csv(out / "class_recall.csv")
    for model in ("tempo", "rhythm"):
        folds = [r for r in result.records if r["model"] == model]
        recalls = [recall_score(r["y_true"], r["y_pred"], average="macro") for r in folds]
        row = written[written["model"] == model].iloc[0]
        assert row["mean_recall"] == pytest.approx(np.mean(recalls))
        assert row["mean_recall_std"] == pytest.approx(np.std(recalls, ddof=1))
        expected = stats.model_summary(stats.mean_recall_records(folds))
        assert row["recall_ci_low"] == pytest.approx(expected["ci_low"][0])
        first = [r for r in folds if r["repeat"] == 0]
        y_true = np.concatenate([r["y_true"] for r in first])
        y_pred = np.concatenate([r["y_pred"] for r in first])
        labels = np.unique(y_true)
        got = per_class[per_class["model"] == model][list(labels)].to_numpy()[0]
        np.testing.assert_allclose(got, recall_score(y_true, y_pred, labels=labels,
                                                     average=None))
        confusion = pd.read_csv(out / "confusion" / f"{model}_hop0.csv", index_col=0)
        assert confusion.to_numpy().sum() == len(y_true)
        np.testing.assert_allclose(np.diag(confusion.to_numpy()) / confusion.sum(axis=1), got)
    text = (out / "results.md").read_text()
    assert "mean recall (%)" in text and "## Recall per class" in text
    assert "## Paired differences in mean recall" in text
    assert "judged on track accuracy" in text and "Judged on track accuracy" in text
    recall_pairs = pd.read_csv(out / "pairwise_mean_recall.csv")
    diff = np.mean([recall_score(a["y_true"], a["y_pred"], average="macro")
                    - recall_score(b["y_true"], b["y_pred"], average="macro")
                    for a, b in zip(*[sorted((r for r in result.records if r["model"] == m),
                                             key=lambda r: (r["repeat"], r["fold"]))
                                      for m in ("rhythm", "tempo")])])
    assert recall_pairs.loc[0, "difference"] == pytest.approx(diff)
    assert recall_pairs["p_mcnemar"].isna().all()  # a test of accuracy, not of recall


@pytest.fixture(scope="module")
def albums(tmp_path_factory):
    """Generated tracks in <style>/<album>/<file>: 3 albums of 2 tracks per style."""
    from skrhythm.datasets import make_ballroom_like

    root = tmp_path_factory.mktemp("albums")
    data = make_ballroom_like(n_per_class=6, duration=6.0, sr=22050, random_state=0)
    for i, (wave, style) in enumerate(zip(data.data, data.target)):
        path = root / style / f"album{i % 3}" / f"track{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, wave, 22050)
    return root


def test_group_aware_folds_never_split_a_group(albums, tmp_path):
    from skrhythm.datasets import load_audio_folder

    data = load_audio_folder(albums, groups="subfolders")
    result = experiments.compare(f"folder:{albums}", out_dir=tmp_path / "run", cv="group",
                                 models=("tempo",), n_folds=3, tempo_shifts=(),
                                 progress=False, verbose=False)
    assert len(result.records) == 3
    for record in result.records:
        test = np.asarray(record["test_index"])
        train = np.setdiff1d(np.arange(len(data.groups)), test)
        assert not set(data.groups[train]) & set(data.groups[test])
        assert len(set(np.asarray(data.target)[test])) == 8  # stratified as groups allow
    assert "group-aware (24 groups" in (tmp_path / "run" / "results.md").read_text()


def test_too_few_groups_for_the_folds_are_refused_before_any_audio(albums, tmp_path,
                                                                    monkeypatch):
    from skrhythm import features

    def no_decoding(*args, **kwargs):
        raise AssertionError("audio was decoded before the groups were checked")

    monkeypatch.setattr(features, "load_audio", no_decoding)
    with pytest.raises(experiments.OptionError, match="4 group-aware folds need every class "
                       "in 4 groups or more; ChaChaCha has 3"):
        experiments.compare(f"folder:{albums}", out_dir=tmp_path / "run", cv="group",
                            models=("tempo",), n_folds=4, progress=False, verbose=False)
    with pytest.raises(experiments.OptionError, match="album-aware folds need ballroom:PATH"):
        experiments.compare(f"folder:{albums}", out_dir=tmp_path / "run2", cv="album",
                            models=("tempo",), progress=False, verbose=False)
    assert not (tmp_path / "run2").exists()


@pytest.mark.slow
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
                           "mean_recall": 0.2, "mean_recall_std": 0.1, "recall_ci_low": -0.1,
                           "recall_ci_high": 0.5, "patch_accuracy": 0.8, "fit_time": 1.0}])
    text = experiments.markdown_table(table)
    assert "| 90.00 +- 20.00 | 50.0 to 100.0 | 20.00 +- 10.00 | 0.0 to 50.0 |" in text


# -- the tempo-robustness test ------------------------------------------------------------


def test_every_fold_predicts_its_test_tracks_at_each_tempo(descriptors):
    out, result = descriptors
    for r in result.records:
        assert sorted(r["tempo_pred"]) == ["0.92", "1.08"]
        assert all(len(p) == len(r["y_true"]) for p in r["tempo_pred"].values())
    tempo = stats.tempo_drops(result.records)
    written = pd.read_csv(out / "results.csv")
    for model in ("tempo", "rhythm"):
        row = written[written["model"] == model].iloc[0]
        expected = tempo[tempo["model"] == model].set_index("factor")
        for factor in (0.92, 1.08):
            assert row[f"accuracy_x{factor:g}"] == pytest.approx(expected.loc[factor, "accuracy"])
        worst = expected.drop(index=1.0)["drop"].idxmax()
        assert row["worst_tempo_factor"] == worst
        assert row["worst_tempo_drop"] == pytest.approx(expected.loc[worst, "drop"])
        assert row["worst_tempo_drop_p"] == pytest.approx(expected.loc[worst, "p"])
    stored = json.loads((out / "results.json").read_text())["statistics"]["tempo"]
    assert len(stored) == 2 * 3 and {r["factor"] for r in stored} == {1.0, 0.92, 1.08}
    assert "## Tempo robustness" in (out / "results.md").read_text()
    assert (out / "tempo_robustness.png").is_file() and (out / "tempo_robustness.svg").is_file()


def test_a_run_resumes_only_with_its_tempo_shifts(descriptors):
    out, _ = descriptors
    with pytest.raises(experiments.RunFolderError, match="used tempo_shifts=0.92,1.08, not 0.9"):
        experiments.compare(out_dir=out, models=("tempo", "rhythm"), repeats=2, resume=True,
                            **{**FAST, "tempo_shifts": (0.9,)})


def test_the_shifted_tracks_are_the_same_tracks_at_another_tempo(tmp_path):
    protocol = experiments.make_protocol("quick", n_per_class=1)
    kwargs = dict(protocol=protocol, seed=0, cache_dir=tmp_path, progress=False)
    X, y, _, _ = experiments.comparison_features("embedded", **kwargs)
    faster, y_faster, _, _ = experiments.comparison_features("embedded", **kwargs, tempo=1.08)
    assert np.array_equal(y, y_faster) and faster.shape == X.shape
    assert not np.allclose(faster, X)
    assert sorted(p.name.split("-")[1] for p in tmp_path.glob("*-X.npz"))[1] == "x1.08"
    from skrhythm.datasets import make_ballroom_like

    tempo = make_ballroom_like(1, random_state=0, render=False).tempo
    assert np.allclose(make_ballroom_like(1, random_state=0, render=False,
                                          tempo_scale=1.08).tempo, 1.08 * tempo)


def test_files_are_time_stretched_and_cached(tmp_path, monkeypatch):
    from skrhythm.datasets import write_audio_folder
    from skrhythm.experiments import _data

    rng = np.random.default_rng(0)
    waves = [0.1 * rng.standard_normal(2 * 44100).astype(np.float32) for _ in range(4)]
    write_audio_folder((waves, ["a", "a", "b", "b"]), tmp_path / "data", sr=44100)
    protocol = experiments.make_protocol("quick")
    protocol = dataclasses.replace(protocol, duration=2.0)
    kwargs = dict(protocol=protocol, seed=0, cache_dir=tmp_path / "cache", progress=False)
    data = f"folder:{tmp_path / 'data'}"
    X, y, _, _ = experiments.comparison_features(data, **kwargs)
    faster, y_faster, _, _ = experiments.comparison_features(data, **kwargs, tempo=1.25)
    assert np.array_equal(y, y_faster)
    # the first 2 s, played 1.25 times as fast, last 1.6 s
    assert faster.shape[:2] == X.shape[:2] and abs(faster.shape[2] - X.shape[2] / 1.25) <= 2

    def no_stretch(*args):
        raise AssertionError("stretched again instead of reading the cache")

    monkeypatch.setattr(_data, "_stretched_track", no_stretch)
    again, _, _, _ = experiments.comparison_features(data, **kwargs, tempo=1.25)
    np.testing.assert_array_equal(again, faster)
    import soundfile

    first = sorted((tmp_path / "data" / "a").iterdir())[0]
    soundfile.write(first, waves[0][:44100], 44100)  # the data changed: not the cached features
    with pytest.raises(AssertionError, match="stretched again"):
        experiments.comparison_features(data, **kwargs, tempo=1.25)


@pytest.mark.parametrize(("options", "match"), [
    ({"tempo_shifts": (0.1,)}, "tempo_shifts=\\(0.1,\\): expected 1 to 64 tempo factors"),
    ({"tempo_shifts": ("fast",)}, "tempo_shifts="),
    ({"tempo_augment": (1.2, 0.8)}, "tempo_augment=\\(1.2, 0.8\\): expected None or a range"),
    ({"tempo_augment": "fast"}, "tempo_augment='fast'"),
])
def test_bad_tempo_options_name_the_option(options, match):
    with pytest.raises(experiments.OptionError, match=match):
        experiments.make_protocol("quick", **options)


def test_tempo_options_reach_the_protocol_and_the_cnns():
    from skrhythm._spec import DEFAULT_TEMPO_AUGMENT

    protocol = experiments.make_protocol("quick", tempo_shifts=(1.08, 1.0, 0.92, 1.08),
                                         tempo_augment="default")
    assert protocol.tempo_shifts == (0.92, 1.08)  # sorted, once each, without the original
    assert protocol.tempo_augment == DEFAULT_TEMPO_AUGMENT
    assert experiments.make_protocol("quick", tempo_shifts=()).tempo_shifts == ()
    cnn = experiments.make_model("o+p", 250, tempo_augment=(0.9, 1.1))
    assert cnn.tempo_augment == (0.9, 1.1) and cnn.momentum == 0.9  # the estimator's default
    assert experiments.make_model("time", 80).momentum == 0.0
    paper = experiments.make_protocol("paper")
    assert (paper.momentum, paper.nesterov, paper.max_epochs) == (0.0, False, 250)


# -- a new model is one entry -------------------------------------------------------------


def test_a_new_model_is_one_entry(tmp_path, monkeypatch):
    """The contributor guide's example: a 3x O-net runs through compare with nothing else."""
    from skrhythm._spec import MODELS, ModelSpec
    from skrhythm.persistence import TRUSTED_TYPES

    monkeypatch.setitem(MODELS, "3onet", ModelSpec(
        "3x O-net", "skrhythm.classifier:MusicCNNClassifier", {"n_onet": 3, "n_pnet": 0},
        cost=3, saves_model=True, filterbank=True))
    result = experiments.compare(out_dir=tmp_path / "run", models=("3onet",), **FAST)
    (row,) = result.table.itertuples()
    assert (row.model, row.label, row.hop) == ("3onet", "3x O-net", 250)
    same = MusicCNNClassifier(n_onet=3, n_pnet=0, max_epochs=0).fit(
        np.zeros((8, 40, 250), np.float32), list("abcdefgh"))
    assert row.params == same.n_params_  # 3 O-nets, 40 bands, 8 classes
    assert (tmp_path / "run" / "models" / "3onet_hop250_fold0.joblib").is_file()
    assert (tmp_path / "run" / "filters.png").is_file()
    assert "skrhythm.classifier.MusicCNNClassifier" in TRUSTED_TYPES
