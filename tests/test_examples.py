"""Every example runs (in its fast mode) and prints its result."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"
EXPECTED = {
    "quick_start.py": "track accuracy",
    "grid_search_filters.py": "best:",
    "compare_baselines.py": "Rhythm descriptor + SVM",
    "plot_filters.py": "held-out track accuracy",
    "ballroom.py": "track accuracy",
    "tempo_robustness.py": "tempo-augmented (tempo_augment=(0.85, 1.18)):",
}


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("[!_]*.py")) == sorted(EXPECTED)


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_example_runs(script, tmp_path):
    env = {**os.environ, "SKRHYTHM_EXAMPLES_FAST": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert EXPECTED[script] in result.stdout
    if script == "ballroom.py":  # without a path it says that its data are generated
        assert "GENERATED audio" in result.stdout
    assert not list(tmp_path.glob("*.png")), "plots belong in a folder, not the working directory"
    check = SAYS.get(script)
    if check is not None:
        check(result.stdout)


def _accuracies(text, label):
    return [float(m) for m in re.findall(rf"{label}:? (0\.\d+)", text)]


def _worst_drops(text):
    """The worst drop of each table tempo_robustness printed (plain, then augmented)."""
    drops = []
    for block in text.split("tempo_augment=")[1:]:
        rows = [line.split() for line in block.splitlines()[2:] if line.strip()[:1].isdigit()]
        drops.append(max(float(row[2]) for row in rows))
    return drops


def _well_above_chance(label):
    def check(text):
        values = _accuracies(text, label)
        assert values and min(values) > 0.3, f"{label} {values}: chance is 0.125"
    return check


def _augmentation_keeps_accuracy(text):
    plain, augmented = _worst_drops(text)
    assert plain > augmented + 0.1, (plain, augmented)  # what the page's prose says


#: What each example's fast mode must show, as its page's prose says it: results well above
#: chance (0.125), and the tempo-augmented model losing less than the plain one.
SAYS = {
    "quick_start.py": _well_above_chance("track accuracy"),
    "plot_filters.py": _well_above_chance("held-out track accuracy"),
    "ballroom.py": _well_above_chance("track accuracy"),
    "tempo_robustness.py": _augmentation_keeps_accuracy,
}
