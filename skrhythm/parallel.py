"""Worker processes and torch threads under process parallelism (joblib, dask).

torch runs each process's operations on as many threads as the machine has
cores. When several fits run side by side, in joblib or dask worker
processes, each process would do so and ``n_workers * n_cores`` threads would
compete for ``n_cores`` cores, which is slower than one thread per worker.

- joblib's default ``loky`` backend (``n_jobs=...`` of a grid search) limits
  the threads of its worker processes itself, and torch follows
  (``OMP_NUM_THREADS``).
- dask workers started by a nanny (``LocalCluster(processes=True)``,
  ``dask worker``) get ``OMP_NUM_THREADS=1`` from dask's default
  ``distributed.nanny.pre-spawn-environ`` setting. Workers started another
  way, or a cluster whose configuration changes that setting, need
  :func:`limit_dask_torch_threads`.
- :func:`limit_torch_threads` limits the current process for a block of
  code, e.g. around ``joblib.parallel_backend("threading")``.

A process killed by a signal it cannot handle (SIGKILL; SIGTERM, whose
default ends Python at once) cannot stop its loky workers, which go on under
another parent: :func:`workers_die_with_this_process` has them killed with it
(Linux), as ``skrhythm`` does for every command.

Example with dask (install the ``distributed`` extra). ``LocalCluster``
starts its workers as new processes that import the main module, so a script
must create the cluster under ``if __name__ == "__main__":`` (without it, the
workers fail with ``Nanny failed to start``)::

    from dask.distributed import Client, LocalCluster
    from joblib import parallel_backend
    from skrhythm.parallel import limit_dask_torch_threads

    if __name__ == "__main__":
        cluster = LocalCluster(n_workers=4, threads_per_worker=1)
        client = Client(cluster)
        limit_dask_torch_threads(client, 1)
        with parallel_backend("dask"):
            search.fit(X, y)  # e.g. a GridSearchCV over a skrhythm pipeline
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from contextlib import contextmanager

__all__ = ["dask_backend", "limit_dask_torch_threads", "limit_torch_threads",
           "workers_die_with_this_process"]


def _check_threads(n_threads):
    if not isinstance(n_threads, int) or n_threads < 1:
        raise ValueError(f"n_threads must be a positive integer, got {n_threads!r}")


@contextmanager
def limit_torch_threads(n_threads=1):
    """Run a block with torch limited to ``n_threads`` intra-op threads.

    The previous setting is restored on exit. The setting is per process:
    it does not reach worker processes.

    Parameters
    ----------
    n_threads : int, default=1

    Examples
    --------
    >>> import torch
    >>> from skrhythm.parallel import limit_torch_threads
    >>> with limit_torch_threads(1):
    ...     torch.get_num_threads()
    1
    """
    import torch

    _check_threads(n_threads)
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _set_torch_threads(n_threads):
    import torch

    torch.set_num_threads(n_threads)


def limit_dask_torch_threads(client, n_threads=1):
    """Limit torch to ``n_threads`` threads in every current and future dask worker.

    Registers a worker setup callback, so that workers that join the cluster
    later (adaptive scaling, restarts) are limited too. With several threads
    per worker, the worker's tasks share these torch threads.

    Parameters
    ----------
    client : distributed.Client
    n_threads : int, default=1

    Examples
    --------
    Check the setting with ``client.run(torch.get_num_threads)``, which
    returns each worker's thread count.
    """
    _check_threads(n_threads)
    client.register_worker_callbacks(setup=functools.partial(_set_torch_threads, n_threads))


_PR_SET_PDEATHSIG = 1  # prctl(2) option: the signal a process gets when its parent dies


def _die_with_parent(parent):
    """Loky worker initializer: be killed when the process that started this worker dies.

    Linux only (prctl's parent-death signal); a no-op elsewhere. If the parent
    died before the signal was armed, the worker exits at once.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


@contextmanager
def dask_backend(address):
    """Run the block's joblib work on the dask.distributed scheduler at ``address``.

    What ``skrhythm compare --scheduler ADDRESS`` does: a
    :class:`distributed.Client` on the address and joblib's ``"dask"``
    backend for the block (the client is closed after it). ``None`` changes
    nothing.

    Raises
    ------
    OptionError
        Naming ``scheduler``, when the ``distributed`` extra is not installed.
    """
    if address is None:
        yield
        return
    try:
        from distributed import Client
    except ImportError:
        from ._spec import OptionError

        raise OptionError("scheduler", address, "needs the distributed extra: pip install "
                          "'skrhythm[distributed]'") from None
    import joblib

    with Client(address), joblib.parallel_backend("dask"):
        yield


@contextmanager
def workers_die_with_this_process():
    """Make the joblib (loky) worker processes of the block die when this process dies.

    A run killed with SIGKILL or SIGTERM (``timeout``, a batch scheduler, the
    OOM killer) cannot stop its loky workers itself: they would go on working
    under another parent. Inside the block, workers that joblib's default
    ``loky`` backend starts are killed when this process dies (Linux; on
    other systems they finish their task and then find no one to return it
    to). Another active backend (threads, dask) is left as it is.

    Examples
    --------
    >>> from joblib import Parallel, delayed
    >>> with workers_die_with_this_process():
    ...     Parallel(n_jobs=2)(delayed(abs)(-i) for i in range(3))
    [0, 1, 2]
    """
    from joblib import parallel_config
    from joblib.parallel import BACKENDS, get_active_backend

    backend, _ = get_active_backend()
    if type(backend) is not BACKENDS["loky"]:
        yield
        return
    kwargs = {**backend.backend_kwargs, "initializer": _die_with_parent,
              "initargs": (os.getpid(),)}
    with parallel_config(backend="loky", **kwargs):
        yield
