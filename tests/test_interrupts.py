"""skrhythm._interrupts: a user's Ctrl-C is an interrupt, never the end of training."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from skorch.callbacks import Callback, EarlyStopping

from skrhythm import MusicCNNClassifier, cli, experiments
from skrhythm.baselines import BaselineCNNClassifier
from skrhythm.training import PaperLRSchedule

TINY = dict(onet_lengths=(2,), pnet_lengths=(3,), patch_frames=16, filterbank="reference",
            random_state=0)
ROOT = Path(__file__).resolve().parents[1]


def data(n_bands=4):
    rng = np.random.default_rng(0)
    return rng.standard_normal((8, n_bands, 40)).astype(np.float32), np.arange(8) % 2


@pytest.fixture(autouse=True)
def _sigint_raises():
    """Python's own SIGINT handler, whatever this process started with.

    A background job of a non-interactive shell (and nohup, some CI runners and
    job schedulers) starts with SIGINT ignored, and Python then installs no
    handler that raises KeyboardInterrupt: the interrupts below would do nothing.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class SigintAt(Callback):
    """Deliver a real SIGINT to this process at the end of epoch ``epoch``."""

    def __init__(self, epoch=2):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            signal.raise_signal(signal.SIGINT)


class Count(Callback):
    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1


@pytest.mark.parametrize("make", [
    lambda cb: MusicCNNClassifier(**TINY, max_epochs=6, callbacks=cb),
    lambda cb: MusicCNNClassifier(**TINY, max_epochs=6, callbacks=cb, train_split=0.25),
    lambda cb: BaselineCNNClassifier("time", time_length=4, patch_frames=16, max_epochs=6,
                                     callbacks=cb, random_state=0),
])
def test_sigint_during_fit_raises_out_of_fit(make):
    X, y = data()
    clf = make([SigintAt(2)])
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    assert signal.getsignal(signal.SIGINT) is handler  # restored
    assert not hasattr(clf, "history_")  # nothing looks like a finished fit


def test_sigint_during_warm_start_fit_raises():
    X, y = data()
    clf = MusicCNNClassifier(**TINY, max_epochs=2, warm_start=True).fit(X, y)
    clf.set_params(callbacks=[SigintAt(3)])
    clf.net_.callbacks = [("sigint", SigintAt(3))]
    clf.net_.initialize_callbacks()
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)


def test_early_stopping_and_paper_schedule_still_end_training_normally():
    X, y = data()
    clf = MusicCNNClassifier(**TINY, max_epochs=40,
                             callbacks=[EarlyStopping(monitor="train_loss", patience=1,
                                                      threshold=10.0)]).fit(X, y)
    assert len(clf.history_) < 40
    schedule = PaperLRSchedule(halve_after=0, stop_after=0)
    clf = MusicCNNClassifier(**TINY, max_epochs=40, lr=1e-9, lr_schedule=None,
                             callbacks=[schedule]).fit(X, y)
    assert len(clf.history_) < 40
    assert clf.history_[-1, "stopped_by"] == "PaperLRSchedule"
    assert clf.predict(X).shape == (8,)


def test_interrupted_train_command_saves_no_model(tmp_path, monkeypatch, capsys):
    real = experiments.make_model

    def with_sigint(*args, **kwargs):
        return real(*args, **kwargs).set_params(callbacks=[SigintAt(1)])

    from skrhythm.experiments import _train

    monkeypatch.setattr(_train, "make_model", with_sigint)
    model = tmp_path / "model.skops"
    argv = ["train", "--n-per-class", "1", "--epochs", "3", "--hop", "250", "--out", str(model)]
    assert cli.main(argv) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not model.exists() and not list(tmp_path.iterdir())


# -- a real `skrhythm compare` process, a real SIGINT -----------------------------------

# Runs `skrhythm compare` with one extra callback that marks the first finished
# epoch of every CNN fit and then waits there (a user reaching for Ctrl-C).
WRAPPER = textwrap.dedent("""
    import signal, sys, time
    from pathlib import Path

    signal.signal(signal.SIGINT, signal.default_int_handler)  # also in a background job
    from skorch.callbacks import Callback
    from skrhythm import cli
    from skrhythm.experiments import _compare

    MARK = Path(sys.argv[1])

    class MarkAndWait(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 1:
                MARK.touch()
                for _ in range(600):
                    time.sleep(0.1)

    real = _compare.make_model
    def make_model(*args, **kwargs):
        model = real(*args, **kwargs)
        if "callbacks" in model.get_params():
            model.set_params(callbacks=[MarkAndWait()])
        return model
    _compare.make_model = make_model
    sys.exit(cli.main(sys.argv[2:]))
""")
ARGS = ["compare", "--models", "tempo,onet", "--folds", "2", "--epochs", "2",
        "--n-per-class", "2", "--tempo-shifts", "none", "--no-progress"]


@pytest.mark.slow
def test_sigint_stops_compare_without_writing_the_interrupted_fold(tmp_path):
    out, mark = tmp_path / "run", tmp_path / "training"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, str(mark), *ARGS, "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )
    try:
        for _ in range(1200):  # the first O-net fit has finished an epoch
            if mark.exists() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert mark.exists(), proc.communicate()[1]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    folds = sorted(p.name for p in (out / "folds").glob("*.json"))
    assert folds == ["tempo_hop0_fold0.json", "tempo_hop0_fold1.json"]  # no O-net fold
    assert "2 finished fold results are kept" in err and "--resume" in err
    assert "Traceback" not in err
    assert not list((out / "models").iterdir())

    assert cli.main([*ARGS, "--out", str(out), "--resume"]) == 0
    resumed = pd.read_csv(out / "results.csv")
    assert cli.main([*ARGS, "--out", str(tmp_path / "uninterrupted")]) == 0
    uninterrupted = pd.read_csv(tmp_path / "uninterrupted" / "results.csv")
    pd.testing.assert_frame_equal(resumed.drop(columns="fit_time"),
                                  uninterrupted.drop(columns="fit_time"))


@pytest.mark.slow
def test_interrupt_tests_pass_in_a_process_started_with_sigint_ignored(tmp_path):
    """As in `(python3 -m pytest -q) > log 2>&1 &` run by a script."""
    tests = [f"{__file__}::{name}" for name in (
        "test_sigint_during_fit_raises_out_of_fit",
        "test_interrupted_train_command_saves_no_model",
        "test_sigint_stops_compare_without_writing_the_interrupted_fold")]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert run.returncode == 0, run.stdout[-3000:]
    assert "5 passed" in run.stdout


@pytest.mark.slow
def test_compare_with_sigint_ignored_runs_and_says_nothing_of_it(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "skrhythm.cli", "compare", "--models", "tempo,onet", "--folds",
         "2", "--epochs", "1", "--n-per-class", "2", "--no-progress", "--out",
         str(tmp_path / "run")],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert run.returncode == 0, run.stderr
    assert "interrupt" not in run.stderr.lower() and "warning" not in run.stderr.lower()
