"""Whole-recording prediction: skrhythm.predict_recordings and ``skrhythm predict``."""

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from sklearn.pipeline import Pipeline

from conftest import click_tracks, write_pyav
from skrhythm import (
    BaselineCNNClassifier,
    LogMelTransformer,
    MusicCNNClassifier,
    RecordingWarning,
    cli,
    predict_recordings,
)
from skrhythm.audio import AudioDecodeError, load_audio
from skrhythm.persistence import save_model
from skrhythm.rhythm import make_tempo_pipeline

SR, HOP, PATCH, PATCH_HOP = 8000, 128, 32, 16  # a window: 32 frames = 0.512 s
LOGMEL = dict(sr=SR, n_fft=256, hop_length=HOP, n_mels=16, duration=2.0)
TINY = dict(patch_frames=PATCH, patch_hop=PATCH_HOP, max_epochs=2, random_state=0)


def fit(model, seconds=2.0):
    audio, labels = click_tracks(n_per_class=4, seconds=seconds, sr=SR)
    return Pipeline([("logmel", LogMelTransformer(**LOGMEL)), ("model", model)]).fit(audio,
                                                                                      labels)


@pytest.fixture(scope="module")
def model():
    return fit(MusicCNNClassifier(onet_lengths=(2,), pnet_lengths=(5,), filterbank="reference",
                                  **TINY))


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    """A 4-minute song, a 3 s clip and a 0.2 s chirp as WAV files; an M4A of 3 s."""
    root = tmp_path_factory.mktemp("songs")
    audio, _ = click_tracks(n_per_class=1, seconds=240.0, sr=SR, seed=1)
    paths = {"long": root / "long.wav", "clip": root / "clip.wav", "short": root / "short.wav"}
    sf.write(paths["long"], audio[1], SR)
    sf.write(paths["clip"], audio[0][: 3 * SR], SR)
    t = np.arange(int(0.2 * SR)) / SR
    sf.write(paths["short"], 0.5 * np.sin(2 * np.pi * (300 + 2000 * t) * t), SR)
    paths["m4a"] = root / "clip.m4a"
    write_pyav(paths["m4a"], audio[0][: 3 * SR], SR)
    return {k: str(v) for k, v in paths.items()}


def whole_spectrogram(path):
    wave, _ = load_audio(path, SR)
    return LogMelTransformer(**{**LOGMEL, "duration": None}).transform([wave])


# -- the library function ---------------------------------------------------------


def test_long_recording_uses_all_windows_and_their_mean(model, songs):
    result = predict_recordings(model, songs["long"], windows=True)
    row = result.predictions.iloc[0]
    S = whole_spectrogram(songs["long"])
    n_windows = 1 + (S.shape[2] - PATCH) // PATCH_HOP
    assert row["n_windows"] == n_windows > 900  # the pipeline's own crop: 2 s, 8 windows
    assert row["seconds"] == pytest.approx(240.0)
    assert 240.0 - PATCH_HOP * HOP / SR < row["seconds_used"] <= 240.0
    assert not row["padded"] and not row["cropped"]
    classes = list(model.classes_)
    cnn = model.named_steps["model"]
    np.testing.assert_allclose(row[classes].to_numpy(float), cnn.predict_proba(S)[0],
                               rtol=1e-12)
    assert row["prediction"] == cnn.predict(S)[0]
    windows = result.windows
    assert len(windows) == n_windows and set(windows["file"]) == {songs["long"]}
    np.testing.assert_allclose(windows["start"], np.arange(n_windows) * PATCH_HOP * HOP / SR)
    np.testing.assert_allclose(windows["end"] - windows["start"], PATCH * HOP / SR)
    patch = windows[classes].to_numpy()
    np.testing.assert_allclose(patch, cnn.predict_patch_proba(S)[0], rtol=1e-12)
    np.testing.assert_allclose(row[classes].to_numpy(float), patch.mean(axis=0), rtol=1e-12)


def test_short_recording_is_padded_with_a_warning(model, songs):
    with pytest.warns(RecordingWarning, match=r"short\.wav: its 0\.20 s are shorter than one "
                      r"window of the model \(0\.51 s\)"):
        row = predict_recordings(model, [songs["short"]]).predictions.iloc[0]
    assert row["padded"] and row["n_windows"] == 1
    assert row["seconds"] == row["seconds_used"] == pytest.approx(0.2)


def test_duration_crops_and_says_so(model, songs):
    row = predict_recordings(model, songs["long"], duration=10.0).predictions.iloc[0]
    assert row["cropped"] and row["seconds"] == pytest.approx(240.0)
    assert row["seconds_used"] <= 10.0
    assert row["n_windows"] == 1 + (1 + 10 * SR // HOP - PATCH) // PATCH_HOP
    with pytest.raises(ValueError, match="duration must be a positive"):
        predict_recordings(model, songs["long"], duration=0)


def test_bad_file_among_good_ones(model, songs, tmp_path):
    bad = tmp_path / "bad.m4a"
    bad.write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 200)
    files = [songs["clip"], str(bad), songs["m4a"]]
    with pytest.raises(AudioDecodeError, match=r"bad\.m4a.*PyAV"):
        predict_recordings(model, files)
    with pytest.warns(RecordingWarning, match=r"1 of 3 recordings .* skipped:\n  .*bad\.m4a: "
                      "cannot decode"):
        result = predict_recordings(model, files, on_error="skip")
    assert list(result.predictions["file"]) == [songs["clip"], songs["m4a"]]
    assert list(result.errors) == [str(bad)]
    with pytest.raises(ValueError, match="none of the 1 recordings .*\n  .*bad.m4a"):
        predict_recordings(model, [bad], on_error="skip")


def test_directories_globs_and_waveforms(model, songs, tmp_path):
    folder = tmp_path / "dances" / "latin"
    folder.mkdir(parents=True)
    wave, _ = load_audio(songs["clip"], SR)
    sf.write(folder / "b.wav", wave, SR)
    sf.write(folder / "a.flac", wave, SR)
    found = predict_recordings(model, [tmp_path / "dances", str(folder / "*.wav"), wave])
    assert list(found.predictions["file"]) == [str(folder / "a.flac"), str(folder / "b.wav"),
                                               "recording 2"]
    probabilities = found.predictions[list(model.classes_)].to_numpy()
    np.testing.assert_allclose(probabilities, probabilities[[2, 2, 2]], atol=1e-4)
    with pytest.raises(FileNotFoundError, match=r"'.*nowhere/\*\.mp3': no such file"):
        predict_recordings(model, [str(tmp_path / "nowhere" / "*.mp3")])


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_errors_name_the_recording(model, songs):
    broken = np.full(SR, np.nan, np.float32)
    with pytest.raises(ValueError, match=r"^recording 1: .*NaN or infinity"):
        predict_recordings(model, [songs["clip"], broken])


def test_progress_bar(model, songs, capsys):
    predict_recordings(model, [songs["clip"], songs["m4a"]], progress=True)
    err = capsys.readouterr().err
    assert "predicting: 100%" in err and "2/2" in err
    predict_recordings(model, [songs["clip"]])
    assert capsys.readouterr().err == ""


def test_baseline_cnn_windows(songs):
    baseline = fit(BaselineCNNClassifier("time", time_length=8, hidden=8, **TINY))
    result = predict_recordings(baseline, songs["clip"], windows=True)
    S = whole_spectrogram(songs["clip"])
    np.testing.assert_allclose(result.predictions.iloc[0][list(baseline.classes_)].to_numpy(float),
                               baseline[-1].predict_proba(S)[0], rtol=1e-12)
    assert len(result.windows) == 1 + (S.shape[2] - PATCH) // PATCH_HOP


def test_descriptor_pipelines_use_whole_recording_features(songs):
    tempo = fit(make_tempo_pipeline(sr=SR, hop_length=HOP), seconds=4.0)
    row = predict_recordings(tempo, songs["long"]).predictions.iloc[0]
    assert row["n_windows"] == 0 and row["seconds_used"] == pytest.approx(240.0)
    assert row["prediction"] == tempo[-1].predict(whole_spectrogram(songs["long"]))[0]
    assert "even" not in row  # an SVC without probability=True has no probabilities
    with pytest.raises(ValueError, match="Pipeline computes one set of features .* no windows"):
        predict_recordings(tempo, songs["long"], windows=True)


def test_refuses_models_without_logmel_step(model, songs):
    with pytest.raises(TypeError, match="first step is a LogMelTransformer"):
        predict_recordings(model[-1], songs["clip"])
    with pytest.raises(ValueError, match="on_error"):
        predict_recordings(model, songs["clip"], on_error="ignore")


# -- the command ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_file(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.skops"
    save_model(model, path)
    return str(path)


def test_cli_table_reports_coverage_and_padding(model_file, songs, capsys):
    assert cli.main(["predict", model_file, songs["long"], songs["short"]]) == 0
    long, short = capsys.readouterr().out.splitlines()
    assert long.startswith(f"{songs['long']}: ")
    assert "of 240.0 s in 936 windows]" in long
    assert short.endswith("[0.2 s, padded: shorter than one window of the model]")


def test_cli_directory_json_and_windows_file(model_file, songs, tmp_path, capsys):
    from pathlib import Path

    windows = tmp_path / "windows.csv"
    argv = ["predict", model_file, str(Path(songs["clip"]).parent), "--format", "json",
            "--windows", str(windows)]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)
    assert [r["file"] for r in rows] == sorted([songs["clip"], songs["m4a"], songs["long"],
                                                songs["short"]])
    assert [r["padded"] for r in rows] == [False, False, False, True]
    for row in rows:
        assert sum(row[c] for c in ("even", "waltz")) == pytest.approx(1, abs=1e-3)
    table = pd.read_csv(windows)
    assert list(table.columns) == ["file", "start", "end", "even", "waltz"]
    assert len(table) == sum(r["n_windows"] for r in rows)
    assert f"{len(table)} windows of 4 recordings written" in captured.err


def test_cli_bad_file_stops_or_is_skipped(model_file, songs, tmp_path, capsys):
    bad = tmp_path / "broken.wav"
    bad.write_text("not audio")
    assert cli.main(["predict", model_file, songs["clip"], str(bad)]) == 1
    err = capsys.readouterr().err
    assert "broken.wav" in err and "--skip-bad" in err and "Traceback" not in err
    argv = ["predict", model_file, songs["clip"], str(bad), "--skip-bad", "--format", "csv"]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].startswith("file,style,even,waltz,seconds,")
    assert len(captured.out.splitlines()) == 2
    assert "skipped 1 of 2 files that could not be read:\n  " in captured.err
    assert "broken.wav: cannot decode" in captured.err


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--windows", "out.txt"], "must end in .csv or .json"),
     (["--duration", "0"], "positive number of seconds"),
     (["nowhere/*.wav"], "'nowhere/*.wav': no such file or directory")],
)
def test_cli_option_errors_come_before_the_model_is_read(extra, message, songs, capsys,
                                                         monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)

    def fail(*args, **kwargs):
        raise AssertionError("the model was read")

    monkeypatch.setattr("skrhythm.persistence.load_model", fail)
    try:
        code = cli.main(["predict", "model.skops", songs["clip"], *extra])
    except SystemExit as exc:  # argparse: exit code 2
        code = exc.code
    assert code in (1, 2)
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("where", ["missing-folder", "a-folder"])
def test_cli_windows_file_that_cannot_be_written_is_refused_first(model_file, songs, tmp_path,
                                                                  capsys, monkeypatch, where):
    windows = {"missing-folder": tmp_path / "nowhere" / "windows.csv",
               "a-folder": tmp_path / "windows.csv"}[where]
    if where == "a-folder":
        windows.mkdir()

    def fail(*args, **kwargs):
        raise AssertionError("the model was read")

    monkeypatch.setattr("skrhythm.persistence.load_model", fail)
    assert cli.main(["predict", model_file, songs["clip"], "--windows", str(windows)]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and f"--windows {windows}" in captured.err
    assert not (tmp_path / "nowhere").exists()


def test_cli_windows_file_is_written_whole_or_not_at_all(model_file, songs, tmp_path, capsys,
                                                         monkeypatch):
    windows = tmp_path / "windows.csv"
    windows.write_text("kept\n")
    monkeypatch.setattr(pd.DataFrame, "to_csv", lambda *a, **k: 1 / 0)
    assert cli.main(["predict", model_file, songs["clip"], "--windows", str(windows)]) == 1
    assert windows.read_text() == "kept\n"  # not truncated
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.fixture(scope="module")
def odd_label_model(tmp_path_factory):
    """A model whose classes were folder names that are not UTF-8 (as some disks hold)."""
    audio, labels = click_tracks(n_per_class=4, seconds=2.0, sr=SR)
    labels = np.where(labels == "even", "Sa\udcffmba", "waltz")
    model = Pipeline([("logmel", LogMelTransformer(**LOGMEL)),
                      ("model", MusicCNNClassifier(onet_lengths=(2,), pnet_lengths=(5,),
                                                   filterbank="reference", **TINY))])
    path = tmp_path_factory.mktemp("odd") / "model.skops"
    save_model(model.fit(audio, labels), path)
    return str(path)


def test_cli_json_of_labels_that_are_not_utf8(odd_label_model, songs, tmp_path, capsysbinary):
    windows = tmp_path / "windows.json"
    argv = ["predict", odd_label_model, songs["clip"], "--format", "json", "--windows",
            str(windows)]
    assert cli.main(argv) == 0
    rows = json.loads(capsysbinary.readouterr().out.decode("utf-8"))  # valid UTF-8
    assert {"Sa\udcffmba", "waltz"} <= set(rows[0]) and rows[0]["style"] in ("Sa\udcffmba",
                                                                              "waltz")
    table = json.loads(windows.read_text(encoding="utf-8"))
    assert "Sa\udcffmba" in table[0]
    assert cli.main(["predict", odd_label_model, songs["clip"], "--windows",
                     str(tmp_path / "w.csv")]) == 0
    assert (tmp_path / "w.csv").read_bytes().splitlines()[0] == b"file,start,end,Sa\xffmba,waltz"
    assert b"Sa\xffmba " in capsysbinary.readouterr().out  # the table: the name as on disk


def test_cli_debug_after_the_subcommand(model_file, songs, capsys):
    assert cli.main(["predict", model_file, songs["clip"], "--debug"]) == 0


def test_cli_skip_bad_skips_a_text_stub_named_like_audio(model_file, songs, tmp_path, capsys):
    """PyAV raises av.error.EOFError (neither ValueError nor OSError) for such a stub."""
    stub = tmp_path / "stub.ogg"
    stub.write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
    assert cli.main(["predict", model_file, songs["clip"], str(stub), songs["short"],
                     "--skip-bad"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert "skipped 1 of 3 files" in captured.err and "stub.ogg: cannot decode" in captured.err


def test_duration_decodes_only_what_it_uses(model, songs, monkeypatch):
    """A 20-minute WAV took 1.14 GB to score its first 10 s: it was decoded whole."""
    from skrhythm import inference

    asked = []
    load = inference.load_audio

    def recording(path, sr, **kwargs):
        asked.append(kwargs.get("duration"))
        return load(path, sr, **kwargs)

    monkeypatch.setattr(inference, "load_audio", recording)
    whole = predict_recordings(model, songs["long"], duration=10.0).predictions.iloc[0]
    assert asked == [11.0]  # 10 s and one more, to tell that it was cropped
    assert whole["cropped"] and whole["seconds"] == pytest.approx(240.0)
    assert whole["seconds_used"] <= 10.0
    short = predict_recordings(model, songs["clip"], duration=10.0).predictions.iloc[0]
    assert not short["cropped"] and short["seconds"] == pytest.approx(3.0)
    monkeypatch.setattr(inference, "load_audio", load)
    expected = predict_recordings(model, [load(songs["long"], SR)[0][: 10 * SR]])
    np.testing.assert_array_equal(
        predict_recordings(model, songs["long"], duration=10.0).predictions[["even", "waltz"]],
        expected.predictions[["even", "waltz"]])


# -- what a newcomer meets -----------------------------------------------------------------


def test_cli_a_missing_model_file_is_named_before_torch_loads(songs, tmp_path):
    """Reported: 24 s, then "'nothere.skops' is not a model file written by save_model"."""
    import subprocess
    import sys

    code = ("import sys; from skrhythm.cli import main; "
            f"code = main(['predict', 'nothere.skops', {songs['clip']!r}]); "
            "print(code, 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.stdout.split() == ["1", "False"]
    assert result.stderr.strip() == (
        "skrhythm predict: error: nothere.skops: no such file (a model file is written by "
        "skrhythm train or skrhythm.persistence.save_model)")


def test_cli_windows_under_a_file_says_it_is_not_a_folder(model_file, songs, capsys):
    """Reported: '--windows /dev/null/w.csv' said 'folder /dev/null does not exist'."""
    assert cli.main(["predict", model_file, songs["clip"], "--windows", "/dev/null/w.csv"]) == 1
    assert capsys.readouterr().err.strip().endswith(
        "--windows /dev/null/w.csv: /dev/null is not a folder")


def test_cli_coverage_of_a_recording_cropped_below_one_window(model_file, songs, capsys):
    """Reported: '--duration 5' printed '[30.0 s, padded: ..., cropped to --duration]'."""
    assert cli.main(["predict", model_file, songs["clip"], "--duration", "0.3"]) == 0
    line = capsys.readouterr().out.strip()
    seconds = sf.info(songs["clip"]).duration
    assert line.endswith(f"[0.3 of {seconds:.1f} s (cropped to --duration), padded: shorter "
                         "than one window of the model]")


def test_cli_info_prints_the_card_or_says_there_is_none(model_file, tmp_path, capsys):
    assert cli.main(["predict", "--info", model_file]) == 0
    assert "holds no model card" in capsys.readouterr().out
    from skrhythm.persistence import load_model

    carded = tmp_path / "carded.skops"
    save_model(load_model(model_file), carded, card="# Model description\n\nA card.")
    assert cli.main(["predict", "--info", str(carded)]) == 0
    assert capsys.readouterr().out == "# Model description\n\nA card.\n"
    assert cli.main(["predict", str(carded)]) == 1
    assert "no AUDIO given" in capsys.readouterr().err
