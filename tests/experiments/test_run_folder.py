"""Run folders of ``skrhythm compare``: locked, written atomically, only by their run, checked
on resume; the feature caches a run keeps in them."""

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from joblib import Memory

from skrhythm import LogMelTransformer, cli
from skrhythm._store import file_mode

TINY = ["compare", "--models", "onet,tempo", "--folds", "2", "--epochs", "1",
        "--n-per-class", "2", "--tempo-shifts", "none", "--no-progress"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "run"
    assert cli.main([*TINY, "--out", str(out)]) == 0
    return out


@pytest.fixture
def run(finished, tmp_path):
    """A private copy of the finished run."""
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    return out


def resume(out, *extra):
    return cli.main([*TINY, "--out", str(out), "--resume", *extra])


def test_fold_records_say_what_resume_needs(finished):
    record = json.loads((finished / "folds" / "onet_hop250_fold0.json").read_text())
    assert record["complete"] is True and len(record["fingerprint"]) == 64
    assert record["epochs"] == 1 and record["max_epochs"] == 1
    assert record["model_file"] == "models/onet_hop250_fold0.joblib"
    assert record["model_sha256"] and (finished / record["model_file"]).is_file()


def test_every_file_written_gets_the_same_mode(finished):
    files = [p for p in finished.rglob("*") if p.is_file()]
    assert len(files) > 15
    modes = {p.relative_to(finished).as_posix(): oct(p.stat().st_mode & 0o777) for p in files}
    assert set(modes.values()) == {oct(file_mode())}, modes


@pytest.mark.slow
def test_second_run_on_the_same_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from skrhythm.experiments._run_folder import run_folder_lock
            with run_folder_lock({str(out)!r}):
                print("locked", flush=True)
                sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert cli.main([*TINY, "--out", str(out)]) == 1
        err = capsys.readouterr().err
        assert f"in use by another skrhythm run (pid {holder.pid}" in err
        assert not (out / "config.json").exists() and not (out / "folds").exists()
    finally:
        holder.kill()  # SIGKILL: the lock file stays, the lock goes with the process
        holder.wait()
        holder.stdin.close()
        holder.stdout.close()
    assert (out / ".skrhythm-run.lock").exists()
    assert cli.main([*TINY, "--out", str(out)]) == 0


@pytest.mark.parametrize("damage, message", [
    (lambda text: text[: len(text) // 2], "is damaged"),
    (lambda text: "", "is damaged"),
    (lambda text: "\x00\xff garbage", "is damaged"),
    (lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "accuracy"}),
     "'accuracy' missing"),
    (lambda text: json.dumps({**json.loads(text), "accuracy": "high"}), "'accuracy' str"),
    (lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "complete"}),
     "not marked as a complete fold"),
    (lambda text: "[1, 2]", "not a JSON object"),
])
def test_damaged_fold_records_are_errors_naming_the_file(run, capsys, damage, message):
    path = run / "folds" / "onet_hop250_fold1.json"
    path.write_text(damage(path.read_text()), encoding="utf-8", errors="surrogateescape")
    assert resume(run) == 1
    err = capsys.readouterr().err
    assert str(path) in err and message in err and "delete" in err
    assert "Traceback" not in err


def test_folds_of_other_settings_are_refused(run, capsys):
    (run / "config.json").unlink()  # the options check goes; the records still know
    assert resume(run, "--epochs", "2") == 1
    err = capsys.readouterr().err
    assert "computed with other settings" in err and "fold0.json" in err


def test_damaged_config_names_the_file(run, capsys):
    (run / "config.json").write_text('{"protocol": ')
    assert resume(run) == 1
    err = capsys.readouterr().err
    assert str(run / "config.json") in err and "damaged" in err


@pytest.mark.slow
def test_truncated_model_file_is_an_error_naming_it(run, capsys):
    model = run / "models" / "onet_hop250_fold0.joblib"
    model.write_bytes(model.read_bytes()[:100])
    assert resume(run) == 1
    err = capsys.readouterr().err
    assert str(model) in err and "damaged" in err and "onet_hop250_fold0.json" in err
    (run / "folds" / "onet_hop250_fold0.json").unlink()  # what the message says to do
    assert resume(run) == 0
    joblib.load(model)


@pytest.mark.slow
def test_crash_between_model_and_record_is_resumed(run, finished):
    """The model is written first: a crash before the record leaves a fold to recompute."""
    (run / "folds" / "onet_hop250_fold0.json").unlink()
    assert resume(run) == 0
    pd.testing.assert_frame_equal(pd.read_csv(run / "results.csv").drop(columns="fit_time"),
                                  pd.read_csv(finished / "results.csv").drop(columns="fit_time"))


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["zeros"])
def test_damaged_cli_feature_cache_is_recomputed(run, finished, capsys, damage):
    (entry,) = (run / "cache").glob("embedded-*-X.npz")
    size = entry.stat().st_size
    data = {"zeros": bytes(size), "random": np.random.default_rng(0).bytes(size),
            "truncated": entry.read_bytes()[: size // 2]}[damage]
    entry.write_bytes(data)
    with pytest.warns(UserWarning, match=f"feature cache {re.escape(repr(str(entry)))} is "
                      "damaged.*computing the features again"):
        assert resume(run) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resume(run) == 0  # repaired
    pd.testing.assert_frame_equal(pd.read_csv(run / "results.csv").drop(columns="fit_time"),
                                  pd.read_csv(finished / "results.csv").drop(columns="fit_time"))


@pytest.mark.slow
@pytest.mark.parametrize("planted", ["X-shape", "X-nan", "y-labels"])
def test_planted_embedded_feature_cache_is_recomputed(run, finished, planted):
    from skrhythm._store import load_array, save_array

    (entry,) = (run / "cache").glob("embedded-*-X.npz")
    labels = entry.with_name(entry.name.replace("-X.npz", "-y.npz"))
    X, y = load_array(entry), load_array(labels)
    if planted == "X-shape":
        save_array(entry, X[:, :3, :5].copy())
    elif planted == "X-nan":
        save_array(entry, np.full_like(X, np.nan))
    else:
        save_array(labels, np.sort(y)[::-1].copy())
    with pytest.warns(UserWarning, match="feature cache .* holds .*computing the features again"):
        assert resume(run) == 0
    pd.testing.assert_frame_equal(pd.read_csv(run / "results.csv").drop(columns="fit_time"),
                                  pd.read_csv(finished / "results.csv").drop(columns="fit_time"))


@pytest.mark.slow
def test_resume_of_a_finished_run_reads_features_without_generating_data(run, monkeypatch):
    from skrhythm.datasets import _synthetic

    def fail(*args, **kwargs):
        raise AssertionError("the embedded data were generated again")

    monkeypatch.setattr(_synthetic, "_render", fail)
    assert resume(run) == 0


# -- LogMelTransformer(cache=...) ------------------------------------------------------

PARAMS = dict(sr=8000, n_fft=256, hop_length=128, n_mels=16, duration=None)


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(2):
        path = tmp_path / f"track{i}.wav"
        sf.write(path, 0.1 * rng.standard_normal(4000), 8000)
        paths.append(str(path))
    return paths


@pytest.mark.parametrize("damage", ["zeros", "random", "truncated", "other array"])
def test_damaged_cache_entry_is_recomputed_with_a_warning(files, tmp_path, damage):
    cache = tmp_path / "cache"
    expected = LogMelTransformer(**PARAMS).transform(files)
    LogMelTransformer(**PARAMS, cache=cache).transform(files)
    entries = sorted(cache.rglob("*.npz"))
    assert len(entries) == 2
    entry = entries[0]
    size = entry.stat().st_size
    if damage == "other array":  # a valid file whose data were changed after the checksum
        with np.load(entry) as npz:
            np.savez(entry, data=np.zeros_like(npz["data"]), sha256=npz["sha256"])
    else:
        entry.write_bytes({"zeros": bytes(size), "random": np.random.default_rng(0).bytes(size),
                           "truncated": entry.read_bytes()[: size // 2]}[damage])
    with pytest.warns(UserWarning, match="feature cache entry of .*track.* damaged"):
        again = LogMelTransformer(**PARAMS, cache=cache).transform(files)
    np.testing.assert_array_equal(again, expected)
    np.testing.assert_array_equal(LogMelTransformer(**PARAMS, cache=cache).transform(files),
                                  expected)  # repaired: no warning needed, same values


def test_damaged_joblib_memory_entry_is_recomputed(files, tmp_path):
    memory = Memory(tmp_path / "memory", verbose=0)
    expected = LogMelTransformer(**PARAMS).transform(files)
    LogMelTransformer(**PARAMS, cache=memory).transform(files)
    outputs = sorted((tmp_path / "memory").rglob("output.pkl"))
    assert len(outputs) == 2
    entry = joblib.load(outputs[0])
    entry["spectrogram"] = np.zeros_like(entry["spectrogram"])
    joblib.dump(entry, outputs[0])
    with pytest.warns(UserWarning, match="damaged"):
        again = LogMelTransformer(**PARAMS, cache=memory).transform(files)
    np.testing.assert_array_equal(again, expected)


def test_cache_entries_are_never_unpickled(files, tmp_path):
    """A planted pickle in the cache folder is damage, not code to run."""
    cache = tmp_path / "cache"
    LogMelTransformer(**PARAMS, cache=cache).transform(files)
    marker = tmp_path / "pwned"
    for entry in cache.rglob("*.npz"):
        with open(entry, "wb") as f:
            import pickle

            pickle.dump(_Payload(str(marker)), f)
    with pytest.warns(UserWarning, match="damaged"):
        LogMelTransformer(**PARAMS, cache=cache).transform(files)
    assert not marker.exists()


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_fits_on_one_gpu_run_one_at_a_time(monkeypatch):
    from skrhythm.experiments import _compare

    assert _compare.jobs_for_device(4, "cpu") == 4
    monkeypatch.setattr(_compare, "resolve_device", lambda device: "cuda")
    assert _compare.jobs_for_device(None, "auto") is None
    assert _compare.jobs_for_device(1, "cuda") == 1
    with pytest.warns(UserWarning, match="n_jobs=4 ignored on device 'auto'"):
        assert _compare.jobs_for_device(4, "auto") == 1


# -- a run killed with its workers busy ------------------------------------------------


def _children(pid):
    """PIDs of the processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_workers_of_a_killed_run_die_and_write_nothing(tmp_path, sig):
    """``timeout``, batch schedulers and the OOM killer stop a run with SIGTERM or SIGKILL:
    its workers must not go on training and write into a folder a new run may hold."""
    import signal
    import time

    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "skrhythm.cli", "compare", "--models", "8o+8p",
         "--n-per-class", "2", "--folds", "2", "--epochs", "500", "--n-jobs", "2",
         "--no-progress", "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        workers, deadline = [], time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            # loky starts a resource tracker besides the workers; the workers are those that
            # train (spend CPU time)
            busy = [w for pid in _children(proc.pid) for w in [pid, *_children(pid)]
                    if _alive(w) and _cpu_seconds(w) > 3]
            if len(busy) >= 2:
                workers = busy
                break
            time.sleep(0.2)
        assert workers, proc.stderr.read().decode() if proc.poll() is not None else "no fits"
        os.kill(proc.pid, getattr(signal, sig))
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(map(_alive, workers)):
            time.sleep(0.1)
        assert not any(map(_alive, workers)), f"workers {workers} outlived their run"
        assert not list((out / "folds").glob("*.json"))
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in workers:
            if _alive(pid):
                os.kill(pid, 9)
