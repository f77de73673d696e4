"""Hyper-parameter search over beta on a dask cluster (joblib's dask backend)."""

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import joblib  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skconvexrelu import ConvexThreeLayerRegressor  # noqa: E402


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.maximum(X[:, 0], 0) - 0.5 * X[:, 1] + 0.05 * rng.normal(size=40)
    return X, y


def _search():
    pipe = make_pipeline(
        StandardScaler(),
        ConvexThreeLayerRegressor(width=3, n_arrangements=4, random_state=0),
    )
    grid = {"convexthreelayerregressor__beta": [1e-3, 1e-2, 1e-1]}
    return GridSearchCV(pipe, grid, cv=2, n_jobs=-1)


def test_grid_search_on_local_cluster():
    X, y = _data()
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        with joblib.parallel_backend("dask"):
            search = _search().fit(X, y)
    reference = _search().set_params(n_jobs=1).fit(X, y)
    assert search.best_params_ == reference.best_params_
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"]
    )
    assert search.best_estimator_[-1].n_subnetworks_ >= 0
