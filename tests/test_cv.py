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
from skconvexrelu._reconstruction import network_objective

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


# ------------------------------------------------- the default arrangements="trained"


def test_default_grid_is_centred_on_the_auto_beta():
    X, y = _regression()
    n = len(y)
    auto = 0.4 / np.sqrt(n)
    est = ConvexThreeLayerRegressor()
    assert est.arrangements == "trained"
    betas = beta_grid(est, X, y, n_betas=4)
    np.testing.assert_allclose(betas, 10 * auto * np.logspace(0, -2, 4), rtol=1e-12)
    assert np.all(np.diff(betas) < 0)
    # relative to the target's spread, so the same for any unit of y
    np.testing.assert_allclose(beta_grid(est, X, 1e3 * y, n_betas=4), betas, rtol=1e-12)
    # eps is the smallest over the largest
    betas = beta_grid(est, X, y, n_betas=3, eps=0.1)
    np.testing.assert_allclose(betas, 10 * auto * np.array([1, 0.1**0.5, 0.1]), rtol=1e-12)
    # weighted samples: the effective number of samples
    sw = np.random.default_rng(0).uniform(0.2, 2.0, n)
    w = sw / sw.sum()
    weighted = beta_grid(est, X, y, n_betas=4, sample_weight=sw)
    expected = 10 * 0.4 * np.sqrt(np.sum(w**2)) * np.logspace(0, -2, 4)
    np.testing.assert_allclose(weighted, expected, rtol=1e-12)


def test_default_cv_fit_refits_a_consistent_network():
    X, y = _regression()
    y = 3.0 * y  # a target scale other than 1
    reg = ConvexThreeLayerRegressorCV(n_betas=3, cv=3, random_state=0).fit(X, y)
    n = len(y)
    np.testing.assert_allclose(
        reg.betas_, 10 * 0.4 / np.sqrt(n) * np.logspace(0, -2, 3), rtol=1e-12
    )
    assert reg.cv_scores_.shape == (3, 3)
    assert reg.beta_ in reg.betas_
    assert reg.beta_ == reg.betas_[np.argmax(reg.cv_scores_.mean(axis=1))]
    assert reg.target_scale_ == pytest.approx(np.std(y), rel=1e-12)
    # beta_ is the chosen relative value: the refit's weight decay is beta_ * scale
    decay = reg.beta_ * reg.target_scale_
    w = np.full(n, 1.0 / n)
    obj = network_objective(reg.coefs_, reg.intercepts_, X, y[:, None], w, reg.loss_, decay)
    assert obj == pytest.approx(reg.objective_, rel=1e-6)
    ref = ConvexThreeLayerRegressor(beta=reg.beta_, random_state=0).fit(X, y)
    assert ref.beta_ == pytest.approx(decay, rel=1e-12)
    assert ref.objective_ == pytest.approx(reg.objective_, rel=1e-6)


def test_trained_path_starts_with_the_default_fit_and_goes_outwards():
    from skconvexrelu._cv import _path_order

    betas = np.logspace(1, -1, 5)
    assert _path_order(betas, trained=True) == [[2, 1, 0], [3, 4]]
    assert _path_order(betas, trained=False) == [[0, 1, 2, 3, 4]]


def test_cv_score_of_the_middle_beta_is_the_default_fit_on_the_fold():
    """The first fit of each fold's path is the fold's default fit (seed included)."""
    from sklearn.model_selection import KFold

    from skconvexrelu._cv import _path_scores

    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 3))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(80)
    inner = ConvexThreeLayerRegressor(width=3, n_arrangements=4, random_state=0)
    betas = np.array([0.3, 0.1, 0.03])
    train, test = next(KFold(3).split(X))
    scores = _path_scores(inner, X, y, None, train, test, betas, lambda e, A, b: e.score(A, b))
    plain = clone(inner).set_params(beta=0.1).fit(X[train], y[train])
    assert scores[1] == pytest.approx(plain.score(X[test], y[test]), rel=1e-12)
