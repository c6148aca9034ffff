"""What every benchmark writes beside its figures: where, when and with what they were measured."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def provenance():
    """Machine, software versions and the skrhythm commit of a measurement."""
    import numpy
    import torch

    import skrhythm

    try:
        commit = subprocess.run(["git", "-C", str(Path(__file__).parent), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
    except OSError:
        commit = ""
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in
                   Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpu": cpu or platform.processor(), "cores": os.cpu_count(),
                    "platform": platform.platform(),
                    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "versions": {"skrhythm": skrhythm.__version__, "python": platform.python_version(),
                     "numpy": numpy.__version__, "torch": torch.__version__},
        "git_commit": commit or None,
    }


def write_json(name, figures, out=None):
    """Write ``figures`` with their provenance to ``benchmarks/results/NAME.json`` (or ``out``)."""
    path = Path(out) if out else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"benchmark": name, "provenance": provenance(), **figures},
                               indent=1, default=float) + "\n")
    print(f"figures written to {path}")
    return path
