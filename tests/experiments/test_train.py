"""train_models: what ``skrhythm train`` does, from Python; its model cards and their figures."""

import re

import numpy as np
import pytest
from sklearn.metrics import recall_score

from skrhythm import cli, experiments
from skrhythm.datasets import write_audio_folder
from skrhythm.experiments import OptionError, card_path, train_models
from skrhythm.persistence import load_model, read_card, save_model

SR = 22050


def flat(card):
    """A card with runs of spaces as one: its tables' cells are padded to their columns."""
    return re.sub(r" +", " ", card)


@pytest.fixture(scope="module")
def dances(tmp_path_factory):
    """Clicks at two rates: 'fast' and 'slow', 6 clips each of 3 s."""
    rng = np.random.default_rng(0)
    t = np.arange(3 * SR) / SR
    waves, labels = [], []
    for label, rate in (("fast", 4.0), ("slow", 1.5)):
        for _ in range(6):
            clicks = (np.sin(2 * np.pi * rate * t + rng.uniform(0, 6)) > 0.95)
            waves.append(0.5 * clicks.astype(np.float32)
                         + 0.01 * rng.standard_normal(t.size).astype(np.float32))
            labels.append(label)
    root = tmp_path_factory.mktemp("dances")
    write_audio_folder((waves, labels), root, sr=SR)
    return root


SMALL = dict(hop=250, max_epochs=2, valid=0.34, tempo_shifts=(0.92,), verbose=False)


@pytest.fixture(scope="module")
def trained(dances, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "{model}.skops"
    return train_models(f"folder:{dances}", ("onet", "tempo"), out=out, **SMALL), out


def test_models_cards_and_files(trained):
    result, out = trained
    assert set(result.models) == {"onet", "tempo"}
    for name, path in result.paths.items():
        assert path == type(path)(str(out).replace("{model}", name)) and path.exists()
        assert card_path(path).read_text(encoding="utf-8") == result.cards[name]
        assert read_card(path) == result.cards[name]  # carried by the model file too
        model = load_model(path)
        assert list(model.classes_) == ["fast", "slow"]


def test_the_card_holds_the_figures_of_its_own_run(trained):
    result, _ = trained
    run, card = result.runs["onet"], result.cards["onet"]
    evaluation = run["evaluation"]
    model = result.models["onet"][-1]
    train, valid = model.validation_split(np.array(["fast"] * 6 + ["slow"] * 6))
    assert evaluation["n_tracks"] == len(valid) > 0 and len(train) + len(valid) == 12
    assert f"On {len(valid)} validation tracks" in card
    assert f"| accuracy | {round(evaluation['accuracy'], 4)} |" in flat(card)
    assert f"| mean recall | {round(evaluation['mean_recall'], 4)} |" in flat(card)
    assert "x0.85 to x1.18" in card  # tempo augmentation by default
    assert f"| fast | {round(evaluation['recall']['fast'], 4)} |" in flat(card)
    assert "Tempo robustness" in card
    assert [f for f, _ in evaluation["tempo"]] == [0.92]
    assert run["counts"] == {"fast": 6, "slow": 6}
    assert "Pons" in card and "@software{skrhythm" in card
    tempo_card = result.cards["tempo"]
    assert "No tracks were held out" in tempo_card and "training tracks" in tempo_card


def test_recall_agrees_with_scikit_learn(trained, dances):
    from skrhythm.datasets import load_audio_folder

    result, _ = trained
    model = result.models["onet"]
    data = load_audio_folder(dances)
    y = np.asarray(data.target)
    valid = model[-1].validation_split(y)[1]
    predicted = model.predict([data.filenames[i] for i in valid])
    evaluation = result.runs["onet"]["evaluation"]
    labels = sorted(set(y))
    assert list(evaluation["recall"].values()) == pytest.approx(
        recall_score(y[valid], predicted, labels=labels, average=None))
    assert evaluation["mean_recall"] == pytest.approx(
        recall_score(y[valid], predicted, labels=labels, average="macro"))


def test_command_line_and_library_give_bitwise_the_same_model(dances, tmp_path, capsys):
    cli_path = tmp_path / "cli.skops"
    assert cli.main(["train", "--data", f"folder:{dances}", "--model", "onet", "--hop", "250",
                     "--epochs", "2", "--valid", "0.34", "--tempo-shifts", "0.92",
                     "--out", str(cli_path)]) == 0
    err = capsys.readouterr().err
    assert "model card" in err and "validation tracks" in err
    result = train_models(f"folder:{dances}", ("onet",), out=tmp_path / "lib.skops", **SMALL)
    a, b = load_model(cli_path)[-1], result.models["onet"][-1]
    state_a, state_b = a.net_.module_.state_dict(), b.net_.module_.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert np.array_equal(state_a[key].numpy(), state_b[key].numpy()), key
    assert (a.mean_, a.std_) == (b.mean_, b.std_)


def test_augmentation_is_the_default_and_none_turns_it_off(dances, tmp_path):
    result = train_models(f"folder:{dances}", ("onet",), **{**SMALL, "tempo_shifts": ()})
    assert result.models["onet"][-1].tempo_augment == experiments.DEFAULT_TEMPO_AUGMENT
    plain = train_models(f"folder:{dances}", ("onet",), tempo_augment="none",
                         **{**SMALL, "tempo_shifts": ()})
    assert plain.models["onet"][-1].tempo_augment is None
    assert "| tempo augmentation | none |" in flat(plain.cards["onet"])
    assert "may have learned the styles' tempos" in plain.cards["onet"]


def test_a_model_without_a_card_loads_and_predicts(trained, tmp_path):
    result, _ = trained
    path = tmp_path / "bare.skops"
    save_model(result.models["tempo"], path)
    assert read_card(path) is None
    assert load_model(path).predict(np.zeros((1, 3 * SR), np.float32)).shape == (1,)


def test_generated_data_make_a_demonstration_and_say_so(capsys):
    result = train_models(models=("tempo",), n_per_class=2, tempo_shifts=())
    assert "A demonstration model" in result.cards["tempo"]
    assert "does not transfer to real music" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, option", [
    (dict(models=("nope",)), "models"),
    (dict(out="m.h5"), "out"),
    (dict(out="/dev/null/m.skops"), "out"),
    (dict(models=("onet", "tempo"), out="m.skops"), "out"),
    (dict(tempo_augment=(1.2, 0.8)), "tempo_augment"),
    (dict(tempo_shifts=(3.0,)), "tempo_shifts"),
    (dict(valid=1.5), "valid"),
    (dict(hop=0), "hop"),
])
def test_options_are_checked_before_any_data_are_read(kwargs, option, monkeypatch):
    from skrhythm.experiments import _train

    def no_data(*args, **kw):
        raise AssertionError("data were listed before the options were checked")

    monkeypatch.setattr(_train, "list_data", no_data)
    with pytest.raises(OptionError) as error:
        train_models(**{"verbose": False, **kwargs})
    assert error.value.option == option
