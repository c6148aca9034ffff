import json

import numpy as np
import pandas as pd
import pytest

from skrhythm import cli, experiments
from skrhythm.experiments import _compare

TINY = ["--models", "onet,tempo", "--folds", "2", "--epochs", "1", "--n-per-class", "2",
        "--no-progress"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert cli.main(["compare", *TINY, "--out", str(out)]) == 0
    return out


def test_compare_writes_tables_config_and_plots(finished_run):
    out = finished_run
    table = pd.read_csv(out / "results.csv")
    assert list(table["model"]) == ["onet", "tempo"]
    assert table.loc[0, "params"] == 4188 and table.loc[0, "hop"] == 250
    assert table["accuracy"].between(0, 1).all() and (table["folds"] == 2).all()
    config = json.loads((out / "config.json").read_text())
    assert config["seed"] == 0 and config["protocol"]["n_folds"] == 2
    assert {"skrhythm", "torch", "scikit-learn"} <= set(config["versions"])
    results = json.loads((out / "results.json").read_text())
    assert len(results["results"]) == 2
    assert "| O-net | 250 | 4,188 |" in (out / "results.md").read_text()
    for name in ("accuracy_vs_params", "confusion_matrix", "filters"):
        assert (out / f"{name}.png").stat().st_size > 1000
        assert (out / f"{name}.svg").exists()
    folds = sorted((out / "folds").glob("*.json"))
    assert len(folds) == 4
    record = json.loads(folds[0].read_text())
    assert len(record["y_true"]) == len(record["y_pred"]) == len(record["test_index"])


def test_interrupted_run_keeps_results_and_resumes(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    real_run_fold = _compare._run_fold
    calls = []

    def interrupt_after_two(*args):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(args[:3])
        return real_run_fold(*args)

    monkeypatch.setattr(_compare, "_run_fold", interrupt_after_two)
    assert cli.main(["compare", *TINY, "--out", str(out)]) == 130
    assert "interrupted: 2 finished fold results are kept" in capsys.readouterr().err
    kept = {p: p.stat().st_mtime_ns for p in (out / "folds").glob("*.json")}
    assert len(kept) == 2

    assert cli.main(["compare", *TINY, "--out", str(out)]) == 1  # no silent overwrite
    assert "--resume" in capsys.readouterr().err

    monkeypatch.setattr(_compare, "_run_fold", real_run_fold)
    assert cli.main(["compare", *TINY, "--out", str(out), "--resume"]) == 0
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())  # not recomputed
    assert len(list((out / "folds").glob("*.json"))) == 4
    assert len(pd.read_csv(out / "results.csv")) == 2


def test_resume_with_other_options_is_refused(finished_run, capsys):
    args = ["compare", *TINY, "--out", str(finished_run), "--resume", "--seed", "1"]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "used seed=0, not 1" in err and "'protocol'" not in err


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["compare", "--models", "onet,nope"], 2, "unknown model(s) nope"),
        (["compare", "--data", "ballroom:/no/such/dir", "--no-progress"], 1, "does not exist"),
        (["compare", "--data", "mp3s"], 1, "expected embedded"),
        (["compare", "--folds", "0"], 2, "positive integer"),
        (["predict", "model.skops", "/no/such.wav"], 1, "no such file"),
    ],
)
def test_bad_options_give_one_line_errors(argv, code, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if code == 2:
        with pytest.raises(SystemExit) as exc:
            cli.main(argv)
        assert exc.value.code == 2
    else:
        assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_summary_orders_models_like_the_poster():
    records = [
        {"model": m, "label": experiments.MODELS[m].label, "hop": h, "fold": f, "params": p,
         "accuracy": a, "patch_accuracy": np.nan, "fit_time": 1.0}
        for m, h, p in (("tempo", None, None), ("o+p", 80, 11608), ("o+p", 250, 11608),
                        ("onet", 250, 4188))
        for f, a in ((0, 0.5), (1, 0.7))
    ]
    table = experiments.summarize(records)
    assert list(zip(table["model"], table["hop"])) == [
        ("onet", 250), ("o+p", 250), ("o+p", 80), ("tempo", 0)
    ]
    assert table["accuracy"].tolist() == pytest.approx([0.6] * 4)
    assert table["accuracy_std"].tolist() == pytest.approx([np.std([0.5, 0.7], ddof=1)] * 4)


def test_train_then_predict_on_files(tmp_path, capsys):
    import soundfile as sf

    from skrhythm.datasets import make_ballroom_like

    model = tmp_path / "model.skops"
    argv = ["train", "--n-per-class", "1", "--epochs", "1", "--hop", "250", "--out", str(model)]
    assert cli.main(argv) == 0
    assert model.stat().st_size > 0
    clips = make_ballroom_like(n_per_class=1, duration=8.0, random_state=3)
    files = []
    for i in (0, 5):
        files.append(tmp_path / f"clip {i}.wav")
        sf.write(files[-1], clips.data[i], 44100)
    capsys.readouterr()
    assert cli.main(["predict", str(model), *map(str, files), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in rows] == list(map(str, files))
    for row in rows:
        assert row["style"] in clips.target_names
        assert sum(row[c] for c in clips.target_names) == pytest.approx(1, abs=1e-3)
    assert cli.main(["predict", str(model), str(files[0]), "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("file,style,")
