"""The paper's architecture comparison, run with scikit-learn's cross-validation.

:func:`compare` is the whole comparison, what ``skrhythm compare`` runs: it
checks the options and the run folder, lists the data and makes the folds
before any audio is read, computes and caches the features, runs the fits and
writes the tables, plots and ``config.json``. :func:`run_comparison`
evaluates every (model, patch hop) pair of a :class:`Protocol` on the same
folds with :func:`sklearn.model_selection.cross_validate`, one fold at a time,
and stores each finished fold as a JSON file at once, so an interrupted run
loses nothing and ``resume=True`` continues it.
"""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.model_selection import cross_validate

from .._cnn_base import resolve_device
from .._spec import (
    CV_SCHEMES,
    MODELS,
    PROTOCOLS,
    OptionError,
    check_model_names,
    check_tempo_factors,
    parse_data_spec,
    resolve_tempo_augment,
)
from .._store import unwritable
from ..parallel import limit_torch_threads, workers_die_with_this_process
from ._data import (
    FEATURE_PARAMS,
    check_folds,
    class_tempo_ranges,
    comparison_features,
    describe_grouping,
    grouping_problem,
    list_data,
    make_folds,
)
from ._progress import FitProgress, effective_jobs, say
from ._provenance import run_info
from ._reports import (
    comparison_statistics,
    markdown_table,
    summarize,
    tempo_markdown,
    write_plots,
    write_tables,
)
from ._run_folder import (
    RECORD_FORMAT,
    check_run_folder,
    data_digest,
    fingerprint,
    fold_file,
    read_fold_record,
    record_settings,
    run_folder_lock,
    store_fold,
    write_json_atomic,
)

__all__ = [
    "check_run_options", "compare", "default_threads", "make_model", "make_protocol",
    "run_comparison", "runs_of",
]


def make_model(name, hop, *, max_epochs=None, train_split=None, random_state=0, device="cpu",
               momentum=None, nesterov=None, tempo_augment=None, sr=44100, hop_length=1024):
    """Build the unfitted estimator of model ``name`` at patch hop ``hop``.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    hop : int or None
        Patch hop (ignored by models without patches).
    max_epochs, train_split, random_state, device, momentum, nesterov, tempo_augment
        Training settings of the CNNs (see :class:`skrhythm.MusicCNNClassifier`);
        ``max_epochs``, ``momentum`` and ``nesterov`` None: each estimator's
        default.
    sr, hop_length : int
        Feature settings the descriptor pipelines need to convert frames to time.

    Returns
    -------
    estimator : sklearn estimator taking log-mel spectrograms
    """
    training = dict(train_split=train_split, random_state=random_state, device=device,
                    tempo_augment=tempo_augment)
    training.update({k: v for k, v in (("max_epochs", max_epochs), ("momentum", momentum),
                                       ("nesterov", nesterov)) if v is not None})
    return MODELS[name].build(hop, training=training,
                              features={"sr": sr, "hop_length": hop_length})


def _patch_accuracy(estimator, X, y):
    """Scorer: fraction of test patches classified correctly (NaN without patches)."""
    if not hasattr(estimator, "predict_patch_proba"):
        return float("nan")
    patch_pred = estimator.predict_patch_proba(X).argmax(axis=2)
    truth = np.searchsorted(estimator.classes_, y)
    return float((patch_pred == truth[:, None]).mean())


def _track_accuracy(estimator, X, y):
    return float((estimator.predict(X) == y).mean())


def _run_fold(name, hop, repeat, fold, train, test, X, y, settings, key, threads=None,
              epoch_sink=None, shifted=None):
    """Cross-validate one (model, hop) pair on one fold; return its record and fitted model.

    This runs in the worker processes, which write nothing: the run's own
    process, the one holding the run folder's lock, stores what they return
    (:func:`store_fold`), so a worker orphaned by a killed run can never write
    into a folder another run holds. The fitted model is returned for the
    O-net/P-net models of fold 0 of the first repeat (the models the run
    keeps), else None. ``threads`` limits torch's threads during the fit;
    ``epoch_sink`` (an :class:`EpochBar`) shows the epochs of the CNNs;
    ``shifted`` (``{factor: X at that tempo}``) adds the predictions of the
    test tracks at each tempo factor (``tempo_pred``).
    """
    estimator = make_model(name, hop, **settings)
    restore = None
    if epoch_sink is not None:
        from ..training import show_epochs

        restore = show_epochs(estimator, epoch_sink)
    if restore is not None:
        rep = f" repeat {repeat}" if repeat else ""
        epoch_sink.reset(f"{name} hop {hop}{rep} fold {fold}", settings["max_epochs"])
    with limit_torch_threads(threads) if threads else nullcontext():
        scores = cross_validate(
            estimator,
            X,
            y,
            cv=[(train, test)],
            scoring={"accuracy": _track_accuracy, "patch_accuracy": _patch_accuracy},
            return_estimator=True,
            error_score="raise",
        )
    fitted = scores["estimator"][0]
    if restore is not None:
        restore(fitted)  # the stored model holds no progress display
    history = getattr(fitted, "history_", None)
    record = {
        "format": RECORD_FORMAT,
        "complete": True,
        "model": name,
        "label": MODELS[name].label,
        "hop": hop,
        "repeat": repeat,
        "fold": fold,
        "params": getattr(fitted, "n_params_", None),
        "accuracy": float(scores["test_accuracy"][0]),
        "patch_accuracy": float(scores["test_patch_accuracy"][0]),
        "fit_time": float(scores["fit_time"][0]),
        "epochs": len(history) if history is not None else None,
        "max_epochs": settings["max_epochs"],
        "stopped_by": (history[-1].get("stopped_by") if history is not None and len(history)
                       else None),
        "settings": record_settings(settings),
        "fingerprint": key,
        "model_file": None,
        "model_sha256": None,
        "test_index": test,
        "y_true": y[test],
        "y_pred": fitted.predict(X[test]),
        "tempo_pred": {f"{factor:g}": fitted.predict(X_factor[test])
                       for factor, X_factor in (shifted or {}).items()},
    }
    keep = repeat == 0 and fold == 0 and MODELS[name].saves_model
    return record, fitted if keep else None


def runs_of(protocol, models=None):
    """(model, hop) pairs of a protocol, in table order."""
    pairs = []
    for name in models or protocol.models:
        pairs += [(name, hop) for hop in MODELS[name].runs_at(protocol.hops)]
    return pairs


def run_comparison(X, y, *, protocol, out_dir, groups=None, models=None, n_folds=None,
                   max_epochs=None, repeats=1, seed=0, device="cpu", n_jobs=None, threads=None,
                   resume=False, feature_params=None, progress=True, shifted=None):
    """Run every (model, hop, repeat, fold) of a protocol; return the per-fold records.

    :func:`compare` calls this and writes the tables and plots; call it
    directly to run the fits on features of your own.

    Parameters
    ----------
    X : ndarray of shape (n_tracks, n_mels, n_frames)
        Log-mel spectrograms (from :class:`skrhythm.LogMelTransformer`).
    y : ndarray of shape (n_tracks,)
    protocol : Protocol
    out_dir : path
        Finished folds go to ``out_dir/folds/*.json`` as they complete.
    groups : ndarray or None
    models : sequence of str or None
        Overrides the protocol's models.
    n_folds, max_epochs : int or None
        Override the protocol's values.
    repeats : int, default=1
        Cross-validations run, repeat ``r`` on folds shuffled with seed
        ``seed + r`` (see :func:`make_folds`); every model sees the same folds.
    seed : int
        Seeds the folds and every model.
    device : str
    n_jobs : int or None
        (model, fold) tasks run in parallel by joblib (any joblib backend,
        e.g. dask's, applies). On a CUDA device fits run one at a time
        (with a warning if ``n_jobs`` asks for more): parallel fits would
        compete for the one GPU and each would hold its own CUDA context.
    threads : int or None
        torch threads of each fit (in every worker); ``None`` leaves torch's
        setting.
    resume : bool
        Reuse folds already stored in ``out_dir``; without it an ``out_dir``
        holding fold results is refused, so nothing is overwritten. Stored
        folds are checked: a damaged one, one of other settings or data, or
        one whose model file is damaged raises :class:`RunFolderError`.
    feature_params : dict or None
        ``sr`` and ``hop_length`` of the features (for the descriptors).
    progress : bool
        In a terminal: a bar over the fits, with the last fit's accuracy and
        a time estimate weighted by each model's measured cost, and, for
        fits run one at a time, a bar over the epochs of the current fit.
        Elsewhere (a log file): one line per finished fit.
    shifted : dict or None
        ``{factor: X_factor}``: the same tracks played at other tempos (as
        :func:`shifted_features` computes them); every fit also predicts its
        test tracks in each, recorded as ``tempo_pred`` (see
        :func:`skrhythm.stats.tempo_drops`).

    Returns
    -------
    records : list of dict
        One per (model, hop, repeat, fold): ``model``, ``hop``, ``repeat``,
        ``fold``, ``accuracy`` (track accuracy of the fold), ``y_true``,
        ``y_pred``, ``test_index``, ``fit_time``, ``params``, ... (see the
        JSON files in ``out_dir/folds``).

    Raises
    ------
    RunFolderLocked
        If another process runs on ``out_dir``.
    RunFolderError
        If a stored fold result is damaged or from another configuration.
    """
    with run_folder_lock(out_dir):
        return _run_comparison(X, y, protocol=protocol, out_dir=out_dir, groups=groups,
                               models=models, n_folds=n_folds, max_epochs=max_epochs,
                               repeats=repeats, seed=seed, device=device, n_jobs=n_jobs,
                               threads=threads, resume=resume, feature_params=feature_params,
                               progress=progress, shifted=shifted)


def _run_comparison(X, y, *, protocol, out_dir, groups, models, n_folds, max_epochs, repeats,
                    seed, device, n_jobs, threads, resume, feature_params, progress, shifted):
    from joblib import Parallel, delayed

    out_dir = Path(out_dir)
    protocol = replace(protocol, n_folds=n_folds or protocol.n_folds,
                       max_epochs=max_epochs or protocol.max_epochs)
    existing = sorted((out_dir / "folds").glob("*.json"))
    if existing and not resume:
        raise FileExistsError(
            f"{out_dir} already holds {len(existing)} fold results; "
            "pass resume=True to continue that run, or choose another out_dir"
        )
    (out_dir / "models").mkdir(parents=True, exist_ok=True)
    y = np.asarray(y)
    settings = dict(max_epochs=protocol.max_epochs, train_split=protocol.train_split,
                    momentum=protocol.momentum, nesterov=protocol.nesterov,
                    tempo_augment=protocol.tempo_augment, random_state=seed,
                    device=device, **(feature_params or {}))
    shifted = dict(sorted((shifted or {}).items()))
    for factor, X_factor in shifted.items():
        if len(X_factor) != len(y):
            raise ValueError(f"shifted[{factor!r}] holds {len(X_factor)} tracks, X {len(y)}")
    data_hash = "".join(data_digest(np.asarray(a)) for a in (X, *shifted.values()))
    fingerprint_settings = {**record_settings(settings), "cv": protocol.cv,
                            "n_folds": protocol.n_folds}
    if shifted:
        fingerprint_settings["tempo_shifts"] = list(shifted)
    tasks, records = [], []
    for repeat in range(repeats):
        folds = make_folds(y, groups, protocol.n_folds, protocol.cv, seed, repeat)
        for name, hop in runs_of(protocol, models):
            for fold, (train, test) in enumerate(folds):
                path = fold_file(out_dir, name, hop, repeat, fold)
                key = fingerprint(name, hop, repeat, fold, train, test, y, fingerprint_settings,
                                  data_hash)
                if path.exists():
                    records.append(read_fold_record(path, fingerprint=key,
                                                    out_dir=out_dir))
                else:
                    tasks.append((name, hop, repeat, fold, train, test, key))
    if not tasks:
        return records
    n_jobs = jobs_for_device(n_jobs, device)
    if resolve_device(device) == "cpu" and any(MODELS[t[0]].filterbank for t in tasks):
        # compiled once here (and cached for the workers): no fit's time holds the compile
        from ..nn import prepare_kernels

        prepare_kernels(notify=say if progress else None)
    display = FitProgress(tasks, len(records), protocol, X.shape[2], n_jobs, progress)
    jobs = (delayed(_run_fold)(name, hop, repeat, fold, train, test, X, y, settings, key,
                               threads, display.epochs, shifted)
            for name, hop, repeat, fold, train, test, key in tasks)
    try:
        with workers_die_with_this_process():
            for record, fitted in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs):
                records.append(store_fold(out_dir, record, fitted))
                display.finished(records[-1])
    finally:
        display.close()
    return records


def jobs_for_device(n_jobs, device):
    """One job on a CUDA device (fits would compete for the GPU), ``n_jobs`` otherwise."""
    if not str(resolve_device(device)).startswith("cuda") or n_jobs in (None, 1):
        return n_jobs
    warnings.warn(
        f"n_jobs={n_jobs} ignored on device {device!r}: fits on one GPU run one at a time",
        UserWarning,
        stacklevel=3,
    )
    return 1


def make_protocol(protocol="quick", *, models=None, n_folds=None, cv=None, max_epochs=None,
                  n_per_class=None, tempo_shifts=None, tempo_augment=None):
    """A :class:`Protocol` by name (or as given) with some of its values replaced.

    Parameters
    ----------
    protocol : str or Protocol
        A key of :data:`PROTOCOLS`, or a protocol.
    models, n_folds, cv, max_epochs, n_per_class : optional
        Replace the protocol's values when given.
    tempo_shifts : sequence of float or None
        Replaces the protocol's tempo factors of the robustness test (``()``:
        no test).
    tempo_augment : (float, float), "default" or None
        Tempo augmentation of the CNNs: a range of factors, or
        ``"default"`` for :data:`DEFAULT_TEMPO_AUGMENT`; None keeps the
        protocol's (none).

    Returns
    -------
    protocol : Protocol

    Examples
    --------
    >>> make_protocol("quick", n_folds=5).n_folds
    5
    """
    if isinstance(protocol, str):
        if protocol not in PROTOCOLS:
            raise OptionError("protocol", protocol, f"choose from {', '.join(PROTOCOLS)}")
        protocol = PROTOCOLS[protocol]
    if models:
        models = check_model_names(models)
    if cv not in (None, *CV_SCHEMES):
        raise OptionError("cv", cv, f"choose {', '.join(map(repr, CV_SCHEMES))}")
    for name, value, least in (("n_folds", n_folds, 2), ("max_epochs", max_epochs, 1),
                               ("n_per_class", n_per_class, 1)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < least):
            need = ("an integer of at least 2 (cross-validation needs two folds or more)"
                    if least == 2 else "a positive integer")
            raise OptionError(name, value, f"expected {need}")
    if tempo_shifts is not None:
        tempo_shifts = tuple(sorted(set(check_tempo_factors(tempo_shifts, "tempo_shifts")
                                        if tempo_shifts else ()) - {1.0}))
    tempo_augment = resolve_tempo_augment(tempo_augment)
    return replace(protocol, models=tuple(models or protocol.models),
                   n_folds=n_folds or protocol.n_folds, cv=cv or protocol.cv,
                   max_epochs=max_epochs or protocol.max_epochs,
                   n_per_class=n_per_class or protocol.n_per_class,
                   tempo_shifts=protocol.tempo_shifts if tempo_shifts is None else tempo_shifts,
                   tempo_augment=tempo_augment or protocol.tempo_augment)


def compare(data="embedded", *, protocol="quick", out_dir="skrhythm-results", models=None,
            n_folds=None, cv=None, max_epochs=None, n_per_class=None, tempo_shifts=None,
            tempo_augment=None, repeats=1, seed=0, device="cpu", n_jobs=1, threads=None,
            resume=False, confusion=(), progress=True, verbose=True):
    """Run the architecture comparison and write its results to a run folder.

    What ``skrhythm compare`` does: check the run folder (locked for this
    run; a folder holding results is refused without ``resume``, and resumed
    only with the options it was run with), read or generate the data,
    compute the log-mel features (cached in ``out_dir/cache``), and those
    of the same tracks at the tempo factors of the robustness test, run
    every (model, hop, repeat, fold) with :func:`run_comparison` (finished
    folds are kept in ``out_dir/folds``), and write ``config.json``,
    ``results.csv``, ``results.json``, ``results.md`` (:func:`write_tables`)
    and the plots (:func:`write_plots`). Every file is written atomically.

    Parameters
    ----------
    data : str, default="embedded"
        ``"embedded"`` (a generated ballroom-style set), ``"ballroom:PATH"``,
        ``"extended-ballroom:PATH"`` or ``"folder:PATH"``.
    protocol : str or Protocol, default="quick"
        ``"quick"`` (minutes on a laptop CPU) or ``"paper"`` (10 folds, every
        model, both hops, up to 250 epochs).
    out_dir : path, default="skrhythm-results"
    models, n_folds, cv, max_epochs, n_per_class : optional
        Replace the protocol's values (see :func:`make_protocol`).
    tempo_shifts : sequence of float or None, default=None
        Tempo factors of the robustness test (None: the protocol's, 0.92
        and 1.08; ``()``: no test): every fit also predicts its test tracks
        played that much slower or faster, and the tables give each model's
        accuracy there and its drop (:func:`skrhythm.stats.tempo_drops`).
    tempo_augment : (float, float), "default" or None, default=None
        Train the CNNs with tempo augmentation over this range of factors
        (``"default"``: :data:`DEFAULT_TEMPO_AUGMENT`); None: without, as
        the paper.
    repeats : int, default=1
        Repetitions of the cross-validation, with fold seeds ``seed + r``.
    seed : int, default=0
    device : {"cpu", "cuda", "auto"}, default="cpu"
    n_jobs : int or None, default=1
        Fits run in parallel (joblib).
    threads : int or None, default=None
        torch threads per fit; ``None``: one when ``n_jobs`` runs several fits
        at a time, else torch's default. Recorded in ``config.json`` with the
        git commit of the skrhythm checkout (``None`` when there is none).
    resume : bool, default=False
        Continue the run in ``out_dir``.
    confusion : sequence of str, default=()
        Models (of the run) whose confusion matrices are also drawn, as
        ``confusion/MODEL_hopHOP.png``; every model's counts are written as
        CSV there, and the most accurate CNN's picture as
        ``confusion_matrix.png``, in any case.
    progress : bool, default=True
        Progress bars in a terminal, one line per fit elsewhere.
    verbose : bool, default=True
        Print what the run does, and the results table, to stderr.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``table`` (:func:`summarize`), ``records`` (per fold, see
        :func:`run_comparison`) and ``config`` (what ``config.json`` holds).

    Raises
    ------
    ValueError
        For an invalid option, before any data are read.
    FileExistsError
        If ``out_dir`` holds results and ``resume`` is false.
    RunFolderError
        If ``resume`` meets a run of other options, or a damaged file.
    RunFolderLocked
        If another process runs on ``out_dir``.
    KeyboardInterrupt
        On Ctrl-C; the finished folds are kept, the interrupted fits write nothing.
    """
    from sklearn.utils import Bunch

    protocol = make_protocol(protocol, models=models, n_folds=n_folds, cv=cv,
                             max_epochs=max_epochs, n_per_class=n_per_class,
                             tempo_shifts=tempo_shifts, tempo_augment=tempo_augment)
    kind, _ = parse_data_spec(data)
    check_run_options(device=device, n_jobs=n_jobs, threads=threads, repeats=repeats)
    confusion = tuple(confusion)
    if set(confusion) - set(protocol.models):
        raise OptionError("confusion", ",".join(confusion), "name models of the run: "
                          f"{', '.join(protocol.models)}")
    problem = grouping_problem(kind, protocol.cv)  # (list_data checks it too, later)
    if problem:
        raise OptionError("cv", protocol.cv, problem)
    threads = default_threads(n_jobs, threads)
    report = say if verbose else (lambda message: None)
    out_dir = Path(out_dir)
    problem = unwritable(out_dir, folder=True)
    if problem:
        raise OptionError("out_dir", out_dir, problem)
    with run_folder_lock(out_dir), workers_die_with_this_process():
        info = run_info(protocol, data=data, seed=seed, device=device, n_jobs=n_jobs,
                        feature_params=FEATURE_PARAMS, repeats=repeats, threads=threads)
        check_run_folder(out_dir, info, resume)
        try:
            table, records, statistics = _compare(
                data, protocol, out_dir, info, report, seed=seed, repeats=repeats,
                device=device, n_jobs=n_jobs, threads=threads, confusion=confusion,
                progress=progress, verbose=verbose)
        except KeyboardInterrupt:
            done = len(list((out_dir / "folds").glob("*.json")))
            raise KeyboardInterrupt(
                f"interrupted: {done} finished fold results are kept in {out_dir} (the "
                "interrupted fits wrote nothing); continue with the same options and "
                "resume=True") from None
    report("\n" + markdown_table(table))
    if statistics is not None and len(statistics["tempo"]):
        report("\n" + tempo_markdown(statistics["tempo"]))
    if statistics is not None:
        report("\n" + statistics["claims"]["summary"])
    report(f"\nResults, configuration and plots in {out_dir}/ (results.csv, results.json, "
        "results.md, accuracy_vs_params.png, ...)")
    return Bunch(table=table, records=records, config=info)


def _compare(data, protocol, out_dir, info, report, *, seed, repeats, device, n_jobs, threads,
             confusion, progress, verbose):
    """The comparison in a locked, checked run folder: data, features, fits, tables, plots."""
    listing = list_data(data, n_per_class=protocol.n_per_class, duration=protocol.duration,
                        seed=seed, n_jobs=n_jobs, cv=protocol.cv)
    check_folds(listing, n_folds=protocol.n_folds, cv=protocol.cv, seed=seed,
                repeats=repeats, train_split=protocol.train_split, protocol=protocol.name)
    info["folds"] = describe_grouping(protocol.cv, listing.groups)
    report(f"skrhythm compare: protocol {protocol.name!r}: {len(protocol.models)} models, "
           f"{protocol.n_folds} folds ({info['folds']}) x {repeats} repeat(s), up to "
           f"{protocol.max_epochs} epochs, hops {'/'.join(map(str, protocol.hops))}; "
           f"data {data}; {info['threads']} torch thread(s) per fit")
    if protocol.name == "quick":
        report("  (quick protocol: fewer models, folds, epochs and tracks than the paper; "
               "--protocol paper runs the full comparison)")
    X, y, groups, description = comparison_features(
        data, protocol=protocol, seed=seed, cache_dir=out_dir / "cache", n_jobs=n_jobs,
        progress=progress and verbose, listing=listing)
    info["data_description"] = description
    info["n_tracks"] = len(y)
    write_json_atomic(out_dir / "config.json", info)
    report(f"  {len(y)} tracks, {len(set(y))} classes; features {X.shape[1]} bands x "
           f"{X.shape[2]} frames")
    shifted = {}
    for factor in protocol.tempo_shifts:
        shifted[factor] = comparison_features(
            data, protocol=protocol, seed=seed, cache_dir=out_dir / "cache",
            n_jobs=n_jobs, progress=progress and verbose, tempo=factor)[0]
    if shifted:
        report(f"  tempo-robustness test: every fit also predicts its test tracks at tempo "
               f"x{', x'.join(f'{f:g}' for f in shifted)}")
    records = run_comparison(X, y, protocol=protocol, out_dir=out_dir, groups=groups,
                             repeats=repeats, seed=seed, device=device, n_jobs=n_jobs,
                             threads=threads, resume=True, feature_params=FEATURE_PARAMS,
                             progress=progress, shifted=shifted)
    table = summarize(records)
    statistics = comparison_statistics(records) if protocol.n_folds * repeats > 1 else None
    table = write_tables(table, out_dir, info, statistics)
    write_plots(table, records, out_dir, statistics, data_name=description,
                tempo_ranges=class_tempo_ranges(listing.y, listing.tempo), confusion=confusion)
    return table, records, statistics


def check_run_options(*, device="cpu", n_jobs=1, threads=None, repeats=1):
    """Check the run options a comparison or a fit takes; raise ValueError naming the bad one.

    ``device="cuda"`` (or ``"cuda:N"``) is refused when CUDA is not available.
    """
    if not (device in ("cpu", "auto") or str(device).startswith("cuda")):
        raise OptionError("device", device, "choose 'cpu', 'cuda' or 'auto'")
    try:
        resolve_device(device)
    except ValueError as exc:
        raise OptionError("device", device, str(exc).split(" requested but ")[-1]) from None
    for name, value, least in (("n_jobs", n_jobs, None), ("threads", threads, 1),
                               ("repeats", repeats, 1)):
        if value is None and name != "repeats":
            continue
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (
                value == 0 if least is None else value < least):
            need = "a non-zero integer" if least is None else "a positive integer"
            raise OptionError(name, value, f"expected {need}")


def default_threads(n_jobs, threads):
    """torch threads per fit: ``threads``, else 1 when fits run in parallel, else None."""
    if threads is not None:
        return threads
    return 1 if effective_jobs(n_jobs) > 1 else None
