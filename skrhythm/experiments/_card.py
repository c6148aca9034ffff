"""The model card of a trained model: what a person receiving the model file needs to know.

:func:`model_card` writes it in the format of :class:`skops.card.Card`
(Markdown sections), from what :func:`skrhythm.experiments.train_models`
knows of the training run: the classes and their training counts, the data
source, the model and its recipe (tempo augmentation included), its scores
on the held-out validation tracks (accuracy, mean and per-class recall), how
it holds up when those tracks are played slower and faster, the versions,
what it is for and not for, and how to cite it.
"""

from __future__ import annotations

from .. import __version__
from .._spec import MODELS

__all__ = ["CITATION", "model_card"]

#: How to cite skrhythm and the paper it implements (BibTeX).
CITATION = f"""\
@software{{skrhythm,
  author = {{{{the skrhythm developers}}}},
  title = {{skrhythm: musically motivated CNNs for rhythm classification, as scikit-learn
           estimators}},
  version = {{{__version__}}},
  year = {{2026}}
}}

@inproceedings{{pons2017designing,
  author = {{Pons, Jordi and Serra, Xavier}},
  title = {{Designing efficient architectures for modeling temporal features with
           convolutional neural networks}},
  booktitle = {{IEEE International Conference on Acoustics, Speech and Signal Processing
               (ICASSP)}},
  year = {{2017}}
}}"""

_FAMILIES = {
    "skrhythm.classifier:MusicCNNClassifier": (
        "a single-layer CNN of 1-by-n time filters over 40-band log-mel spectrograms (Pons & "
        "Serra, ICASSP 2017): O-net filters (6 to 41 frames) model onsets, P-net filters (46 "
        "to 216 frames) rhythm patterns. It scores every window of 250 frames (5.8 s) of a "
        "recording and takes the majority vote of its windows"),
    "skrhythm.baselines:BaselineCNNClassifier": (
        "a CNN baseline of Pons, Lidy & Serra (CBMI 2016) over 40-band log-mel "
        "spectrograms. It scores every window of 250 frames (5.8 s) of a recording and takes "
        "the majority vote of its windows"),
    "skrhythm.rhythm:make_rhythm_descriptor_pipeline": (
        "a non-deep baseline: a scale-invariant rhythm descriptor of the whole recording "
        "(onset autocorrelation and its scale transform) classified by an SVM"),
    "skrhythm.rhythm:make_tempo_pipeline": (
        "a tempo-only baseline: the recording's tempo features classified by an SVM; it "
        "tells styles apart by their tempo alone"),
}


def _points(value):
    return f"{100 * value:+.1f}"


def model_card(run):
    """The Markdown model card of one trained model.

    Parameters
    ----------
    run : dict
        What the training run knows of the model: ``name`` (a key of
        :data:`~skrhythm.experiments.MODELS`), ``file`` (the model file's
        name or None), ``data`` (the source's description), ``embedded``
        (bool: the generated data), ``counts`` (``{class: training
        tracks}``), ``recipe`` (``{setting: value}``, shown as a table),
        ``params`` (trainable parameters or None), ``evaluation`` (None, or
        ``n_tracks``, ``accuracy``, ``mean_recall``, ``recall`` (``{class:
        recall}``) and ``tempo`` (``[(factor, accuracy)]``) of the
        validation tracks), ``training_accuracy`` (float or None) and
        ``versions`` (``{library: version}``).

    Returns
    -------
    card : str
        Markdown, as :meth:`skops.card.Card.render` writes it.
    """
    from skops.card import Card

    spec = MODELS[run["name"]]
    card = Card(model=None, template=None)
    size = f" with {run['params']:,} trainable parameters" if run.get("params") else ""
    description = (f"**{spec.label}** (`{run['name']}`), trained with skrhythm "
                   f"{__version__}: {_FAMILIES[spec.factory]}{size}. It classifies a recording "
                   f"into one of the {len(run['counts'])} styles it was trained on.")
    if run["embedded"]:
        description += (
            "\n\n**A demonstration model.** It was trained on skrhythm's generated "
            "ballroom-style data (synthetic drum and accompaniment patterns), not on "
            "recordings, and does not transfer to real music: it gives a confident style to "
            "speech or to any instrument. Train a model of your own recordings with "
            "`skrhythm train --data folder:PATH` (one sub-folder per style).")
    card.add(**{"Model description": description})
    card.add(**{"Model description/Intended uses & limitations": _limitations(run)})
    card.add_table(
        description=(f"Source: {run['data']}; {sum(run['counts'].values())} tracks of "
                     f"{len(run['counts'])} classes."),
        **{"Model description/Training data": {
            "class": list(run["counts"]), "training tracks": list(run["counts"].values())}})
    card.add_table(**{"Model description/Training procedure": {
        "setting": list(run["recipe"]), "value": [str(v) for v in run["recipe"].values()]}})
    _add_evaluation(card, run)
    card.add_table(**{"Model description/Software": {
        "library": list(run["versions"]), "version": list(run["versions"].values())}})
    card.add(**{"How to use": _how_to_use(run)})
    card.add(**{"Citation": (
        "If you publish results of this model, cite skrhythm (`CITATION.cff` in its "
        "repository) and the paper it implements:\n\n```bibtex\n" + CITATION + "\n```")})
    return card.render()


def _limitations(run):
    augment = run["recipe"].get("tempo augmentation", "none")
    lines = [
        f"- It knows these styles only: {', '.join(map(str, run['counts']))}. It never "
        "answers \"none of these\": any input gets one of them, so use it on dance music of "
        "these styles.",
        "- It hears rhythm, not the dance: recordings whose rhythm section differs from the "
        "training data's (another era, production or genre) may be misjudged.",
    ]
    if augment == "none":
        lines.append("- Trained without tempo augmentation: it may have learned the styles' "
                     "tempos rather than their rhythms (see the tempo-robustness figures), and "
                     "misjudge a style played outside its usual tempo range.")
    else:
        lines.append(f"- Trained with tempo augmentation ({augment}): it learned the styles' "
                     "rhythms across that range of tempos, not their tempos alone.")
    few = [f"{c} ({n})" for c, n in run["counts"].items() if n < 5]
    if few:
        lines.append(f"- Classes with fewer than 5 training tracks, hardly learned: "
                     f"{', '.join(few)}.")
    return "\n".join(lines)


def _add_evaluation(card, run):
    evaluation = run.get("evaluation")
    section = "Model description/Evaluation Results"
    if evaluation is None:
        trained = run.get("training_accuracy")
        text = ("No tracks were held out of training, so there are no held-out figures"
                + (f"; accuracy on its own training tracks: {trained:.3f} (says nothing of "
                   "new recordings)." if trained is not None else "."))
        card.add(**{section: text})
        return
    card.add_metrics(
        section=section,
        description=(f"On {evaluation['n_tracks']} validation tracks held out of training. They "
                     "chose the epoch whose weights the model keeps, so these figures are "
                     "somewhat optimistic; cross-validation (`skrhythm compare`) gives "
                     "unbiased ones. Mean recall is the mean of the per-class recalls (every "
                     "class counts the same, however many tracks it has)."),
        accuracy=round(evaluation["accuracy"], 4),
        **{"mean recall": round(evaluation["mean_recall"], 4)})
    card.add_table(**{f"{section}/Recall per class": {
        "class": list(evaluation["recall"]),
        "recall": [round(r, 4) for r in evaluation["recall"].values()]}})
    if evaluation.get("tempo"):
        base = evaluation["accuracy"]
        card.add_table(
            description=("The validation tracks played slower and faster (time-stretched by a "
                         "phase vocoder, pitch kept): a model of the styles' rhythms keeps its "
                         "accuracy, one of their tempos loses it."),
            **{f"{section}/Tempo robustness": {
                "tempo": [f"x{f:g}" for f, _ in evaluation["tempo"]],
                "accuracy": [round(a, 4) for _, a in evaluation["tempo"]],
                "change (points)": [_points(a - base) for _, a in evaluation["tempo"]]}})


def _how_to_use(run):
    name = run.get("file") or "model.skops"
    return (
        "From the command line, the style of whole recordings from all their windows:\n\n"
        f"```bash\nskrhythm predict {name} song.mp3 more_songs/\n"
        f"skrhythm predict --info {name}    # this card\n```\n\n"
        "From Python:\n\n```python\nfrom skrhythm.inference import predict_recordings\n"
        "from skrhythm.persistence import load_model\n\n"
        f"model = load_model({name!r})\n"
        "print(predict_recordings(model, [\"song.mp3\"]).predictions)\n```")
