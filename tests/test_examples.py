"""Every example runs (in its fast mode) and prints its result."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"
EXPECTED = {
    "quick_start.py": "track accuracy",
    "grid_search_filters.py": "best:",
    "compare_baselines.py": "Rhythm descriptor + SVM",
    "plot_filters.py": "skrhythm-example-plots/filters.png",
    "ballroom.py": "track accuracy",
    "tempo_robustness.py": "tempo_augment=(0.85, 1.18):",
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
