"""The ``skrhythm`` command: its subcommands end to end, and the checks before any work."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skrhythm import cli, experiments
from skrhythm.datasets import write_audio_folder
from skrhythm.experiments import _compare, make_protocol, run_info

TINY = ["--models", "onet,tempo", "--folds", "2", "--epochs", "1", "--n-per-class", "2",
        "--tempo-shifts", "none", "--no-progress"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert cli.main(["compare", *TINY, "--out", str(out)]) == 0
    return out


@pytest.mark.slow
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


@pytest.mark.slow
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
         "accuracy": a, "patch_accuracy": np.nan, "fit_time": 1.0,
         "y_true": ["a", "a", "b"], "y_pred": ["a", "b", "b"]}
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
    assert table["mean_recall"].tolist() == pytest.approx([0.75] * 4)  # (1/2 + 1) / 2


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


# -- options checked before the work -------------------------------------------------------


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_data(monkeypatch):
    """Fail the test if any data are read or generated."""
    import skrhythm.datasets

    def fail(*args, **kwargs):
        raise AssertionError("data were read before the options were checked")

    from skrhythm.experiments import _compare, _train

    monkeypatch.setattr(_train, "list_data", fail)
    monkeypatch.setattr(_compare, "list_data", fail)
    monkeypatch.setattr(_compare, "comparison_features", fail)
    monkeypatch.setattr(skrhythm.datasets, "make_ballroom_like", fail)


def test_version_and_help_import_neither_torch_nor_sklearn():
    code = textwrap.dedent("""
        import sys
        from skrhythm import cli
        for argv in (["--version"], ["--help"], ["compare", "--help"], ["train", "--help"]):
            try:
                cli.main(argv)
            except SystemExit as exc:
                assert exc.code == 0, argv
        print(sorted(m for m in ("torch", "sklearn", "skorch", "librosa") if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    from skrhythm import __version__

    assert f"skrhythm {__version__}" in out


def test_help_lists_every_model_with_examples(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    for name, spec in experiments.MODELS.items():
        assert f"  {name} " in out and spec.label in out
    assert "examples:" in out and "--out 'models/{model}.skops'" in out


@pytest.mark.parametrize("argv, message", [
    (["train", "--out", "m.h5"], "ends in .skops"),
    (["train", "--out", "model"], "not 'no suffix'"),
    (["train", "--model", "onet,pnet", "--out", "m.skops"], "must hold {model}"),
    (["train", "--data", "folder:/no/such/dir", "--out", "m.skops"], "does not exist"),
    (["compare", "--data", "folder:/no/such/dir"], "does not exist"),
    (["compare", "--data", "mp3s"], "expected embedded"),
])
def test_bad_options_are_refused_before_data_are_read(argv, message, no_data, capsys, tmp_path,
                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("argv", [
    ["compare", "--n-jobs", "0"], ["train", "--n-jobs", "0", "--out", "m.skops"],
    ["compare", "--n-jobs", "two"], ["compare", "--threads", "0"], ["compare", "--repeats", "0"],
    ["compare", "--device", "gpu"], ["train", "--valid", "1.5", "--out", "m.skops"],
    ["compare", "--tempo-shifts", "faster"], ["compare", "--augment", "speed"],
    ["train", "--augment", "tempo:0.1,3", "--out", "m.skops"],
    ["compare", "--augment", "tempo:1.2,0.8"],
])
def test_invalid_values_are_usage_errors(argv, no_data, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert f"error: argument {argv[1]}" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["compare"], ["train", "--out", "m.skops"]])
def test_cuda_without_cuda_is_refused_first(command, no_data, monkeypatch, capsys, tmp_path):
    import torch

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cli.main([*command, "--device", "cuda"]) == 1
    assert "--device cuda: CUDA is not available" in capsys.readouterr().err


def test_resume_with_other_options_names_the_option(no_data, tmp_path, capsys):
    protocol = make_protocol("quick", models=("onet", "tempo"), n_folds=3)
    info = run_info(protocol, data="embedded", seed=0, device="cpu", n_jobs=1,
                    feature_params=experiments.FEATURE_PARAMS)
    (tmp_path / "config.json").write_text(json.dumps(info))
    base = ["compare", "--models", "onet,tempo", "--out", str(tmp_path), "--resume"]
    for extra, message in [(["--folds", "5"], "used --folds 3, not 5"),
                           (["--folds", "3", "--epochs", "2"],
                            f"used --epochs {protocol.max_epochs}, not 2"),
                           (["--folds", "3", "--repeats", "2"], "used --repeats 1, not 2"),
                           (["--folds", "3", "--models", "onet"], "used --models onet,tempo, "
                                                                  "not onet")]:
        assert cli.main([*base, *extra]) == 1
        err = capsys.readouterr().err
        assert message in err and "{" not in err


def test_unexpected_errors_are_one_line_unless_debug(monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(experiments, "compare", boom)
    assert cli.main(["compare", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("skrhythm compare: error: RuntimeError: boom (an unexpected error; "
                           "run again with --debug to see where it happened)")
    for argv in (["compare", "--debug"], ["--debug", "compare"]):
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert "Traceback" in err and "RuntimeError: boom" in err


@pytest.fixture(scope="module")
def dances(tmp_path_factory):
    """Short clips of two styles, one of them with fewer than a handful of tracks."""
    rng = np.random.default_rng(0)
    t = np.arange(22050) / 22050
    waves, labels = [], []
    for label, n, rate in (("fast", 5, 4.0), ("slow", 4, 1.5)):
        for _ in range(n):
            clicks = (np.sin(2 * np.pi * rate * t) > 0.95).astype(np.float32)
            waves.append(0.5 * clicks + 0.01 * rng.standard_normal(t.size).astype(np.float32))
            labels.append(label)
    root = tmp_path_factory.mktemp("dances")
    write_audio_folder((waves, labels), root, sr=22050)
    return root


def test_train_every_kind_of_model_each_to_its_own_file(dances, tmp_path, capsys):
    from skrhythm.persistence import load_model

    out = tmp_path / "{model}.skops"
    argv = ["train", "--data", f"folder:{dances}", "--model", "onet,tempo,rhythm", "--hop",
            "250", "--epochs", "2", "--out", str(out)]
    assert cli.main(argv) == 0
    err = capsys.readouterr().err
    assert "warning: classes with fewer than 5 tracks: slow (4)" in err
    for epoch in (1, 2):
        line = next(x for x in err.splitlines() if f"onet: epoch {epoch}/2" in x)
        assert "train acc" in line and "valid acc" in line
    assert "tempo: training accuracy" in err and "rhythm: training accuracy" in err
    assert "\x1b[" not in err
    clip = sorted(dances.rglob("*.wav"))[:1]
    for name in ("onet", "tempo", "rhythm"):
        model = load_model(tmp_path / f"{name}.skops")  # no untrusted callback saved with it
        assert model.predict([str(p) for p in clip])[0] in ("fast", "slow")


def test_threads_and_git_commit_are_recorded(monkeypatch):
    from skrhythm.experiments._compare import default_threads
    from skrhythm.experiments._provenance import git_commit

    assert default_threads(1, None) is None
    assert default_threads(2, None) == 1
    assert default_threads(-1, None) == (1 if (os.cpu_count() or 1) > 1 else None)
    assert default_threads(4, 3) == 3
    info = run_info(make_protocol("quick"), data="embedded", seed=0, device="cpu", n_jobs=2,
                    feature_params={}, threads=1)
    assert info["threads"] == 1
    if (ROOT / ".git").exists():
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        assert info["git_commit"] == head
    monkeypatch.setenv("PATH", "")  # no git program: no commit, no error
    assert git_commit() is None


def test_compare_on_files_caches_features_track_by_track(dances, tmp_path, monkeypatch):
    out = tmp_path / "run"
    argv = ["compare", "--data", f"folder:{dances}", "--models", "tempo", "--folds", "2",
            "--tempo-shifts", "none", "--no-progress", "--out", str(out)]
    assert cli.main(argv) == 0
    entries = sorted((out / "cache").rglob("*.npz"))
    assert len(entries) == 9 and all(p.parent.parent.name == "logmel" for p in entries)
    first = (out / "results.csv").read_text()

    from skrhythm import features

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cached track was decoded again")

    monkeypatch.setattr(features, "load_audio", no_decoding)
    (out / "results.csv").unlink()
    assert cli.main([*argv, "--resume"]) == 0
    assert (out / "results.csv").read_text() == first


@pytest.mark.parametrize("label", ["start", "file", "style", "n_windows"])
def test_train_refuses_labels_that_predict_could_not_write(tmp_path, capsys, monkeypatch, label):
    """Every class gets a column of the predictions: a label named like another column
    would make every later 'skrhythm predict' of the model fail."""
    from skrhythm import features

    t = np.arange(8000) / 8000
    write_audio_folder(([np.sin(2 * np.pi * 440 * t)] * 4, ["Samba", "Samba", label, label]),
                       tmp_path / "data", sr=8000)

    def no_decoding(*args, **kwargs):
        raise AssertionError("audio was decoded before the labels were checked")

    monkeypatch.setattr(features, "load_audio", no_decoding)
    out = tmp_path / "model.skops"
    assert cli.main(["train", "--data", f"folder:{tmp_path / 'data'}", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"the labels {label} are names of the columns" in err and "rename" in err
    assert not out.exists()


def test_a_full_disk_when_saving_the_model_names_the_file(dances, tmp_path, capsys, monkeypatch):
    import errno

    import skops.io

    def disk_full(obj, file):
        file.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(skops.io, "dump", disk_full)
    out = tmp_path / "tempo.skops"
    assert cli.main(["train", "--data", f"folder:{dances}", "--model", "tempo",
                     "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"No space left on device): '{out}'" in err and "unexpected" not in err
    assert not list(tmp_path.iterdir())  # no partial model, no temporary file


def test_train_creates_the_folders_of_out_as_its_help_shows(dances, tmp_path, monkeypatch,
                                                            capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "--data", f"folder:{dances}", "--models", "tempo,rhythm",
                     "--out", "models/{model}.skops"]) == 0
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [
        "rhythm.card.md", "rhythm.skops", "tempo.card.md", "tempo.skops"]
    (tmp_path / "notes.txt").write_text("x")
    assert cli.main(["train", "--model", "tempo", "--out", "notes.txt/m.skops"]) == 1
    assert "notes.txt is not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["compare", "datasize", "train"])
def test_models_and_model_are_both_accepted(command):
    parser = cli.build_parser()
    extra = ["--out", "m.skops"] if command == "train" else []
    for flag in ("--models", "--model"):
        args = parser.parse_args([command, flag, "o+p,tempo", *extra])
        assert args.models == ("o+p", "tempo")


def test_every_option_says_what_it_does_and_its_default():
    """``skrhythm train --help`` gave --epochs, --n-per-class and --seed no text."""
    import argparse

    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction) or action.dest == "debug":
                continue
            assert action.help, f"{name} {action.option_strings or action.dest}: no help"
            if action.default not in (None, False, argparse.SUPPRESS) and action.option_strings:
                assert "default" in action.help, f"{name} {action.option_strings}: no default"


@pytest.mark.parametrize(("argv", "message"), [
    (["compare", "--folds", "1"], "--folds 1: expected an integer of at least 2"),
    (["compare", "--folds", "50", "--cv", "paper", "--n-per-class", "2"],
     "--folds 50: cannot split the 16 tracks so"),
    (["datasize", "--sizes", "1000"],
     "--sizes 1000: 1000 tracks per class is more than the training tracks of class"),
    (["datasize", "--folds", "1"], "--folds 1: expected an integer of at least 2"),
    (["compare", "--models", "onet", "--data", "folder:/no/such"],
     "--data folder:/no/such: /no/such does not exist"),
    (["compare", "--protocol", "paper", "--n-per-class", "2", "--folds", "2"],
     "--protocol paper: it holds out 69 validation tracks of every training fold, and the "
     "smallest training fold of these data has 8 tracks of 8 classes"),
    (["compare", "--tempo-shifts", "0.92,3"],
     "--tempo-shifts 0.92,3.0: expected 1 to 64 tempo factors, each from 0.5 to 2"),
])
def test_errors_the_data_listing_can_tell_come_before_any_audio_and_name_the_flag(
        argv, message, tmp_path, monkeypatch, capsys):
    from skrhythm import features
    from skrhythm.datasets import _synthetic

    def no_audio(*args, **kwargs):
        raise AssertionError("audio was generated or decoded before the options were checked")

    monkeypatch.setattr(_synthetic, "_render", no_audio)
    monkeypatch.setattr(features, "load_audio", no_audio)
    monkeypatch.chdir(tmp_path)
    assert cli.main([*argv, "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert f"error: {message}" in err, err
    assert "n_folds" not in err and "n_per_class" not in err  # the flags, not parameters


@pytest.mark.slow
def test_warnings_read_as_the_commands_own_lines(dances, tmp_path):
    """A class of 4 tracks and 5 folds: scikit-learn warns that it is the least populated."""
    run = subprocess.run(
        [sys.executable, "-m", "skrhythm.cli", "compare", "--data", f"folder:{dances}",
         "--models", "tempo", "--folds", "5", "--tempo-shifts", "none", "--no-progress",
         "--out", str(tmp_path / "run")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    err = run.stderr
    assert "skrhythm compare: warning: The least populated class in y has only 4 members" in err
    assert "UserWarning" not in err and ".py:" not in err


# -- what a newcomer meets -----------------------------------------------------------------


def test_an_empty_model_name_is_refused():
    """Reported: '--models onet,,pnet' was accepted silently."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["compare", "--models", "onet,,pnet"])
    assert exc.value.code == 2


def test_an_out_folder_under_a_file_is_named_in_words(no_data, capsys):
    """Reported: 'compare --out /dev/null/x' printed a raw '[Errno 20] Not a directory'."""
    assert cli.main(["compare", "--out", "/dev/null/x"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "skrhythm compare: error: --out /dev/null/x: /dev/null is not a folder"


def test_resume_of_a_folder_without_a_run_is_refused(no_data, tmp_path, capsys):
    """Reported: 'compare --resume --out DIR' on an empty folder generated data for 2 minutes
    and started a fresh run."""
    (tmp_path / "notes.txt").write_text("mine")
    assert cli.main(["compare", "--out", str(tmp_path), "--resume"]) == 1
    err = capsys.readouterr().err
    assert f"--resume: nothing to resume in {tmp_path}" in err
    assert "resume=True" not in err and "start one without --resume" in err


def test_library_words_become_flags():
    from skrhythm.cli._common import in_cli_words
    from skrhythm.experiments import OptionError

    assert in_cli_words(ValueError("the run used n_folds=3, not 5; pass resume=True or "
                                   "choose another out_dir")) == (
        "the run used --folds 3, not 5; pass --resume or choose another --out")
    assert in_cli_words(OptionError("tempo_augment", (1.2, 0.8), "expected ...")) == (
        "--augment tempo:1.2,0.8: expected ...")
    assert in_cli_words(OptionError("models", "onet,tempo", "x")) == "--models onet,tempo: x"
    assert in_cli_words(ValueError("the data set and data=x")) == "the data set and --data x"
