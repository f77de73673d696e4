"""The interior-point method's small numerical helpers
(``skconvexrelu.solvers.ipm._linalg``): conjugate gradients, step lengths and the
dual-certificate polish."""

import numpy as np
import pytest
from _programs import small_problem
from scipy.optimize import nnls

from skconvexrelu.solvers.ipm._linalg import _cg, _improve_dual, _max_step
from skconvexrelu.solvers.ipm._operator import Operator


def _spd(k=30, seed=0):
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(k, k))
    return B @ B.T + 0.1 * np.eye(k), rng.normal(size=k)


def test_cg_solves_a_positive_definite_system():
    A, b = _spd()
    x, it = _cg(lambda v: A @ v, lambda v: v, b, 1e-10, 500)
    assert 0 < it < 500
    assert np.linalg.norm(A @ x - b) <= 1e-10 * np.linalg.norm(b)
    # the exact inverse as preconditioner: one step
    Ainv = np.linalg.inv(A)
    x1, it1 = _cg(lambda v: A @ v, lambda v: Ainv @ v, b, 1e-8, 500)
    assert it1 == 1
    np.testing.assert_allclose(x1, np.linalg.solve(A, b), rtol=1e-8)


def test_cg_edge_cases():
    A, b = _spd()
    x, it = _cg(lambda v: A @ v, lambda v: v, np.zeros_like(b), 1e-8, 10)
    assert it == 0 and not x.any()
    _, it = _cg(lambda v: A @ v, lambda v: v, b, 1e-14, 3)
    assert it == 3  # the cap
    # a direction of no curvature ends the iterations
    x, it = _cg(lambda v: np.zeros_like(v), lambda v: v, b, 1e-8, 10)
    assert it == 10 and not x.any()


def test_max_step_keeps_the_point_nonnegative():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.1, 2.0, size=200)
    dx = rng.normal(size=200) * 5
    step = _max_step(x, dx)
    neg = dx < 0
    assert step == pytest.approx(min(1.0, np.min(x[neg] / -dx[neg])), rel=1e-14)
    assert np.all(x + step * dx >= -1e-12)
    assert _max_step(x, np.abs(dx)) == 1.0  # no decrease: the full step
    assert _max_step(x, -0.5 * x) == 1.0  # the full step stays inside


def test_max_step_with_zero_entries():
    # x = 0 with dx = 0 gives 0 / 0: the masked ratio decides
    x = np.array([0.0, 1.0, 2.0])
    assert _max_step(x, np.array([0.0, -4.0, 1.0])) == pytest.approx(0.25)
    assert _max_step(x, np.array([0.0, 1.0, 1.0])) == 1.0


def _polish_case():
    program, *_ = small_problem("squared", n=40, P=3)
    op = Operator(program)
    rng = np.random.default_rng(2)
    V = rng.normal(size=program.shape)
    lam1 = np.zeros((op.n,) + program.shape[:3] + (program.shape[4],))
    return op, V, lam1


def test_improve_dual_lowers_the_column_norms_by_cone_multipliers():
    op, V, lam1 = _polish_case()
    before = V.copy()
    cnv = op.colnorms(V)
    beta = np.quantile(cnv, 0.5)
    start = cnv.copy()
    _improve_dual(op, V, cnv, lam1, beta, max_columns=None)
    np.testing.assert_allclose(cnv, op.colnorms(V), rtol=1e-12)
    assert np.all(cnv <= start * (1 + 1e-12))
    assert np.any(cnv < start * (1 - 1e-3))
    # every change is X~^T (A1_j l) with l >= 0: a valid certificate stays valid
    for o, s, c, j in np.argwhere(start > beta):
        X, a1 = op.column_rows(o, s, c, j)
        M = X.T * a1[None, :]
        _, rn = nnls(M, V[o, s, c, :, j] - before[o, s, c, :, j])
        assert rn <= 1e-8 * max(1.0, np.linalg.norm(before[o, s, c, :, j]))
    for o, s, c, j in np.argwhere(start <= beta):
        np.testing.assert_array_equal(V[o, s, c, :, j], before[o, s, c, :, j])


def test_improve_dual_leaves_many_offending_columns_alone():
    op, V, lam1 = _polish_case()
    before = V.copy()
    cnv = op.colnorms(V)
    _improve_dual(op, V, cnv, lam1, 0.0, max_columns=5)
    np.testing.assert_array_equal(V, before)
