"""What a user sees of a comparison's fits: bars in a terminal, else a line per fit."""

from __future__ import annotations

import os
import sys

from .._spec import MODELS

__all__ = ["EpochBar", "FitProgress", "effective_jobs", "say"]


def say(message):
    """Print a line of the run's account to stderr."""
    print(message, file=sys.stderr, flush=True)


def effective_jobs(n_jobs):
    """Number of workers joblib runs for ``n_jobs`` (None: 1; -1: every core)."""
    if n_jobs is None:
        return 1
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return n_jobs


class EpochBar:
    """Sink of :class:`skrhythm.training.EpochProgress` that moves a bar of epochs.

    Shared, not copied, by the estimators that copy their callbacks.
    """

    def __init__(self, bar):
        self.bar = bar

    def __deepcopy__(self, memo):
        return self

    def reset(self, description, total):
        self.bar.reset(total=total)
        self.bar.set_description_str(f"  {description}")

    def __call__(self, line):
        self.bar.update()
        self.bar.set_postfix_str(line.split(", ", 1)[-1])


class FitProgress:
    """What the user sees of the fits: bars in a terminal, else one line per finished fit.

    The time left is estimated fit by fit from the cost of the fit's own
    model and hop (:meth:`skrhythm._spec.ModelSpec.prior_cost`) at the
    seconds per unit of cost measured over every fit so far, divided by the
    workers. One fit that ran faster or slower than its cost says (a busy
    machine) moves the estimate by its share of all the timed fits, not by
    the whole weight of its model.
    """

    def __init__(self, tasks, n_done, protocol, n_frames, n_jobs, enabled):
        self.cost = {(t[0], t[1]): MODELS[t[0]].prior_cost(t[1], protocol.max_epochs, n_frames)
                     for t in tasks}
        self.left = {}
        for task in tasks:
            self.left[task[:2]] = self.left.get(task[:2], 0) + 1
        self.seconds = self.timed_cost = 0.0
        self.done, self.total = n_done, n_done + len(tasks)
        self.workers = effective_jobs(n_jobs)
        self.enabled = enabled
        self.bar = self.epochs = None
        if enabled and sys.stderr.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, initial=n_done, unit="fit", dynamic_ncols=True,
                            desc="models x folds",
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                                       "[{elapsed}{postfix}]")
            if self.workers == 1:
                self.epochs = EpochBar(tqdm(total=protocol.max_epochs, unit="epoch",
                                             position=1, leave=False, dynamic_ncols=True))

    def seconds_left(self):
        """Estimated seconds until the last fit ends, or None before any fit is timed."""
        if not self.timed_cost:
            return None
        rate = self.seconds / self.timed_cost
        return rate * sum(self.cost[k] * n for k, n in self.left.items()) / self.workers

    def finished(self, record):
        key = (record["model"], record["hop"])
        self.seconds += record["fit_time"]
        self.timed_cost += self.cost[key]
        self.left[key] -= 1
        self.done += 1
        if not self.enabled:
            return
        rep = f" repeat {record['repeat']}" if record["repeat"] else ""
        what = (f"{record['model']} hop {record['hop'] or '-'}{rep} fold {record['fold']}: "
                f"accuracy {record['accuracy']:.3f}")
        left = self.seconds_left()
        eta = "" if left is None or self.done == self.total else f", about {_duration(left)} left"
        if self.bar is None:
            print(f"[{self.done}/{self.total}] {what} ({record['fit_time']:.1f} s){eta}",
                  file=sys.stderr, flush=True)
            return
        self.bar.set_postfix_str(f"last: {what}{eta}")
        self.bar.update()

    def close(self):
        if self.epochs is not None:
            self.epochs.bar.close()
        if self.bar is not None:
            self.bar.close()


def _duration(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
