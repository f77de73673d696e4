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
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from skconvexrelu import ConvexThreeLayerRegressor, _validation
from skconvexrelu._validation import (
    BadScalingWarning,
    available_memory_bytes,
    check_cvxpy_size,
    check_feature_scale,
    check_fit_result,
    check_targets_finite,
    densify,
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
def test_sparse_X_fits_as_the_dense_X(kind, solver, fmt):
    """A sparse X (a one-hot encoder's output) is made dense: the same network, the same
    predictions from sparse and dense rows."""
    X, y = _data(kind)
    X = np.where(np.abs(X) < 0.5, 0.0, X)  # mostly zeros, as one-hot columns are
    Xs = sp.csr_matrix(X).asformat(fmt)
    dense = _est(kind, solver).fit(X, y)
    sparse = _est(kind, solver).fit(Xs, y)
    assert sparse.objective_ == pytest.approx(dense.objective_, rel=1e-12)
    np.testing.assert_array_equal(sparse.predict(Xs), dense.predict(X))
    np.testing.assert_array_equal(dense.predict(Xs), dense.predict(X))


def test_sparse_X_with_nan_raises(kind, solver):
    X, y = _data(kind)
    Xs = sp.csr_matrix(X)
    Xs.data[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        _est(kind, solver).fit(Xs, y)


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


def test_densify(monkeypatch):
    X = np.arange(6.0).reshape(2, 3)
    assert densify(X) is X
    dense = densify(sp.csr_matrix(X))
    assert isinstance(dense, np.ndarray)
    np.testing.assert_array_equal(dense, X)

    def no_memory(self, *args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(sp.csr_matrix, "toarray", no_memory)
    with pytest.raises(MemoryError, match="2 x 3 is made dense .* fewer features"):
        densify(sp.csr_matrix(X))


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


# ------------------------------------------------- standardized data never warns


def test_standardized_breast_cancer_does_not_warn():
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import StandardScaler

    Z = StandardScaler().fit_transform(load_breast_cancer().data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BadScalingWarning)
        check_feature_scale(Z)
    assert _validation.features_standardized(Z)
    assert not _validation.features_standardized(load_breast_cancer().data)


@pytest.mark.parametrize(
    "column",
    [np.full(60, 0.1), 5 + 1e-14 * np.sin(np.arange(60)), 1e5 + 1e-9 * np.sin(np.arange(60))],
    ids=["constant", "constant-up-to-round-off", "large-constant"],
)
def test_standardized_constant_column_does_not_warn(column):
    """StandardScaler leaves a constant column as round-off (values of 1e-16 to 1e-9):
    that column must not make standardized data look badly scaled."""
    from sklearn.preprocessing import StandardScaler

    X = np.random.default_rng(0).standard_normal((60, 3))
    Z = StandardScaler().fit_transform(np.c_[X, column])
    assert 0 < _validation._column_scales(Z)[-1] < 1e-8  # the round-off is there
    with warnings.catch_warnings():
        warnings.simplefilter("error", BadScalingWarning)
        check_feature_scale(Z)
    # with a bias column of ones, as in the program's features
    assert _validation.features_standardized(np.c_[Z, np.ones(60)])


# ----------------------------------------------- convergence warnings that help


def _program(X, dtype=np.float64):
    from types import SimpleNamespace

    Xt = np.c_[X, np.ones(len(X))].astype(dtype)
    return SimpleNamespace(Xt=Xt, advice_rows=Xt, dtype=np.dtype(dtype))


def _standard(n=50, d=4):
    return np.random.default_rng(0).standard_normal((n, d))


def _ipm_message(status, X, dtype=np.float64):
    from types import SimpleNamespace

    from skconvexrelu.solvers.ipm._run import InteriorPointRun

    run = SimpleNamespace(
        n_iter=17, tol=1e-6, status=status, program=_program(X, dtype),
        dtype=np.dtype(dtype), max_time=5.0, max_iter=200,
    )  # fmt: skip
    return InteriorPointRun._stop_message(run, 3e-3)


def _first_order_message(status, X, dtype=np.float64):
    from types import SimpleNamespace

    from skconvexrelu.solvers.first_order._solver import _warn_early_stop
    from skconvexrelu.solvers.settings import FirstOrderSettings

    limits = SimpleNamespace(tol=1e-6, max_iter=300, max_time=5.0)
    with pytest.warns(ConvergenceWarning) as rec:
        _warn_early_stop(status, 120, 3e-3, limits, FirstOrderSettings(), _program(X, dtype))
    assert len(rec) == 1
    return str(rec[0].message)


MESSAGES = {"ipm": _ipm_message, "first-order": _first_order_message}


@pytest.mark.parametrize("which", list(MESSAGES))
@pytest.mark.parametrize("status", ["stalled", "numerical_error"])
def test_stall_on_standardized_data_advises_beta_not_scaling_or_iterations(which, status):
    if which == "first-order" and status == "numerical_error":
        pytest.skip("the first-order method has no numerical_error stop")
    msg = MESSAGES[which](status, _standard())
    assert status in msg and "3.00e-03" in msg
    assert "larger beta" in msg
    low = msg.lower()
    for wrong in ("standardize the features", "max_iter", "increase tol", "not the limit"):
        assert wrong not in low, (wrong, msg)


@pytest.mark.parametrize("which", ["ipm", "first-order"])
def test_stall_advice_follows_the_data(which):
    raw = _standard() * np.array([1.0, 100.0, 1e-2, 5.0]) + 30.0
    msg = MESSAGES[which]("stalled", raw)
    assert "standardize the features" in msg and "StandardScaler" in msg
    msg = MESSAGES[which]("stalled", _standard(), np.float32)
    assert "float64" in msg and "standardize the features" not in msg


@pytest.mark.parametrize("which", ["ipm", "first-order"])
@pytest.mark.parametrize("status, limit", [("max_iter", "max_iter"), ("max_time", "max_time")])
def test_limit_stops_name_the_limit_and_one_action(which, status, limit):
    msg = MESSAGES[which](status, _standard())
    assert f"Increase {limit}." in msg
    other = "max_time" if limit == "max_iter" else "max_iter"
    assert f"increase {other}" not in msg.lower()
    assert "tol;" not in msg and " or tol" not in msg
    assert "standardize" not in msg.lower()


def test_conditioning_advice_order():
    X = _standard()
    assert "float64" in _validation.conditioning_advice(X, np.float32)
    assert "standardize" in _validation.conditioning_advice(X * 1e3, np.float64)
    assert "larger beta" in _validation.conditioning_advice(X, np.float64)


def _force_inaccurate(monkeypatch):
    """Every cvxpy solve ends "optimal_inaccurate", with cvxpy's own warning."""
    import cvxpy as cp

    original = cp.Problem.solve

    def solve(self, *args, **kwargs):
        value = original(self, *args, **kwargs)
        self._status = cp.OPTIMAL_INACCURATE
        warnings.warn(
            "Solution may be inaccurate. Try another solver, ...", UserWarning, stacklevel=2
        )
        return value

    monkeypatch.setattr(cp.Problem, "solve", solve)


def test_cvxpy_inaccurate_gives_one_warning_of_ours(monkeypatch):
    pytest.importorskip("cvxpy")
    _force_inaccurate(monkeypatch)
    X, y = _data("regressor")
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        reg = ConvexThreeLayerRegressor(solver="cvxpy", beta=1e-2, **TINY).fit(X, y)
    texts = [str(r.message) for r in rec]
    assert not any("Solution may be inaccurate" in t for t in texts), texts
    ours = [r for r in rec if issubclass(r.category, ConvergenceWarning)]
    ours = [r for r in ours if "cvxpy" in str(r.message)]
    assert len(ours) == 1, texts
    msg = str(ours[0].message)
    assert "optimal_inaccurate" in msg and "To make the program easier" in msg
    assert np.all(np.isfinite(reg.predict(X)))
