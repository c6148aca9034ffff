"""Telling a user's Ctrl-C from a callback that ends training.

skorch ends training quietly when a ``KeyboardInterrupt`` reaches its fit loop:
that is how its ``EarlyStopping`` and :class:`skrhythm.training.PaperLRSchedule`
stop. A real SIGINT raised inside the loop would be swallowed the same way,
and an interrupted fit would look finished. :func:`propagate_sigint` records
SIGINTs received while its block runs and raises ``KeyboardInterrupt`` once
the block returns, so a user's interrupt always leaves the fit as one.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager

__all__ = ["propagate_sigint"]


@contextmanager
def propagate_sigint():
    """Raise ``KeyboardInterrupt`` after the block if a SIGINT arrived during it.

    The SIGINT handler in force (Python's default raises ``KeyboardInterrupt``)
    is still called; a SIGINT counts when that handler raises
    ``KeyboardInterrupt``. Signal handlers can only be set in the main
    thread: elsewhere (threaded backends) the block runs unchanged, and the
    signal reaches the main thread anyway. Ignored or C-level handlers are
    left alone.
    """
    previous = (
        signal.getsignal(signal.SIGINT)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    if not callable(previous):  # SIG_IGN, SIG_DFL, None (set outside Python), other threads
        yield
        return
    received = []

    def on_sigint(signum, frame):
        try:
            previous(signum, frame)
        except KeyboardInterrupt:
            received.append(signum)
            raise

    signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
