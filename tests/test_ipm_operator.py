"""The interior-point method's linear maps: the full operator, the working-set operator,
the loss rows and their Gram matrices (``skconvexrelu.solvers.ipm._operator``)."""

import numpy as np
import pytest
from _programs import small_problem

from skconvexrelu.solvers.ipm import _operator


def _random_working_set(program, rng, rows1=7, rows2=5):
    """Distinct random sample rows per column (``idx1``) and per block (``idx2``)."""
    n = program.n_samples
    o, _, P, _, m = program.shape
    idx1 = np.stack([rng.permutation(n)[:rows1] for _ in range(o * 2 * P * m)], axis=1)
    idx2 = np.stack([rng.permutation(n)[:rows2] for _ in range(o * 2 * P)], axis=1)
    return idx1.reshape(rows1, o, 2, P, m), idx2.reshape(rows2, o, 2, P)


def _block_quadratic_form(op, c1, c2, V):
    """``V^T (G^T diag(c) G) V`` from the operator's block terms."""
    B, R1 = op.block_terms(c1, c2)
    Vb = V.transpose(0, 1, 2, 4, 3)  # (o, 2, P, m, d)
    return np.einsum("ospjd,ospjdle,osple->", Vb, B, Vb) + np.einsum(
        "ospjd,ospjde,ospje->", Vb, R1, Vb
    )


def _dense_check(op_ws, op_full, program, rng):
    """Gathered rows, adjointness and block Gram terms of a working-set operator."""
    idx1, idx2 = op_ws.idx1, op_ws.idx2
    n = program.n_samples
    U = rng.standard_normal(program.shape)
    Z1, g2 = op_ws.layers(U)
    Z, g = op_full.layers(U)
    i1 = np.where(idx1 >= 0, idx1, 0).reshape(idx1.shape[0], -1)
    ref1 = np.take_along_axis(Z.reshape(n, -1), i1, 0).reshape(idx1.shape)
    assert np.allclose(Z1 * op_ws.M1f, ref1 * op_ws.M1f)
    ref2 = np.take_along_axis(g.reshape(n, -1), idx2.reshape(idx2.shape[0], -1), 0)
    assert np.allclose(g2, ref2.reshape(idx2.shape))
    y1 = rng.standard_normal(Z1.shape) * op_ws.M1f
    y2 = rng.standard_normal(g2.shape)
    s1, s2, _ = op_ws.cone_rows(U)
    assert np.vdot(op_ws.adjoint(y1, y2), U) == pytest.approx(
        np.vdot(y1, s1) + np.vdot(y2, s2), rel=1e-10
    )
    c1 = rng.random(Z1.shape) * op_ws.M1f
    c2 = rng.random(g2.shape)
    V = rng.standard_normal(program.shape)
    Zv, gv = op_ws.layers(V)
    quad = _block_quadratic_form(op_ws, c1, c2, V)
    assert quad == pytest.approx(np.sum(c1 * Zv**2) + np.sum(c2 * gv**2), rel=1e-10)


def test_working_set_operator_matches_the_full_constraints():
    program, *_ = small_problem("squared", n=80, n_outputs=2)
    rng = np.random.default_rng(0)
    idx1, idx2 = _random_working_set(program, rng)
    pad = np.full((3,) + idx1.shape[1:], -1)  # padding rows are ignored
    idx1 = np.concatenate([idx1, pad])
    idx1[-1, 0, 1, 2, 0] = 7
    op_ws = _operator.WorkingSetOperator(program, idx1, idx2)
    _dense_check(op_ws, _operator.Operator(program), program, rng)


def test_operator_is_the_programs_map_and_its_adjoint():
    """The forward map, the constraint slacks and every adjoint agree with the program's
    own maps; the block terms are the constraints' Gram matrix (with the data products
    kept between calls, the same numbers)."""
    program, *_ = small_problem("squared", n=70, n_outputs=2, P=3)
    op = _operator.Operator(program)
    rng = np.random.default_rng(1)
    U = rng.standard_normal(program.shape)
    s1, s2, F = op.cone_rows(U)
    np.testing.assert_allclose(F, program.forward(U), rtol=1e-12, atol=1e-12)
    R = rng.standard_normal(F.shape)
    np.testing.assert_allclose(op.adjoint(R=R), program.adjoint(R), rtol=1e-12, atol=1e-12)
    y1, y2 = rng.standard_normal(s1.shape), rng.standard_normal(s2.shape)
    lhs = np.vdot(op.adjoint(y1, y2, R), U)
    assert lhs == pytest.approx(np.vdot(y1, s1) + np.vdot(y2, s2) + np.vdot(R, F), rel=1e-10)
    signed = op.adjoint(op.A1[:, None, None] * y1, op.A2[:, None, None] * y2, signed=True)
    np.testing.assert_allclose(signed, op.adjoint(y1, y2), rtol=1e-12, atol=1e-12)
    Z, g = op.layers(U)
    c1, c2 = rng.random(Z.shape), rng.random(g.shape)
    V = rng.standard_normal(program.shape)
    Zv, gv = op.layers(V)
    want = np.sum(c1 * Zv**2) + np.sum(c2 * gv**2)
    for _ in range(2):  # the second call reads the kept data products
        assert _block_quadratic_form(op, c1, c2, V) == pytest.approx(want, rel=1e-10)
    assert op._block_cache


def test_loss_gram_by_float32_products():
    """The variable-space loss Gram matrix by float32 products (``cache["gram32"]``) is
    the float64 one to float32 accuracy, from the kept rows and by chunks of samples;
    ``J^T dk`` is exact either way."""
    program, _, _, _, _ = small_problem("cross_entropy", n=300, P=6, width=5)
    op = _operator.Operator(program)
    dk = np.random.default_rng(0).uniform(1e-3, 1.0, 300)
    out = {}
    for kept in (True, False):
        for lo in (False, True):
            cache = {"gram32": lo}
            M, msum = _operator.loss_gram(op, dk, 128, cache, 2**30 if kept else 0)
            assert ("rows_flat" in cache) == kept
            assert M.dtype == msum.dtype == np.float64
            out[kept, lo] = M, msum
    M64, s64 = out[True, False]
    np.testing.assert_allclose(out[False, False][0], M64, rtol=1e-12, atol=1e-12)
    for kept in (True, False):
        M32, s32 = out[kept, True]
        err = np.abs(M32 - M64).max() / np.abs(M64).max()
        assert 0 < err < 1e-5  # float32 rounding, and not the float64 products
        np.testing.assert_allclose(s32, s64, rtol=1e-12)
    np.testing.assert_allclose(out[False, False][1], s64, rtol=1e-12)


def test_loss_gram_is_the_weighted_gram_matrix_of_the_loss_rows():
    """``loss_gram`` is ``J^T diag(dk) J`` and ``J^T dk`` of the explicit loss rows; the
    flat rows are kept only within the byte cap."""
    program, *_ = small_problem("hinge", n=50, P=3)
    op = _operator.Operator(program)
    dk = np.random.default_rng(2).uniform(0.1, 1.0, 50)
    J = _operator.unweighted_rows(op).transpose(1, 0, 2).reshape(50, -1)  # (n, P m d~)
    M, msum = _operator.loss_gram(op, dk, 16)
    np.testing.assert_allclose(M, J.T @ (dk[:, None] * J), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(msum, J.T @ dk, rtol=1e-12, atol=1e-14)
    size = J.size * 8
    for max_bytes, kept in ((size - 1, False), (size, True)):
        cache = {}
        flat = _operator.flat_rows(op, cache, max_bytes)
        assert ("rows_flat" in cache) == kept
        assert (flat is not None) == kept
    np.testing.assert_array_equal(flat, J)
    X, A = _operator.row_factors(op)
    np.testing.assert_array_equal(A, _operator.row_coefficients(op))


@pytest.mark.parametrize("center", [False, True])
def test_loss_gram_products_before_and_after_forming_its_matrix(center):
    """The squared loss's Hessian products through the rows' structure (before the Gram
    matrix is formed) equal those through the Gram matrix and the explicit
    ``J^T diag(w) J V`` (minus the intercept's part); the matrix is formed only on use."""
    program, _, _, w, _ = small_problem(
        "squared", n=120, P=5, width=4, n_outputs=2, weights=True
    )
    w = w / w.sum()
    op = _operator.Operator(program)
    gram = _operator.LossGram(op, w)
    V = np.random.default_rng(3).standard_normal(program.shape)
    by_rows = gram.hess(V, center)
    assert not gram.formed
    assert gram.M.shape == (program.shape[2] * program.shape[3] * program.shape[4],) * 2
    assert gram.formed
    by_gram = gram.hess(V, center)
    F = op.outputs(op.second_layer(op.first_layer(V)))
    if center:
        F = F - (w @ F) / w.sum()
    direct = op.adjoint(R=w[:, None] * F)
    np.testing.assert_allclose(by_rows, direct, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(by_gram, direct, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        gram.wsum(V),
        (w[:, None] * op.outputs(op.second_layer(op.first_layer(V)))).sum(0),
        rtol=1e-10,
    )
    X, A = _operator.row_factors(op)
    assert A.flags.c_contiguous  # viewed as (n, P m) by every solve
