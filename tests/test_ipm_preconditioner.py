"""The interior-point method's preconditioner: the exact inverse of the Newton matrix,
its coarse space and its direct factorization
(``skconvexrelu.solvers.ipm._preconditioner``)."""

import numpy as np
import pytest
from _programs import small_problem

from skconvexrelu.solvers.ipm import _operator, _preconditioner
from skconvexrelu.solvers.ipm._preconditioner import Preconditioner, capacitance_costs
from skconvexrelu.solvers.settings import PreconditionerSettings


def _spread_newton_terms(op, rng):
    """A random iterate with barrier curvatures spread over 14 orders of magnitude and
    the group-norm curvatures of a late iteration: ``(U, c1, c2, ht, hr)``."""
    U = rng.standard_normal(op.program.shape)
    Z, g = op.layers(U)
    c1 = 10.0 ** rng.uniform(-10, 4, Z.shape)
    c2 = 10.0 ** rng.uniform(-10, 4, g.shape)
    ht = 10.0 ** rng.uniform(-8, -4, U.shape[:3] + U.shape[4:])
    hr = ht * 10.0 ** rng.uniform(-4, 0, ht.shape)
    return U, c1, c2, ht, hr


def _preconditioner_error(op, prec, terms, loss_term, rng):
    """The largest ``||prec(H v) - v|| / ||v||`` over three random ``v``, with ``H`` the
    Newton matrix of ``terms`` and of the loss term ``F -> loss_term(F)``."""
    U, c1, c2, ht, hr = terms

    def newton(V):
        Zv, gv = op.layers(V)
        HF = loss_term(op.outputs(gv))
        return op.adjoint(c1 * Zv, c2 * gv, HF, signed=True) + op.psi_hess_apply(V, U, ht, hr)

    errors = []
    for _ in range(3):
        V = rng.standard_normal(op.program.shape)
        errors.append(np.linalg.norm(prec(newton(V)) - V) / np.linalg.norm(V))
    return max(errors)


def _small_hinge_operator():
    """``(program, operator, rng)`` of a small hinge program."""
    program, *_ = small_problem("hinge", n=40, P=3)
    return program, _operator.Operator(program), np.random.default_rng(0)


def _softmax_curvature(rng, n, o, spread=5.0):
    """Per-sample softmax curvature ``(Dfull (n, o, o), its diagonal (n, o))`` at random
    probabilities (``spread``: near the simplex's vertices)."""
    F = spread * rng.standard_normal((n, o))
    p = np.exp(F - F.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    w = np.full(n, 1.0 / n)
    Dfull = w[:, None, None] * (np.eye(o) * p[:, None, :] - p[:, :, None] * p[:, None, :])
    return Dfull, np.einsum("naa->na", Dfull)


@pytest.mark.parametrize("mode", ["samples", "variables"])
def test_preconditioner_is_the_inverse_with_spread_loss_curvature(mode):
    # late hinge iterations: loss curvatures spread over 16 orders of magnitude, with the
    # intercept eliminated; the preconditioner must still invert the Newton matrix
    program, op, rng = _small_hinge_operator()
    settings = PreconditionerSettings(capacitance=mode)
    terms = U, c1, c2, ht, hr = _spread_newton_terms(op, rng)
    # without a cache, then twice with one (its kept rows reweighted by a new curvature)
    cache = {"constant": False}
    for kept in (None, cache, cache):
        Dd = 10.0 ** rng.uniform(-12, 4, (program.n_samples, 1))
        prec = Preconditioner(
            op, c1, c2, Dd, ht, hr, U, center=True, cache=kept, settings=settings
        )
        assert prec.mode == mode

        def loss_term(F, Dd=Dd):
            return Dd * (F - (Dd * F).sum(0) / Dd.sum(0))  # the intercept eliminated

        assert _preconditioner_error(op, prec, terms, loss_term, rng) < 1e-6
    assert ("rows_flat" in cache) == (mode == "variables")


@pytest.mark.parametrize("space", ["samples", "variables"])
def test_softmax_preconditioner_is_the_inverse_with_coupled_outputs(space):
    # three classes, probabilities near the simplex's vertices (strongly coupled
    # curvature), spread barrier curvatures, the intercept eliminated (sum(b) = 0): the
    # coupled capacitance in sample space and in variable space
    program, *_ = small_problem("cross_entropy", n=60, n_outputs=3, P=3)
    op = _operator.Operator(program)
    rng = np.random.default_rng(0)
    terms = U, c1, c2, ht, hr = _spread_newton_terms(op, rng)
    Dfull, Dd = _softmax_curvature(rng, program.n_samples, 3)
    Hbb = np.linalg.pinv(Dfull.sum(0), rcond=1e-12, hermitian=True)

    def loss_term(Fv):
        HF = np.einsum("nab,nb->na", Dfull, Fv)
        return HF - np.einsum("nab,b->na", Dfull, Hbb @ HF.sum(0))

    settings = PreconditionerSettings(capacitance=space)
    for cache in (None, {"constant": False}):
        prec = Preconditioner(
            op, c1, c2, Dd, ht, hr, U, center=True, Dfull=Dfull, cache=cache, settings=settings
        )
        assert prec.mode == ("coupled" if space == "samples" else "coupled-variables")
        assert _preconditioner_error(op, prec, terms, loss_term, rng) < 1e-8


def _late_radial_newton(op, rng):
    """Late iterations: the barrier's curvature along a column's own direction is
    ``n mu / ||u||^2`` (rows ``s = X~u``, ``lambda = mu / s``), the group norm's radial
    curvature is tiny, the sign pairs are nearly parallel. Returns the preconditioner's
    terms ``(c1, c2, Dd, ht, hr, U)``, the Newton matrix's product and the largest
    relative error of a preconditioner along the radial directions."""
    U = rng.standard_normal(op.program.shape)
    U[:, 1] = U[:, 0] + 1e-3 * rng.standard_normal(U[:, 0].shape)
    Z, g = op.layers(U)
    mu = 1e-8
    c1, c2 = mu / np.maximum(Z**2, 1e-12), mu / np.maximum(g**2, 1e-12)
    ht = np.full(U.shape[:3] + U.shape[4:], 1e-3)
    hr = np.full_like(ht, mu)
    Dd = 10.0 ** rng.uniform(0, 4, (op.program.n_samples, 1))

    def newton(V):
        Zv, gv = op.layers(V)
        F = op.outputs(gv)
        HF = Dd * (F - (Dd * F).sum(0) / Dd.sum(0))  # the intercept eliminated
        return op.adjoint(c1 * Zv, c2 * gv, HF, signed=True) + op.psi_hess_apply(V, U, ht, hr)

    uh = U / np.linalg.norm(U, axis=3, keepdims=True)

    def radial_error(prec):
        errors = []
        for _ in range(3):
            v = uh * rng.standard_normal(U.shape[:3] + U.shape[4:])[..., None, :]
            errors.append(np.linalg.norm(prec(newton(v)) - v) / np.linalg.norm(v))
        return max(errors)

    return (c1, c2, Dd, ht, hr, U), newton, radial_error


@pytest.mark.parametrize("mode", ["samples", "variables"])
def test_coarse_space_is_exact_along_the_radial_directions(mode):
    # the Woodbury inverse is off along the late radial directions, and the coarse space
    # (the exact Newton matrix on them) repairs it
    program, op, rng = _small_hinge_operator()
    terms, newton, radial_error = _late_radial_newton(op, rng)
    U = terms[-1]
    settings = PreconditionerSettings(capacitance=mode)
    prec = Preconditioner(op, *terms, center=True, settings=settings)
    plain = radial_error(prec)
    assert prec.deflate(U)
    Vs, HV, _ = prec.coarse
    o, _, P, d, m = U.shape
    assert Vs.shape[0] == 2 * o * P * m  # the pairs' sums and differences

    def from_blocks(x):  # the coarse space's layout (o, 2, P, m, d) -> U's
        return x.reshape(o, 2, P, m, d).transpose(0, 1, 2, 4, 3)

    errors, scale = [], 0.0
    for i in range(0, Vs.shape[0], 3):  # H V from the blocks and the loss rows
        hv = newton(from_blocks(Vs[i].toarray()))
        errors.append(np.linalg.norm(from_blocks(HV[i]) - hv))
        scale = max(scale, np.linalg.norm(hv))
    assert max(errors) <= 1e-10 * scale
    assert plain > 1e-2
    assert radial_error(prec) < 1e-3 * plain


def test_coarse_space_keeps_lone_columns():
    """A column whose sign partner is zero enters the coarse space alone (its unit
    direction), next to the sums and differences of the live pairs."""
    program, op, rng = _small_hinge_operator()
    terms, _, _ = _late_radial_newton(op, rng)
    U = terms[-1].copy()
    U[0, 1, 0, :, 0] = 0.0  # column (0, -1, 0, 0) is zero: its partner stays alone
    prec = Preconditioner(op, *terms[:-1], U, center=True)
    assert prec.deflate(U)
    Vs = prec.coarse[0]
    o, _, P, d, m = U.shape
    assert Vs.shape[0] == 2 * (o * P * m - 1) + 1
    lone = Vs[-1].toarray().reshape(o, 2, P, m, d)
    u = U[0, 0, 0, :, 0]
    np.testing.assert_allclose(lone[0, 0, 0, 0], u / np.linalg.norm(u))
    assert np.count_nonzero(lone) == d


@pytest.mark.parametrize("mode", ["samples", "variables"])
def test_direct_factorization_is_the_late_newton_matrix(mode):
    # the Newton matrix factored as a whole (no Woodbury identity): its factor is the
    # matrix H that the matrix-free products apply, column by column, and a solve with it
    # is backward stable (H x = r up to round-off next to ||H|| ||x||; the Newton matrix
    # here has a scaled condition number of about 1e12)
    program, op, rng = _small_hinge_operator()
    terms, newton, _ = _late_radial_newton(op, rng)
    prec = Preconditioner(
        op, *terms, center=True, settings=PreconditionerSettings(capacitance=mode)
    )
    o, _, P, d, m = program.shape
    side = 2 * P * m * d

    def blocks(V):  # U's layout -> the blocks' layout (o, 2, P, m, d), flattened
        return V.transpose(0, 1, 2, 4, 3).reshape(-1)

    H = np.empty((side, side))
    for i in range(side):
        e = np.zeros(side)
        e[i] = 1.0
        H[:, i] = blocks(newton(e.reshape(1, 2, P, m, d).transpose(0, 1, 2, 4, 3)))
    assert prec.densify()
    ((L, dg),) = prec.dense
    assert L.shape == (side, side) and dg.shape == (side,)
    Ls = L * dg[:, None]
    assert np.linalg.norm(Ls @ Ls.T - H) <= 1e-12 * np.linalg.norm(H)
    for _ in range(3):
        r = rng.standard_normal(program.shape)
        x = blocks(prec(r))
        residual = np.linalg.norm(H @ x - blocks(r))
        assert residual <= 1e-13 * np.linalg.norm(H, 2) * np.linalg.norm(x)


def test_direct_factorization_is_left_out_when_too_wide_or_coupled():
    program, op, rng = _small_hinge_operator()
    terms, _, _ = _late_radial_newton(op, rng)
    o, _, P, d, m = program.shape
    narrow = PreconditionerSettings(dense_max=2 * P * m * d - 1)
    prec = Preconditioner(op, *terms, center=True, settings=narrow)
    assert not prec.densify() and prec.dense is None
    wide = PreconditionerSettings(dense_max=2 * P * m * d)
    prec = Preconditioner(op, *terms, center=True, settings=wide)
    assert prec.densify() and prec.dense is not None
    # the softmax's coupled curvature: its capacitance couples the outputs, no direct form
    program, *_ = small_problem("cross_entropy", n=30, n_outputs=3, P=2)
    op = _operator.Operator(program)
    U, c1, c2, ht, hr = _spread_newton_terms(op, rng)
    p = np.full((30, 3), 1.0 / 3)
    Dfull = (np.eye(3) * p[:, None, :] - p[:, :, None] * p[:, None, :]) / 30
    Dd = np.einsum("naa->na", Dfull)
    prec = Preconditioner(op, c1, c2, Dd, ht, hr, U, center=True, Dfull=Dfull)
    assert prec.mode.startswith("coupled")
    assert not prec.densify() and prec.dense is None


def test_coarse_space_stays_within_its_memory_cap():
    program, op, rng = _small_hinge_operator()
    U, c1, c2, ht, hr = _spread_newton_terms(op, rng)
    Dd = np.ones((program.n_samples, 1))
    r = 2 * U.shape[0] * U.shape[2] * U.shape[4]  # every sign pair's sum and difference
    for cap, fits in ((r * U.size - 1, False), (r * U.size, True)):
        settings = PreconditionerSettings(deflate_max_entries=cap)
        prec = Preconditioner(op, c1, c2, Dd, ht, hr, U, center=True, settings=settings)
        assert prec.deflate(U) == fits
        assert (prec.coarse is not None) == fits
    assert prec.coarse[0].shape == (r, U.size)


def test_capacitance_costs():
    """Sample space costs ``n^2 k + c n^3 / 3``, variable space ``c k^3 / 3 + 4 P^2 (m
    d~)^3`` plus ``n k^2 / 2`` to form a changing loss Gram matrix (``k = P m d~``, ``c``
    the cost of a Cholesky flop); coupled outputs multiply the sides."""
    n, P, md = 1000, 20, 110
    k = P * md
    s, v = capacitance_costs(n, P, md, constant=True)
    assert s == pytest.approx(n * n * k + 4.0 * n**3 / 3)
    assert v == pytest.approx(4.0 * k**3 / 3 + 4.0 * P * P * md**3)
    assert capacitance_costs(n, P, md)[1] == pytest.approx(v + n * k * k / 2)
    s1, v1 = capacitance_costs(n, P, md, constant=True, cholesky_cost=1.0)
    assert s - s1 == pytest.approx(3.0 * n**3 / 3)
    assert v - v1 == pytest.approx(3.0 * k**3 / 3)
    s3, v3 = capacitance_costs(n, P, md, constant=True, coupled=3)
    assert s3 == pytest.approx(3 * n * n * k + 4.0 * (3 * n) ** 3 / 3)
    assert v3 == pytest.approx(4.0 * (3 * k) ** 3 / 3 + 4.0 * 3 * P * P * md**3)


def test_capacitance_lives_where_it_is_cheaper_unless_set():
    """ "auto" puts the capacitance where :func:`capacitance_costs` finds it cheaper, with
    the settings' Cholesky cost; the settings can also fix it."""
    program, *_ = small_problem("hinge", n=60, P=3)
    op = _operator.Operator(program)
    U, c1, c2, ht, hr = _spread_newton_terms(op, np.random.default_rng(0))
    Dd = np.ones((program.n_samples, 1))
    n, P, md = program.n_samples, op.P, op.m * op.d
    modes = {}
    for cost in (4.0, 0.1):
        cost_s, cost_v = capacitance_costs(n, P, md, cholesky_cost=cost)
        settings = PreconditionerSettings(cholesky_cost=cost)
        modes[cost] = Preconditioner(op, c1, c2, Dd, ht, hr, U, settings=settings).mode
        assert modes[cost] == ("samples" if cost_s <= cost_v else "variables")
    assert modes == {4.0: "variables", 0.1: "samples"}  # the cost moves the choice
    assert Preconditioner(op, c1, c2, Dd, ht, hr, U).mode == modes[4.0]  # the default
    for mode in ("samples", "variables"):
        settings = PreconditionerSettings(capacitance=mode)
        assert Preconditioner(op, c1, c2, Dd, ht, hr, U, settings=settings).mode == mode


def test_coupled_capacitance_follows_its_size_caps():
    """The softmax's coupled capacitance: in sample space up to ``coupled_samples_max``
    rows (``n o``), else in variable space up to ``coupled_variables_max`` rows
    (``o P m d~``), else per-output matrices."""
    program, *_ = small_problem("cross_entropy", n=30, n_outputs=3, P=2)
    op = _operator.Operator(program)
    rng = np.random.default_rng(4)
    U, c1, c2, ht, hr = _spread_newton_terms(op, rng)
    Dfull, Dd = _softmax_curvature(rng, 30, 3)
    n_o, k_o = 30 * 3, 3 * op.P * op.m * op.d

    def mode(**kw):
        s = PreconditionerSettings(capacitance="samples", **kw)
        return Preconditioner(op, c1, c2, Dd, ht, hr, U, Dfull=Dfull, settings=s).mode

    assert mode(coupled_samples_max=n_o) == "coupled"
    assert mode(coupled_samples_max=n_o - 1, coupled_variables_max=k_o) == "coupled-variables"
    assert mode(coupled_samples_max=n_o - 1, coupled_variables_max=k_o - 1) == "samples"


@pytest.mark.parametrize("mode", ["samples", "variables"])
def test_loss_rows_are_kept_within_the_byte_cap(mode):
    """The unweighted loss rows stay in the cache between iterations only when they fit
    in ``rows_cache_bytes``; the preconditioner is the same either way (up to the order
    of its sums)."""
    program, op, rng = _small_hinge_operator()
    U, c1, c2, ht, hr = _spread_newton_terms(op, rng)
    Dd = 10.0 ** rng.uniform(-4, 2, (program.n_samples, 1))
    size = program.n_samples * op.P * op.m * op.d * 8
    key = "rows_base" if mode == "samples" else "rows_flat"
    R = rng.standard_normal(program.shape)
    out = []
    for cap in (size - 1, size):
        cache = {"constant": False}
        settings = PreconditionerSettings(capacitance=mode, rows_cache_bytes=cap)
        prec = Preconditioner(
            op, c1, c2, Dd, ht, hr, U, center=True, cache=cache, settings=settings
        )
        assert (key in cache) == (cap == size)
        out.append(prec(R))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-12, atol=1e-14)


def test_loss_hess_is_the_variable_space_loss_term():
    """``loss_hess`` applies the centered loss Gram matrices of a variable-space
    capacitance (``J^T D J`` with the intercept eliminated), and is None in sample
    space."""
    program, op, rng = _small_hinge_operator()
    U, c1, c2, ht, hr = _spread_newton_terms(op, rng)
    Dd = 10.0 ** rng.uniform(-2, 2, (program.n_samples, 1))
    V = rng.standard_normal(program.shape)
    F = op.outputs(op.second_layer(op.first_layer(V)))
    want = op.adjoint(R=Dd * (F - (Dd * F).sum(0) / Dd.sum(0)))
    for mode in ("samples", "variables"):
        settings = PreconditionerSettings(capacitance=mode)
        prec = Preconditioner(op, c1, c2, Dd, ht, hr, U, center=True, settings=settings)
        got = prec.loss_hess(V)
        if mode == "samples":
            assert got is None
        else:
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * np.abs(want).max())


def test_cholesky_solve():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((30, 30))
    A = A @ A.T + 30 * np.eye(30)
    b = rng.standard_normal(30)
    L = _preconditioner._cholesky(A)
    np.testing.assert_allclose(A @ _preconditioner._cho_solve(L, b), b, rtol=1e-10)
