"""How long one ``skrhythm predict model.skops clip.wav`` takes, against ``import torch``.

The question: does a user who predicts one 30-s clip per process wait about
as long as Python takes to import torch? The script trains a small O-net +
P-net with ``skrhythm train`` (2 tracks per class, 2 epochs: the weights do not
matter here), writes a 30-s clip of the generated data, and times whole
processes, interleaved so that both see the same machine load:

- ``import torch``: ``python -c "import torch"``, the floor;
- ``first call``: ``skrhythm predict`` with an empty numba cache (a fresh
  ``NUMBA_CACHE_DIR``), as right after installing: the kernel is compiled, and
  the command says so;
- ``later call``: the same command once the kernel is cached;
- ``full load``: a later call through ``load_model`` (scikit-learn, skorch and
  skops), as every model other than a saved O-net / P-net pipeline takes.

Each figure is the median over ``--repeats`` runs (the first call: one run);
peak memory (max RSS) comes with it. Figures go to
``benchmarks/results/predict_startup.json`` with their provenance.

Run::

    python benchmarks/bench_predict_startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import write_json

FULL_LOAD = ("import sys; import skrhythm._saved_model as m; m.read_saved_cnn = lambda p: None; "
             "from skrhythm import cli; sys.exit(cli.main(sys.argv[1:]))")


def timed(argv, env=None):
    """Wall seconds and peak RSS (MiB) of one process; its stderr."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{err}")
    return seconds, usage.ru_maxrss / 1024, err


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--out", help="JSON file (default benchmarks/results/...)")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model, clip = tmp / "model.skops", tmp / "clip.wav"
        subprocess.run([python, "-m", "skrhythm.cli", "train", "--model", "o+p",
                        "--n-per-class", "2", "--epochs", "2", "--out", str(model)],
                       check=True, capture_output=True)
        subprocess.run([python, "-c", "import soundfile as sf; "
                        "from skrhythm.datasets import make_ballroom_like; "
                        "d = make_ballroom_like(n_per_class=1, random_state=5); "
                        f"sf.write({str(clip)!r}, d.data[3], 44100)"], check=True)
        predict = [python, "-m", "skrhythm.cli", "predict", str(model), str(clip)]
        fresh = {**os.environ, "NUMBA_CACHE_DIR": str(tmp / "numba-cache")}
        first, first_rss, first_err = timed(predict, fresh)
        runs = {"import torch": [], "later call": [], "full load": []}
        for _ in range(args.repeats):
            runs["import torch"].append(timed([python, "-c", "import torch"]))
            runs["later call"].append(timed(predict, fresh))
            runs["full load"].append(timed([python, "-c", FULL_LOAD, *predict[3:]], fresh))
    floor = statistics.median(s for s, _, _ in runs["import torch"])
    figures = {"first call": {"seconds": first, "peak_mib": first_rss,
                              "announced": "preparing skrhythm's CPU kernels" in first_err}}
    for name, samples in runs.items():
        seconds = [s for s, _, _ in samples]
        figures[name] = {"seconds": statistics.median(seconds), "min": min(seconds),
                         "max": max(seconds),
                         "peak_mib": statistics.median(r for _, r, _ in samples)}
    print(f"{'':12} {'median s':>9} {'range s':>13} {'x import torch':>15} {'peak MiB':>9}")
    for name, f in figures.items():
        spread = f"{f.get('min', f['seconds']):.2f}-{f.get('max', f['seconds']):.2f}"
        print(f"{name:12} {f['seconds']:9.2f} {spread:>13} {f['seconds'] / floor:15.2f} "
              f"{f['peak_mib']:9.0f}")
    print(f"first call announced the compile: {figures['first call']['announced']}")
    write_json("predict_startup", {
        "repeats": args.repeats,
        "ratio_later_call": figures["later call"]["seconds"] / floor,
        "ratio_first_call": first / floor,
        "ratio_full_load": figures["full load"]["seconds"] / floor,
        "figures": figures}, args.out)


if __name__ == "__main__":
    main()
