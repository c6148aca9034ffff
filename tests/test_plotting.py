"""The plots carry what a reader needs: legends, labels, counts, captions (Agg backend)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402

from skrhythm.nn import MusicCNN  # noqa: E402
from skrhythm.plotting import (  # noqa: E402
    plot_accuracy_vs_params,
    plot_confusion_matrix,
    plot_filters,
    plot_pairwise,
    save_figure,
)
from skrhythm.stats import model_summary, pairwise  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def _records():
    """Three models on 4 folds of 10 tracks; o+p right on 3 more tracks per fold than onet."""
    right = {"o+p": [8, 9, 8, 9], "onet": [5, 6, 5, 6], "rhythm": [7, 7, 8, 9]}
    meta = {"o+p": ("O-net + P-net", 250, 11608), "onet": ("O-net", 250, 4188),
            "rhythm": ("Rhythm descriptor + SVM", None, None)}
    records = []
    for model, counts in right.items():
        label, hop, params = meta[model]
        for fold, k in enumerate(counts):
            records.append({"model": model, "label": label, "hop": hop, "params": params,
                            "fold": fold, "accuracy": k / 10, "y_true": ["a"] * 10,
                            "y_pred": ["a"] * k + ["b"] * (10 - k)})
    return records


def _summarize_like(records):
    df = pd.DataFrame(records)
    df["hop"] = df["hop"].fillna(0).astype(int)
    return (df.groupby(["model", "hop"], sort=False)
            .agg(label=("label", "first"), params=("params", "first"), folds=("fold", "count"),
                 accuracy=("accuracy", "mean"), accuracy_std=("accuracy", "std"))
            .reset_index())


def test_accuracy_vs_params_std_bars_legend_and_caption():
    table = _summarize_like(_records())
    ax = plot_accuracy_vs_params(table)  # the CLI's call form
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["O-net + P-net (hop 250)", "O-net (hop 250)", "Rhythm descriptor + SVM"]
    assert ax.get_xlabel().startswith("trainable parameters")
    assert ax.get_ylabel() == "track accuracy (%)"
    caption = " ".join(_texts(ax))
    assert "standard deviation over 4 folds, clipped to 0-100 %" in caption
    assert "Data:" not in caption
    # the error bar of O-net + P-net spans mean +- std, in percent
    bar = ax.containers[0]
    segment = bar.lines[2][0].get_segments()[0]
    std = 100 * np.std([0.8, 0.9, 0.8, 0.9], ddof=1)
    assert segment[:, 1] == pytest.approx([85 - std, 85 + std])
    assert ax.get_lines()[-1].get_ydata()[0] == pytest.approx(77.5)  # descriptor line


def test_accuracy_vs_params_confidence_intervals_and_reference():
    records = _records()
    table = _summarize_like(records)
    summary = model_summary(records)
    ax = plot_accuracy_vs_params(table, intervals=summary, reference=True,
                                 data_name="generated test tracks")
    caption = " ".join(_texts(ax))
    assert "Data: generated test tracks." in caption
    assert "95 % confidence interval (corrected resampled t" in caption
    assert "published values" in caption
    segment = ax.containers[0].lines[2][0].get_segments()[0]
    assert segment[:, 1] == pytest.approx(100 * summary.loc[0, ["ci_low", "ci_high"]].to_numpy(
        dtype=float))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "hollow: published (poster, Ballroom)" in labels
    # published O-net + P-net at hop 250 (87.25 %) drawn in the run's colour; the
    # non-deep published value is labelled inside the axes
    hollow = [line for line in ax.get_lines() if line.get_markerfacecolor() == "none"]
    assert {(float(h.get_xdata()[0]), float(h.get_ydata()[0])) for h in hollow} == {
        (11608.0, 87.25), (4188.0, 76.66)}
    assert "Marchand & Peeters 2016 (published)" in _texts(ax)
    # the stats summary itself can be the table; bars are clipped to 0-100 %
    wide = model_summary(records, confidence=0.9).assign(ci_high=[1.2, 0.7, 0.9])
    ax2 = plot_accuracy_vs_params(wide)
    assert "90 % confidence interval" in " ".join(_texts(ax2))
    assert ax2.containers[0].lines[2][0].get_segments()[0][:, 1].max() == 100


def test_pairwise_matrix_marks_significant_differences():
    table = pairwise(_records())
    ax = plot_pairwise(table, data_name="generated")
    image = next(a for a in ax.get_children() if isinstance(a, AxesImage))
    values = image.get_array()  # each pair once: rows 2 and 3 against columns 1 and 2
    assert values.shape == (2, 2) and np.ma.getmaskarray(values)[0, 1]
    assert values[0, 0] == pytest.approx(-30)  # onet - o+p
    # o+p - onet: +3 tracks of 10 on every fold, zero variance: p undefined, no star
    texts = _texts(ax)
    assert "-30.0" in texts and "+30.0" not in texts  # shown once
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "O-net + P-net (hop 250)", "O-net (hop 250)"]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "O-net (hop 250)", "Rhythm descriptor + SVM"]
    assert ax.get_xlabel() == "column model" and ax.get_ylabel() == "row model"
    assert "Holm-adjusted p < 0.05" in " ".join(texts)
    reordered = plot_pairwise(table, order=["rhythm", "onet"])
    assert [t.get_text() for t in reordered.get_yticklabels()] == [
        "O-net (hop 250)", "O-net + P-net (hop 250)"]
    marked = table.assign(p_holm=[0.01, 0.5, 0.2])
    texts = _texts(plot_pairwise(marked))
    assert "-30.0*" in texts
    assert sum(t.endswith("*") for t in texts) == 1


def test_confusion_matrix_shows_counts_and_labels():
    y_true = ["waltz"] * 5 + ["tango"] * 3
    y_pred = ["waltz"] * 4 + ["tango"] + ["tango"] * 2 + ["waltz"]
    ax = plot_confusion_matrix(y_true, y_pred, title="O-net (hop 250)")  # the CLI's form
    assert ax.get_title() == "O-net (hop 250)"
    assert ax.get_xlabel() == "predicted style" and ax.get_ylabel() == "true style"
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
             for t in ax.texts if t.get_text().isdigit()}
    # rows and columns in label order: tango, waltz
    assert cells == {(0, 0): "2", (0, 1): "1", (1, 0): "1", (1, 1): "4"}
    image = next(a for a in ax.get_children() if isinstance(a, AxesImage))
    assert image.get_array()[1, 1] == pytest.approx(0.8)  # colour: row-normalised
    assert "8 in all" in " ".join(_texts(ax))


@pytest.mark.parametrize("n_onet, n_pnet, panels", [(1, 1, 2), (1, 0, 1), (0, 2, 1)])
def test_filters_one_image_per_scale(n_onet, n_pnet, panels):
    module = MusicCNN(40, 3, n_onet=n_onet, n_pnet=n_pnet)
    ax = plot_filters(module, model="my net", fold=2)
    images = [a for a in ax.figure.axes if any(isinstance(c, AxesImage) for c in a.get_children())]
    axes = [a for a in images if a.get_xlabel() == "time (s)"]
    assert len(axes) == panels
    periodicity = [a for a in images if a.get_xlabel() == "tempo (bpm)"]
    assert len(periodicity) == (n_pnet > 0)  # the P-net's filters span beats
    rows = sum(next(c for c in a.get_children() if isinstance(c, AxesImage)).get_array().shape[0]
               for a in axes)
    assert rows == 40 * n_onet + 35 * n_pnet
    title = ax.figure._suptitle.get_text() if len(images) > 1 else ax.get_title()
    assert title == "Learned 1-by-n filters: my net, fold 2"
    assert all(a.get_xlabel() == "time (s)" for a in axes)
    top = [c for a in axes for c in a.child_axes]
    assert top and all(t.get_xlabel() == "beats at 120 bpm" for t in top)
    image = next(c for c in axes[-1].get_children() if isinstance(c, AxesImage))
    longest = 41 if n_pnet == 0 else 216
    assert image.get_extent()[1] == pytest.approx(longest * 1024 / 44100)


def test_filters_of_a_classifier_named_and_filtered():
    from skrhythm import MusicCNNClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 40, 260)).astype(np.float32)
    clf = MusicCNNClassifier(n_onet=2, n_pnet=1, max_epochs=1, random_state=0).fit(
        X, np.array(["a", "b"] * 3))
    ax = plot_filters(clf, max_per_length=3, tempo=60, frame_rate=43.0)
    assert ax.figure._suptitle.get_text() == "Learned 1-by-n filters: 2x O-net + P-net"
    onset = next(c for c in ax.get_children() if isinstance(c, AxesImage))
    assert onset.get_array().shape == (8 * 3, 41)
    assert ax.child_axes[0].get_xlabel() == "beats at 60 bpm"
    single = plot_filters(clf, ax=plt.subplots()[1])
    assert next(c for c in single.get_children()
                if isinstance(c, AxesImage)).get_array().shape == (80 + 35, 216)
    with pytest.raises(TypeError, match="MusicCNN"):
        plot_filters(object())


def test_save_figure_writes_every_format(tmp_path):
    ax = plot_confusion_matrix(["a", "b"], ["a", "a"])
    paths = save_figure(ax, tmp_path / "cm")
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert all(p.stat().st_size > 1000 for p in paths)


def test_periodicity_shows_which_tempo_each_filter_learned():
    import torch

    from skrhythm.plotting import filter_periodicity

    module = MusicCNN(8, 2, n_onet=1, n_pnet=1, pnet_lengths=(100, 200))
    with torch.no_grad():  # pattern filters: a tap every 20 frames (129 bpm), every 36 (72)
        for w, period in zip(module.filterbank.weights[-2:], (20, 36)):
            w.zero_()
            w[0, ::period] = 1.0
    lengths, bpm, magnitude = filter_periodicity(module)
    assert lengths.tolist() == [100, 200]  # the O-net's are shorter than a beat at 60 bpm
    peaks = bpm[magnitude.argmax(axis=1)]
    frame_rate = 44100 / 1024
    # (a 1-bpm grid; five taps make a broad peak)
    np.testing.assert_allclose(peaks, [60 * frame_rate / 20, 60 * frame_rate / 36], atol=1.5)
    assert magnitude.max(axis=1).tolist() == [1.0, 1.0]
    ax = plot_filters(module, tempo_ranges={"Waltz": (82, 90), "Samba": (93, 104)})
    panel = next(a for a in ax.figure.axes if a.get_xlabel() == "tempo (bpm)")
    spans = [pt for pt in panel.patches]
    assert len(spans) == 2
    assert {t.get_text() for t in panel.texts} >= {"Waltz", "Samba"}
    assert "training classes' tempo ranges" in " ".join(_texts(panel))
    dots = panel.collections[0].get_offsets()[:, 0]
    np.testing.assert_allclose(dots, peaks)


def test_pairwise_colour_scale_follows_the_cnns():
    """A tempo baseline 26 points behind washed out the CNNs' +-4 (every cell pale)."""
    rows = []
    for a, b, d in (("onet", "pnet", -0.04), ("onet", "tempo", 0.26), ("pnet", "tempo", 0.30)):
        rows.append({"model_a": a, "hop_a": 250 if a != "tempo" else 0, "label_a": a,
                     "model_b": b, "hop_b": 250 if b != "tempo" else 0, "label_b": b,
                     "difference": d, "p_holm": 0.5, "folds": 3})
    table = pd.DataFrame(rows)
    ax = plot_pairwise(table, scale_models={"onet", "pnet"})
    image = next(c for c in ax.get_children() if isinstance(c, AxesImage))
    assert image.norm.vmax == pytest.approx(4.0) and image.norm.vmin == pytest.approx(-4.0)
    texts = _texts(ax)
    assert "[-26.0]" in texts and "+4.0" in texts  # beyond the scale: bracketed
    assert "+-4.0 points, the largest difference among the CNNs" in " ".join(texts)
    whole = plot_pairwise(table)
    assert next(c for c in whole.get_children()
                if isinstance(c, AxesImage)).norm.vmax == pytest.approx(30.0)


def test_accuracy_without_any_parameter_count_is_drawn_as_bars():
    records = [r for r in _records() if r["model"] == "rhythm"]
    records += [{**r, "model": "tempo", "label": "Tempo only + SVM"} for r in records]
    ax = plot_accuracy_vs_params(_summarize_like(records))
    assert len(ax.patches) == 2 and ax.get_xlabel() == "track accuracy (%)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Rhythm descriptor + SVM",
                                                           "Tempo only + SVM"]
    assert "no model with a parameter count" in ax.get_title()
