"""Training models on a whole data set and saving them with their model cards.

:func:`train_models` is what ``skrhythm train`` does: list the data and check
everything that can be checked before any audio is read, compute the log-mel
features once, fit each model behind a :class:`~skrhythm.LogMelTransformer`,
score it on the validation tracks it held out (and on them played slower and
faster), and save it with its model card (:mod:`._card`).
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import numpy as np

from .._cnn_base import resolve_device
from .._spec import (
    MODELS,
    OptionError,
    check_model_names,
    check_tempo_factors,
    parse_data_spec,
    resolve_tempo_augment,
)
from .._store import all_or_none, atomic_write, unwritable
from ..parallel import limit_torch_threads
from ._card import model_card
from ._compare import check_run_options, make_model
from ._data import list_data, transform_with_bar
from ._progress import say

__all__ = ["CARD_SUFFIX", "MODEL_SUFFIXES", "card_path", "model_paths", "train_models"]

#: Suffixes of the model files :func:`skrhythm.persistence.save_model` writes.
MODEL_SUFFIXES = (".skops", ".joblib", ".pkl", ".pickle")

#: What a model card's file name ends in, beside its model file.
CARD_SUFFIX = ".card.md"

#: Fewest tracks of a class that :func:`train_models` accepts without a warning.
FEW_TRACKS = 5

#: Seconds of each track the models are trained on (the Ballroom excerpts' length).
DURATION = 30.0


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during a fit; its message says what was kept."""


def card_path(model_path):
    """The model card's file beside a model file: ``o+p.skops`` -> ``o+p.card.md``."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.stem + CARD_SUFFIX)


def model_paths(models, out):
    """The file each model is saved to: ``out``, with ``{model}`` replaced by its name.

    Raises :class:`OptionError` naming ``out`` when the files could not be
    written (a suffix :func:`~skrhythm.persistence.save_model` does not know,
    a folder in the way, a parent that cannot be written, several models and
    no ``{model}``); folders that do not exist yet are created when saving.
    """
    def refuse(problem):
        raise OptionError("out", out, problem)

    if len(models) > 1 and "{model}" not in str(out):
        refuse(f"with several models ({', '.join(models)}) the file name must hold {{model}}, "
               "replaced by each model's name, e.g. 'models/{model}.skops'")
    paths = {name: Path(str(out).replace("{model}", name)) for name in models}
    for path in paths.values():
        if path.suffix.lower() not in MODEL_SUFFIXES:
            refuse(f"a model file ends in .skops (safe to share), .joblib or .pkl, not "
                   f"{path.suffix or 'no suffix'!r}")
        problem = unwritable(path)  # folders that do not exist yet are made
        if problem:
            refuse(problem)
    return paths


def _validation_fraction(y, fraction, report):
    """``train_split`` of the CNNs: ``fraction`` when every class can give tracks, else None."""
    _, counts = np.unique(y, return_counts=True)
    n_valid = int(np.ceil(fraction * len(y)))
    if fraction and counts.min() >= 2 and len(counts) <= n_valid <= len(y) - len(counts):
        return fraction
    if fraction:
        report(f"  note: too few tracks to hold out {fraction:g} of them for validation with "
               "every class in both parts; the accuracy shown is on the training patches only")
    return None


def train_models(data="embedded", models=("o+p",), *, out=None, hop=80, max_epochs=None,
                 tempo_augment="default", valid=0.2, tempo_shifts=(0.85, 0.92, 1.08, 1.15),
                 n_per_class=12, seed=0, device="cpu", n_jobs=1, threads=None, verbose=True):
    """Fit models on a whole data set, score them on held-out tracks and save them with cards.

    What ``skrhythm train`` does. Everything that can be checked is checked
    before any audio is read (the options, the output files, the data's
    listing and labels); the log-mel features are computed once for all
    models. Each model is a ``Pipeline([("logmel", LogMelTransformer),
    ("model", estimator)])`` that takes audio files or waveforms, as
    :func:`skrhythm.inference.predict_recordings` and ``skrhythm predict``
    use it. The CNNs hold out ``valid`` of the tracks (stratified, as
    :meth:`~skrhythm.MusicCNNClassifier.validation_split` tells) and keep the
    weights of their best validation epoch; those tracks then give the
    model's validation accuracy, mean and per-class recall, and its accuracy
    with the tracks played at each of ``tempo_shifts``. Each saved model
    carries its model card (:func:`skrhythm.persistence.read_card`), also
    written beside it as ``NAME.card.md`` (:func:`card_path`); a model file
    and its card appear together or not at all.

    Parameters
    ----------
    data : str, default="embedded"
        ``"embedded"`` (the generated ballroom-style set: a demonstration,
        which the output and the card say), ``"ballroom:PATH"``,
        ``"extended-ballroom:PATH"`` or ``"folder:PATH"``.
    models : sequence of str, default=("o+p",)
        Keys of :data:`~skrhythm.experiments.MODELS`; each is trained on its own.
    out : str, path-like or None, default=None
        Where to save: a file ending in ``.skops`` (safe to share), ``.joblib``
        or ``.pkl``, holding ``{model}`` when there are several models
        (``"models/{model}.skops"``); None: nothing is written.
    hop : int, default=80
        Patch hop of the CNNs in frames.
    max_epochs : int or None, default=None
        Training epochs of the CNNs; None: each model's own default.
    tempo_augment : (float, float), "default", "none" or None, default="default"
        Tempo augmentation of the CNNs (see
        :func:`~skrhythm.experiments.resolve_tempo_augment`): by default they
        train over :data:`~skrhythm.experiments.DEFAULT_TEMPO_AUGMENT`, so
        that they learn rhythms rather than tempos.
    valid : float, default=0.2
        Fraction of the tracks held out for validation (0: none).
    tempo_shifts : sequence of float, default=(0.85, 0.92, 1.08, 1.15)
        Tempo factors at which the validation tracks are played again and
        predicted, for the card; ``()``: none.
    n_per_class : int, default=12
        Tracks per class of the embedded data.
    seed : int, default=0
        Seeds the embedded data, the validation split and the models: the
        same seed gives the same models, bitwise.
    device : {"cpu", "cuda", "auto"}, default="cpu"
    n_jobs : int, default=1
        Tracks generated, decoded and transformed in parallel.
    threads : int or None, default=None
        torch threads of the fits; None: torch's default.
    verbose : bool, default=True
        Say what is done (and every epoch of the CNNs) on stderr.

    Returns
    -------
    result : sklearn.utils.Bunch
        ``models`` (``{name: fitted pipeline}``), ``paths`` (``{name: model
        file}``, empty without ``out``), ``cards`` (``{name: Markdown}``) and
        ``runs`` (``{name: what the card was written from}``, see
        :func:`skrhythm.experiments.model_card`).

    Raises
    ------
    OptionError
        For an invalid option or output file, or labels that ``skrhythm
        predict`` could not write, before any audio is read.
    KeyboardInterrupt
        On Ctrl-C; the models saved before it are kept, the interrupted one
        is not written.

    Examples
    --------
    >>> result = train_models(models=("tempo",), n_per_class=2, tempo_shifts=(),
    ...                       verbose=False)  # doctest: +SKIP
    >>> result.models["tempo"].predict(["song.wav"])  # doctest: +SKIP
    """
    from sklearn.pipeline import Pipeline
    from sklearn.utils import Bunch

    from ..features import LogMelTransformer
    from ..inference import RESERVED_NAMES
    from ..nn import prepare_kernels
    from ..persistence import save_model
    from ..training import show_epochs

    report = say if verbose else (lambda message: None)
    models = check_model_names(models)
    paths = model_paths(models, out) if out is not None else {}
    if isinstance(hop, bool) or not isinstance(hop, int) or hop < 1:
        raise OptionError("hop", hop, "expected a positive integer")
    if isinstance(valid, bool) or not isinstance(valid, (int, float)) or not 0 <= valid < 1:
        raise OptionError("valid", valid, "expected a fraction in [0, 1)")
    augment = resolve_tempo_augment(tempo_augment)
    tempo_shifts = check_tempo_factors(tempo_shifts, "tempo_shifts") if tempo_shifts else ()
    check_run_options(device=device, n_jobs=n_jobs, threads=threads)
    kind, _ = parse_data_spec(data)
    listing = list_data(data, n_per_class=n_per_class, duration=DURATION, seed=seed,
                        n_jobs=n_jobs)
    y = listing.y
    classes, counts = np.unique(y, return_counts=True)
    clash = sorted(set(map(str, classes)) & set(RESERVED_NAMES))
    if clash:
        raise OptionError("data", data, (
            f"the labels {', '.join(clash)} are names of the columns 'skrhythm predict' writes "
            f"({', '.join(RESERVED_NAMES)}), so the model's predictions could not be written; "
            "rename those folders"))
    report(f"skrhythm train: {', '.join(models)} on {listing.description}: {len(y)} tracks, "
           f"{len(classes)} classes")
    if kind == "embedded":
        report("  note: the embedded data are generated rhythms, not recordings: a model of them "
               "is a demonstration and does not transfer to real music; train on your own "
               "recordings with --data folder:PATH")
    few = [f"{c} ({n})" for c, n in zip(classes, counts) if n < FEW_TRACKS]
    if few:
        report(f"  warning: classes with fewer than {FEW_TRACKS} tracks: {', '.join(few)}; the "
               "model will hardly learn them")
    inputs = listing.audio(verbose)
    logmel = LogMelTransformer(duration=DURATION)
    X = transform_with_bar(logmel.set_params(n_jobs=n_jobs), inputs, verbose)
    logmel.set_params(n_jobs=None)
    fraction = _validation_fraction(y, valid, report)
    # the CNNs' validation tracks (one split for all: same labels, fraction and seed)
    valid_index = np.arange(0)
    networks = [name for name in models if MODELS[name].network]
    if fraction and networks:
        valid_index = make_model(networks[0], hop, train_split=fraction,
                                 random_state=seed).validation_split(y)[1]
    held_out = [inputs[i] for i in valid_index] if tempo_shifts else []
    del inputs  # the embedded data's waveforms: 5 MB a track
    if resolve_device(device) == "cpu" and any(MODELS[name].filterbank for name in models):
        prepare_kernels(notify=lambda message: report(f"  {message}..."))
    result = Bunch(models={}, paths=paths, cards={}, runs={})
    for name in models:
        model = make_model(name, hop, max_epochs=max_epochs, train_split=fraction,
                           random_state=seed, device=device, tempo_augment=augment)
        restore = show_epochs(model, report, prefix=f"  {name}: ") if verbose else None
        report(f"{name} ({MODELS[name].label}):")
        try:
            with limit_torch_threads(threads) if threads else nullcontext():
                model.fit(X, y)
        except KeyboardInterrupt:
            kept = f", nothing was saved to {paths[name]}" if name in paths else ""
            raise TrainingInterrupted(f"interrupted: training of {name} stopped{kept}") from None
        if restore is not None:
            restore(model)  # the saved model holds no progress display
        pipeline = Pipeline([("logmel", logmel), ("model", model)])
        run = _describe(name, model, pipeline, X, y, paths.get(name),
                        data=listing.description, embedded=kind == "embedded", hop=hop,
                        augment=augment, fraction=fraction, valid=valid_index,
                        held_out=held_out, tempo_shifts=tempo_shifts, seed=seed, device=device,
                        report=report)
        card = model_card(run)
        result.models[name], result.cards[name], result.runs[name] = pipeline, card, run
        if name in paths:
            _save(pipeline, card, paths[name], save_model)
            report(f"  saved to {paths[name]} (model card: {card_path(paths[name])})")
    return result


def _save(pipeline, card, path, save_model):
    """The model and its card beside it, both or neither."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with all_or_none():
        save_model(pipeline, path, card=card)
        with atomic_write(card_path(path), "w", encoding="utf-8") as f:
            f.write(card)


def _describe(name, model, pipeline, X, y, path, *, data, embedded, hop, augment, fraction,
              valid, held_out, tempo_shifts, seed, device, report):
    """What the model card says of one fitted model (see :func:`model_card`).

    ``valid`` indexes the validation tracks of the CNNs, ``held_out`` their
    audio (for the tempo-robustness figures).
    """
    import sklearn
    import torch

    from .. import __version__
    from ..robustness import tempo_robustness
    from ..stats import class_recall, mean_recall

    classes, counts = np.unique(y, return_counts=True)
    spec = MODELS[name]
    recipe = {"model": f"{spec.label} ({name})"}
    if spec.network:
        recipe.update({
            "patch hop (frames)": hop,
            "epochs": f"{len(model.history_)} run of {model.max_epochs}",
            "optimizer": (f"{model.optimizer.__name__}, learning rate {model.lr:g}"
                          + (f", {'Nesterov ' if model.nesterov else ''}momentum "
                             f"{model.momentum:g}" if model.momentum else "")),
            "tempo augmentation": (f"x{augment[0]:g} to x{augment[1]:g}" if augment
                                   else "none"),
            "validation": (f"{fraction:g} of the tracks held out, best epoch kept"
                           if fraction else "none"),
        })
    recipe.update({"seed": seed, "device": device})
    evaluation = training_accuracy = None
    if spec.network and fraction:
        y_valid = y[valid]
        predicted = model.predict(X[valid])
        evaluation = {"n_tracks": len(valid),
                      "accuracy": float(np.mean(predicted == y_valid)),
                      "mean_recall": mean_recall(y_valid, predicted),
                      "recall": {str(c): r for c, r in
                                 class_recall(y_valid, predicted, classes).items()},
                      "tempo": []}
        if tempo_shifts:
            table = tempo_robustness(pipeline, held_out, y_valid, factors=tempo_shifts)
            evaluation["tempo"] = [(row.factor, row.accuracy) for row in table.itertuples()
                                   if row.factor != 1.0]
        shifts = ", ".join(f"x{f:g} {a:.3f}" for f, a in evaluation["tempo"])
        report(f"  {name}: on {len(valid)} validation tracks: accuracy "
               f"{evaluation['accuracy']:.3f}, mean recall {evaluation['mean_recall']:.3f}"
               + (f"; at tempo {shifts}" if shifts else ""))
    else:
        training_accuracy = float(np.mean(model.predict(X) == y))
        report(f"  {name}: training accuracy {training_accuracy:.3f}")
    return {
        "name": name, "file": path.name if path is not None else None, "data": data,
        "embedded": embedded, "counts": {str(c): int(n) for c, n in zip(classes, counts)},
        "recipe": recipe, "params": getattr(model, "n_params_", None),
        "evaluation": evaluation, "training_accuracy": training_accuracy,
        "versions": {"skrhythm": __version__, "torch": str(torch.__version__),
                     "scikit-learn": sklearn.__version__},
    }
