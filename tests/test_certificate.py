"""The duality-gap certificate (:mod:`skconvexrelu._certificate`)."""

import numpy as np
import pytest
from _programs import reference_solution, small_problem

from skconvexrelu._certificate import (
    dual_point,
    dual_scale,
    lower_bound,
    relative_gap,
    search_certificate,
)
from skconvexrelu._losses import SquaredLoss, constant_model
from skconvexrelu._program import beta_max

LOSSES = [
    ("squared", 1),
    ("squared", 2),
    ("hinge", 1),
    ("cross_entropy", 1),
    ("cross_entropy", 3),
]


def test_dual_scale():
    assert dual_scale(0.5, 1.0) == 1.0  # already feasible: no scaling
    assert dual_scale(3.0, 1.5) == 2.0
    assert dual_scale(0.0, 0.0) == 1.0
    assert dual_scale(1e-9, 0.0) == np.inf


def test_relative_gap():
    assert relative_gap(2.0, 1.5) == 0.25
    assert relative_gap(-2.0, -3.0) == 0.5
    assert relative_gap(0.0, -1e-15) == pytest.approx(1e-3)  # guarded at |primal| = 0


@pytest.mark.parametrize("name, o", LOSSES)
def test_dual_point_sums_to_zero_in_the_domain(name, o):
    program, loss, Y, w, beta = small_problem(name, n=30, n_outputs=o, weights=True)
    F = np.random.default_rng(0).normal(size=Y.shape)
    r = dual_point(loss, F, Y, w, fit_intercept=True)
    np.testing.assert_allclose(r.sum(axis=0), 0.0, atol=1e-14)
    assert loss.in_dual_domain(r, Y, w)
    np.testing.assert_array_equal(
        dual_point(loss, F, Y, w, fit_intercept=False), -loss.gradient(F, Y, w)
    )


@pytest.mark.parametrize("name, o", LOSSES)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_lower_bound_is_below_the_optimum(name, o, fit_intercept):
    # any point's dual point, scaled to feasibility with lambda = 0, bounds the optimum
    program, loss, Y, w, beta = small_problem(name, n=30, n_outputs=o, P=3)
    ref = reference_solution(program, loss, Y, w, beta, fit_intercept=fit_intercept)
    rng = np.random.default_rng(1)
    for scale in (0.0, 0.5, 1.0):
        U = ref.U + scale * rng.normal(size=ref.U.shape) * np.abs(ref.U).max()
        F = program.forward(U) + ref.intercept
        r = dual_point(loss, F, Y, w, fit_intercept)
        gamma = dual_scale(program.group_norms(program.adjoint(r)).max(), beta)
        assert gamma >= 1.0
        bound = lower_bound(loss, r, gamma, Y, w)
        assert bound <= ref.objective * (1 + 1e-7)


@pytest.mark.parametrize("name, o", LOSSES)
def test_certificate_is_exact_where_zero_is_optimal(name, o):
    # beta above beta_max: the best constant model is optimal, its (sub)gradient gives a
    # feasible dual point (gamma = 1) and the bound equals the objective
    program, loss, Y, w, _ = small_problem(name, n=30, n_outputs=o, P=3)
    b, R = constant_model(loss, Y, w)
    beta = 1.01 * beta_max(program, R)
    F = np.broadcast_to(b, Y.shape)
    r = -R
    gamma = dual_scale(program.group_norms(program.adjoint(r)).max(), beta)
    assert gamma == 1.0
    objective = loss.value(F, Y, w)
    assert relative_gap(objective, lower_bound(loss, r, gamma, Y, w)) == pytest.approx(
        0.0, abs=1e-9
    )


def test_lower_bound_with_an_intercept_correction():
    # r whose columns do not sum to zero: the bound is corrected by -<sum_i r_i, b> / gamma
    program, loss, Y, w, beta = small_problem("hinge", n=20)
    r = -loss.gradient(np.zeros_like(Y), Y, w)
    b = np.array([0.4])
    plain = lower_bound(loss, r, 2.0, Y, w)
    assert plain == loss.dual(r / 2.0, Y, w)
    corrected = lower_bound(loss, r, 2.0, Y, w, intercept=b)
    assert corrected == pytest.approx(plain - float(r.sum(axis=0) @ b) / 2.0, rel=1e-15)
    assert lower_bound(loss, r, np.inf, Y, w) == -np.inf


def test_search_certificate():
    loss = SquaredLoss()
    rng = np.random.default_rng(2)
    Y = rng.normal(size=(10, 1))
    w = np.full(10, 0.1)
    r = dual_point(loss, np.zeros_like(Y), Y, w, fit_intercept=True)
    objective, beta = 2.0, 0.05
    cert = search_certificate(loss, r, Y, w, beta, objective, max_value=0.2)
    assert cert["max_violation"] == pytest.approx(4.0)
    assert cert["lower_bound"] == pytest.approx(loss.dual(r / 4.0, Y, w))
    assert cert["restricted_gap"] == pytest.approx(objective - loss.dual(r, Y, w))
    assert cert["gap"] == pytest.approx(objective - cert["lower_bound"])
    assert cert["relative_gap"] == pytest.approx(cert["gap"] / objective)
    # no violated configuration found: the bound is the restricted one
    cert = search_certificate(loss, r, Y, w, beta, objective, max_value=0.01)
    assert cert["max_violation"] == pytest.approx(0.2)
    assert cert["gap"] == pytest.approx(cert["restricted_gap"])
    assert np.isnan(search_certificate(loss, r, Y, w, beta, 0.0, 0.01)["relative_gap"])
