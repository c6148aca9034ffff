"""Where a result comes from: the run's configuration, software versions, git commit."""

from __future__ import annotations

import platform
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .. import __version__

__all__ = ["git_commit", "run_info"]


def git_commit():
    """Commit of the git checkout skrhythm is imported from, or None (no checkout, no git)."""
    package = Path(__file__).resolve().parents[1]  # skrhythm/
    try:
        top, commit = subprocess.run(
            ["git", "-C", str(package), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    # A package installed into some other repository's tree is not that repository's code.
    return commit if Path(top).resolve() == package.parent else None


def run_info(protocol, *, data, seed, device, n_jobs, feature_params, repeats=1, threads=None,
             extra=None):
    """The configuration and software versions of a run, for ``config.json``.

    ``threads`` records the torch threads of each fit (torch's own setting
    when ``None``); ``git_commit`` the skrhythm checkout's commit (or None).
    """
    import librosa
    import sklearn
    import skorch
    import torch

    return {
        "protocol": asdict(protocol),
        "data": data,
        "seed": seed,
        "repeats": repeats,
        "device": device,
        "n_jobs": n_jobs,
        "threads": threads or torch.get_num_threads(),
        "features": feature_params,
        "git_commit": git_commit(),
        "versions": {
            "skrhythm": __version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "skorch": skorch.__version__,
            "torch": torch.__version__,
            "librosa": librosa.__version__,
        },
        "platform": platform.platform(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **(extra or {}),
    }
