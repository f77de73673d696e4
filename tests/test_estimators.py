"""The estimators: objective equality, the network's constraints, beta, sklearn tools."""

import pickle
import warnings

import numpy as np
import pytest
from scipy.special import log_expit, logsumexp
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skconvexrelu import ConvexThreeLayerClassifier, ConvexThreeLayerRegressor
from skconvexrelu._arrangements import sample_configurations
from skconvexrelu._base import add_bias_column, canonical_samples
from skconvexrelu._losses import constant_model, make_loss
from skconvexrelu._program import ConvexProgram, beta_max
from skconvexrelu.solvers import mosek_license_available
from skconvexrelu.solvers.settings import (
    IPMSettings,
    SolverChoiceSettings,
    WorkingSetSettings,
)

SMALL = dict(width=4, n_arrangements=6, random_state=0, arrangements="random")


def _regression(n=60, d=4, n_targets=1, seed=0):
    X, y = make_regression(n, d, n_targets=n_targets, noise=0.5, random_state=seed)
    return StandardScaler().fit_transform(X), y / y.std(axis=0)


def _classification(n=60, centers=2, seed=0):
    X, y = make_blobs(n, 3, centers=centers, cluster_std=2.5, random_state=seed)
    return StandardScaler().fit_transform(X), y


def _objective_from_network(est, X, y, sample_weight=None):
    """The training objective (doc/math.rst) computed from coefs_/intercepts_ alone."""
    W1, W2, W3 = est.coefs_
    b1, b2, b3 = est.intercepts_
    F = np.maximum(np.maximum(X @ W1 + b1, 0) @ W2 + b2, 0) @ W3 + b3
    n = X.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    w = w / w.sum()
    if isinstance(est, ConvexThreeLayerRegressor):
        Y = y.reshape(n, -1)
        per_sample = 0.5 * np.sum((F - Y) ** 2, axis=1)
    else:
        codes = np.searchsorted(est.classes_, y)
        C = len(est.classes_)
        if C == 2:
            s = np.where(codes == 1, 1.0, -1.0)[:, None]
            per_sample = {
                "squared": lambda: 0.5 * np.sum((F - s) ** 2, axis=1),
                "hinge": lambda: np.sum(np.maximum(0, 1 - s * F), axis=1),
                "cross_entropy": lambda: -np.sum(log_expit(s * F), axis=1),
            }[est.loss]()
        else:
            onehot = np.eye(C)[codes]
            pm = 2 * onehot - 1
            per_sample = {
                "squared": lambda: 0.5 * np.sum((F - pm) ** 2, axis=1),
                "hinge": lambda: np.sum(np.maximum(0, 1 - pm * F), axis=1),
                "cross_entropy": lambda: logsumexp(F, axis=1) - np.sum(onehot * F, axis=1),
            }[est.loss]()
    decay = 0.5 * est.beta_ * (np.sum(W2**2) + np.sum(W3**2))
    return float(w @ per_sample + decay)


CASES = [
    ("regressor", "squared", 1),
    ("regressor", "squared", 2),
    ("classifier", "squared", 2),
    ("classifier", "squared", 3),
    ("classifier", "hinge", 2),
    ("classifier", "hinge", 3),
    ("classifier", "cross_entropy", 2),
    ("classifier", "cross_entropy", 3),
]


def _fit_case(kind, loss, k, fit_intercept=True, sample_weight=None, **params):
    if kind == "regressor":
        X, y = _regression(n_targets=k)
        y = y.ravel() if k == 1 else y
        est = ConvexThreeLayerRegressor(beta=1e-3, fit_intercept=fit_intercept, **SMALL)
    else:
        X, y = _classification(centers=k)
        est = ConvexThreeLayerClassifier(
            beta=1e-3, loss=loss, fit_intercept=fit_intercept, **SMALL
        )
    est.set_params(**params)
    return est.fit(X, y, sample_weight=sample_weight), X, y


@pytest.mark.parametrize("solver", ["cvxpy", "native"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("kind,loss,k", CASES)
def test_network_objective_equals_convex_optimum(kind, loss, k, fit_intercept, solver):
    est, X, y = _fit_case(kind, loss, k, fit_intercept, solver=solver)
    assert est.solver_status_ == "optimal"
    assert est.solver_.startswith(solver)
    assert est.n_subnetworks_ > 0
    recomputed = _objective_from_network(est, X, y)
    assert recomputed == pytest.approx(est.objective_, rel=1e-6)


@pytest.mark.parametrize("kind,loss,k", CASES)
def test_native_solver_matches_cvxpy_on_the_same_configurations(kind, loss, k):
    ref, X, y = _fit_case(kind, loss, k, solver="cvxpy", tol=1e-8)
    nat, _, _ = _fit_case(kind, loss, k, solver="native", tol=1e-8)
    assert nat.n_arrangements_ == ref.n_arrangements_
    assert nat.objective_ == pytest.approx(ref.objective_, rel=1e-4)


def _teacher_classes(n):
    """The paper's teacher data (d = 10, a random teacher of width 10), split at the
    median of the teacher's output."""
    rng = np.random.default_rng(0)
    W1, w2 = rng.standard_normal((10, 10)), rng.standard_normal(10)
    X = np.random.default_rng([0, n]).standard_normal((n, 10))
    t = np.maximum(np.maximum(X @ W1, 0.0) @ w2, 0.0)
    return X, (t > np.median(t)).astype(int)


@pytest.mark.parametrize("loss", ["hinge", "cross_entropy"])
def test_round_off_columns_stay_where_dropping_them_breaks_a_cone(loss):
    # the paper's teacher data at n = 40: Clarabel's point is feasible, but dropping all
    # its round-off columns inside the blocks that stay would violate second-layer
    # constraints (by about 1e-6), and the rebuilt network would not be the convex model
    X, y = _teacher_classes(40)
    est = ConvexThreeLayerClassifier(
        beta=0.01 / 40, width=10, n_arrangements=20, loss=loss, solver="cvxpy", random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    program = ConvexProgram(add_bias_column(X, True), est._warm[0], 1)
    assert program.cone_violation(est._warm[1]) == 0.0
    assert _objective_from_network(est, X, y) == pytest.approx(est.objective_, rel=1e-9)


@pytest.mark.parametrize("loss", ["hinge", "cross_entropy"])
def test_dropping_round_off_columns_costs_no_objective(loss):
    # the teacher data at n = 40 again, native solver: the hinge solution carries hundreds
    # of round-off columns that together hold samples on the margin; dropping all of
    # them would raise objective_ above the solver's certified objective, so they may
    # cost at most a tenth of tol
    X, y = _teacher_classes(40)
    est = ConvexThreeLayerClassifier(
        beta=0.01 / 40, width=10, n_arrangements=20, loss=loss, solver="ipm", random_state=0
    ).fit(X, y)
    solved = est.objective_path_[-1]
    assert est.objective_ <= solved * (1 + 0.1 * est.tol)
    assert _objective_from_network(est, X, y) == pytest.approx(est.objective_, rel=1e-9)
    # and the rebuilt network is still much smaller than the 40 blocks solved for
    assert est.n_subnetworks_ < 40


# a 12-point integer grid (from scikit-learn's common checks): all-positive features make a
# sub-network's bias column almost interchangeable with the output intercept, and the native
# solver's Newton systems nearly singular
GRID = np.array([[a, b] for a in (1, 2, 3) for b in (1, 2, 3, 4)], dtype=float)
GRID_Y = np.array([1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2], dtype=float)


def test_native_solver_on_degenerate_data_returns_a_consistent_model_or_warns():
    for seed in range(3):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reg = ConvexThreeLayerRegressor(
                width=3,
                n_arrangements=4,
                solver="native",
                random_state=seed,
                arrangements="random",
            ).fit(GRID, GRID_Y)
        if reg.solver_status_ != "optimal":
            assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
        assert np.isfinite(reg.objective_)
        assert _objective_from_network(reg, GRID, GRID_Y) == pytest.approx(
            reg.objective_, rel=1e-6
        )
    # with solver="auto", a native failure (status numerical_error) falls back to cvxpy
    native_first = SolverChoiceSettings(native_size=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = ConvexThreeLayerRegressor(
            width=3,
            n_arrangements=4,
            random_state=0,
            solver_options=native_first,
            arrangements="random",
        ).fit(GRID, GRID_Y)
        ref = ConvexThreeLayerRegressor(
            width=3, n_arrangements=4, solver="cvxpy", random_state=0, arrangements="random"
        ).fit(GRID, GRID_Y)
    assert auto.objective_ == pytest.approx(ref.objective_, rel=1e-4)


def test_native_solver_on_centered_degenerate_data_is_optimal():
    Xc = GRID - GRID.mean(axis=0)
    for seed in range(3):
        nat = ConvexThreeLayerRegressor(
            width=3, n_arrangements=4, solver="native", random_state=seed
        ).fit(Xc, GRID_Y)
        ref = ConvexThreeLayerRegressor(
            width=3, n_arrangements=4, solver="cvxpy", random_state=seed, tol=1e-8
        ).fit(Xc, GRID_Y)
        assert nat.solver_status_ == "optimal"
        assert nat.objective_ == pytest.approx(ref.objective_, rel=1e-5)


@pytest.mark.parametrize("kind,loss,k", CASES[:1] + CASES[-2:])
def test_first_layer_of_each_subnetwork_has_unit_norm(kind, loss, k):
    est, X, y = _fit_case(kind, loss, k)
    W1, b1, m = est.coefs_[0], est.intercepts_[0], est.width
    for j in range(est.n_subnetworks_):
        block = np.vstack([W1[:, j * m : (j + 1) * m], b1[j * m : (j + 1) * m]])
        assert np.linalg.norm(block) <= 1 + 1e-9
    # the middle layer is block diagonal: sub-network j reads only its own neurons
    W2 = est.coefs_[1].copy()
    for j in range(est.n_subnetworks_):
        W2[j * m : (j + 1) * m, j] = 0
    assert not W2.any()


def test_objective_with_sample_weight_and_weight_equals_repetition():
    X, y = _regression(n=40)
    sw = np.random.default_rng(0).integers(1, 3, size=40).astype(float)
    est = ConvexThreeLayerRegressor(beta=1e-3, **SMALL).fit(X, y, sample_weight=sw)
    assert _objective_from_network(est, X, y, sw) == pytest.approx(est.objective_, rel=1e-6)
    rep = np.repeat(np.arange(40), sw.astype(int))
    est_rep = ConvexThreeLayerRegressor(beta=1e-3, **SMALL).fit(X[rep], y[rep])
    assert est_rep.objective_ == pytest.approx(est.objective_, rel=1e-5)
    np.testing.assert_allclose(est_rep.predict(X), est.predict(X), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_weighted_fit_equals_fit_on_repeated_rows(kind):
    """Integer weights and rows repeated that many times (in another order, with
    zero-weight rows) give the same program, so the same predictions to round-off; the
    check_sample_weight_equivalence of scikit-learn asks for 1e-7."""
    if kind == "regressor":
        X, y = _regression(n=30)
        est = ConvexThreeLayerRegressor(beta=1e-3, **SMALL)
    else:
        X, y = _classification(n=30, centers=3)
        est = ConvexThreeLayerClassifier(beta=1e-3, **SMALL)
    sw = np.random.default_rng(1).integers(0, 4, size=30)
    rep = np.repeat(np.arange(30), sw)
    shuffle = np.random.default_rng(2).permutation(30)
    weighted = clone(est).fit(X[shuffle], y[shuffle], sample_weight=sw[shuffle])
    repeated = clone(est).fit(X[rep], y[rep])
    assert weighted.objective_ == pytest.approx(repeated.objective_, rel=1e-12)
    out = "predict" if kind == "regressor" else "predict_proba"
    np.testing.assert_allclose(
        getattr(weighted, out)(X), getattr(repeated, out)(X), rtol=1e-7, atol=0
    )


def test_distinct_rows_of_equal_weight_are_kept_in_order():
    """Only repeated rows or unequal weights change the rows the solver sees."""
    X, y = _regression(n=20)
    Y = y[:, None]
    for sw in (np.ones(20), np.full(20, 2.5)):
        Xc, Yc, wc = canonical_samples(X, Y, sw)
        assert Xc is X and Yc is Y and wc is sw
    sw = np.ones(20)
    sw[3] = 2.0
    Xc, Yc, wc = canonical_samples(X, Y, sw)
    order = np.lexsort(np.column_stack([X, Y]).T[::-1])
    np.testing.assert_array_equal(Xc, X[order])
    np.testing.assert_array_equal(wc, sw[order])
    # a repeated row (equal X and y) becomes one row with the summed weight
    Xc, Yc, wc = canonical_samples(np.vstack([X, X[:1]]), np.vstack([Y, Y[:1]]), np.ones(21))
    assert len(Xc) == 20 and wc.sum() == 21.0 and wc.max() == 2.0


def test_zero_weight_samples_are_left_out():
    X, y = _regression(n=40)
    sw = np.ones(40)
    sw[:10] = 0
    a = ConvexThreeLayerRegressor(beta=1e-3, **SMALL).fit(X, y, sample_weight=sw)
    b = ConvexThreeLayerRegressor(beta=1e-3, **SMALL).fit(X[10:], y[10:])
    assert a.objective_ == pytest.approx(b.objective_, rel=1e-8)


def test_larger_beta_gives_fewer_subnetworks():
    X, y = _regression(n=60)
    counts = [
        ConvexThreeLayerRegressor(beta=beta, **SMALL).fit(X, y).n_subnetworks_
        for beta in (1e-4, 1e-2, 1e-1, 0.5)
    ]
    assert all(a >= b for a, b in zip(counts, counts[1:], strict=False)), counts
    assert counts[0] > counts[-1]


@pytest.mark.parametrize(
    "loss,centers", [("squared", None), ("hinge", 2), ("cross_entropy", 3)]
)
def test_beta_above_its_maximum_gives_the_zero_network(loss, centers):
    if centers is None:
        X, y = _regression(n=50)
        Y = y[:, None]
        est = ConvexThreeLayerRegressor(**SMALL)
    else:
        X, y = _classification(n=50, centers=centers)
        Y = np.where(y == 1, 1.0, -1.0)[:, None] if centers == 2 else np.eye(centers)[y]
        est = ConvexThreeLayerClassifier(loss=loss, **SMALL)
    # the same configurations the estimator will sample
    Xt = add_bias_column(X, True)
    conf = sample_configurations(Xt, SMALL["width"], SMALL["n_arrangements"], 0)
    w = np.full(len(X), 1.0 / len(X))
    lossobj = make_loss(loss, Y.shape[1])
    b, R = constant_model(lossobj, Y, w)
    bmax = beta_max(ConvexProgram(Xt, conf, Y.shape[1]), R)
    zero = clone(est).set_params(beta=1.01 * bmax).fit(X, y)
    assert zero.n_subnetworks_ == 0
    assert zero.objective_ == pytest.approx(lossobj.value(np.broadcast_to(b, Y.shape), Y, w))
    below = clone(est).set_params(beta=0.3 * bmax).fit(X, y)
    assert below.n_subnetworks_ > 0
    assert below.objective_ < zero.objective_


@pytest.mark.parametrize("kind", ["regressor", "classifier"])
def test_grid_search_over_beta_in_a_pipeline(kind):
    if kind == "regressor":
        X, y = _regression(n=60)
        est = ConvexThreeLayerRegressor(**SMALL)
    else:
        X, y = _classification(n=60)
        est = ConvexThreeLayerClassifier(**SMALL)
    pipe = make_pipeline(StandardScaler(), est)
    name = pipe.steps[-1][0]
    search = GridSearchCV(pipe, {f"{name}__beta": [1e-3, 1e-1]}, cv=3).fit(X, y)
    assert search.best_params_[f"{name}__beta"] in (1e-3, 1e-1)
    assert search.best_score_ > 0.5
    assert search.predict(X).shape == (60,)


def test_pickle_round_trip_and_reproducibility():
    X, y = _classification(n=50, centers=3)
    a = ConvexThreeLayerClassifier(**SMALL).fit(X, y)
    b = ConvexThreeLayerClassifier(**SMALL).fit(X, y)
    for ca, cb in zip(a.coefs_, b.coefs_, strict=True):
        np.testing.assert_array_equal(ca, cb)
    restored = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(restored.predict_proba(X), a.predict_proba(X))
    for ca, cr in zip(a.coefs_, restored.coefs_, strict=True):
        np.testing.assert_array_equal(ca, cr)


def test_string_labels_and_probabilities():
    X, y = _classification(n=60, centers=3)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = ConvexThreeLayerClassifier(**SMALL).fit(X, labels)
    assert set(clf.predict(X)) <= set(labels)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    assert clf.score(X, labels) > 0.7


def test_predict_proba_only_for_cross_entropy():
    X, y = _classification(n=40)
    clf = ConvexThreeLayerClassifier(loss="hinge", **SMALL).fit(X, y)
    assert not hasattr(clf, "predict_proba")
    with pytest.raises(AttributeError, match="predict_proba"):
        clf.predict_proba(X)
    assert clf.decision_function(X).shape == (40,)


def test_multi_output_regression():
    X, y = _regression(n=50, n_targets=3)
    reg = ConvexThreeLayerRegressor(beta=1e-3, **SMALL).fit(X, y)
    assert reg.predict(X).shape == (50, 3)
    assert reg.coefs_[2].shape[1] == 3
    assert reg.score(X, y) > 0.9


def test_regressor_rejects_classification_losses():
    X, y = _regression(n=20)
    with pytest.raises(ValueError, match="'loss' parameter"):
        ConvexThreeLayerRegressor(loss="hinge").fit(X, y)


def test_mosek_without_license_is_a_clear_error_and_auto_still_works():
    if mosek_license_available():
        pytest.skip("a MOSEK license is installed here; the no-license path cannot run")
    X, y = _regression(n=30)
    with pytest.raises(ValueError, match="MOSEK"):
        ConvexThreeLayerRegressor(cvxpy_solver="MOSEK", **SMALL).fit(X, y)
    reg = ConvexThreeLayerRegressor(**SMALL).fit(X, y)
    assert reg.solver_ == "cvxpy:CLARABEL"


@pytest.mark.parametrize("name", ["SCS", "CLARABEL"])
def test_other_conic_solvers_agree(name):
    X, y = _regression(n=40)
    ref = ConvexThreeLayerRegressor(beta=1e-2, **SMALL).fit(X, y)
    other = ConvexThreeLayerRegressor(beta=1e-2, cvxpy_solver=name, tol=1e-7, **SMALL)
    other.fit(X, y)
    assert other.solver_ == f"cvxpy:{name}"
    assert other.objective_ == pytest.approx(ref.objective_, rel=1e-3)


@pytest.mark.parametrize("solver", ["cvxpy", "native"])
def test_max_time_stops_cleanly_with_a_consistent_model(solver):
    X, y = _regression(n=200, d=5)
    reg = ConvexThreeLayerRegressor(solver=solver, max_time=0.05, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_time"):
        reg.fit(X, y)
    assert reg.solver_status_ != "optimal"
    assert np.all(np.isfinite(reg.predict(X)))
    assert _objective_from_network(reg, X, y) == pytest.approx(reg.objective_, rel=1e-6)


def test_solver_options_are_stored_as_given_and_cloned():
    options = [IPMSettings(cg_maxiter=100), SolverChoiceSettings(native_size=0)]
    est = ConvexThreeLayerRegressor(solver_options=options, **SMALL)
    assert est.get_params()["solver_options"] is options
    copy = clone(est)
    assert copy.get_params()["solver_options"] == options
    X, y = _regression(n=30)
    est.fit(X, y)
    assert est.solver_options is options
    assert options == [IPMSettings(cg_maxiter=100), SolverChoiceSettings(native_size=0)]
    assert est.solver_ == "native:ipm-pcg"  # the choice settings were used


@pytest.mark.parametrize(
    "options,error,match",
    [
        ({"max_iter": 3}, TypeError, "solver_options must be.*got dict"),
        ([IPMSettings(), "fast"], TypeError, "got str"),
        (WorkingSetSettings(), TypeError, "got WorkingSetSettings"),
        ([IPMSettings(), IPMSettings(cg_maxiter=9)], ValueError, "two IPMSettings"),
    ],
)
def test_bad_solver_options_are_clear_errors(options, error, match):
    X, y = _classification(n=30)
    with pytest.raises(error, match=match):
        ConvexThreeLayerClassifier(solver_options=options, **SMALL).fit(X, y)
