"""The paper's protocol end to end: where does the wall time of ``skrhythm compare`` go?

The question: how long does ``skrhythm compare --protocol paper`` take on a
Ballroom-sized data set of audio files, and how is that time split between
decoding and features, the fits, the predictions and the reports (and, on a
GPU, how busy is the GPU during the fits)? It writes a data set of WAV files
from the generator (Ballroom's 698 tracks in its 8 styles and class sizes, 30 s
each, 1.8 GB; ``--scale`` or ``--n-per-class`` make it smaller), runs the
comparison on it as ``folder:PATH`` data, and times each phase. The phases'
shares of the comparison's wall time are the figures; with ``--device cuda`` the
GPU's busy share (``nvidia-smi``, sampled every 0.2 s) of the fits' wall time
too. Figures go to ``benchmarks/results/end_to_end[_NAME].json``.

    python benchmarks/bench_end_to_end.py --device cuda                 # the whole protocol
    python benchmarks/bench_end_to_end.py --device cuda --models o+p --folds 2   # quick variant
    python benchmarks/bench_end_to_end.py --protocol quick --n-per-class 3 --duration 10 \\
        --models o+p --folds 2 --epochs 2 --tempo-shifts none         # a CPU check, ~1 min
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from _report import write_json

from skrhythm import experiments
from skrhythm.datasets import make_ballroom_like, write_audio_folder
from skrhythm.experiments import _compare

#: Tracks per style in Ballroom (698 in all).
BALLROOM_SIZES = {"ChaChaCha": 111, "Jive": 60, "Quickstep": 82, "Rumba": 98, "Samba": 86,
                  "Tango": 86, "VienneseWaltz": 65, "Waltz": 110}


def write_dataset(root, sizes, duration, seed, chunk=16):
    """Write ``sizes[style]`` generated tracks of each style as ``root/<style>/*.wav``.

    The generator makes every style at once; it runs ``chunk`` tracks per style
    at a time (seeds ``seed``, ``seed + 1``, ...) so that memory stays at one
    chunk, and keeps each style's first ``sizes[style]`` tracks.
    """
    root = Path(root)
    written = dict.fromkeys(sizes, 0)
    for i in range(-(-max(sizes.values()) // chunk)):
        bunch = make_ballroom_like(chunk, duration=duration, random_state=seed + i, n_jobs=-1)
        keep = [k for k, style in enumerate(bunch.target)
                if sum(1 for s in bunch.target[:k] if s == style) + written[style] < sizes[style]]
        with tempfile.TemporaryDirectory(dir=root.parent) as tmp:
            files = write_audio_folder((bunch.data[keep], bunch.target[keep]), tmp, sr=bunch.sr)
            for path in map(Path, files):
                (root / path.parent.name).mkdir(parents=True, exist_ok=True)
                path.rename(root / path.parent.name / f"chunk{i}-{path.name}")
        for style in bunch.target[keep]:
            written[style] += 1
    return sum(written.values())


class GPUBusy:
    """The GPU's utilisation (%) sampled by ``nvidia-smi`` while the block runs."""

    def __init__(self, period=0.2):
        self.period, self.samples, self._stop = period, [], threading.Event()

    def __enter__(self):
        if shutil.which("nvidia-smi"):
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu",
                                  "--format=csv,noheader,nounits", "-i", "0"],
                                 capture_output=True, text=True).stdout.strip()
            if out.isdigit():
                self.samples.append(int(out))
            self._stop.wait(self.period)

    def __exit__(self, *exc):
        self._stop.set()

    @property
    def share(self):
        return sum(self.samples) / (100 * len(self.samples)) if self.samples else None


def timed(phases, name, function):
    """``function`` that adds its wall time to ``phases[name]``."""
    def run(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - start
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", default="paper")
    parser.add_argument("--models", help="comma-separated (default: the protocol's)")
    parser.add_argument("--folds", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--tempo-shifts", default=None, help="e.g. 0.92,1.08, or none")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of Ballroom's size")
    parser.add_argument("--n-per-class", type=int, help="tracks per style instead")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--workdir", default=None, help="where the audio and the run go")
    parser.add_argument("--name", default="", help="suffix of the JSON's name")
    args = parser.parse_args()
    sizes = {s: args.n_per_class or max(1, round(n * args.scale))
             for s, n in BALLROOM_SIZES.items()}
    shifts = None if args.tempo_shifts is None else (
        () if args.tempo_shifts == "none" else tuple(map(float, args.tempo_shifts.split(","))))
    work = Path(args.workdir or tempfile.mkdtemp(prefix="skrhythm-e2e-"))
    start = time.perf_counter()
    n_tracks = write_dataset(work / "audio", sizes, args.duration, seed=0)
    writing = time.perf_counter() - start
    print(f"wrote {n_tracks} tracks of {args.duration:g} s in {writing:.0f} s", flush=True)

    phases, busy = {}, GPUBusy()
    features, run_comparison = _compare.comparison_features, _compare.run_comparison
    write_tables, write_plots = _compare.write_tables, _compare.write_plots

    def run_fits(*a, **k):
        with busy:
            return run_comparison(*a, **k)

    _compare.comparison_features = timed(phases, "decoding and features", features)
    _compare.run_comparison = timed(phases, "fits and predictions", run_fits)
    _compare.write_tables = timed(phases, "reports", write_tables)
    _compare.write_plots = timed(phases, "reports", write_plots)
    start = time.perf_counter()
    result = experiments.compare(
        f"folder:{work / 'audio'}", protocol=args.protocol, out_dir=work / "run",
        models=tuple(args.models.split(",")) if args.models else None, n_folds=args.folds,
        max_epochs=args.epochs, tempo_shifts=shifts, device=args.device, n_jobs=args.n_jobs,
        progress=False, verbose=True)
    total = time.perf_counter() - start
    fit_seconds = sum(r["fit_time"] for r in result.records)
    phases["fits"] = fit_seconds
    phases["predictions"] = phases.pop("fits and predictions") - fit_seconds
    phases["other"] = total - sum(phases.values())
    print(f"\n{n_tracks} tracks, {len(result.records)} fits: {total / 60:.1f} min")
    print("| phase | seconds | share |\n| --- | ---: | ---: |")
    for name, seconds in phases.items():
        print(f"| {name} | {seconds:.1f} | {seconds / total:.1%} |")
    if busy.share is not None:
        print(f"GPU busy {busy.share:.1%} of the fits' wall time ({len(busy.samples)} samples)")
    write_json("end_to_end" + (f"_{args.name}" if args.name else ""), {
        "command": {k: v for k, v in vars(args).items()}, "n_tracks": n_tracks,
        "n_fits": len(result.records), "writing_audio_seconds": writing,
        "compare_seconds": total, "phases_seconds": phases,
        "phase_shares": {k: v / total for k, v in phases.items()},
        "gpu_busy_share_of_fits": busy.share,
        "mean_accuracy": {f"{r.model} hop {r.hop}": r.accuracy
                          for r in result.table.itertuples()}})
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
