"""The default fit of the estimators: ``arrangements="trained"`` with ``solver="auto"``
(a seed network trained by Adam, then a budgeted first-order solve from its point),
``beta="auto"`` relative to the spread of the target, and ``verbose=1``'s one line per
phase (``skconvexrelu._base``, ``skconvexrelu._fit``, ``skconvexrelu._regressor``).
"""

import warnings

import numpy as np
import pytest
from _inputs import _assert_consistent
from sklearn.datasets import make_blobs
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skconvexrelu import ConvexThreeLayerClassifier, ConvexThreeLayerRegressor
from skconvexrelu.solvers.settings import SeedSettings


def _features(n=60, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return StandardScaler().fit_transform(rng.standard_normal((n, d))), rng


def _regression(n=60, seed=0):
    X, rng = _features(n, seed=seed)
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 0.1 * rng.standard_normal(n)
    return X, y


def _binary():
    X, _ = _features()
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


def _three_classes():
    X, y = make_blobs(60, 3, centers=3, cluster_std=2.0, random_state=0)
    return StandardScaler().fit_transform(X), y


DEFAULT_CASES = {
    "regressor": (ConvexThreeLayerRegressor, _regression),
    "binary": (ConvexThreeLayerClassifier, _binary),
    "three-classes": (ConvexThreeLayerClassifier, _three_classes),
}


# ------------------------------------------------------------- the default fit


@pytest.mark.parametrize("case", list(DEFAULT_CASES))
def test_default_fit_polishes_the_seed_network_quietly(case):
    cls, data = DEFAULT_CASES[case]
    X, y = data()
    est = cls(random_state=0)
    assert est.arrangements == "trained" and est.solver == "auto"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # standardized data: no warning at all
        est.fit(X, y)
    assert est.solver_ == "native:al-fista"
    assert est.solver_status_ in ("optimal", "budget")
    # the seed network is a feasible point: the fit is never worse
    assert est.nonconvex_objective_ is not None
    assert est.objective_ <= est.nonconvex_objective_ + 1e-12
    # objective_ is the objective of the network in coefs_ / intercepts_ with beta_
    _assert_consistent(est, X, y, rtol=1e-6)


def test_default_fit_is_deterministic_with_a_random_state():
    X, y = _regression()
    one = ConvexThreeLayerRegressor(random_state=3).fit(X, y)
    two = ConvexThreeLayerRegressor(random_state=3).fit(X, y)
    assert one.objective_ == two.objective_
    np.testing.assert_array_equal(one.predict(X), two.predict(X))


# ------------------------------------------------------------ target scale

SCALE_CASES = {
    "default": {},
    "random-cvxpy": dict(
        beta=1e-2, arrangements="random", solver="cvxpy", width=3, n_arrangements=5
    ),
}


@pytest.mark.parametrize("c", [1e3, 1e-3])
@pytest.mark.parametrize("case", list(SCALE_CASES))
def test_regressor_is_equivariant_to_the_target_scale(case, c):
    params = dict(random_state=0, **SCALE_CASES[case])
    X, y = _regression()
    base = ConvexThreeLayerRegressor(**params).fit(X, y)
    scaled = ConvexThreeLayerRegressor(**params).fit(X, c * y)
    pred = base.predict(X)
    np.testing.assert_allclose(
        scaled.predict(X), c * pred, rtol=1e-6, atol=1e-9 * c * np.abs(pred).max()
    )
    assert base.target_scale_ == pytest.approx(np.std(y), rel=1e-12)
    assert scaled.target_scale_ == pytest.approx(c * np.std(y), rel=1e-12)
    beta = params.get("beta", 0.4 / np.sqrt(len(y)))
    for est in (base, scaled):
        assert est.beta_ == pytest.approx(beta * est.target_scale_, rel=1e-12)
    assert scaled.objective_ == pytest.approx(c**2 * base.objective_, rel=1e-6)
    _assert_consistent(scaled, X, c * y, rtol=1e-6)


def test_classifier_target_scale_is_one():
    X, y = _binary()
    clf = ConvexThreeLayerClassifier(random_state=0).fit(X, y)
    assert clf.target_scale_ == 1.0
    assert clf.beta_ == pytest.approx(0.4 / np.sqrt(len(y)), rel=1e-12)


# ------------------------------------------------------------------ beta="auto"


def test_auto_beta_with_uniform_weights():
    X, y = _regression(n=40)
    reg = ConvexThreeLayerRegressor(random_state=0).fit(X, y)
    assert reg.beta == "auto"
    assert reg.beta_ == pytest.approx(0.4 / np.sqrt(40) * reg.target_scale_, rel=1e-12)


def test_auto_beta_uses_the_effective_number_of_weighted_samples():
    X, y = _regression(n=40)
    sw = np.random.default_rng(1).uniform(0.2, 2.0, 40)
    reg = ConvexThreeLayerRegressor(random_state=0).fit(X, y, sample_weight=sw)
    w = sw / sw.sum()
    n_eff = 1.0 / np.sum(w**2)
    assert n_eff < 40 - 1  # far enough from n that the two differ
    scale = np.sqrt(w @ (y - w @ y) ** 2)  # the weighted standard deviation
    assert reg.target_scale_ == pytest.approx(scale, rel=1e-12)
    assert reg.beta_ == pytest.approx(0.4 / np.sqrt(n_eff) * scale, rel=1e-12)


def test_seed_settings_set_the_auto_beta():
    X, y = _regression(n=40)
    options = SeedSettings(auto_beta=0.1)
    reg = ConvexThreeLayerRegressor(random_state=0, solver_options=options).fit(X, y)
    assert reg.beta_ == pytest.approx(0.1 / np.sqrt(40) * reg.target_scale_, rel=1e-12)


def test_auto_beta_falls_like_one_over_n_beyond_the_knee():
    s = SeedSettings(auto_beta=0.4, auto_beta_rows=1000)
    assert s.auto_beta_for(400) == pytest.approx(0.4 / 20, rel=1e-15)
    assert s.auto_beta_for(1000) == pytest.approx(0.4 / np.sqrt(1000), rel=1e-15)
    # continuous at the knee, then halved with each doubling of the samples
    assert s.auto_beta_for(1000 * (1 + 1e-9)) == pytest.approx(s.auto_beta_for(1000))
    assert s.auto_beta_for(4000) == pytest.approx(s.auto_beta_for(2000) / 2, rel=1e-15)
    assert s.auto_beta_for(4000) < 0.4 / np.sqrt(4000)


def test_auto_beta_of_a_fit_beyond_the_knee():
    X, y = _regression(n=60)
    options = SeedSettings(auto_beta_rows=25, polish_steps=10)
    reg = ConvexThreeLayerRegressor(random_state=0, solver_options=options).fit(X, y)
    assert reg.beta_ == pytest.approx(0.4 * 5 / 60 * reg.target_scale_, rel=1e-12)


@pytest.mark.parametrize("cls", [ConvexThreeLayerRegressor, ConvexThreeLayerClassifier])
def test_a_beta_string_other_than_auto_is_rejected(cls):
    X, y = _binary()
    with pytest.raises(InvalidParameterError, match="beta"):
        cls(beta="bogus").fit(X, y)


# ---------------------------------------------------------------------- verbose

PREFIX = "[skconvexrelu] "


def test_verbose_prints_one_line_per_phase(capsys):
    X, y = _regression()
    ConvexThreeLayerRegressor(random_state=0).fit(X, y)
    quiet = capsys.readouterr()
    assert quiet.out == "" and quiet.err == ""
    ConvexThreeLayerRegressor(random_state=0, verbose=1).fit(X, y)
    out = capsys.readouterr()
    assert out.err == ""  # no progress bars at verbose=1
    lines = out.out.splitlines()
    assert len(lines) == 3
    for line, phase in zip(lines, ["seed", "solve", "done"], strict=True):
        assert line.startswith(f"{PREFIX}{phase}: ")
        assert line.endswith(" s)")  # the time since the start of the fit


def test_verbose_reports_each_round_of_column_generation(capsys):
    X, y = _regression()
    reg = ConvexThreeLayerRegressor(random_state=0, verbose=1, column_generation=1)
    reg.fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(reg.objective_path_) == 2  # one round ran
    phases = [line[len(PREFIX) :].split(":")[0] for line in lines]
    assert phases == ["seed", "solve", "column generation round 1", "done"]


@pytest.mark.parametrize("scale, offset", [(1e8, 3e8), (1e-7, 0.0)])
def test_badly_scaled_features_still_give_a_fitted_model(scale, offset):
    """The seed network trains on standardized copies of badly scaled features and is
    mapped back (same configurations): the fit warns about the scale, and only about
    it, and still fits."""
    from skconvexrelu._validation import BadScalingWarning

    rng = np.random.default_rng(0)
    Z = rng.standard_normal((60, 3))
    y = np.sin(Z[:, 0]) + 0.5 * Z[:, 1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = ConvexThreeLayerRegressor(random_state=0).fit(Z * scale + offset, y)
    assert [w.category for w in caught] == [BadScalingWarning]
    assert reg.score(Z * scale + offset, y) > 0.9
    assert reg.objective_ <= reg.nonconvex_objective_ + 1e-12
