"""Pictures of a comparison, its statistics and what the filters learned (matplotlib).

Every function draws into ``ax`` (a new figure when None) and returns the
Axes; :func:`save_figure` writes its figure. Captions say what the data are
and what the bars or marks mean, so a figure stands on its own.
"""

from __future__ import annotations

import numpy as np

from ._spec import run_label

__all__ = [
    "POSTER_REFERENCE",
    "plot_accuracy_vs_params",
    "plot_confusion_matrix",
    "plot_datasize",
    "filter_periodicity",
    "plot_filters",
    "plot_pairwise",
    "plot_tempo_robustness",
    "save_figure",
]

#: Track accuracy (%) on Ballroom, 10-fold CV, from the poster (Pons & Serra, ICASSP 2017):
#: ``(label, hop, params, accuracy)``; params None for the non-deep model.
POSTER_REFERENCE = (
    ("O-net", 250, 4188, 76.66), ("O-net", 80, 4188, 85.24),
    ("P-net", 250, 7428, 83.95), ("P-net", 80, 7428, 89.26),
    ("2x O-net", 250, 8368, 81.53), ("2x O-net", 80, 8368, 86.54),
    ("O-net + P-net", 250, 11608, 87.25), ("O-net + P-net", 80, 11608, 89.68),
    ("2x P-net", 250, 14848, 85.67), ("2x P-net", 80, 14848, 89.11),
    ("2x O-net + 2x P-net", 250, 23208, 87.25), ("2x O-net + 2x P-net", 80, 23208, 91.27),
    ("4x O-net + 4x P-net", 250, 46408, 88.82), ("4x O-net + 4x P-net", 80, 46408, 91.55),
    ("8x O-net + 8x P-net", 250, 92808, 88.68), ("8x O-net + 8x P-net", 80, 92808, 92.27),
    ("Time-freq [CBMI 2016]", 80, 196816, 87.68), ("Time [CBMI 2016]", 80, 7336, 81.79),
    ("Black-box [CBMI 2016]", 80, 3275312, 87.25),
    ("Marchand & Peeters 2016", None, None, 96.0),
)

_HOP_MARKERS = {250: "o", 80: "s"}


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _caption(ax, text):
    """A caption under the x label, left-aligned with the axes (constrained layout keeps it)."""
    ax.annotate(text, (0, 0), xycoords=("axes fraction", ax.xaxis.label), xytext=(0, -6),
                textcoords="offset points", va="top", ha="left", fontsize=8, wrap=True,
                color="0.25")


def _no_params(value):
    return value is None or not np.isfinite(float(value))


def plot_accuracy_vs_params(table, ax=None, *, intervals=None, reference=None, data_name=None):
    """Track accuracy against the number of parameters (log scale), one point per model and hop.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`skrhythm.experiments.summarize` output (``model``, ``label``,
        ``hop``, ``params``, ``accuracy``, ``accuracy_std``, ``folds``) or
        :func:`skrhythm.stats.model_summary` output (with ``ci_low``,
        ``ci_high``). Rows without a parameter count (non-deep models) are
        drawn as horizontal lines.
    ax : matplotlib Axes or None
    intervals : pandas.DataFrame or None
        :func:`skrhythm.stats.model_summary` output whose ``ci_low`` and
        ``ci_high`` (matched on ``model`` and ``hop``) give the bars. Without
        it (and without those columns in ``table``) the bars are +- one
        standard deviation over the folds. The caption says which.
    reference : bool or sequence of (label, hop, params, accuracy %), optional
        Published values drawn as hollow grey markers (``True``:
        :data:`POSTER_REFERENCE`, Ballroom).
    data_name : str or None
        The data set, named in the caption.

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax, (8.5, 5))
    table = table.copy()
    if all(_no_params(p) for p in table["params"]):
        return _accuracy_bars(table, ax, intervals, data_name)
    if intervals is not None:
        columns = ["model", "hop", "ci_low", "ci_high"] + ["confidence"] * (
            "confidence" in intervals)
        table = table.drop(columns=columns[2:], errors="ignore").merge(
            intervals[columns], on=["model", "hop"], how="left")
    with_ci = {"ci_low", "ci_high"} <= set(table.columns)
    colors, handles = {}, []
    for i, row in enumerate(table.itertuples()):
        acc = 100 * row.accuracy
        spread = (100 * row.ci_low, 100 * row.ci_high) if with_ci else (
            acc - 100 * row.accuracy_std, acc + 100 * row.accuracy_std)
        err = [[acc - max(spread[0], 0.0)], [min(spread[1], 100.0) - acc]]
        label = run_label(row.label, row.hop)
        colors[(row.label, row.hop or 0)] = f"C{i % 10}"
        if _no_params(row.params):
            handles.append(ax.axhline(acc, ls="--", lw=1.2, color=f"C{i % 10}", label=label))
            continue
        handles.append(ax.errorbar(row.params, acc, yerr=err, fmt=_HOP_MARKERS.get(row.hop, "^"),
                                   capsize=3, color=f"C{i % 10}", label=label))
    if reference is not None and reference is not False:
        handles.append(_draw_reference(ax, POSTER_REFERENCE if reference is True else reference,
                                       colors))
    ax.set_xscale("log")
    ax.set_xlabel("trainable parameters (log scale)")
    ax.set_ylabel("track accuracy (%)")
    ax.set_title("Track accuracy vs. model size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              frameon=False, title="model (patch hop)", title_fontsize=8)
    folds = f" over {int(table['folds'].max())} folds" if "folds" in table else ""
    level = (f"{100 * table['confidence'].iloc[0]:g} % " if "confidence" in table else "")
    bars = (f"{level}confidence interval (corrected resampled t, Nadeau & Bengio 2003)"
            if with_ci else "mean +- 1 standard deviation") + folds + ", clipped to 0-100 %"
    data = f"Data: {data_name}. " if data_name else ""
    ref = ("Hollow markers and dotted line: published values (Pons & Serra 2017 poster, "
           "Ballroom, 10-fold CV) of the same models. " if reference else "")
    _caption(ax, f"{data}Bars: {bars}. Dashed lines: models without a parameter count. {ref}")
    return ax


def _accuracy_bars(table, ax, intervals, data_name):
    """Accuracy of models without a parameter count (no CNN in the run): one bar each."""
    if intervals is not None:
        table = table.merge(intervals[["model", "hop", "ci_low", "ci_high"]],
                            on=["model", "hop"], how="left")
    acc = 100 * table["accuracy"].to_numpy(float)
    if {"ci_low", "ci_high"} <= set(table.columns):
        low, high = 100 * table["ci_low"].to_numpy(float), 100 * table["ci_high"].to_numpy(float)
        bars = "confidence interval (corrected resampled t, Nadeau & Bengio 2003)"
    else:
        std = 100 * table["accuracy_std"].to_numpy(float)
        low, high, bars = acc - std, acc + std, "mean +- 1 standard deviation"
    err = [acc - np.clip(low, 0, 100), np.clip(high, 0, 100) - acc]
    labels = [run_label(r.label, r.hop) for r in table.itertuples()]
    positions = np.arange(len(labels))
    ax.barh(positions, acc, xerr=err, capsize=3, color=[f"C{i % 10}" for i in positions])
    ax.set_yticks(positions, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("track accuracy (%)")
    ax.set_title("Track accuracy (no model with a parameter count in this run)")
    ax.grid(True, axis="x", alpha=0.3)
    data = f"Data: {data_name}. " if data_name else ""
    _caption(ax, f"{data}Bars: {bars}, clipped to 0-100 %. Accuracy against model size needs "
                 "CNNs in the run.")
    return ax


def _draw_reference(ax, reference, colors):
    """Published values: hollow markers in the colour of the run of the same label and hop."""
    from matplotlib.lines import Line2D

    for label, hop, params, acc in reference:
        if _no_params(params):
            ax.axhline(acc, ls=":", lw=1, color="0.45")
            ax.annotate(f"{label} (published)", (0.99, acc), xycoords=("axes fraction", "data"),
                        ha="right", va="bottom", fontsize=7, color="0.3", xytext=(0, 2),
                        textcoords="offset points")
        elif (label, hop or 0) in colors:
            ax.plot(params, acc, _HOP_MARKERS.get(hop, "^"), mfc="none", ms=9, mew=1.5,
                    color=colors[(label, hop or 0)])
    return Line2D([], [], ls="none", marker="o", mfc="none", color="0.4",
                  label="hollow: published (poster, Ballroom)")


def plot_pairwise(table, ax=None, *, p_column="p_holm", alpha=0.05, data_name=None,
                  order=None, scale_models=None):
    """Matrix of paired accuracy differences, row minus column, significant ones marked.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`skrhythm.stats.pairwise` output.
    ax : matplotlib Axes or None
    p_column : str, default="p_holm"
        The p-value that marks a cell: ``"p_holm"`` (corrected t-test, Holm
        adjusted), ``"p"``, ``"p_mcnemar"`` or ``"p_mcnemar_holm"``.
    alpha : float, default=0.05
    data_name : str or None
        The data set, named in the caption.
    order : sequence of str or None
        Model names in the order of the rows and columns (e.g.
        ``list(skrhythm.experiments.MODELS)``), hops of one model
        descending; models not listed follow. Default: order of appearance.
    scale_models : collection of str or None
        Models whose differences among themselves set the colour scale (the
        CNNs, say, whose differences of a few points a baseline's tens would
        otherwise wash out); larger differences are drawn at the scale's end
        and bracketed. Default (or fewer than two of them): every pair.

    Returns
    -------
    ax : matplotlib Axes
        Each pair once, below the diagonal: the row model (the later in
        ``order``) minus the column model, in points, with ``*`` when
        ``p < alpha``; the colour is the difference (red: row better, blue:
        column better).
    """
    keys, names = [], {}
    for side in ("a", "b"):
        for m, h, lab in zip(table[f"model_{side}"], table[f"hop_{side}"], table[f"label_{side}"]):
            if (m, h) not in names:
                keys.append((m, h))
                names[(m, h)] = run_label(lab, h)
    if order is not None:
        rank = {m: i for i, m in enumerate(order)}
        keys.sort(key=lambda k: (rank.get(k[0], len(rank)), -k[1]))
    index = {k: i for i, k in enumerate(keys)}
    n = len(keys)
    diff = np.full((n, n), np.nan)
    marked = np.zeros((n, n), bool)
    for row in table.itertuples():
        i, j = index[(row.model_a, row.hop_a)], index[(row.model_b, row.hop_b)]
        d, p = 100 * row.difference, getattr(row, p_column)
        diff[i, j], diff[j, i] = d, -d
        marked[i, j] = marked[j, i] = bool(np.isfinite(p) and p < alpha)
    # each pair once: row i below column j < i (row - column), the last column and first
    # row, which would hold nothing, left out
    ax = _axes(ax, (max(6.0, 0.65 * n + 3.6), max(4.5, 0.8 * n + 2.4)))
    scaled = np.array([k[0] in set(scale_models or ()) for k in keys])
    block = diff[np.ix_(scaled, scaled)] if scaled.sum() >= 2 else diff
    limit = (np.nanmax(np.abs(block)) if np.isfinite(block).any() else 0.0) or 1.0
    lower = np.ma.masked_where(np.triu(np.ones((n, n), bool)), diff)[1:, :-1]
    image = ax.imshow(np.ma.clip(lower, -limit, limit), cmap="RdBu_r", vmin=-limit, vmax=limit)
    clipped = False
    for i in range(1, n):
        for j in range(i):
            if np.isfinite(diff[i, j]):
                value = round(diff[i, j], 1) + 0.0  # no "-0.0"
                text = f"{value:+.1f}" + ("*" if marked[i, j] else "")
                if abs(diff[i, j]) > limit + 1e-9:
                    text, clipped = f"[{text}]", True
                ax.text(j, i - 1, text, ha="center", va="center", fontsize=9,
                        color="white" if abs(value) > 0.6 * limit else "black",
                        fontweight="bold" if marked[i, j] else "normal")
    labels = [names[k] for k in keys]
    ax.set_xticks(range(n - 1), labels[:-1], rotation=40, ha="right", fontsize=9)
    ax.set_yticks(range(n - 1), labels[1:], fontsize=9)
    ax.set_xlabel("column model")
    ax.set_ylabel("row model")
    ax.set_title("Track accuracy difference, row - column (points)")
    ax.figure.colorbar(image, ax=ax, label="row - column (points)", shrink=0.8)
    test = {"p_holm": "corrected resampled t-test, Holm-adjusted",
            "p": "corrected resampled t-test, unadjusted",
            "p_mcnemar": "McNemar's test, unadjusted",
            "p_mcnemar_holm": "McNemar's test, Holm-adjusted"}.get(p_column, p_column)
    data = f"Data: {data_name}. " if data_name else ""
    scale = (f" Colour scale: +-{limit:.1f} points, the largest difference among "
             f"{'the CNNs' if scaled.sum() >= 2 else 'the models'}"
             + ("; [bracketed] cells lie beyond it." if clipped else ".")) if scale_models else ""
    _caption(ax, f"{data}Mean over {int(table['folds'].max())} shared folds; each pair once, "
                 f"row - column; * and bold: {test} p < {alpha}.{scale}")
    return ax


def plot_tempo_robustness(tempo, ax=None, *, data_name=None):
    """Accuracy against tempo factor, one line per model: flat for rhythm, peaked for tempo.

    Parameters
    ----------
    tempo : pandas.DataFrame
        :func:`skrhythm.stats.tempo_drops` output.
    ax : matplotlib Axes or None
    data_name : str or None
        The data set, named in the caption.

    Returns
    -------
    ax : matplotlib Axes
        Track accuracy (%) at each factor (1: the original tempo); the CNNs
        solid, the other models dashed.
    """
    from ._spec import MODELS

    ax = _axes(ax, (8, 5))
    groups = list(tempo.groupby(["model", "hop", "label"], sort=False))
    factors = np.sort(tempo["factor"].unique())
    gap = np.diff(factors).min() if len(factors) > 1 else 0.1
    markers = "os^vDP*Xph<>"
    for k, ((model, hop, label), rows) in enumerate(groups):
        rows = rows.sort_values("factor")
        network = model in MODELS and MODELS[model].network
        # side by side around each factor, so that models of equal accuracy stay apart
        x = rows["factor"] + gap * 0.35 * (k - (len(groups) - 1) / 2) / max(len(groups), 1)
        accuracy = 100 * rows["accuracy"].to_numpy()
        base = accuracy[rows["factor"].to_numpy() == 1.0]
        below = above = np.zeros_like(accuracy)
        if base.size:  # the drop's interval, as an interval of the accuracy at each factor
            # (clipped to the 0-100 % an accuracy can take)
            low = np.clip(base[0] - 100 * rows["drop_high"].to_numpy(), 0, 100)
            high = np.clip(base[0] - 100 * rows["drop_low"].to_numpy(), 0, 100)
            below = np.nan_to_num(np.clip(accuracy - low, 0, None))
            above = np.nan_to_num(np.clip(high - accuracy, 0, None))
        ax.errorbar(x, accuracy, yerr=(below, above), marker=markers[k % len(markers)],
                    markersize=6, capsize=3, linestyle="-" if network else "--",
                    label=run_label(label, hop))
    ax.axvline(1.0, color="0.6", linewidth=0.8, zorder=0)
    ax.set_xticks(factors, [f"x{f:g}" for f in factors])
    ax.set_xlabel("tempo factor (test tracks played this many times as fast)")
    ax.set_ylabel("track accuracy (%)")
    ax.set_ylim(top=min(ax.get_ylim()[1], 102))
    ax.set_title("Tempo robustness: accuracy when the tempo moves")
    ax.legend(fontsize=8, loc="best", ncol=2)
    ax.grid(alpha=0.3)
    data = f"Data: {data_name}. " if data_name else ""
    _caption(ax, f"{data}The same test folds at each tempo; a model of the rhythms stays level, "
                 "one of the tempos falls away from 1. Solid: CNNs; dashed: other models; "
                 "models side by side at each factor; bars: the confidence interval of the "
                 "drop from x1.")
    return ax


def _net_name(classifier, module):
    counts = [getattr(classifier, k, None) for k in ("n_onet", "n_pnet")]
    if all(isinstance(c, int) for c in counts):
        parts = [f"{k}x " * (k > 1) + name for k, name in zip(counts, ("O-net", "P-net")) if k]
        return " + ".join(parts)
    return type(module).__name__


def _learned_filters(classifier, max_per_length=None):
    """``[(length, weights)]`` of a fitted O-net/P-net's filters, sorted by length."""
    module = getattr(getattr(classifier, "net_", None), "module_", classifier)
    bank = getattr(module, "filterbank", None)
    if bank is None:
        raise TypeError(f"expected a fitted MusicCNNClassifier or MusicCNN, got {type(classifier)}")
    filters = [(n, w) for n, weights in zip(bank.lengths, bank.weights)
               for w in weights.detach().cpu().numpy()[:max_per_length]]
    return module, sorted(filters, key=lambda item: item[0])


def filter_periodicity(classifier, bpm=None, *, frame_rate=44100 / 1024, min_length=None):
    """What tempo each long learned filter responds to: its magnitude spectrum in bpm.

    A filter spanning several beats that has learned a tempo repeats every
    beat: its spectrum peaks at that tempo. Each filter's taps, less their
    mean, are transformed at the frequencies of ``bpm`` (a beat per
    ``60 / bpm`` seconds at ``frame_rate`` frames per second) and scaled to
    a maximum of 1.

    Parameters
    ----------
    classifier : MusicCNNClassifier or skrhythm.nn.MusicCNN
        Fitted classifier or its torch module.
    bpm : array-like or None
        Tempi at which to evaluate (default 40 to 300 bpm by 1).
    frame_rate : float, default=44100/1024
    min_length : int or None
        Shortest filter included (default: a beat at 60 bpm, 43 frames of the
        paper's features: shorter ones cannot tell such tempi apart).

    Returns
    -------
    lengths : ndarray of int, shape (n_filters,)
    bpm : ndarray of shape (n_bpm,)
    magnitude : ndarray of shape (n_filters, n_bpm)

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skrhythm.nn import MusicCNN
    >>> net = MusicCNN(8, 2, n_onet=0, pnet_lengths=(216,))
    >>> taps = np.cos(2 * np.pi * np.arange(216) / 43)  # a cycle a second: 60 bpm at 43 fps
    >>> with torch.no_grad():
    ...     net.filterbank.weight[:] = torch.as_tensor(taps)
    >>> lengths, bpm, magnitude = filter_periodicity(net, frame_rate=43.0)
    >>> float(bpm[magnitude[0].argmax()])
    60.0
    """
    _, filters = _learned_filters(classifier)
    bpm = np.arange(40.0, 301.0) if bpm is None else np.asarray(bpm, dtype=float)
    min_length = int(round(frame_rate)) if min_length is None else min_length
    filters = [(n, w) for n, w in filters if n >= min_length]
    magnitude = np.zeros((len(filters), bpm.size))
    cycles_per_frame = bpm / 60.0 / frame_rate
    for i, (n, w) in enumerate(filters):
        basis = np.exp(-2j * np.pi * np.outer(np.arange(n), cycles_per_frame))
        spectrum = np.abs((w - w.mean()) @ basis)
        magnitude[i] = spectrum / (spectrum.max() or 1.0)
    return np.array([n for n, _ in filters], dtype=int), bpm, magnitude


def plot_filters(classifier, ax=None, max_per_length=None, *, frame_rate=44100 / 1024,
                 tempo=120.0, model=None, fold=None, tempo_ranges=None):
    """The learned 1-by-n filters of a fitted O-net/P-net, and the tempi they respond to.

    Each filter is one image row (normalised to its largest magnitude; red
    positive, blue negative, blank past its length), sorted by length. A
    new figure gets one panel for the short filters (up to 43 frames, a
    beat at 60 bpm: the O-net's onset scale) and one for the longer ones
    (the P-net's pattern scale), each with the time axis in seconds (bottom)
    and in beats at ``tempo`` (top), and a third panel with the long
    filters' periodicity (:func:`filter_periodicity`) on a tempo axis, the
    training classes' tempo ranges marked: a filter whose periodicity peaks
    within one class's range has learned that class's tempo, one without a
    peak there a pattern. A given ``ax`` receives all filters' weights in one
    image.

    Parameters
    ----------
    classifier : MusicCNNClassifier or skrhythm.nn.MusicCNN
        A fitted classifier or its torch module.
    ax : matplotlib Axes or None
    max_per_length : int or None
        Filters drawn per length (None: all).
    frame_rate : float, default=44100/1024
        Spectrogram frames per second (the paper's features: 43.07).
    tempo : float, default=120
        Tempo (bpm) of the beat axis.
    model : str or None
        Model name for the title (default: from the classifier's
        ``n_onet``/``n_pnet``).
    fold : int or None
        Cross-validation fold the model was fitted on, named in the title.
    tempo_ranges : dict or None
        ``{class: (low, high)}`` tempo ranges (bpm) of the training classes,
        marked on the periodicity panel (e.g. the 5th to 95th percentile of
        the annotated tempi; :func:`skrhythm.experiments.class_tempo_ranges`).

    Returns
    -------
    ax : matplotlib Axes
        The first panel (its figure holds all).
    """
    import matplotlib.pyplot as plt

    module, filters = _learned_filters(classifier, max_per_length)
    if ax is None:
        groups = [g for g in ([f for f in filters if f[0] <= 43], [f for f in filters if f[0] > 43])
                  if g]
        ratios = [max(max(n for n, _ in g), 60) for g in groups]
        periodic = filter_periodicity(module, frame_rate=frame_rate)
        # the filters side by side above, their periodicity across the whole width below
        mosaic = [list(range(len(groups)))]
        if len(periodic[0]):
            mosaic.append([len(groups)] * len(groups))
        fig, panels = plt.subplot_mosaic(
            mosaic, figsize=(11, 5.5 + 4.5 * (len(mosaic) > 1)), layout="constrained",
            width_ratios=ratios, height_ratios=[1.2, 1][:len(mosaic)])
        axes = [panels[k] for k in sorted(panels)]
    else:
        groups, axes, fig, periodic = [filters], [ax], ax.figure, None
    image = None
    for panel, group in zip(axes, groups):
        image = _filter_image(panel, group, frame_rate, tempo)
    fig.colorbar(image, ax=axes[:len(groups)], label="weight (each filter scaled to its maximum)",
                 shrink=0.6, location="left")
    if periodic is not None and len(periodic[0]):
        _periodicity_image(axes[-1], *periodic, tempo_ranges)
    name = model or _net_name(classifier, module)
    where = f", fold {fold}" if fold is not None else ""
    title = f"Learned 1-by-n filters: {name}{where}"
    if len(axes) > 1:
        fig.suptitle(title)
        for panel, group in zip(axes, groups):
            panel.set_title("onset scale (n <= 43 frames)" if group[-1][0] <= 43
                            else "pattern scale (n > 43 frames)", fontsize=10)
    else:
        axes[0].set_title(title)
    return axes[0]


def _periodicity_image(ax, lengths, bpm, magnitude, tempo_ranges):
    ax.imshow(magnitude, aspect="auto", cmap="magma", vmin=0, vmax=1, interpolation="nearest",
              extent=(bpm[0], bpm[-1], len(lengths), 0))
    ax.scatter(bpm[magnitude.argmax(axis=1)], np.arange(len(lengths)) + 0.5, s=10,
               color="cyan", label="each filter's peak")
    # class names above the panel, in as many lanes as keep overlapping ranges' names apart
    per_char = (bpm[-1] - bpm[0]) / 110  # bpm a character of 9-point text takes, about
    lanes = []  # where the last name of each lane ends (bpm)
    ranges = sorted((tempo_ranges or {}).items(), key=lambda item: sum(item[1]))
    for i, (label, (low, high)) in enumerate(ranges):
        color, centre = f"C{i % 10}", (low + high) / 2
        half = (len(str(label)) + 1) * per_char / 2
        lane = next((k for k, end in enumerate(lanes) if end < centre - half), len(lanes))
        lanes[lane:lane + 1] = [centre + half]
        ax.axvspan(low, high, facecolor=color, alpha=0.35, edgecolor=color, lw=1.5)
        ax.annotate(str(label), (centre, 1.0), xycoords=("data", "axes fraction"),
                    xytext=(0, 3 + 13 * lane), textcoords="offset points", ha="center",
                    va="bottom", fontsize=9, color=color, fontweight="bold")
    starts = [i for i, n in enumerate(lengths) if i == 0 or n != lengths[i - 1]]
    step = max(1, len(starts) // 12)
    ax.set_yticks([s + 0.5 for s in starts[::step]],
                  [f"n={lengths[s]}" for s in starts[::step]], fontsize=9)
    ax.tick_params(axis="x", labelsize=9)
    ax.set_xlabel("tempo (bpm)")
    ax.set_title("periodicity of the pattern-scale filters", fontsize=10,
                 pad=8 + 13 * len(lanes))
    ranges = ("; shaded: the training classes' tempo ranges" if tempo_ranges else "")
    _caption(ax, f"Magnitude spectrum of each filter (mean removed, scaled to 1){ranges}.")


def _filter_image(ax, filters, frame_rate, tempo):
    longest = max(n for n, _ in filters)
    rows = np.full((len(filters), longest), np.nan)
    for i, (n, w) in enumerate(filters):
        rows[i, :n] = w / (np.abs(w).max() or 1.0)
    image = ax.imshow(rows, aspect="auto", cmap="RdBu_r", vmin=-1, vmax=1,
                      interpolation="nearest", extent=(0, longest / frame_rate, len(filters), 0))
    lengths = [n for n, _ in filters]
    starts = [i for i, n in enumerate(lengths) if i == 0 or n != lengths[i - 1]]
    step = max(1, len(starts) // 12)
    ax.set_yticks([s + 0.5 for s in starts[::step]],
                  [f"n={lengths[s]}" for s in starts[::step]], fontsize=9)
    ax.tick_params(axis="x", labelsize=9)
    ax.set_ylabel("filter (by length in frames)")
    ax.set_xlabel("time (s)")
    top = ax.secondary_xaxis("top", functions=(lambda s: s * tempo / 60,
                                               lambda b: b * 60 / tempo))
    top.set_xlabel(f"beats at {tempo:g} bpm", fontsize=8)
    return image


def plot_confusion_matrix(y_true, y_pred, labels=None, ax=None, title=None):
    """Confusion matrix of track predictions: counts in the cells, colour row-normalised.

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
        Each cell shows its number of tracks; the colour is the fraction of
        the true class's tracks (recall on the diagonal).
    """
    from sklearn.metrics import confusion_matrix

    if labels is None:
        labels = np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    ax = _axes(ax, (6.5, 6))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i, j in np.ndindex(counts.shape):
        ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=9,
                color="white" if share[i, j] > 0.6 else "black")
    names = [str(label) for label in labels]
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted style")
    ax.set_ylabel("true style")
    ax.figure.colorbar(image, ax=ax, label="fraction of the true style's tracks", shrink=0.8)
    ax.set_title(title or "Confusion matrix")
    _caption(ax, f"Numbers: tracks ({int(counts.sum())} in all); colour: row-normalised.")
    return ax


def plot_datasize(summary, ax=None, *, data_name=None):
    """Accuracy against training tracks per class: mean line and interval band per model.

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`skrhythm.experiments.datasize.summarize_datasize` output: one
        row per model and size, with ``accuracy``, ``ci_low``, ``ci_high``
        (the corrected resampled t interval over the folds, drawn clipped to
        0-100 %) and ``folds``.
    ax : matplotlib Axes or None
    data_name : str or None
        The data set, named in the title.

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax, (7.5, 4.8))
    for i, model in enumerate(summary["model"].unique()):
        s = summary[summary["model"] == model]
        color = f"C{i % 10}"
        ax.plot(s["n_per_class"], 100 * s["accuracy"], "o-", color=color,
                label=run_label(s["label"].iloc[0], s["hop"].iloc[0]))
        ax.fill_between(s["n_per_class"], np.clip(100 * s["ci_low"], 0, 100),
                        np.clip(100 * s["ci_high"], 0, 100), color=color, alpha=0.15, lw=0)
    sizes = sorted(summary["n_per_class"].unique())
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.set_xlabel("training tracks per class")
    ax.set_ylabel("track accuracy (%)")
    ax.set_title("Accuracy vs. training data" + (f": {data_name}" if data_name else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, title="model (patch hop)", title_fontsize=8)
    folds = int(summary["folds"].max())
    level = (f"{100 * summary['confidence'].iloc[0]:g} %" if "confidence" in summary
             else "confidence")
    _caption(ax, f"Lines: mean over {folds} folds (same folds and nested training subsets "
                 f"for every model; test folds unchanged). Bands: {level} "
                 "corrected resampled t intervals (Nadeau & Bengio 2003), clipped to 0-100 %.")
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
