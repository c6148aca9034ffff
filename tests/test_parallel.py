"""skrhythm.parallel: workers that die with their process, torch threads, dask."""

import ctypes
import os
import sys

import numpy as np
import pytest
import torch
from joblib import Parallel, delayed, parallel_backend, parallel_config
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.parallel import (
    limit_dask_torch_threads,
    limit_torch_threads,
    workers_die_with_this_process,
)

PR_GET_PDEATHSIG = 2


def _death_signal():
    value = ctypes.c_int()
    ctypes.CDLL(None).prctl(PR_GET_PDEATHSIG, ctypes.byref(value))
    return value.value, os.getppid()


@pytest.mark.slow
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


# -- dask ----------------------------------------------------------------------------------


distributed = pytest.importorskip(
    "distributed", reason="needs the distributed extra: pip install 'skrhythm[distributed]'"
)

CV = StratifiedKFold(2, shuffle=True, random_state=0)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None,
    ) as cluster, distributed.Client(cluster) as client:
        yield client


@pytest.fixture
def pipeline():
    return Pipeline([
        ("logmel", LogMelTransformer(sr=22050, n_fft=1024, hop_length=512, duration=None)),
        ("cnn", MusicCNNClassifier(onet_lengths=(4,), pnet_lengths=(16,), patch_frames=64,
                                   lr=0.1, max_epochs=3, filterbank="reference",
                                   random_state=0)),
    ])


def test_torch_threads_on_workers(client):
    limit_dask_torch_threads(client, 2)
    assert set(client.run(torch.get_num_threads).values()) == {2}
    limit_dask_torch_threads(client, 1)
    assert set(client.run(torch.get_num_threads).values()) == {1}
    with pytest.raises(ValueError, match="positive integer"):
        limit_dask_torch_threads(client, 0)




@pytest.mark.slow
def test_grid_search_and_cross_validation_on_dask(client, pipeline, clicks):
    audio, labels = clicks
    grid = {"cnn__n_pnet": [1, 2]}
    serial = GridSearchCV(pipeline, grid, cv=CV).fit(audio, labels)
    serial_scores = cross_val_score(pipeline, audio, labels, cv=CV)
    with distributed.get_task_stream(client) as stream, parallel_backend("dask"):
        search = GridSearchCV(pipeline, grid, cv=CV, n_jobs=-1).fit(audio, labels)
        scores = cross_val_score(pipeline, audio, labels, cv=CV, n_jobs=-1)
    # 2 candidates x 2 folds, then 2 folds, ran on the two workers
    assert len(stream.data) >= 6
    assert len({task["worker"] for task in stream.data}) == 2
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
    assert search.best_params_ == serial.best_params_
    np.testing.assert_allclose(scores, serial_scores)
