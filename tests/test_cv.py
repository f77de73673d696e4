"""The cross-validated estimators and the beta path."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_regression
from sklearn.preprocessing import StandardScaler

from skconvexrelu import (
    ConvexThreeLayerClassifierCV,
    ConvexThreeLayerRegressor,
    ConvexThreeLayerRegressorCV,
)
from skconvexrelu._cv import beta_grid

SMALL = dict(width=3, n_arrangements=5, random_state=0, arrangements="random")


def _regression():
    X, y = make_regression(70, 4, noise=0.5, random_state=0)
    return StandardScaler().fit_transform(X), y / y.std()


def test_grid_starts_at_the_zero_network_and_decreases():
    X, y = _regression()
    betas = beta_grid(ConvexThreeLayerRegressor(**SMALL), X, y, n_betas=5, eps=1e-2)
    assert np.all(np.diff(betas) < 0)
    assert betas[-1] == pytest.approx(1e-2 * betas[0])
    top = ConvexThreeLayerRegressor(beta=betas[0] * 1.001, **SMALL).fit(X, y)
    assert top.n_subnetworks_ == 0


def test_regressor_cv_picks_the_best_mean_score_and_refits():
    X, y = _regression()
    reg = ConvexThreeLayerRegressorCV(n_betas=4, cv=3, **SMALL).fit(X, y)
    assert reg.cv_scores_.shape == (4, 3)
    assert reg.beta_ == reg.betas_[np.argmax(reg.cv_scores_.mean(axis=1))]
    # the refit model is the plain estimator fitted with beta_
    ref = ConvexThreeLayerRegressor(beta=reg.beta_, **SMALL).fit(X, y)
    assert reg.objective_ == pytest.approx(ref.objective_, rel=1e-6)
    np.testing.assert_allclose(reg.predict(X), ref.predict(X), rtol=1e-5, atol=1e-6)
    # the smallest beta fits this smooth target far better than the zero network
    assert reg.cv_scores_[-1].mean() > reg.cv_scores_[0].mean()


def test_explicit_betas_are_sorted_decreasing_and_validated():
    X, y = _regression()
    reg = ConvexThreeLayerRegressorCV(betas=[1e-3, 1e-1], cv=2, **SMALL).fit(X, y)
    np.testing.assert_array_equal(reg.betas_, [1e-1, 1e-3])
    with pytest.raises(ValueError, match="positive"):
        ConvexThreeLayerRegressorCV(betas=[0.1, -1.0], cv=2, **SMALL).fit(X, y)


def test_parallel_folds_give_the_same_path():
    X, y = _regression()
    one = ConvexThreeLayerRegressorCV(n_betas=3, cv=2, n_jobs=1, **SMALL).fit(X, y)
    two = clone(one).set_params(n_jobs=2).fit(X, y)
    np.testing.assert_allclose(one.cv_scores_, two.cv_scores_, rtol=1e-8)


def test_classifier_cv():
    X, y = make_blobs(80, 2, centers=3, cluster_std=2.0, random_state=0)
    clf = ConvexThreeLayerClassifierCV(n_betas=3, cv=2, **SMALL).fit(X, y)
    assert clf.cv_scores_.shape == (3, 2)
    assert set(clf.predict(X)) <= set(y)
    assert clf.predict_proba(X).shape == (80, 3)
    assert clf.score(X, y) > 0.6


def test_cv_estimators_pass_solver_options_to_every_fit():
    from skconvexrelu.solvers.settings import SolverChoiceSettings

    X, y = _regression()
    options = SolverChoiceSettings(native_size=0)  # "auto" goes native on small data
    reg = ConvexThreeLayerRegressorCV(n_betas=2, cv=2, solver_options=options, **SMALL)
    reg.fit(X, y)
    assert reg.get_params()["solver_options"] is options
    assert reg.solver_.startswith("native:")
    clf = ConvexThreeLayerClassifierCV(solver_options=options)
    assert clf._inner().solver_options is options
