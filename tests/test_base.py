"""The estimators' shared machinery (:class:`~skconvexrelu._base.BaseConvexThreeLayer`)
on awkward but valid data: shapes, label and data types, DataFrames, sample weights;
refitting, cloning, pickling, random states, and predictions that stay finite.

Every test runs on both estimators and on every solver, where it fits (``_inputs``).
"""

import pickle

import numpy as np
import pytest
from _inputs import (  # noqa: F401  (the fixtures "kind" and "solver")
    _assert_consistent,
    _data,
    _est,
    _outputs,
    kind_fixture,
    solver_fixture,
)
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from skconvexrelu import ConvexThreeLayerRegressor

# ----------------------------------------------------------------------- shapes


def test_one_sample_regression(solver):
    X, y = _data("regressor", n=1)
    est = _est("regressor", solver).fit(X, y)
    pred = est.predict(np.vstack([X, X + 1.0]))
    assert np.all(np.isfinite(pred))
    assert pred[0] == pytest.approx(y[0], abs=1e-6)
    assert est.objective_ == pytest.approx(0.0, abs=1e-8)


def test_one_feature(kind, solver):
    X, y = _data(kind, d=1)
    est = _est(kind, solver).fit(X, y)
    assert est.n_features_in_ == 1
    assert est.coefs_[0].shape[0] == 1
    _assert_consistent(est, X, y)


def test_more_features_than_samples(kind, solver):
    X, y = _data(kind, n=6, d=15)
    est = _est(kind, solver).fit(X, y)
    _assert_consistent(est, X, y)
    assert np.all(np.isfinite(_outputs(est, np.zeros((3, 15)))))


def test_duplicated_rows(kind, solver):
    """Repeating every sample leaves the (per-sample normalized) objective unchanged."""
    X, y = _data(kind)
    est1 = _est(kind, solver).fit(X, y)
    X2, y2 = np.vstack([X, X]), np.concatenate([y, y])
    est2 = _est(kind, solver).fit(X2, y2)
    _assert_consistent(est2, X2, y2)
    assert est2.objective_ == pytest.approx(est1.objective_, rel=1e-4, abs=1e-8)


def test_conflicting_duplicates(solver):
    """The same x with different targets: fits the mean, stays finite."""
    X, y = _data("regressor")
    X2, y2 = np.vstack([X, X]), np.concatenate([y, -y])
    est = _est("regressor", solver).fit(X2, y2)
    _assert_consistent(est, X2, y2)


def test_constant_features(kind, solver):
    X, y = _data(kind)
    for Xc in (np.ones_like(X), np.zeros_like(X)):
        est = _est(kind, solver).fit(Xc, y)
        _assert_consistent(est, Xc, y)


# ------------------------------------------------------------- labels and dtypes


@pytest.mark.parametrize(
    "classes",
    [
        np.array(["no", "yes"]),
        np.array(["a", "b", "c"]),
        np.array([False, True]),
        np.array([-3, 10]),
        np.array([0, 1, 2]),
        np.array([0.0, 1.0]),
        np.array(["x", "y"], dtype=object),
    ],
    ids=["str2", "str3", "bool", "int2", "int3", "float", "object"],
)
def test_label_types(solver, classes):
    X, _ = _data("classifier", n=24)
    y = classes[np.arange(len(X)) % len(classes)]
    est = _est("classifier", solver).fit(X, y)
    np.testing.assert_array_equal(est.classes_, np.unique(y))
    pred = est.predict(X)
    assert pred.dtype == np.asarray(y).dtype or pred.dtype.kind == np.asarray(y).dtype.kind
    assert set(pred.tolist()) <= set(classes.tolist())
    assert np.all(np.isfinite(est.decision_function(X)))
    proba = est.predict_proba(X)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes(kind, solver, dtype):
    X, y = _data(kind)
    X = X.astype(dtype)
    est = _est(kind, solver).fit(X, y)
    for c in est.coefs_ + est.intercepts_:
        assert c.dtype == dtype
    out = _outputs(est, X)
    assert np.all(np.isfinite(out))
    assert est.predict(X).shape == (len(X),)
    # the float32 solve may be less accurate: a looser tolerance there
    _assert_consistent(est, X, y, rtol=1e-5 if dtype == np.float64 else 1e-3)


def test_integer_X(kind, solver):
    X, y = _data(kind)
    Xi = np.round(3 * X).astype(np.int64)
    est = _est(kind, solver).fit(Xi, y)
    assert est.coefs_[0].dtype == np.float64
    _assert_consistent(est, Xi, y)


def test_dataframe_feature_names(kind, solver):
    pd = pytest.importorskip("pandas")
    X, y = _data(kind)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    est = _est(kind, solver).fit(df, pd.Series(y))
    np.testing.assert_array_equal(est.feature_names_in_, ["a", "b", "c"])
    assert np.all(np.isfinite(_outputs(est, df)))
    with pytest.warns(UserWarning, match="feature names"):
        est.predict(X)  # fitted with names, predicted without
    with pytest.raises(ValueError, match="feature names"):
        est.predict(pd.DataFrame(X, columns=["a", "c", "b"]))
    # refitting on an array forgets the names
    est.fit(X, y)
    assert not hasattr(est, "feature_names_in_")


# ------------------------------------------------------------------ sample_weight


def test_sample_weight_zeros_equal_dropping_samples(kind, solver):
    X, y = _data(kind)
    sw = np.ones(len(X))
    sw[[3, 7, 11]] = 0.0
    est = _est(kind, solver).fit(X, y, sample_weight=sw)
    keep = sw > 0
    ref = _est(kind, solver).fit(X[keep], y[keep])
    assert est.objective_ == pytest.approx(ref.objective_, rel=1e-6, abs=1e-10)
    _assert_consistent(est, X, y, sample_weight=sw)


def test_sample_weight_scaling_is_irrelevant(kind, solver):
    X, y = _data(kind)
    a = _est(kind, solver).fit(X, y)
    b = _est(kind, solver).fit(X, y, sample_weight=np.full(len(X), 7.5))
    assert b.objective_ == pytest.approx(a.objective_, rel=1e-5, abs=1e-10)


# -------------------------------------------------------- refit, clone, pickling


def test_refit_forgets_previous_fit(kind, solver):
    X3, y = _data(kind, d=3)
    X5, y5 = _data(kind, d=5, seed=1)
    est = _est(kind, solver).fit(X3, y)
    assert est.n_features_in_ == 3
    est.fit(X5, y5)
    assert est.n_features_in_ == 5
    assert est.coefs_[0].shape[0] == 5
    assert np.all(np.isfinite(_outputs(est, X5)))
    with pytest.raises(ValueError, match="features"):
        est.predict(X3)


def test_refit_changes_classes(solver):
    X, _ = _data("classifier", n=24)
    est = _est("classifier", solver).fit(X, np.array(["a", "b", "c"] * 8))
    assert est.predict_proba(X).shape == (24, 3)
    est.fit(X, np.array([5, 9] * 12))
    np.testing.assert_array_equal(est.classes_, [5, 9])
    assert est.predict_proba(X).shape == (24, 2)
    assert set(est.predict(X)) <= {5, 9}


def test_refit_regressor_1d_then_2d(solver):
    X, y = _data("regressor")
    est = _est("regressor", solver).fit(X, np.column_stack([y, -y]))
    assert est.predict(X).shape == (len(X), 2)
    est.fit(X, y)
    assert est.predict(X).shape == (len(X),)


def test_clone_is_unfitted(kind, solver):
    X, y = _data(kind)
    est = _est(kind, solver).fit(X, y)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "coefs_")
    with pytest.raises(NotFittedError):
        copy.predict(X)


def test_unfitted_predict_raises(kind, solver):
    X, _ = _data(kind)
    with pytest.raises(NotFittedError):
        _est(kind, solver).predict(X)


def test_same_random_state_is_bit_identical(kind, solver):
    X, y = _data(kind)
    a = _est(kind, solver, random_state=3).fit(X, y)
    b = _est(kind, solver, random_state=3).fit(X, y)
    for ca, cb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_, strict=True):
        np.testing.assert_array_equal(ca, cb)
    assert a.objective_ == b.objective_
    restored = pickle.loads(pickle.dumps(a))
    for ca, cr in zip(
        a.coefs_ + a.intercepts_, restored.coefs_ + restored.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(ca, cr)
    np.testing.assert_array_equal(_outputs(a, X), _outputs(restored, X))
    # and a refit of the unpickled estimator gives the same network again
    restored.fit(X, y)
    for ca, cr in zip(
        a.coefs_ + a.intercepts_, restored.coefs_ + restored.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(ca, cr)


def test_random_state_instance_is_not_reused_identically(kind, solver):
    """A RandomState instance advances: fitting twice draws new configurations."""
    X, y = _data(kind)
    rng = np.random.RandomState(0)
    est = _est(kind, solver, random_state=rng)
    est.fit(X, y)
    est.fit(X, y)  # must not crash; sampling continues from the advanced state
    assert np.all(np.isfinite(_outputs(est, X)))


# -------------------------------------------------------------- predict is sane


def test_predict_never_nan(kind, solver):
    X, y = _data(kind)
    est = _est(kind, solver).fit(X, y)
    rng = np.random.default_rng(5)
    for scale in (1e-12, 1.0, 1e3, 1e8):
        Xt = rng.standard_normal((30, X.shape[1])) * scale
        out = _outputs(est, Xt)
        assert not np.any(np.isnan(out)), scale
        assert not np.any(np.isnan(est.predict(Xt)))


def test_predict_overflow_is_not_nan(kind, solver):
    """Inputs so large that the hidden layers overflow: no NaN (inf or an error is fine)."""
    X, y = _data(kind)
    est = _est(kind, solver).fit(X, y)
    Xbig = np.random.default_rng(1).standard_normal((10, X.shape[1])) * 1e300
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            out = _outputs(est, Xbig)
    except ValueError:
        return
    assert not np.any(np.isnan(out))


# ------------------------------------------------------- more features than samples


def test_row_space_leaves_narrow_data_alone_and_keeps_the_products_of_wide_data():
    from skconvexrelu._base import row_space

    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 5))
    assert row_space(X)[1] is None
    X = rng.standard_normal((12, 40))
    Xr, basis = row_space(X)
    assert Xr.shape == (12, 12) and basis.shape == (12, 40)
    np.testing.assert_allclose(basis @ basis.T, np.eye(12), atol=1e-12)
    U = rng.standard_normal((40, 7))
    # on the row space the products and the norms are those of the reduced coordinates
    Urow = basis.T @ (basis @ U)
    np.testing.assert_allclose(X @ U, Xr @ (basis @ U), atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(Urow, axis=0), np.linalg.norm(basis @ U, axis=0))


def test_wide_fit_solves_the_same_program_as_the_full_features():
    """The program on X V has the optimum of the program on X (same configurations):
    solve the full one with cvxpy on the fitted estimator's configurations."""
    from skconvexrelu._losses import SquaredLoss
    from skconvexrelu._program import ConvexProgram
    from skconvexrelu.solvers import get_solver

    rng = np.random.default_rng(1)
    X = rng.standard_normal((15, 40))
    y = np.tanh(X[:, 0] - X[:, 1]) + 0.05 * rng.standard_normal(15)
    y = (y - y.mean()) / y.std()
    est = ConvexThreeLayerRegressor(
        beta=0.05, width=2, n_arrangements=3, solver="cvxpy", arrangements="random",
        random_state=0,
    ).fit(X, y)  # fmt: skip
    conf = est._warm[0]
    full = ConvexProgram(np.hstack([X, np.ones((15, 1))]), conf, 1)
    w = np.full(15, 1 / 15)
    ref = get_solver("cvxpy")(full, SquaredLoss(), y[:, None], w, est.beta_, True, tol=1e-8)
    assert est.objective_ == pytest.approx(ref.objective, rel=1e-5)
    # the rebuilt network acts on the original features, first layers in the unit ball
    assert est.coefs_[0].shape == (40, est.coefs_[1].shape[0])
    _assert_consistent(est, X, y)
    W1 = np.vstack([est.coefs_[0], est.intercepts_[0][None, :]]).reshape(41, -1, 2)
    assert np.all(np.linalg.norm(W1, axis=(0, 2)) <= 1 + 1e-9)


def test_default_fit_on_fifty_rows_of_ten_thousand_features_is_quick():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 10_000))
    y = X[:, 0] + 0.1 * rng.standard_normal(50)
    reg = ConvexThreeLayerRegressor(random_state=0).fit(X, y)
    assert reg.coefs_[0].shape[0] == 10_000
    assert reg.n_iter_ <= 200  # the budget on the 50-dimensional program
    _assert_consistent(reg, X, y)
