"""Input validation: bad data, labels and parameters give clear errors, badly scaled
features a warning, and the helpers of :mod:`skconvexrelu._validation` (feature scale,
cvxpy program size, available memory, fit results) say what is wrong.

Every estimator-level test runs on both estimators and on every solver (``_inputs``).
"""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _inputs import (  # noqa: F401  (the fixtures "kind" and "solver")
    ESTIMATORS,
    TINY,
    _data,
    _est,
    kind_fixture,
    solver_fixture,
)
from sklearn.utils._param_validation import InvalidParameterError

from skconvexrelu import ConvexThreeLayerRegressor, _validation
from skconvexrelu._validation import (
    BadScalingWarning,
    available_memory_bytes,
    check_cvxpy_size,
    check_dense,
    check_feature_scale,
    check_fit_result,
    check_targets_finite,
    estimate_cvxpy_size,
    is_constant_targets,
)
from skconvexrelu.solvers import SolverError

# ------------------------------------------------------------------ non-finite X, y


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_X_raises(kind, solver, bad):
    X, y = _data(kind)
    X[3, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        _est(kind, solver).fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_X_in_predict_raises(kind, solver, bad):
    X, y = _data(kind)
    est = _est(kind, solver).fit(X, y)
    X2 = X.copy()
    X2[0, 0] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        est.predict(X2)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_y_raises(solver, bad):
    X, y = _data("regressor")
    y[4] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        _est("regressor", solver).fit(X, y)


def test_nan_label_raises(solver):
    X, _ = _data("classifier")
    y = np.array([0.0, 1.0] * 10)
    y[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _est("classifier", solver).fit(X, y)


# ------------------------------------------------------------- shapes and labels


@pytest.mark.parametrize("shape", [(0, 3), (5, 0), (0, 0)])
def test_empty_input_raises(kind, solver, shape):
    X = np.zeros(shape)
    y = np.arange(shape[0]) % 2
    with pytest.raises(ValueError, match="sample|feature"):
        _est(kind, solver).fit(X, y)


def test_one_sample_classifier_raises(solver):
    X, y = _data("classifier", n=3)
    with pytest.raises(ValueError, match="one class"):
        _est("classifier", solver).fit(X[:1], y[:1])


@pytest.mark.parametrize("labels", [[7, 7], ["a", "a"], [True, True]])
def test_single_class_raises(solver, labels):
    X, _ = _data("classifier")
    y = np.array([labels[0]] * len(X))
    with pytest.raises(ValueError, match="one class"):
        _est("classifier", solver).fit(X, y)


def test_continuous_labels_raise(solver):
    X, y = _data("regressor")
    with pytest.raises(ValueError, match="continuous"):
        _est("classifier", solver).fit(X, y)


def test_predict_wrong_number_of_features(kind, solver):
    X, y = _data(kind)
    est = _est(kind, solver).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :2])
    with pytest.raises(ValueError):
        est.predict(X[0])  # 1-D input


# --------------------------------------------------------------------- sparse input


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_X_raises(kind, solver, fmt):
    X, y = _data(kind)
    Xs = sp.csr_matrix(X).asformat(fmt)
    with pytest.raises((TypeError, ValueError), match="dense data is required"):
        _est(kind, solver).fit(Xs, y)


def test_sparse_X_in_predict_raises(kind, solver):
    X, y = _data(kind)
    est = _est(kind, solver).fit(X, y)
    with pytest.raises((TypeError, ValueError), match="dense data is required"):
        est.predict(sp.csr_matrix(X))


# ----------------------------------------------------------------- feature scale


@pytest.mark.parametrize("scale", [1e8, 1e-8])
def test_extreme_feature_scale_warns(kind, solver, scale):
    """fit calls check_feature_scale(X) after validation."""
    X, y = _data(kind, scale=scale)
    with pytest.warns(BadScalingWarning, match="StandardScaler"):
        try:
            _est(kind, solver).fit(X, y)
        except ValueError:
            pass  # a clear refusal is fine here; the warning must come first


def test_mixed_feature_scales_warn(kind, solver):
    """One feature 1e6 times the others."""
    X, y = _data(kind)
    X[:, 2] *= 1e6
    with pytest.warns(BadScalingWarning):
        try:
            _est(kind, solver).fit(X, y)
        except ValueError:
            pass


def test_standardized_features_do_not_warn(kind, solver):
    X, y = _data(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BadScalingWarning)
        _est(kind, solver).fit(X, y)


# ------------------------------------------------------------ weights, parameters


@pytest.mark.parametrize(
    "make_sw, match",
    [
        (lambda n: -np.ones(n), "[Nn]egative"),
        (lambda n: np.r_[-1.0, np.ones(n - 1)], "[Nn]egative"),
        (lambda n: np.ones(n - 1), "shape|length|number"),
        (lambda n: np.ones(n + 1), "shape|length|number"),
        (lambda n: np.zeros(n), "non-zero|positive"),
        (lambda n: np.r_[np.nan, np.ones(n - 1)], "NaN"),
        (lambda n: np.r_[np.inf, np.ones(n - 1)], "infinity"),
        (lambda n: np.ones((n, 2)), "1D|1-d|shape|dimension"),
    ],
    ids=["all-negative", "one-negative", "short", "long", "all-zero", "nan", "inf", "2d"],
)
def test_bad_sample_weight_raises(kind, solver, make_sw, match):
    X, y = _data(kind)
    with pytest.raises(ValueError, match=match):
        _est(kind, solver).fit(X, y, sample_weight=make_sw(len(X)))


@pytest.mark.parametrize(
    "param, value",
    [
        ("beta", 0.0),
        ("beta", -1.0),
        ("beta", np.nan),
        ("beta", "big"),
        ("width", 0),
        ("width", 2.5),
        ("n_arrangements", 0),
        ("n_arrangements", -3),
        ("loss", "absolute"),
        ("solver", "gurobi"),
        ("cvxpy_solver", "NOPE"),
        ("fit_intercept", "yes"),
        ("max_iter", 0),
        ("tol", 0.0),
        ("tol", -1e-3),
        ("random_state", "seed"),
    ],
)
def test_invalid_parameters(kind, param, value):
    X, y = _data(kind)
    est = ESTIMATORS[kind](**{**TINY, param: value})
    with pytest.raises(InvalidParameterError, match=f"'{param}' parameter"):
        est.fit(X, y)
    assert issubclass(InvalidParameterError, ValueError)


def test_regressor_rejects_classification_losses():
    X, y = _data("regressor")
    for loss in ("hinge", "cross_entropy"):
        with pytest.raises(InvalidParameterError, match="'loss' parameter"):
            ConvexThreeLayerRegressor(**TINY, loss=loss).fit(X, y)


def test_multi_output_classifier_raises(solver):
    X, y = _data("classifier")
    with pytest.raises(ValueError):
        _est("classifier", solver).fit(X, np.column_stack([y, 1 - y]))


# ------------------------------------------------------- the _validation helpers


def test_check_feature_scale_thresholds():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_feature_scale(X)
        check_feature_scale(X * 100)
        check_feature_scale(X * 1e-3)
        check_feature_scale(np.zeros((5, 2)))  # nothing to judge
        check_feature_scale(np.c_[X, np.zeros(30)])  # an all-zero column is ignored
    for bad in (X * 1e8, X * 1e-8, np.c_[X[:, :2], X[:, 2] * 1e5], np.c_[X, X[:, 0] * 1e-6]):
        with pytest.warns(BadScalingWarning, match="StandardScaler"):
            check_feature_scale(bad)
    with pytest.warns(BadScalingWarning, match="1e\\+08|1.\\d+e\\+08"):
        check_feature_scale(X * 1e8)
    # huge finite values do not overflow into a crash
    with pytest.warns(BadScalingWarning):
        check_feature_scale(X * 1e300)
    assert issubclass(BadScalingWarning, UserWarning)


def test_check_feature_scale_float32():
    X = (np.random.default_rng(0).standard_normal((10, 2)) * 1e6).astype(np.float32)
    with pytest.warns(BadScalingWarning):
        check_feature_scale(X)


def test_estimate_cvxpy_size_counts_variables_and_constraints():
    # 2 P m d~ variables (plus the intercept), 2 P n (m + 1) constraints:
    # P = 20, n = 100, d~ = 10, m = 10 -> 4,000 and 44,000
    size = estimate_cvxpy_size(100, 10, 10, 20, 1)
    assert size["n_variables"] == 4000 + 1
    assert size["n_constraints"] == 44000
    size = estimate_cvxpy_size(100, 10, 10, 60, 1)
    assert size["n_constraints"] == 132000
    # the peak memory of cvxpy + Clarabel on these programs (d~ = 11, m = 10, P = 20):
    # about 0.7 GiB at n = 400 and 2.3 GiB at n = 1,600
    for n, gib in ((400, 0.7), (1600, 2.3)):
        est_gib = estimate_cvxpy_size(n, 11, 10, 20, 1)["estimated_bytes"] / 2**30
        assert gib * 0.8 <= est_gib <= gib * 2.0
    two = estimate_cvxpy_size(100, 10, 10, 20, 2)
    assert two["n_constraints"] == 2 * 44000


def test_check_cvxpy_size_limits():
    small = check_cvxpy_size(50, 4, 2, 3, available_bytes=2**34)
    assert small["n_constraints"] == 2 * 3 * 50 * 3
    with pytest.raises(ValueError, match='solver="native".*n_arrangements'):
        check_cvxpy_size(5000, 11, 10, 20, available_bytes=None)
    with pytest.raises(ValueError, match="1,100,000 constraints"):
        check_cvxpy_size(5000, 11, 10, 10, available_bytes=None)
    with pytest.raises(ValueError, match="memory"):
        check_cvxpy_size(400, 11, 10, 20, available_bytes=100 * 2**20)
    check_cvxpy_size(400, 11, 10, 20, available_bytes=None)  # no memory check
    with pytest.raises(ValueError, match="limit is 10 constraints"):
        check_cvxpy_size(50, 4, 2, 3, available_bytes=None, max_constraints=10)


def test_available_memory_bytes():
    mem = available_memory_bytes()
    assert mem is None or (isinstance(mem, int) and mem > 0)


def test_available_memory_is_the_smallest_limit_found(monkeypatch):
    monkeypatch.setattr(_validation, "_system_available", lambda: 8 * 2**30)
    monkeypatch.setattr(_validation, "_cgroup_available", lambda: 2 * 2**30)
    monkeypatch.setattr(_validation, "_rlimit_available", lambda: None)
    assert available_memory_bytes() == 2 * 2**30
    monkeypatch.setattr(_validation, "_rlimit_available", lambda: 2**30)
    assert available_memory_bytes() == 2**30
    for probe in ("_system_available", "_cgroup_available", "_rlimit_available"):
        monkeypatch.setattr(_validation, probe, lambda: None)
    assert available_memory_bytes() is None


def test_rlimit_as_soft_limit_minus_usage(monkeypatch):
    resource = pytest.importorskip("resource")
    used = _validation._address_space_used()
    if used is None:
        pytest.skip("this system does not tell the process's address space")
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    monkeypatch.setattr(resource, "getrlimit", lambda which: (used + 2**30, hard))
    left = _validation._rlimit_available()
    assert 0 < left <= 2**30
    monkeypatch.setattr(resource, "getrlimit", lambda which: (used // 2, hard))
    assert _validation._rlimit_available() == 0  # already over the limit: nothing left
    limit = resource.RLIM_INFINITY
    monkeypatch.setattr(resource, "getrlimit", lambda which: (limit, limit))
    assert _validation._rlimit_available() is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS on Linux")
def test_available_memory_sees_a_real_rlimit_as():
    """A process under ``ulimit -v`` (as batch schedulers set it) is told the room left
    under that limit, however much memory the machine has."""
    code = (
        "import resource\n"
        "from skconvexrelu._validation import _address_space_used, available_memory_bytes\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_AS)\n"
        "limit = _address_space_used() + 256 * 2**20\n"
        "resource.setrlimit(resource.RLIMIT_AS, (limit, hard))\n"
        "print(available_memory_bytes())\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert 0 < int(out.stdout) <= 256 * 2**20


def test_check_targets_finite_and_constant():
    check_targets_finite(np.arange(5.0))
    check_targets_finite(np.array(["a", "b"]))
    with pytest.raises(ValueError, match="NaN"):
        check_targets_finite(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="infinity"):
        check_targets_finite(np.array([[1.0, np.inf]]))
    assert is_constant_targets(np.full(4, 2.0))
    assert is_constant_targets(np.c_[np.ones(3), np.zeros(3)])
    assert not is_constant_targets(np.arange(3.0))


def test_check_dense():
    check_dense(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="dense data is required"):
        check_dense(sp.csr_matrix(np.eye(2)))


def test_check_fit_result():
    coefs = [np.ones((2, 2)), np.ones((2, 1)), np.ones((1, 1))]
    intercepts = [np.zeros(2), np.zeros(1), np.zeros(1)]
    check_fit_result(coefs, intercepts, 1.0, network_objective=1.0 + 1e-9)
    with pytest.raises(SolverError, match="non-finite"):
        check_fit_result([np.full((2, 2), np.nan)] + coefs[1:], intercepts, 1.0)
    with pytest.raises(SolverError, match="non-finite objective"):
        check_fit_result(coefs, intercepts, np.inf)
    with pytest.raises(SolverError, match="differs"):
        check_fit_result(coefs, intercepts, 1.0, network_objective=1.1, solver="cvxpy")


def test_cvxpy_program_too_large_raises(kind):
    """fit with solver="cvxpy" calls check_cvxpy_size before solving: 5,000 samples and
    20 configurations of width 10 make 2.2 million constraints."""
    X, y = _data(kind, n=5000)
    with pytest.raises(ValueError, match="too large.*native"):
        _est(kind, "cvxpy", width=10, n_arrangements=20).fit(X, y)
