"""experiments.compare: the comparison from Python, repeats, threads and progress."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.dummy import DummyClassifier

from skrhythm import MusicCNNClassifier, cli, experiments
from skrhythm.experiments import _compare
from skrhythm.experiments._progress import FitProgress
from skrhythm.training import EpochProgress

TEMPO = dict(models=("tempo",), n_folds=2, n_per_class=2, max_epochs=1)


@pytest.fixture(scope="module")
def repeated(tmp_path_factory):
    out = tmp_path_factory.mktemp("repeated") / "run"
    result = experiments.compare(out_dir=out, **TEMPO, repeats=2, progress=False,
                                 verbose=False)
    return out, result


def test_python_and_the_command_write_the_same_files(repeated, tmp_path, capsys):
    out, result = repeated
    argv = ["compare", "--models", "tempo", "--folds", "2", "--n-per-class", "2", "--epochs",
            "1", "--repeats", "2", "--out", str(tmp_path / "cli")]
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
    assert progress.seconds_left() == pytest.approx(2 * 10.0 + 2 * 100.0)  # measured costs


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
