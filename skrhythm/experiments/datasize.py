"""The data-size experiment: accuracy against the number of training tracks per class.

The poster's second claim is that "the less data, the more useful the
design strategy". :func:`run_datasize` tests it the way the comparison
tests everything else: every model runs on the same cross-validation folds
(:func:`skrhythm.experiments.make_folds`); within each fold the models are
trained on nested, stratified subsets of the fold's training part (``n``
tracks of each class, every smaller subset inside the larger ones, drawn
with one seed per fold) and tested on the fold's whole, unchanged test
part. :func:`summarize_datasize` gives the mean and corrected t interval
per model and size (:func:`skrhythm.stats.corrected_interval`, with the
subset's size as ``n_train``), :func:`datasize_differences` the paired
difference of a reference model against the others at each size
(:func:`skrhythm.stats.pairwise`), :func:`datasize_claim` what the run
says of the claim in plain words, and :func:`skrhythm.plotting.plot_datasize`
the picture of the summary.
"""

from __future__ import annotations

import sys
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from .._spec import DATASIZE_MODELS, MODELS, OptionError
from ..stats import mean_recall, points_interval
from ._compare import make_model, make_protocol
from ._data import make_folds
from ._reports import percent_interval

__all__ = [
    "DEFAULT_MODELS",
    "datasize_claim",
    "datasize_experiment",
    "datasize_differences",
    "nested_subsets",
    "run_datasize",
    "summarize_datasize",
]

#: O-net + P-net against the larger CNN baselines and the non-deep descriptor.
DEFAULT_MODELS = DATASIZE_MODELS


def nested_subsets(y, train, sizes, seed):
    """Nested stratified subsets of a training part: ``n`` tracks of each class per size.

    Each class's training tracks are shuffled once (generator seeded with
    ``seed``) and the subset of size ``n`` takes the first ``n`` of each, so
    every subset holds the smaller ones.

    Parameters
    ----------
    y : array-like of shape (n_tracks,)
        Labels of the whole data set.
    train : array of int
        Indices of the fold's training part.
    sizes : sequence of int
        Tracks per class.
    seed : int or sequence of int
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    subsets : dict
        ``{n: sorted index array}`` for each ``n`` of ``sizes``.

    Raises
    ------
    ValueError
        If a size is not positive or a class has fewer training tracks than
        the largest size.

    Examples
    --------
    >>> y = np.array(["a"] * 5 + ["b"] * 5)
    >>> subsets = nested_subsets(y, np.arange(10), [1, 3], seed=0)
    >>> [len(subsets[n]) for n in (1, 3)], set(subsets[1]) <= set(subsets[3])
    ([2, 6], True)
    """
    y = np.asarray(y)
    train = np.asarray(train)
    sizes = [int(n) for n in sizes]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"n_per_class must be positive integers, got {sizes}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y[train], return_counts=True)
    if counts.min() < max(sizes):
        raise ValueError(
            f"n_per_class={max(sizes)} is more than the training tracks of class "
            f"{str(classes[counts.argmin()])!r} in a fold ({counts.min()}); use at most "
            f"{counts.min()} (or more data, or fewer folds)"
        )
    shuffled = [rng.permutation(train[y[train] == c]) for c in classes]
    return {n: np.sort(np.concatenate([s[:n] for s in shuffled])) for n in sizes}


def _fit_one(name, hop, n, fold, subset, test, X, y, settings):
    estimator = make_model(name, hop, **settings)
    start = time.perf_counter()
    estimator.fit(X[subset], y[subset])
    fit_time = time.perf_counter() - start
    y_pred = estimator.predict(X[test])
    return {
        "model": name, "label": MODELS[name].label, "hop": hop or 0, "n_per_class": n,
        "fold": fold,
        "epochs": settings["max_epochs"] if MODELS[name].network else None,
        "accuracy": float(np.mean(y_pred == y[test])),
        "mean_recall": mean_recall(y[test], y_pred),
        "n_train": len(subset), "n_test": len(test), "fit_time": fit_time,
        "params": getattr(estimator, "n_params_", None),
        "y_true": y[test].tolist(), "y_pred": np.asarray(y_pred).tolist(),
    }


def run_datasize(X, y, *, groups=None, models=DEFAULT_MODELS, n_per_class=(2, 4, 8, 16),
                 n_folds=3, cv="stratified", hop=250, max_epochs=20, equal_steps=True,
                 momentum=None, nesterov=None, train_split=None, seed=0, device="cpu", n_jobs=None,
                 sr=44100, hop_length=1024, progress=False):
    """Accuracy of each model against the number of training tracks per class.

    Parameters
    ----------
    X : ndarray of shape (n_tracks, n_mels, n_frames)
        Log-mel spectrograms (e.g. of ``ballroom:PATH`` or the embedded data).
    y : array-like of shape (n_tracks,)
    groups : array-like or None
        Tracks of one group stay in one fold (see :func:`~skrhythm.experiments.make_folds`).
    models : sequence of str, default=DEFAULT_MODELS
        Keys of :data:`skrhythm.experiments.MODELS`.
    n_per_class : sequence of int, default=(2, 4, 8, 16)
        Training tracks per class; each must fit in every fold's training part.
    n_folds : int, default=3
    cv : {"stratified", "paper"}, default="stratified"
    hop : int, default=250
        Patch hop of the O-net/P-net models; the CBMI baselines use their own
        (80), the descriptors none.
    max_epochs : int, default=20
        Training epochs of the CNNs at the largest size.
    equal_steps : bool, default=True
        Train a subset of ``n`` tracks per class for
        ``ceil(max_epochs * max(n_per_class) / n)`` epochs, so that every size
        gets about the same number of gradient steps (the same number of
        epochs would give the smallest subsets a few dozen updates and
        measure under-training, not data size). False: ``max_epochs`` at
        every size.
    momentum, nesterov, train_split, device
        Training settings of the CNNs: ``momentum`` and ``nesterov`` None
        take each estimator's default; ``train_split=None``: no validation
        split, which tiny subsets could not afford.
    seed : int, default=0
        Seeds the folds, the subsets (with the fold number) and the models.
    n_jobs : int or None
        Fits run in parallel by joblib.
    sr, hop_length : int
        Feature settings the descriptors need.
    progress : bool, default=False
        A progress bar over the fits.

    Returns
    -------
    table : pandas.DataFrame
        One row per (model, n_per_class, fold): ``model, label, hop,
        n_per_class, fold, epochs, accuracy, n_train, n_test, fit_time, params,
        y_true, y_pred`` (``epochs``: the CNNs' maximum, None for the
        descriptors; the last two: lists of the fold's test labels and
        predictions), ordered by model, size and fold.
    """
    import pandas as pd
    from joblib import Parallel, delayed

    X, y = np.asarray(X), np.asarray(y)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    if len(y) != len(X):
        raise ValueError(f"X has {len(X)} tracks but y has {len(y)} labels")
    sizes = sorted({int(n) for n in n_per_class})
    folds = make_folds(y, groups, n_folds, cv, seed)
    subsets = [nested_subsets(y, train, sizes, seed=[seed, fold])
               for fold, (train, _) in enumerate(folds)]
    tasks = []
    for name in models:
        model_hop = MODELS[name].runs_at((hop,))[0]
        for n in sizes:
            epochs = -(-max_epochs * sizes[-1] // n) if equal_steps else max_epochs
            settings = dict(max_epochs=epochs, momentum=momentum, nesterov=nesterov,
                            train_split=train_split, random_state=seed, device=device, sr=sr,
                            hop_length=hop_length)
            for fold, (_, test) in enumerate(folds):
                tasks.append(delayed(_fit_one)(name, model_hop, n, fold, subsets[fold][n], test,
                                               X, y, settings))
    results = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
    if progress:
        from tqdm.auto import tqdm

        results = tqdm(results, total=len(tasks), unit="fit",
                       desc="data size: models x sizes x folds")
    return pd.DataFrame(list(results))


def summarize_datasize(table, confidence=0.95):
    """Mean accuracy and corrected t interval per model and training size.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`run_datasize` output.
    confidence : float, default=0.95

    Returns
    -------
    summary : pandas.DataFrame
        ``model, label, hop, n_per_class, folds, accuracy, accuracy_std,
        ci_low, ci_high, mean_recall, mean_recall_std, recall_ci_low,
        recall_ci_high, confidence``, in the table's model order, sizes
        ascending. The mean recall is the mean of the per-class recalls of
        each fold (:func:`skrhythm.stats.mean_recall`).
    """
    import pandas as pd

    from ..stats import corrected_interval

    rows = []
    for model in table["model"].unique():
        of_model = table[table["model"] == model]
        for n, g in of_model.groupby("n_per_class", sort=True):
            sizes = g["n_train"].mean(), g["n_test"].mean()
            mean, low, high = corrected_interval(g["accuracy"], *sizes, confidence)
            recall, recall_low, recall_high = corrected_interval(g["mean_recall"], *sizes,
                                                                 confidence)
            rows.append({"model": model, "label": g["label"].iloc[0], "hop": g["hop"].iloc[0],
                         "n_per_class": n, "folds": len(g), "accuracy": mean,
                         "accuracy_std": float(g["accuracy"].std(ddof=1)),
                         "ci_low": low, "ci_high": high, "mean_recall": recall,
                         "mean_recall_std": float(g["mean_recall"].std(ddof=1)),
                         "recall_ci_low": recall_low, "recall_ci_high": recall_high,
                         "confidence": confidence})
    return pd.DataFrame(rows)


def datasize_differences(table, reference="o+p", confidence=0.95):
    """Paired difference of ``reference`` against each other model at every training size.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`run_datasize` output.
    reference : str, default="o+p"
    confidence : float, default=0.95

    Returns
    -------
    differences : pandas.DataFrame
        :func:`skrhythm.stats.pairwise` columns for (reference, other) at
        each size, with ``n_per_class`` first; Holm's adjustment is over
        all rows.
    """
    import pandas as pd

    from ..stats import holm, pairwise

    if reference not in set(table["model"]):
        raise ValueError(f"reference model {reference!r} is not in the table "
                         f"({', '.join(table['model'].unique())})")
    parts = []
    for n, g in table.groupby("n_per_class", sort=True):
        records = g.to_dict("records")
        hop = {r["model"]: r["hop"] for r in records}
        pairs = [((reference, hop[reference]), (m, hop[m])) for m in hop if m != reference]
        part = pairwise(records, pairs, confidence)
        part.insert(0, "n_per_class", n)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["p_holm"] = holm(out["p"])
    out["p_mcnemar_holm"] = holm(out["p_mcnemar"])
    return out


def datasize_claim(table, reference="o+p", alpha=0.05, confidence=0.95):
    """What the run supports of the poster's claim 2, as JSON-able data with plain words.

    Claim 2 (Pons & Serra, ICASSP 2017): "the less data, the more useful the
    design strategy", read here as: the lead of ``reference`` over each
    other model is larger at the smallest training size than at the
    largest. For each rival the fold-wise leads at the two sizes are
    compared with :func:`skrhythm.stats.corrected_ttest` (paired by fold;
    its correction uses the smallest size's ``n_train``, the more
    conservative of the two), Holm-adjusted over the rivals. A rival's
    verdict is ``"supported"`` (the lead shrinks with more data, adjusted
    p < ``alpha``), ``"contradicted"`` (it grows) or ``"not shown"``; the
    claim is supported only against every rival, contradicted if against
    any.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`run_datasize` output with at least two sizes.
    reference : str, default="o+p"
    alpha, confidence : float

    Returns
    -------
    report : dict
        ``claim``, ``reference``, ``sizes`` (smallest, largest),
        ``verdict``, ``rivals`` (per rival: ``model``, ``label``,
        ``lead_small``, ``lead_small_low``, ``lead_small_high``,
        ``lead_large`` (and its interval), ``change``, ``p``, ``p_holm``,
        ``verdict``) and ``summary`` (plain words). Leads are fractions of
        tracks; None where undefined.
    """
    from ..stats import corrected_ttest, holm, json_value

    diffs = datasize_differences(table, reference, confidence)
    sizes = sorted(table["n_per_class"].unique())
    report = {"claim": "the less data, the more useful the design strategy",
              "reference": reference, "alpha": alpha, "confidence": confidence,
              "sizes": [int(sizes[0]), int(sizes[-1])], "rivals": []}
    if len(sizes) < 2:
        report.update(verdict="not tested", summary="Claim 2 cannot be tested: the run has one "
                      "training size; give n_per_class two or more sizes.")
        return report
    ref = table[table["model"] == reference]
    tests = []
    for model in [m for m in table["model"].unique() if m != reference]:
        leads = []
        for n in (sizes[0], sizes[-1]):
            a = ref[ref["n_per_class"] == n].sort_values("fold")
            b = table[(table["model"] == model) & (table["n_per_class"] == n)].sort_values("fold")
            leads.append(a["accuracy"].to_numpy() - b["accuracy"].to_numpy())
        small = ref[ref["n_per_class"] == sizes[0]]
        tests.append((model, corrected_ttest(leads[0], leads[1], small["n_train"].mean(),
                                             small["n_test"].mean(), confidence)))
    adjusted = holm([t.p for _, t in tests])
    for (model, test), p_holm in zip(tests, adjusted):
        rows = diffs[diffs["model_b"] == model].set_index("n_per_class")
        small, large = rows.loc[sizes[0]], rows.loc[sizes[-1]]
        p_holm = json_value(p_holm)
        significant = p_holm is not None and p_holm < alpha
        report["rivals"].append({
            "model": model, "label": small["label_b"],
            **{f"lead_{size}{end}": json_value(row[column])
               for size, row in (("small", small), ("large", large))
               for end, column in (("", "difference"), ("_low", "diff_low"),
                                   ("_high", "diff_high"))},
            "change": json_value(test.mean), "p": json_value(test.p), "p_holm": p_holm,
            "verdict": ("not shown" if not significant else
                        "supported" if test.mean > 0 else "contradicted"),
        })
    verdicts = {r["verdict"] for r in report["rivals"]}
    report["verdict"] = ("contradicted" if "contradicted" in verdicts else
                         "supported" if verdicts == {"supported"} else "not shown")
    report["summary"] = _claim_words(report, ref["label"].iloc[0])
    return report


def _claim_words(report, label):
    def pts(x):
        return "undefined" if x is None else f"{100 * x:+.1f}"

    def tracks(n):
        return f"{n} track{'s' * (n != 1)} per class"

    small, large = report["sizes"]
    level = f"{100 * report['confidence']:.0f} %"
    lines = [f"Claim 2 ({report['claim']}): {report['verdict']} at alpha = {report['alpha']} "
             f"(lead of {label} with {tracks(small)} vs {tracks(large)} of training data)."]
    for r in report["rivals"]:
        p = "undefined" if r["p_holm"] is None else f"{r['p_holm']:.3g}"
        lines.append(
            f"  - vs {r['label']}: lead {pts(r['lead_small'])} points ({level} interval "
            f"{points_interval(r['lead_small_low'], r['lead_small_high'])}) with "
            f"{tracks(small)}, {pts(r['lead_large'])} "
            f"({points_interval(r['lead_large_low'], r['lead_large_high'])}) with "
            f"{tracks(large)}; change {pts(r['change'])} points, "
            f"Holm p = {p}: {r['verdict']}.")
    return "\n".join(lines)


def _checked_sizes(sizes, y, folds):
    """The training sizes (default: powers of two from 2 up to the fewest training tracks
    of a class in a fold), refused with :class:`OptionError` when a fold cannot give them."""
    y = np.asarray(y)
    counts = [dict(zip(*np.unique(y[train], return_counts=True))) for train, _ in folds]
    fewest = min(min(c.values()) for c in counts)
    label = next(str(k) for c in counts for k, v in c.items() if v == fewest)
    if sizes is None:
        if fewest < 2:
            raise OptionError("n_folds", len(folds), f"a fold has only {fewest} training "
                              f"track(s) of class {label!r}; the data-size experiment needs at "
                              "least 2 (more data or fewer folds)")
        return tuple(2 ** k for k in range(1, int(np.log2(fewest)) + 1))
    if max(sizes) > fewest:
        raise OptionError("sizes", ",".join(map(str, sizes)),
                          f"{max(sizes)} tracks per class is more than the training tracks of "
                          f"class {label!r} in a fold ({fewest}); use at most {fewest} (or "
                          "more data, or fewer folds)")
    return tuple(sizes)


def datasize_experiment(data="embedded", *, out_dir="skrhythm-datasize", models=DEFAULT_MODELS,
                        sizes=None, n_folds=3, hop=250, max_epochs=None, n_per_class=None,
                        seed=0, device="cpu", n_jobs=1, threads=None, progress=True,
                        verbose=True):
    """Run the data-size experiment on a data set and write its results to a folder.

    What ``skrhythm datasize`` does: read or generate the data, compute the
    log-mel features (cached in ``out_dir/cache``, as
    :func:`skrhythm.experiments.compare` does), run :func:`run_datasize`
    with the quick protocol's training settings, and write
    ``datasize.csv`` (one row per model, size and fold), ``datasize.json``
    (configuration, summary, differences, the claim), ``datasize.md`` and
    the plot ``datasize.png``/``.svg``, each atomically. The results are
    written together when every fit is done: an interrupted run, or one whose
    writing fails (a full disk), writes none of them, and the same command
    can run again (the feature cache is kept).

    Parameters
    ----------
    data : str, default="embedded"
        As for :func:`skrhythm.experiments.compare` (``"ballroom:PATH"`` too).
    out_dir : path, default="skrhythm-datasize"
        A folder that holds no data-size results yet.
    models : sequence of str, default=DEFAULT_MODELS
    sizes : sequence of int or None
        Training tracks per class; None: 2, 4, 8, ... up to what every
        fold's training part holds.
    n_folds : int, default=3
    hop : int, default=250
        Patch hop of the O-net/P-net models.
    max_epochs : int or None
        Epochs at the largest size (see ``equal_steps`` of
        :func:`run_datasize`); None: the quick protocol's.
    n_per_class : int or None
        Tracks per class of the embedded data; None: the quick protocol's.
    seed, device, n_jobs, threads, progress, verbose
        As for :func:`skrhythm.experiments.compare`.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``table`` (:func:`run_datasize`), ``summary``
        (:func:`summarize_datasize`), ``claim`` (:func:`datasize_claim`) and
        ``config``.
    """
    import matplotlib
    from sklearn.utils import Bunch

    from .._spec import parse_data_spec
    from .._store import all_or_none, atomic_write, unwritable
    from ..parallel import limit_torch_threads, workers_die_with_this_process
    from ._compare import check_run_options, default_threads
    from ._data import FEATURE_PARAMS, check_folds, comparison_features, list_data
    from ._progress import say
    from ._provenance import run_info
    from ._reports import records_of
    from ._run_folder import run_folder_lock, write_json_atomic

    matplotlib.use("Agg")
    from ..plotting import plot_datasize, save_figure

    protocol = make_protocol("quick", models=tuple(models), n_folds=n_folds,
                             max_epochs=max_epochs, n_per_class=n_per_class)
    parse_data_spec(data)
    check_run_options(device=device, n_jobs=n_jobs, threads=threads)
    if sizes is not None and (not sizes or min(sizes) < 1):
        raise OptionError("sizes", sizes, "expected positive numbers of tracks per class")
    if "o+p" not in protocol.models:
        raise OptionError("models", ",".join(protocol.models),
                          "must include o+p (the claim is about O-net + P-net)")
    threads = default_threads(n_jobs, threads)
    report = say if verbose else (lambda message: None)
    out_dir = Path(out_dir)
    problem = unwritable(out_dir, folder=True)
    if problem:
        raise OptionError("out_dir", out_dir, problem)
    with run_folder_lock(out_dir), workers_die_with_this_process():
        if (out_dir / "datasize.csv").exists():
            raise FileExistsError(f"{out_dir} already holds data-size results "
                                  f"({out_dir / 'datasize.csv'}); choose another output folder")
        config = run_info(protocol, data=data, seed=seed, device=device, n_jobs=n_jobs,
                          feature_params=FEATURE_PARAMS, threads=threads)
        listing = list_data(data, n_per_class=protocol.n_per_class, duration=protocol.duration,
                            seed=seed, n_jobs=n_jobs)
        check_folds(listing, n_folds=protocol.n_folds, cv=protocol.cv, seed=seed)
        folds = make_folds(listing.y, listing.groups, protocol.n_folds, protocol.cv, seed)
        sizes = _checked_sizes(sizes, listing.y, folds)  # before any audio is read
        X, y, groups, description = comparison_features(
            data, protocol=protocol, seed=seed, cache_dir=out_dir / "cache", n_jobs=n_jobs,
            progress=progress and verbose, listing=listing)
        config.update(experiment="datasize", sizes=sorted(int(n) for n in sizes), hop=hop,
                      data_description=description, n_tracks=len(y))
        report(f"skrhythm datasize: {', '.join(protocol.models)} with "
            f"{', '.join(map(str, config['sizes']))} training tracks per class, "
            f"{protocol.n_folds} folds; data {description} ({len(y)} tracks)")
        try:
            with limit_torch_threads(threads) if threads else nullcontext():
                table = run_datasize(X, y, groups=groups, models=protocol.models, n_per_class=sizes,
                                     n_folds=protocol.n_folds, cv=protocol.cv, hop=hop,
                                     max_epochs=protocol.max_epochs,
                                     momentum=protocol.momentum, nesterov=protocol.nesterov,
                                     seed=seed, device=device, n_jobs=n_jobs,
                                     progress=progress and verbose and sys.stderr.isatty(),
                                     **FEATURE_PARAMS)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(f"interrupted: no data-size results were written to "
                                    f"{out_dir} (the feature cache is kept)") from None
        summary = summarize_datasize(table)
        claim = datasize_claim(table)
        with all_or_none():  # a failed write (a full disk) leaves none, so a rerun may start
            with atomic_write(out_dir / "datasize.csv", "w") as f:
                table.drop(columns=["y_true", "y_pred"]).to_csv(f, index=False)
            write_json_atomic(out_dir / "datasize.json", {
                "config": config, "results": records_of(table), "summary": records_of(summary),
                "differences": records_of(datasize_differences(table)), "claim": claim})
            with atomic_write(out_dir / "datasize.md", "w") as f:
                f.write(_datasize_markdown(summary, claim, description))
            save_figure(plot_datasize(summary, data_name=description), out_dir / "datasize")
    report("\n" + _datasize_markdown(summary, claim, description))
    return Bunch(table=table, summary=summary, claim=claim, config=config)


def _datasize_markdown(summary, claim, description):
    lines = ["# skrhythm datasize", "",
             f"Data: {description}. Track accuracy and mean recall (the mean of the "
             "per-class recalls, %) by training tracks per class: mean and 95% interval over "
             "the folds (corrected t, Nadeau & Bengio 2003). The claim is judged on track "
             "accuracy, as the paper reports it.", "",
             "| model | tracks per class | accuracy (%) | 95% interval (%) | mean recall (%) | "
             "95% interval (%) |",
             "| --- | ---: | ---: | --- | ---: | --- |"]
    for r in summary.itertuples():
        lines.append(f"| {r.label} | {r.n_per_class} | {100 * r.accuracy:.1f} | "
                     f"{percent_interval(r.ci_low, r.ci_high)} | {100 * r.mean_recall:.1f} | "
                     f"{percent_interval(r.recall_ci_low, r.recall_ci_high)} |")
    return "\n".join(lines) + "\n\n" + claim["summary"] + "\n"
