"""Pictures of a comparison and of what the filters learned (matplotlib)."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_accuracy_vs_params", "plot_confusion_matrix", "plot_filters", "save_figure"]


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def plot_accuracy_vs_params(table, ax=None):
    """Track accuracy against the number of parameters (log scale), one point per model and hop.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`skrhythm.experiments.summarize` output (``label``, ``hop``,
        ``params``, ``accuracy``, ``accuracy_std``). Rows without a parameter
        count (non-deep models) are drawn as horizontal lines.
    ax : matplotlib Axes or None

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax, (7, 4.5))
    markers = {250: "o", 80: "s"}
    for row in table.itertuples():
        acc, std = 100 * row.accuracy, 100 * row.accuracy_std
        if row.params is None or not np.isfinite(float(row.params)):
            ax.axhline(acc, ls="--", lw=1, color="0.5")
            ax.annotate(row.label, (0.01, acc), xycoords=("axes fraction", "data"),
                        fontsize=7, va="bottom", color="0.3")
            continue
        ax.errorbar(row.params, acc, yerr=std, fmt=markers.get(row.hop, "^"), capsize=2,
                    color="C0" if row.hop == 250 else "C1" if row.hop == 80 else "C2")
        ax.annotate(f"{row.label} ({row.hop})", (row.params, acc), fontsize=7,
                    xytext=(4, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("track accuracy (%)")
    ax.set_title("Accuracy vs. size (markers: o hop 250, s hop 80)")
    ax.grid(True, which="both", alpha=0.3)
    return ax


def plot_filters(classifier, ax=None, max_per_length=5):
    """The learned 1-by-n filters of a fitted O-net/P-net, grouped by length.

    Each filter is drawn as a curve over its ``n`` taps (time in frames),
    offset vertically by length, so onset detectors (short) and rhythm
    patterns (long) can be compared at a glance.

    Parameters
    ----------
    classifier : MusicCNNClassifier or skrhythm.nn.MusicCNN
        A fitted classifier or its torch module.
    ax : matplotlib Axes or None
    max_per_length : int, default=5
        Filters drawn per length.

    Returns
    -------
    ax : matplotlib Axes
    """
    module = getattr(getattr(classifier, "net_", None), "module_", classifier)
    bank = getattr(module, "filterbank", None)
    if bank is None:
        raise TypeError(f"expected a fitted MusicCNNClassifier or MusicCNN, got {type(classifier)}")
    ax = _axes(ax, (8, 0.35 * len(bank.lengths) + 2))
    for row, (n, weights) in enumerate(zip(bank.lengths, bank.weights)):
        w = weights.detach().cpu().numpy()[:max_per_length]
        scale = np.abs(w).max() or 1.0
        for k, filt in enumerate(w):
            ax.plot(np.arange(n), row + 0.4 * filt / scale, lw=0.8, color=f"C{k}")
    ax.set_yticks(range(len(bank.lengths)), [f"n={n}" for n in bank.lengths], fontsize=7)
    ax.set_xlabel("frame")
    ax.set_title("Learned 1-by-n filters (each row: one length, normalised)")
    return ax


def plot_confusion_matrix(y_true, y_pred, labels=None, ax=None, title=None):
    """Confusion matrix of track predictions, rows normalised to recall.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_tracks,)
    labels : sequence or None
        Class order; default: sorted union of both.
    ax : matplotlib Axes or None
    title : str or None

    Returns
    -------
    ax : matplotlib Axes
    """
    from sklearn.metrics import ConfusionMatrixDisplay

    ax = _axes(ax, (6, 5.5))
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=labels, normalize="true", ax=ax, colorbar=False,
        values_format=".2f", xticks_rotation=45,
    )
    ax.set_title(title or "Confusion matrix (rows: true style)")
    return ax


def save_figure(ax, path, formats=("png", "svg")):
    """Save the figure of ``ax`` as ``path`` with each suffix of ``formats``; return the paths."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    from ._store import atomic_write

    fig = ax.figure
    paths = [Path(path).with_suffix(f".{fmt}") for fmt in formats]
    for p, fmt in zip(paths, formats):
        with atomic_write(p) as f:  # a crash never leaves half a picture
            fig.savefig(f, dpi=130, format=fmt)
    plt.close(fig)
    return paths
