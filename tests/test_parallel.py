"""skrhythm.parallel: workers that die with their process, torch threads."""

import ctypes
import os
import sys

import pytest
import torch
from joblib import Parallel, delayed, parallel_config

from skrhythm.parallel import limit_torch_threads, workers_die_with_this_process

PR_GET_PDEATHSIG = 2


def _death_signal():
    value = ctypes.c_int()
    ctypes.CDLL(None).prctl(PR_GET_PDEATHSIG, ctypes.byref(value))
    return value.value, os.getppid()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_loky_workers_get_a_death_signal_nested_or_not():
    with workers_die_with_this_process():
        with workers_die_with_this_process():  # compare() inside the command line's block
            inner = Parallel(n_jobs=2)(delayed(_death_signal)() for _ in range(2))
        outer = Parallel(n_jobs=2)(delayed(_death_signal)() for _ in range(2))
    assert set(inner) == set(outer) == {(9, os.getpid())}  # SIGKILL when this process dies


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
def test_other_backends_and_loky_settings_are_left_alone():
    with parallel_config(backend="threading"), workers_die_with_this_process():
        assert Parallel(n_jobs=2)(delayed(os.getpid)() for _ in range(2)) == [os.getpid()] * 2
    with parallel_config(backend="loky", idle_worker_timeout=5), workers_die_with_this_process():
        from joblib.parallel import get_active_backend

        backend, _ = get_active_backend()
        assert backend.backend_kwargs["idle_worker_timeout"] == 5


def test_limit_torch_threads_restores_the_setting():
    before = torch.get_num_threads()
    with limit_torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="positive integer"):
        with limit_torch_threads(0):
            pass
