"""Grid search and cross-validation of a skrhythm pipeline on a dask cluster."""

import numpy as np
import pytest
import torch
from joblib import parallel_backend
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline

from skrhythm import LogMelTransformer, MusicCNNClassifier
from skrhythm.parallel import limit_dask_torch_threads, limit_torch_threads

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


def test_limit_torch_threads_restores_the_setting():
    before = torch.get_num_threads()
    with limit_torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


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
