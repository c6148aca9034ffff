"""A comparison's tables, statistics and plots, written to its run folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._spec import MODELS, run_label
from .._store import atomic_write
from ..stats import points_interval
from ._run_folder import write_json_atomic

__all__ = [
    "class_recall_markdown", "class_recalls", "comparison_statistics", "confusion_table",
    "first_repeat_predictions", "in_model_order", "markdown_table", "pairwise_markdown",
    "percent_interval",
    "records_of", "summarize", "tempo_columns", "tempo_markdown", "write_plots", "write_tables",
]


def summarize(records):
    """Table of mean and standard deviation over folds (and repeats) per (model, hop).

    Parameters
    ----------
    records : list of dict
        Per-fold records from :func:`run_comparison`.

    Returns
    -------
    table : pandas.DataFrame
        One row per (model, hop) in :data:`MODELS` order: ``folds`` and
        ``repeats`` count the cross-validation folds and its repetitions,
        ``accuracy`` and ``mean_recall`` (the mean of the per-class recalls,
        :func:`skrhythm.stats.mean_recall`) are means over their
        ``folds x repeats`` folds, ``accuracy_std`` and ``mean_recall_std``
        the standard deviations.
    """
    import pandas as pd

    from ..stats import mean_recall

    df = pd.DataFrame([{**{k: r[k] for k in ("model", "label", "hop", "fold", "params",
                                             "accuracy", "patch_accuracy", "fit_time")},
                        "mean_recall": mean_recall(r["y_true"], r["y_pred"]),
                        "repeat": r.get("repeat", 0)} for r in records])
    order = {name: i for i, name in enumerate(MODELS)}
    df["hop"] = df["hop"].fillna(0).astype(int)
    table = (
        df.groupby(["model", "hop"], sort=False)
        .agg(
            label=("label", "first"),
            params=("params", "first"),
            folds=("fold", "nunique"),
            repeats=("repeat", "nunique"),
            accuracy=("accuracy", "mean"),
            accuracy_std=("accuracy", "std"),
            mean_recall=("mean_recall", "mean"),
            mean_recall_std=("mean_recall", "std"),
            patch_accuracy=("patch_accuracy", "mean"),
            fit_time=("fit_time", "mean"),
        )
        .reset_index()
    )
    table[["accuracy_std", "mean_recall_std"]] = table[["accuracy_std",
                                                        "mean_recall_std"]].fillna(0.0)
    table = table.sort_values(["model", "hop"], key=lambda s: s.map(order) if s.name == "model"
                              else -s).reset_index(drop=True)
    return table


def markdown_table(table):
    """The results table (:func:`summarize`) as Markdown.

    With ``ci_low``/``ci_high`` and ``recall_ci_low``/``recall_ci_high``
    columns (:func:`write_tables` adds them from
    :func:`comparison_statistics`) the interval of each mean is shown too,
    clipped to 0-100 % (``results.csv`` keeps the unclipped bounds).
    """
    with_ci, with_recall_ci = "ci_low" in table, "recall_ci_low" in table
    ci_head, ci_rule = " 95% interval (%) |", " --- |"
    lines = [f"| model | hop | params | track accuracy (%) |{ci_head * with_ci} mean recall (%) |"
             f"{ci_head * with_recall_ci} patch accuracy (%) | fit time (s) |",
             f"| --- | --- | ---: | --- |{ci_rule * with_ci} --- |{ci_rule * with_recall_ci} "
             "---: | ---: |"]
    for r in table.itertuples():
        params = "-" if r.params is None or np.isnan(float(r.params)) else f"{int(r.params):,}"
        patch = "-" if np.isnan(r.patch_accuracy) else f"{100 * r.patch_accuracy:.2f}"
        ci = f" {percent_interval(r.ci_low, r.ci_high)} |" if with_ci else ""
        recall_ci = (f" {percent_interval(r.recall_ci_low, r.recall_ci_high)} |"
                     if with_recall_ci else "")
        lines.append(f"| {r.label} | {r.hop or '-'} | {params} | "
                     f"{100 * r.accuracy:.2f} +- {100 * r.accuracy_std:.2f} |{ci} "
                     f"{100 * r.mean_recall:.2f} +- {100 * r.mean_recall_std:.2f} |{recall_ci} "
                     f"{patch} | {r.fit_time:.1f} |")
    return "\n".join(lines)


def percent_interval(low, high):
    """An interval of a mean score, in %, clipped to 0-100."""
    return f"{max(0.0, 100 * low):.1f} to {min(100.0, 100 * high):.1f}"


def in_model_order(records):
    """Fold records sorted by model (:data:`MODELS` order), hop (largest first), repeat, fold."""
    order = {name: i for i, name in enumerate(MODELS)}
    return sorted(records, key=lambda r: (order.get(r["model"], len(order)), -(r["hop"] or 0),
                                          r.get("repeat", 0), r["fold"]))


def comparison_statistics(records, *, confidence=0.95, alpha=0.05):
    """Intervals, paired differences and the poster's claim 1 for a comparison's fold records.

    Parameters
    ----------
    records : list of dict
        Per-fold records from :func:`run_comparison` (at least two folds).
    confidence : float, default=0.95
    alpha : float, default=0.05
        Level at which a Holm-adjusted p-value counts as a finding.

    Returns
    -------
    statistics : dict
        ``summary`` (:func:`skrhythm.stats.model_summary`), ``pairwise``
        (:func:`skrhythm.stats.pairwise`, every pair of (model, hop), Holm over
        all of them), the same two of the mean recall (``recall_summary``,
        ``recall_pairwise``: :func:`skrhythm.stats.mean_recall_records`),
        ``claims`` (:func:`skrhythm.stats.claims`, on accuracy, as the paper),
        ``tempo`` (:func:`skrhythm.stats.tempo_drops`; empty without a
        tempo-robustness test) and ``class_recall`` (:func:`class_recalls`),
        models in :data:`MODELS` order.
    """
    from .. import stats

    records = in_model_order(records)
    recalls = stats.mean_recall_records(records)
    return {"summary": stats.model_summary(records, confidence),
            "pairwise": stats.pairwise(records, confidence=confidence),
            "recall_summary": stats.model_summary(recalls, confidence),
            "recall_pairwise": stats.pairwise(recalls, confidence=confidence),
            "claims": stats.claims(records, alpha=alpha, confidence=confidence),
            "tempo": stats.tempo_drops(records, confidence),
            "class_recall": class_recalls(records)}


def first_repeat_predictions(records, model, hop):
    """``y_true, y_pred`` of a (model, hop) over the first repeat's test folds (each track once)."""
    folds = [r for r in records if r["model"] == model and (r["hop"] or 0) == (hop or 0)
             and not r.get("repeat", 0)]
    return (np.concatenate([r["y_true"] for r in folds]),
            np.concatenate([r["y_pred"] for r in folds]))


def class_recalls(records):
    """Per model and hop, the recall of every class over the first repeat's test folds.

    Each track counts once (its fold's prediction), as in the confusion
    matrices: the recall of a class is the diagonal of its row.

    Returns
    -------
    table : pandas.DataFrame
        ``model, hop, label`` and one column per class, in :data:`MODELS` order.
    """
    import pandas as pd

    from ..stats import class_recall

    records = in_model_order(records)
    classes = np.unique(np.concatenate([r["y_true"] for r in records]))
    rows, seen = [], set()
    for r in records:
        key = (r["model"], r["hop"] or 0)
        if key in seen:
            continue
        seen.add(key)
        y_true, y_pred = first_repeat_predictions(records, *key)
        rows.append({"model": key[0], "hop": key[1], "label": r["label"],
                     **{str(c): v for c, v in class_recall(y_true, y_pred, classes).items()}})
    return pd.DataFrame(rows)


def class_recall_markdown(table):
    """The per-class recall of every model (:func:`class_recalls`) as a Markdown section."""
    classes = [c for c in table.columns if c not in ("model", "hop", "label")]
    lines = ["## Recall per class", "",
             "The fraction of each class's tracks the model predicted as that class, over the "
             "test folds of the first repeat (each track once); the mean of a row over the "
             "classes is the model's pooled mean recall.", "",
             "| model | " + " | ".join(classes) + " |",
             "| --- | " + " | ".join("---:" for _ in classes) + " |"]
    for _, r in table.iterrows():
        lines.append(f"| {run_label(r['label'], r['hop'])} | "
                     + " | ".join("-" if r[c] != r[c] else f"{100 * r[c]:.1f}" for c in classes)
                     + " |")
    return "\n".join(lines) + "\n"


def _p_value(p):
    if p is None or not np.isfinite(p):
        return "undefined"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def pairwise_markdown(pairwise, alpha=0.05, score="accuracy"):
    """The paired differences (:func:`skrhythm.stats.pairwise`) as a Markdown section.

    ``score`` names what was compared: ``"accuracy"`` (track accuracy, with
    McNemar's test) or ``"mean_recall"`` (:func:`skrhythm.stats.mean_recall_records`).
    """
    recall = score == "mean_recall"
    mcnemar = ("" if recall else "; McNemar's test on the pooled track predictions of the "
               "first repeat, also Holm-adjusted")
    lines = [
        "## Paired differences" + (" in mean recall" if recall else " in track accuracy"), "",
        "Row model minus column model, on the same folds. p: corrected resampled t-test "
        "(Nadeau & Bengio 2003; Bouckaert & Frank 2004 for repeated CV), Holm-adjusted over "
        f"the {len(pairwise)} pairs{mcnemar}. A difference counts as shown at alpha = {alpha} "
        "(marked *); an undefined p means the difference was the same on every fold.", "",
        "| model A | model B | A - B (points) | 95% interval | p (t, Holm) |"
        + ("" if recall else " p (McNemar, Holm) |"),
        "| --- | --- | ---: | --- | ---: |" + ("" if recall else " ---: |"),
    ]
    for r in pairwise.itertuples():
        mark = " *" if np.isfinite(r.p_holm) and r.p_holm < alpha else ""
        interval = points_interval(r.diff_low, r.diff_high)
        lines.append(f"| {run_label(r.label_a, r.hop_a)} | {run_label(r.label_b, r.hop_b)} | "
                     f"{100 * r.difference:+.1f}{mark} | {interval} | {_p_value(r.p_holm)} |"
                     + ("" if recall else f" {_p_value(r.p_mcnemar_holm)} |"))
    return "\n".join(lines) + "\n"


def tempo_columns(tempo):
    """Per (model, hop): accuracy at each tempo factor and the worst drop, as table columns.

    Parameters
    ----------
    tempo : pandas.DataFrame
        :func:`skrhythm.stats.tempo_drops` output (not empty).

    Returns
    -------
    columns : pandas.DataFrame
        ``model, hop``, ``accuracy_x<factor>`` for each factor, and the
        largest drop's ``worst_tempo_factor``, ``worst_tempo_drop``,
        ``worst_tempo_drop_low``, ``worst_tempo_drop_high`` and
        ``worst_tempo_drop_p``.
    """
    shifted = tempo[tempo["factor"] != 1.0]
    wide = shifted.pivot_table(index=["model", "hop"], columns="factor", values="accuracy",
                               sort=False)
    wide.columns = [f"accuracy_x{f:g}" for f in wide.columns]
    worst = shifted.loc[shifted.groupby(["model", "hop"], sort=False)["drop"].idxmax()]
    worst = worst.set_index(["model", "hop"])[["factor", "drop", "drop_low", "drop_high", "p"]]
    worst.columns = ["worst_tempo_factor", "worst_tempo_drop", "worst_tempo_drop_low",
                     "worst_tempo_drop_high", "worst_tempo_drop_p"]
    return wide.join(worst).reset_index()


def tempo_markdown(tempo):
    """The tempo-robustness test (:func:`skrhythm.stats.tempo_drops`) as a Markdown section."""
    factors = sorted(f for f in tempo["factor"].unique() if f != 1.0)
    lines = [
        "## Tempo robustness", "",
        "The same test tracks played slower and faster (the embedded data generated at the "
        "scaled tempos, recordings time-stretched by a phase vocoder): a model of the rhythms "
        "keeps its accuracy, a model of the tempos loses it. Drop: accuracy at the original "
        "tempo minus at the factor, in points, with its 95% interval (corrected t over the "
        "folds) and McNemar's p on the pooled test tracks.", "",
        "| model | original (%) | " + " | ".join(f"x{f:g} (%)" for f in factors)
        + " | worst drop (points) | 95% interval | p (McNemar) |",
        "| --- | ---: | " + " | ".join("---:" for _ in factors) + " | ---: | --- | ---: |",
    ]
    for (_, hop), rows in tempo.groupby(["model", "hop"], sort=False):
        at = dict(zip(rows["factor"], rows["accuracy"], strict=True))
        shifted = rows[rows["factor"] != 1.0]
        worst = shifted.loc[shifted["drop"].idxmax()]
        interval = points_interval(worst["drop_low"], worst["drop_high"])
        lines.append(f"| {run_label(rows['label'].iloc[0], hop)} | {100 * at[1.0]:.1f} | "
                     + " | ".join(f"{100 * at[f]:.1f}" for f in factors)
                     + f" | {100 * worst['drop']:+.1f} (x{worst['factor']:g}) | {interval} | "
                     f"{_p_value(worst['p'])} |")
    return "\n".join(lines) + "\n"


def records_of(table):
    """A DataFrame as JSON-able records (NaN as None, no NumPy scalars)."""
    return json.loads(table.to_json(orient="records"))


def write_tables(table, out_dir, config, statistics=None):
    """Write ``results.csv``, ``results.json`` and ``results.md`` atomically.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`summarize` output.
    out_dir : path
    config : dict
        What ``config.json`` holds; stored in ``results.json`` too.
    statistics : dict or None
        :func:`comparison_statistics` output: adds the intervals to the
        tables, writes ``pairwise.csv``, and puts the paired differences and
        the poster's claim 1 in ``results.md`` and ``results.json``.
    """
    from ..stats import claims_markdown

    out_dir = Path(out_dir)
    sections = []
    if statistics is not None:
        intervals = statistics["summary"][["model", "hop", "ci_low", "ci_high"]]
        table = table.merge(intervals, on=["model", "hop"], how="left")
        recall = statistics["recall_summary"][["model", "hop", "ci_low", "ci_high"]]
        table = table.merge(recall.rename(columns={"ci_low": "recall_ci_low",
                                                   "ci_high": "recall_ci_high"}),
                            on=["model", "hop"], how="left")
        for name, key in (("pairwise", "pairwise"), ("pairwise_mean_recall", "recall_pairwise"),
                          ("class_recall", "class_recall")):
            with atomic_write(out_dir / f"{name}.csv", "w") as f:
                statistics[key].to_csv(f, index=False)
        alpha = statistics["claims"]["alpha"]
        tempo = statistics.get("tempo")
        sections.append(class_recall_markdown(statistics["class_recall"]))
        if tempo is not None and len(tempo):
            table = table.merge(tempo_columns(tempo), on=["model", "hop"], how="left")
            sections.append(tempo_markdown(tempo))
        sections += [pairwise_markdown(statistics["pairwise"], alpha),
                     pairwise_markdown(statistics["recall_pairwise"], alpha, "mean_recall"),
                     claims_markdown(statistics["claims"])]
    with atomic_write(out_dir / "results.csv", "w") as f:
        table.to_csv(f, index=False)
    results = {"config": config, "results": records_of(table)}
    if statistics is not None:
        results["statistics"] = {
            "pairwise": records_of(statistics["pairwise"]),
            "pairwise_mean_recall": records_of(statistics["recall_pairwise"]),
            "class_recall": records_of(statistics["class_recall"]),
            "claims": statistics["claims"]}
        if tempo is not None and len(tempo):
            results["statistics"]["tempo"] = records_of(tempo)
    write_json_atomic(out_dir / "results.json", results)
    data = config.get("data_description", config.get("data"))
    folds = f" ({config['folds']})" if config.get("folds") else ""
    intro = (f"Data: {data}; {int(table['folds'].max())} folds{folds} x "
             f"{int(table['repeats'].max())} repeat(s). Track accuracy: mean +- standard "
             "deviation over the folds")
    intro += (", and the 95% interval of the mean (t interval with the Nadeau-Bengio "
              "corrected variance, clipped to 0-100)" if statistics is not None else "")
    intro += (". Mean recall: the mean of the per-class recalls of each fold (every class "
              "counts the same, however many tracks it has), likewise. The poster's claim is "
              "judged on track accuracy, as the paper reports it.")
    with atomic_write(out_dir / "results.md", "w") as f:
        f.write(f"# skrhythm compare ({config['protocol']['name']} protocol)\n\n{intro}\n\n"
                f"{markdown_table(table)}\n" + "".join(f"\n{s}" for s in sections))
    return table


def confusion_table(y_true, y_pred, classes):
    """Track counts by true class (rows) and predicted class (columns), as a DataFrame."""
    import pandas as pd
    from sklearn.metrics import confusion_matrix

    counts = confusion_matrix(y_true, y_pred, labels=classes)
    names = [str(c) for c in classes]
    return pd.DataFrame(counts, index=pd.Index(names, name="true \\ predicted"), columns=names)


def write_plots(table, records, out_dir, statistics=None, data_name=None, tempo_ranges=None,
                confusion=()):
    """Write the comparison's plots (PNG and SVG) to ``out_dir``.

    ``accuracy_vs_params`` (interval bars from ``statistics`` when given; the
    poster's published values when ``data_name`` names Ballroom; bars of
    accuracy when no model of the run has a parameter count);
    ``pairwise`` (the paired differences, with ``statistics``; the colour
    scale set by the CNNs' differences); ``tempo_robustness`` (accuracy
    against tempo factor, with a tempo-robustness test in ``statistics``);
    ``confusion_matrix`` of the most accurate CNN (any model if the run has
    none; a tie is named) over the test folds of the first repeat (each
    track once), and every model's counts in ``confusion/MODEL_hopHOP.csv``
    (with a picture for the models named in ``confusion``); ``filters`` of the
    first O-net/P-net model the run saved (O-net + P-net preferred), fold
    named, with its pattern filters' periodicity against ``tempo_ranges``
    (:func:`class_tempo_ranges`).
    """
    import joblib
    import matplotlib

    matplotlib.use("Agg")
    from ..plotting import (
        plot_accuracy_vs_params,
        plot_confusion_matrix,
        plot_filters,
        plot_pairwise,
        plot_tempo_robustness,
        save_figure,
    )

    out_dir = Path(out_dir)
    ballroom = data_name is not None and "ballroom" in str(data_name).lower()
    intervals = statistics["summary"] if statistics is not None else None
    save_figure(plot_accuracy_vs_params(table, intervals=intervals, reference=ballroom or None,
                                        data_name=data_name), out_dir / "accuracy_vs_params")
    cnn_names = {m for m in MODELS if MODELS[m].network}
    if statistics is not None and len(statistics["pairwise"]):
        save_figure(plot_pairwise(statistics["pairwise"], data_name=data_name,
                                  alpha=statistics["claims"]["alpha"], scale_models=cnn_names),
                    out_dir / "pairwise")
    if statistics is not None and len(statistics.get("tempo", ())):
        save_figure(plot_tempo_robustness(statistics["tempo"], data_name=data_name),
                    out_dir / "tempo_robustness")
    cnns = table[table["model"].isin(cnn_names)]
    ranked = cnns if len(cnns) else table
    best = ranked.loc[ranked["accuracy"].idxmax()]
    tied = [run_label(r.label, r.hop) for r in ranked.itertuples()
            if np.isclose(r.accuracy, best["accuracy"], rtol=0, atol=1e-12)
            and (r.model, r.hop) != (best["model"], best["hop"])]
    what = "most accurate CNN" if len(cnns) else "most accurate model"
    if tied:
        what += f" (tied with {', '.join(tied)})"
    y_true, y_pred = first_repeat_predictions(records, best["model"], best["hop"])
    save_figure(plot_confusion_matrix(
        y_true, y_pred, title=f"{run_label(best['label'], best['hop'])}, {what}: all test "
        "folds"), out_dir / "confusion_matrix")
    classes = np.unique(np.concatenate([r["y_true"] for r in records]))
    (out_dir / "confusion").mkdir(exist_ok=True)
    for r in table.itertuples():
        y_true, y_pred = first_repeat_predictions(records, r.model, r.hop)
        name = f"{r.model}_hop{r.hop}"
        with atomic_write(out_dir / "confusion" / f"{name}.csv", "w") as f:
            confusion_table(y_true, y_pred, classes).to_csv(f)
        if r.model in confusion:
            save_figure(plot_confusion_matrix(
                y_true, y_pred, labels=classes,
                title=f"{run_label(r.label, r.hop)}: all test folds"),
                out_dir / "confusion" / name)
    # The models this run wrote, or whose checksum read_fold_record verified.
    fitted = sorted((r for r in records if r.get("model_file")), key=lambda r: r["model_file"])
    preferred = [r for r in fitted if r["model_file"].startswith("models/o+p_")] or fitted
    if preferred:
        record = preferred[0]
        save_figure(plot_filters(joblib.load(out_dir / record["model_file"]),
                                 model=run_label(record["label"], record["hop"]),
                                 fold=record["fold"], tempo_ranges=tempo_ranges),
                    out_dir / "filters")
