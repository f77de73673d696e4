"""Tests of the native interior-point solver against cvxpy + Clarabel on small programs."""

import numpy as np
import pytest
from _programs import reference_solution, small_problem
from sklearn.exceptions import ConvergenceWarning

from skconvexrelu.solvers._native import estimate_memory, solve_native


def _check_solution(program, loss, Y, w, beta, res, tol=1e-6):
    U = res.U
    assert U.shape == program.shape
    # feasible: cone violation negligible next to the scale of the first layer
    Z = program.first_layer(U)
    assert program.cone_violation(U) <= 1e-8 * max(np.abs(Z).max(), 1e-300)
    # the reported objective is the objective of the returned point
    obj = program.objective(U, res.intercept, loss, Y, w, beta)
    assert obj == pytest.approx(res.objective, rel=1e-10, abs=1e-14)
    assert res.status == "optimal"
    assert res.stop_criterion <= tol
    assert res.solver.startswith("native:")
    assert len(res.history) >= 1


CASES = [
    dict(loss="squared"),
    dict(loss="squared", n_outputs=2, weights=True),
    dict(loss="hinge", n=60),
    dict(loss="cross_entropy", n=60),
    dict(loss="cross_entropy", n=60, n_outputs=3, P=4),
    dict(loss="hinge", n=45, n_outputs=3, P=4),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_matches_cvxpy(case):
    program, loss, Y, w, beta = small_problem(**case)
    res = solve_native(program, loss, Y, w, beta)
    _check_solution(program, loss, Y, w, beta, res)
    ref = reference_solution(program, loss, Y, w, beta)
    # the native certificate is a proven bound: within tol of the restricted optimum;
    # the two solvers agree to 1e-4 relative
    assert res.objective == pytest.approx(ref.objective, rel=1e-4)


@pytest.mark.parametrize("loss", ["squared", "hinge", "cross_entropy"])
def test_zero_weight_samples_keep_the_certificate(loss):
    # samples of zero weight still constrain the cones but add nothing to the loss: the
    # dual bound must skip them (0 / 0 in the conjugate made it NaN: squared loss,
    # "stalled" with an infinite gap at the optimum)
    program, loss_, Y, w, beta = small_problem(loss, n=60, P=4)
    w = w.copy()
    w[::5] = 0.0
    w /= w.sum()
    res = solve_native(program, loss_, Y, w, beta, working_set=False)
    _check_solution(program, loss_, Y, w, beta, res)
    assert np.isfinite(res.history).all()
    ref = reference_solution(program, loss_, Y, w, beta)
    assert res.objective == pytest.approx(ref.objective, rel=1e-4)


def test_no_intercept_and_no_bias_column():
    program, loss, Y, w, beta = small_problem("squared", bias=False, seed=3)
    res = solve_native(program, loss, Y, w, beta, fit_intercept=False)
    _check_solution(program, loss, Y, w, beta, res)
    assert np.all(res.intercept == 0)
    ref = reference_solution(program, loss, Y, w, beta, fit_intercept=False)
    assert res.objective == pytest.approx(ref.objective, rel=1e-4)


def test_duality_gap_certificate_is_a_lower_bound():
    # a loose tolerance stops early, yet the objective is within that tolerance of the
    # optimum, as the certified gap promises
    program, loss, Y, w, beta = small_problem("squared", seed=1)
    tight = solve_native(program, loss, Y, w, beta, tol=1e-8)
    loose = solve_native(program, loss, Y, w, beta, tol=1e-2)
    assert loose.n_iter < tight.n_iter
    assert loose.stop_criterion <= 1e-2
    assert tight.objective <= loose.objective * (1 + 1e-12)
    assert loose.objective <= tight.objective * (1 + 1e-2)


def test_max_iter_warns():
    program, loss, Y, w, beta = small_problem("squared")
    with pytest.warns(ConvergenceWarning, match="max_iter=2") as rec:
        res = solve_native(program, loss, Y, w, beta, max_iter=2)
    assert "tol" in str(rec[0].message)
    assert res.status == "max_iter"
    assert res.n_iter == 2
    assert res.stop_criterion > 1e-6
    # the returned point is still feasible and its objective is reported
    assert program.cone_violation(res.U) <= 1e-8 * np.abs(program.first_layer(res.U)).max()
    assert res.objective == pytest.approx(
        program.objective(res.U, res.intercept, loss, Y, w, beta), rel=1e-10
    )


def test_max_time_warns():
    program, loss, Y, w, beta = small_problem("squared")
    with pytest.warns(ConvergenceWarning, match="max_time"):
        res = solve_native(program, loss, Y, w, beta, max_time=0.0)
    assert res.status == "max_time"


def test_float32():
    p64, loss, Y, w, beta = small_problem("squared", n=60)
    p32, *_ = small_problem("squared", n=60, dtype=np.float32)
    r64 = solve_native(p64, loss, Y, w, beta)
    r32 = solve_native(p32, loss, Y, w, beta)
    assert r32.U.dtype == np.float32
    assert r32.intercept.dtype == np.float32
    assert r32.status == "optimal"
    assert r32.stop_criterion <= 1e-3  # float32 floors the tolerance at 1e-3
    assert r32.objective == pytest.approx(r64.objective, rel=1e-3)
    Z = p32.first_layer(r32.U)
    assert p32.cone_violation(r32.U) <= 1e-5 * np.abs(Z).max()


def test_warm_start_from_optimum():
    program, loss, Y, w, beta = small_problem("cross_entropy", n=60)
    cold = solve_native(program, loss, Y, w, beta)
    assert cold.n_iter > 5
    warm = solve_native(program, loss, Y, w, beta, U0=cold.U, b0=cold.intercept)
    assert warm.status == "optimal"
    assert warm.n_iter <= 2
    assert warm.objective == pytest.approx(cold.objective, rel=1e-6)


def test_warm_start_primal_only():
    # a primal warm start from a nearby problem (another beta) also converges
    program, loss, Y, w, beta = small_problem("squared", n=60)
    other = solve_native(program, loss, Y, w, 2 * beta)
    program2, *_ = small_problem("squared", n=60)  # a fresh program: no cached duals
    res = solve_native(program2, loss, Y, w, beta, U0=other.U, b0=other.intercept)
    _check_solution(program2, loss, Y, w, beta, res)
    ref = solve_native(program2, loss, Y, w, beta)
    assert res.objective == pytest.approx(ref.objective, rel=1e-5)


def test_verbose_progress_bar(capsys):
    program, loss, Y, w, beta = small_problem("squared", n=40)
    solve_native(program, loss, Y, w, beta, verbose=1)
    err = capsys.readouterr().err
    assert "obj=" in err and "gap=" in err


def test_silent_by_default(capsys):
    program, loss, Y, w, beta = small_problem("squared", n=40)
    solve_native(program, loss, Y, w, beta)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""


def test_memory_check(monkeypatch):
    import skconvexrelu.solvers._native as native

    program, loss, Y, w, beta = small_problem("squared", n=40)
    assert estimate_memory(program) > 0
    monkeypatch.setattr(native, "_available_memory", lambda: 1000)
    with pytest.raises(MemoryError, match="GiB"):
        solve_native(program, loss, Y, w, beta)


def test_zero_rows_and_constant_configurations():
    # a sample equal to zero (no bias column) gives identically-zero constraint rows,
    # which the solver must leave out
    program, loss, Y, w, beta = small_problem("squared", bias=False, seed=2)
    program.Xt[0] = 0.0
    res = solve_native(program, loss, Y, w, beta)
    _check_solution(program, loss, Y, w, beta, res)
    ref = reference_solution(program, loss, Y, w, beta)
    assert res.objective == pytest.approx(ref.objective, rel=1e-4)


@pytest.mark.parametrize("loss", ["squared", "hinge"])
def test_variable_space_capacitance(monkeypatch, loss):
    # large n switches the preconditioner's capacitance matrix to variable space; force
    # it on a small problem: same optimum, and CG still converges in a few steps
    import skconvexrelu.solvers._native_ops as ops

    program, loss_, Y, w, beta = small_problem(loss, n=40, P=3)
    ref = solve_native(program, loss_, Y, w, beta)
    monkeypatch.setattr(ops, "CAPACITANCE", "variables")
    program2, *_ = small_problem(loss, n=40, P=3)
    res = solve_native(program2, loss_, Y, w, beta)
    _check_solution(program2, loss_, Y, w, beta, res)
    assert res.objective == pytest.approx(ref.objective, rel=1e-5)
    assert res.n_cg <= 25 * res.n_iter  # about 5 solves per iteration


# ---------------------------------------------------------------- working sets


def _dense_check(op_ws, op_full, program, rng):
    """Gathered rows, adjointness and block Gram terms of a working-set operator."""
    from skconvexrelu.solvers._native_ops import WorkingSetOperator  # noqa: F401

    idx1, idx2 = op_ws.idx1, op_ws.idx2
    n = program.n_samples
    U = rng.standard_normal(program.shape)
    Z1, g2 = op_ws.cons(U)
    Z, g = op_full.cons(U)
    i1 = np.where(idx1 >= 0, idx1, 0).reshape(idx1.shape[0], -1)
    ref1 = np.take_along_axis(Z.reshape(n, -1), i1, 0).reshape(idx1.shape)
    assert np.allclose(Z1 * op_ws.M1f, ref1 * op_ws.M1f)
    ref2 = np.take_along_axis(g.reshape(n, -1), idx2.reshape(idx2.shape[0], -1), 0)
    assert np.allclose(g2, ref2.reshape(idx2.shape))
    y1 = rng.standard_normal(Z1.shape) * op_ws.M1f
    y2 = rng.standard_normal(g2.shape)
    s1, s2, _ = op_ws.apply(U)
    assert np.vdot(op_ws.adjoint(y1, y2), U) == pytest.approx(
        np.vdot(y1, s1) + np.vdot(y2, s2), rel=1e-10
    )
    c1 = rng.random(Z1.shape) * op_ws.M1f
    c2 = rng.random(g2.shape)
    B, R1 = op_ws.block_terms(c1, c2)
    V = rng.standard_normal(program.shape)
    Zv, gv = op_ws.cons(V)
    Vb = V.transpose(0, 1, 2, 4, 3)  # (o, 2, P, m, d)
    quad = np.einsum("ospjd,ospjdle,osple->", Vb, B, Vb) + np.einsum(
        "ospjd,ospjde,ospje->", Vb, R1, Vb
    )
    assert quad == pytest.approx(np.sum(c1 * Zv**2) + np.sum(c2 * gv**2), rel=1e-10)


def test_working_set_operator_matches_the_full_constraints():
    from skconvexrelu.solvers._native import initial_working_set
    from skconvexrelu.solvers._native_ops import Operator, WorkingSetOperator

    program, *_ = small_problem("squared", n=80, n_outputs=2)
    idx1, idx2 = initial_working_set(program)
    pad = np.full((3,) + idx1.shape[1:], -1)  # padding rows are ignored
    idx1 = np.concatenate([idx1, pad])
    idx1[-1, 0, 1, 2, 0] = 7
    op_ws = WorkingSetOperator(program, idx1, idx2)
    _dense_check(op_ws, Operator(program), program, np.random.default_rng(0))


def test_first_working_set_is_smaller_below_ws_small_n(monkeypatch):
    # below WS_SMALL_N samples each column starts with WS_FIRST_ROWS_SMALL * d~ rows,
    # from it on with WS_FIRST_ROWS * d~; the blocks keep WS_SECOND_ROWS * m d~ either way
    import skconvexrelu.solvers._native as native

    program, *_ = small_problem("squared", n=200, P=4, width=3)
    n, d = program.Xt.shape
    o, _, P, _, m = program.shape
    assert native.WS_FIRST_ROWS_SMALL < native.WS_FIRST_ROWS
    rows = {}
    for small_n in (n + 1, n):
        monkeypatch.setattr(native, "WS_SMALL_N", small_n)
        idx1, idx2 = native.initial_working_set(program)
        assert idx1.shape[1:] == (o, 2, P, m) and idx2.shape[1:] == (o, 2, P)
        assert idx2.shape[0] == native.WS_SECOND_ROWS * m * d
        for col in idx1.reshape(idx1.shape[0], -1).T:  # distinct sample rows per column
            assert np.unique(col).size == col.size and 0 <= col.min() and col.max() < n
        rows[small_n > n] = idx1.shape[0]
    assert rows[True] == native.WS_FIRST_ROWS_SMALL * d
    assert rows[False] == native.WS_FIRST_ROWS * d


@pytest.mark.parametrize(
    "case",
    [dict(loss="squared", n=120), dict(loss="hinge", n=90), dict(loss="cross_entropy", n=90)],
    ids=lambda c: c["loss"],
)
@pytest.mark.parametrize("grow", [True, False], ids=["grow-in-run", "rounds"])
def test_working_set_solves_the_full_program(monkeypatch, case, grow):
    # small first working sets force growth (inside the run or by rounds); the result is
    # the full program's optimum (same objective as without a working set) and feasible
    # for every sample
    import skconvexrelu.solvers._native as native

    monkeypatch.setattr(native, "GROW_IN_RUN", grow)
    monkeypatch.setattr(native, "WS_FIRST_ROWS", 1)
    monkeypatch.setattr(native, "WS_SECOND_ROWS", 1)
    program, loss, Y, w, beta = small_problem(**case)
    full = solve_native(program, loss, Y, w, beta, working_set=False)
    fresh, *_ = small_problem(**case)
    res = solve_native(fresh, loss, Y, w, beta, working_set=True)
    _check_solution(fresh, loss, Y, w, beta, res)
    assert res.objective == pytest.approx(full.objective, rel=1e-5)
    rows1, rows2 = res.working_set_rows
    assert rows1 < case["n"]
    assert native.grow_working_set(fresh, fresh._native_working_set, res.U, 1e-10)[1] == 0


def test_working_set_grows_by_the_violated_constraints():
    from skconvexrelu.solvers._native import grow_working_set, initial_working_set

    program, *_ = small_problem("squared", n=60)
    idx1, idx2 = initial_working_set(program)
    U = np.random.default_rng(1).standard_normal(program.shape)
    (g1, g2), n_new, worst = grow_working_set(program, (idx1, idx2), U, 1e-10)
    assert n_new > 0 and worst > 0
    assert g1.shape[0] >= idx1.shape[0] and g2.shape[0] >= idx2.shape[0]
    assert np.array_equal(g1[: idx1.shape[0]], idx1)  # old rows kept in place
    # every constraint U violates is either in the new set or beyond the per-round cap
    s1 = program.A1[:, None, None] * program.first_layer(U)
    new_rows = g1[idx1.shape[0] :].reshape(g1.shape[0] - idx1.shape[0], -1)
    r, k = np.nonzero(new_rows >= 0)
    assert r.size > 0
    assert np.all(s1.reshape(60, -1)[new_rows[r, k], k] < 0)


def _spread_newton_terms(op, rng):
    """A random iterate with barrier curvatures spread over 14 orders of magnitude and
    the group-norm curvatures of a late iteration: ``(U, c1, c2, ht, hr)``."""
    U = rng.standard_normal(op.program.shape)
    Z, g = op.cons(U)
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
        Zv, gv = op.cons(V)
        HF = loss_term(op.F(gv))
        return op.adjoint(c1 * Zv, c2 * gv, HF, signed=True) + op.psi_hess_apply(V, U, ht, hr)

    errors = []
    for _ in range(3):
        V = rng.standard_normal(op.program.shape)
        errors.append(np.linalg.norm(prec(newton(V)) - V) / np.linalg.norm(V))
    return max(errors)


def _small_hinge_operator(monkeypatch, mode=None):
    """``(ops module, program, operator, rng)`` of a small hinge program, with the
    preconditioner's capacitance forced into ``mode`` when given."""
    import skconvexrelu.solvers._native_ops as ops

    if mode is not None:
        monkeypatch.setattr(ops, "CAPACITANCE", mode)
    program, *_ = small_problem("hinge", n=40, P=3)
    return ops, program, ops.Operator(program), np.random.default_rng(0)


@pytest.mark.parametrize("mode", ["samples", "variables"])
def test_preconditioner_is_the_inverse_with_spread_loss_curvature(monkeypatch, mode):
    # late hinge iterations: loss curvatures spread over 16 orders of magnitude, with the
    # intercept eliminated; the preconditioner must still invert the Newton matrix
    ops, program, op, rng = _small_hinge_operator(monkeypatch, mode)
    terms = U, c1, c2, ht, hr = _spread_newton_terms(op, rng)
    # without a cache, then twice with one (its kept rows reweighted by a new curvature)
    cache = {"constant": False}
    for kept in (None, cache, cache):
        Dd = 10.0 ** rng.uniform(-12, 4, (program.n_samples, 1))
        prec = ops.Preconditioner(op, c1, c2, Dd, ht, hr, U, center=True, cache=kept)

        def loss_term(F, Dd=Dd):
            return Dd * (F - (Dd * F).sum(0) / Dd.sum(0))  # the intercept eliminated

        assert _preconditioner_error(op, prec, terms, loss_term, rng) < 1e-6
    assert ("rows_flat" in cache) == (mode == "variables")


@pytest.mark.parametrize("space", ["samples", "variables"])
def test_softmax_preconditioner_is_the_inverse_with_coupled_outputs(monkeypatch, space):
    # three classes, probabilities near the simplex's vertices (strongly coupled
    # curvature), spread barrier curvatures, the intercept eliminated (sum(b) = 0): the
    # coupled capacitance in sample space and in variable space
    import skconvexrelu.solvers._native_ops as ops

    monkeypatch.setattr(ops, "CAPACITANCE", space)
    program, *_ = small_problem("cross_entropy", n=60, n_outputs=3, P=3)
    op = ops.Operator(program)
    rng = np.random.default_rng(0)
    terms = U, c1, c2, ht, hr = _spread_newton_terms(op, rng)
    n, o = program.n_samples, 3
    F = 5.0 * rng.standard_normal((n, o))
    p = np.exp(F - F.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    w = np.full(n, 1.0 / n)
    Dfull = w[:, None, None] * (np.eye(o) * p[:, None, :] - p[:, :, None] * p[:, None, :])
    Dd = np.einsum("naa->na", Dfull)
    Hbb = np.linalg.pinv(Dfull.sum(0), rcond=1e-12, hermitian=True)

    def loss_term(Fv):
        HF = np.einsum("nab,nb->na", Dfull, Fv)
        return HF - np.einsum("nab,b->na", Dfull, Hbb @ HF.sum(0))

    for cache in (None, {"constant": False}):
        prec = ops.Preconditioner(
            op, c1, c2, Dd, ht, hr, U, center=True, Dfull=Dfull, cache=cache
        )
        assert prec.mode == ("coupled" if space == "samples" else "coupled-variables")
        assert _preconditioner_error(op, prec, terms, loss_term, rng) < 1e-8


def test_hinge_newton_solves_stay_cheap_late():
    # with the intercept's rank-one downdate inverted separately, late hinge iterations
    # lost the preconditioner's accuracy (438 CG steps in 29 iterations here, against
    # 255 in 28 with the projected loss rows)
    program, loss, Y, w, beta = small_problem("hinge", n=150, P=5, width=5)
    res = solve_native(program, loss, Y, w, beta)
    _check_solution(program, loss, Y, w, beta, res)
    assert res.n_cg <= 12 * res.n_iter


def _late_radial_newton(op, rng):
    """Late iterations: the barrier's curvature along a column's own direction is
    ``n mu / ||u||^2`` (rows ``s = X~u``, ``lambda = mu / s``), the group norm's radial
    curvature is tiny, the sign pairs are nearly parallel. Returns the preconditioner's
    terms ``(c1, c2, Dd, ht, hr, U)``, the Newton matrix's product and the largest
    relative error of a preconditioner along the radial directions."""
    U = rng.standard_normal(op.program.shape)
    U[:, 1] = U[:, 0] + 1e-3 * rng.standard_normal(U[:, 0].shape)
    Z, g = op.cons(U)
    mu = 1e-8
    c1, c2 = mu / np.maximum(Z**2, 1e-12), mu / np.maximum(g**2, 1e-12)
    ht = np.full(U.shape[:3] + U.shape[4:], 1e-3)
    hr = np.full_like(ht, mu)
    Dd = 10.0 ** rng.uniform(0, 4, (op.program.n_samples, 1))

    def newton(V):
        Zv, gv = op.cons(V)
        F = op.F(gv)
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
def test_coarse_space_is_exact_along_the_radial_directions(monkeypatch, mode):
    # the Woodbury inverse is off along the late radial directions, and the coarse space
    # (the exact Newton matrix on them) repairs it
    ops, program, op, rng = _small_hinge_operator(monkeypatch, mode)
    terms, newton, radial_error = _late_radial_newton(op, rng)
    U = terms[-1]
    prec = ops.Preconditioner(op, *terms, center=True)
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


@pytest.mark.parametrize("mode", ["samples", "variables"])
def test_direct_factorization_is_the_late_newton_matrix(monkeypatch, mode):
    # the Newton matrix factored as a whole (no Woodbury identity): its factor is the
    # matrix H that the matrix-free products apply, column by column, and a solve with it
    # is backward stable (H x = r up to round-off next to ||H|| ||x||; the Newton matrix
    # here has a scaled condition number of about 1e12)
    ops, program, op, rng = _small_hinge_operator(monkeypatch, mode)
    terms, newton, _ = _late_radial_newton(op, rng)
    prec = ops.Preconditioner(op, *terms, center=True)
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


def test_direct_factorization_is_left_out_when_too_wide_or_coupled(monkeypatch):
    ops, program, op, rng = _small_hinge_operator(monkeypatch)
    terms, _, _ = _late_radial_newton(op, rng)
    o, _, P, d, m = program.shape
    monkeypatch.setattr(ops, "DENSE_MAX", 2 * P * m * d - 1)
    prec = ops.Preconditioner(op, *terms, center=True)
    assert not prec.densify() and prec.dense is None
    monkeypatch.setattr(ops, "DENSE_MAX", 2 * P * m * d)
    assert prec.densify() and prec.dense is not None
    # the softmax's coupled curvature: its capacitance couples the outputs, no direct form
    program, *_ = small_problem("cross_entropy", n=30, n_outputs=3, P=2)
    op = ops.Operator(program)
    U, c1, c2, ht, hr = _spread_newton_terms(op, rng)
    p = np.full((30, 3), 1.0 / 3)
    Dfull = (np.eye(3) * p[:, None, :] - p[:, :, None] * p[:, None, :]) / 30
    Dd = np.einsum("naa->na", Dfull)
    prec = ops.Preconditioner(op, c1, c2, Dd, ht, hr, U, center=True, Dfull=Dfull)
    assert prec.mode.startswith("coupled")
    assert not prec.densify() and prec.dense is None


@pytest.mark.parametrize("mode", ["samples", "variables"])
def test_direct_factorization_in_the_last_iterations(monkeypatch, mode):
    # from the first iteration on (both thresholds at 0) and never: the same optimum,
    # every certificate holding; the default waits for costly solves late in a run
    import skconvexrelu.solvers._native as nat
    import skconvexrelu.solvers._native_ops as ops

    monkeypatch.setattr(ops, "CAPACITANCE", mode)
    program, loss, Y, w, beta = small_problem("hinge", n=300, P=5, width=5)
    runs = {}
    for after in (0, 10**9):
        monkeypatch.setattr(nat, "DEFLATE_AFTER_CG", after)
        monkeypatch.setattr(nat, "DENSE_AFTER_CG", after)
        runs[after] = res = solve_native(program, loss, Y, w, beta)
        _check_solution(program, loss, Y, w, beta, res)
    assert runs[0].n_direct >= runs[0].n_iter - 5
    assert runs[10**9].n_direct == 0
    assert runs[0].objective == pytest.approx(runs[10**9].objective, rel=1e-6)
    # with the direct factorization, CG needs a few steps per solve at most
    assert runs[0].n_cg < runs[10**9].n_cg


def test_coarse_space_stays_within_its_memory_cap(monkeypatch):
    ops, program, op, rng = _small_hinge_operator(monkeypatch)
    U, c1, c2, ht, hr = _spread_newton_terms(op, rng)
    Dd = np.ones((program.n_samples, 1))
    prec = ops.Preconditioner(op, c1, c2, Dd, ht, hr, U, center=True)
    r = 2 * U.shape[0] * U.shape[2] * U.shape[4]  # every sign pair's sum and difference
    monkeypatch.setattr(ops, "DEFLATE_MAX_ENTRIES", r * U.size - 1)
    assert not prec.deflate(U) and prec.coarse is None
    monkeypatch.setattr(ops, "DEFLATE_MAX_ENTRIES", r * U.size)
    assert prec.deflate(U) and prec.coarse[0].shape == (r, U.size)


def test_coarse_space_cuts_the_late_hinge_solves(monkeypatch):
    # the same program with the coarse space at every iteration and never: the same
    # optimum, half the conjugate-gradient steps (measured 191 against 379)
    import skconvexrelu.solvers._native as nat

    program, loss, Y, w, beta = small_problem("hinge", n=300, P=5, width=5)
    runs = {}
    for after in (0, 10**9):
        monkeypatch.setattr(nat, "DEFLATE_AFTER_CG", after)
        runs[after] = res = solve_native(program, loss, Y, w, beta)
        _check_solution(program, loss, Y, w, beta, res)
    assert runs[0].objective == pytest.approx(runs[10**9].objective, rel=1e-6)
    assert runs[0].n_cg < 0.7 * runs[10**9].n_cg


def test_working_set_rounds_restart_without_crawling(monkeypatch):
    """After the first working set the solution violates new constraints by up to about
    its own size; a round that restarted with slacks of 1e-3 max |X~ u| crawled at tiny
    step lengths (66 iterations in all here, 38 with slacks scaled to the violation and
    the early rounds stopped at a gap of 0.1). The optimum is the full program's."""
    import skconvexrelu.solvers._native as native

    monkeypatch.setattr(native, "GROW_IN_RUN", False)  # the rounds (beyond GROW_MAX_N)
    monkeypatch.setattr(native, "WS_SMALL_N", 0)  # ... whose first sets are the large ones
    program, loss, Y, w, beta = small_problem("squared", n=300, P=6, width=5)
    ws = solve_native(program, loss, Y, w, beta, working_set=True)
    program, loss, Y, w, beta = small_problem("squared", n=300, P=6, width=5)
    full = solve_native(program, loss, Y, w, beta, working_set=False)
    assert ws.solver == "native:ipm-pcg+working-set"
    assert ws.status == "optimal"
    assert ws.n_iter <= 50
    assert ws.objective == pytest.approx(full.objective, rel=1e-6)


@pytest.mark.parametrize("loss", ["squared", "hinge", "cross_entropy"])
def test_working_set_grows_inside_one_run(monkeypatch, loss):
    """Up to GROW_MAX_N samples the violated constraints join during the run: one
    interior-point run (no restarted rounds) reaches the full program's optimum, in fewer
    iterations than the rounds need."""
    import skconvexrelu.solvers._native as native

    monkeypatch.setattr(native, "WS_FIRST_ROWS", 1)
    monkeypatch.setattr(native, "WS_SECOND_ROWS", 1)
    kw = dict(n=300, P=6, width=5)
    iters = {}
    for grow in (True, False):
        monkeypatch.setattr(native, "GROW_IN_RUN", grow)
        program, loss_, Y, w, beta = small_problem(loss, **kw)
        res = solve_native(program, loss_, Y, w, beta, working_set=True)
        _check_solution(program, loss_, Y, w, beta, res)
        ws = program._native_working_set
        assert native.grow_working_set(program, ws, res.U, 1e-10)[1] == 0
        iters[grow] = (res.n_rounds, res.n_iter, res.objective)
    rounds, n_iter, objective = iters[True]
    assert rounds == 1
    assert iters[False][0] >= 3  # the same start needs several rounds without growth
    assert n_iter < iters[False][1]
    assert objective == pytest.approx(iters[False][2], rel=1e-6)


@pytest.mark.parametrize("loss, grows", [("squared", False), ("cross_entropy", True)])
def test_growth_size_cap_depends_on_the_loss(monkeypatch, loss, grows):
    # beyond GROW_MAX_N the squared loss goes by rounds; the cross-entropy grows in the
    # run at every size (by rounds it broke down at 16,000 samples)
    import skconvexrelu.solvers._native as native

    monkeypatch.setattr(native, "WS_FIRST_ROWS", 1)
    monkeypatch.setattr(native, "WS_SECOND_ROWS", 1)
    monkeypatch.setattr(native, "GROW_MAX_N", 10)
    program, loss_, Y, w, beta = small_problem(loss, n=300, P=6, width=5)
    res = solve_native(program, loss_, Y, w, beta, working_set=True)
    _check_solution(program, loss_, Y, w, beta, res)
    assert (res.n_rounds == 1) == grows


def test_a_run_left_infeasible_by_its_growth_goes_on_by_rounds(monkeypatch):
    """When the Newton systems break down before the rows that joined during the run
    have lost their residual (hinge loss, 4,000 samples), no iterate is feasible: the
    solver then restarts by rounds instead of returning an infeasible point."""
    import skconvexrelu.solvers._native as native

    monkeypatch.setattr(native, "WS_FIRST_ROWS", 1)
    calls = []
    solve = native._solve_ipm

    def breaking_down(*args, **kwargs):
        calls.append(kwargs["grow"])
        if kwargs["grow"]:  # the growing run "breaks down" after a few iterations
            res = solve(*args, **{**kwargs, "max_iter": 4})
            res.feasible, res.status = False, "stalled"
            return res
        return solve(*args, **kwargs)

    monkeypatch.setattr(native, "_solve_ipm", breaking_down)
    program, loss, Y, w, beta = small_problem("squared", n=120)
    res = solve_native(program, loss, Y, w, beta, working_set=True)
    assert calls[0] is True and not any(calls[1:]) and len(calls) >= 2
    _check_solution(program, loss, Y, w, beta, res)


def test_a_grown_run_stalled_near_tol_is_finished_by_a_round(monkeypatch):
    """A growing run that ends feasible but "stalled" (its certificate stuck just above
    tol: a hinge fit of 8,000 samples) is finished by one round from its point, which
    restarts the barrier, instead of returning with a warning."""
    import warnings

    import skconvexrelu.solvers._native as native

    calls = []
    solve = native._solve_ipm

    def stalling(*args, **kwargs):
        calls.append((kwargs["grow"], kwargs["U0"] is not None))
        res = solve(*args, **kwargs)
        if kwargs["grow"]:
            assert res.feasible
            res.status = "stalled"
        return res

    monkeypatch.setattr(native, "_solve_ipm", stalling)
    program, loss, Y, w, beta = small_problem("hinge", n=300, P=6, width=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = solve_native(program, loss, Y, w, beta, working_set=True)
    assert calls[0] == (True, False)
    assert calls[1:] == [(False, True)]  # one round, started from the grown run's point
    _check_solution(program, loss, Y, w, beta, res)


def test_rows_joining_a_run_start_on_the_central_path():
    from skconvexrelu.solvers._native import _extend_pairs

    s = np.array([[0.5, 2.0]])
    lam = np.array([[0.2, 0.05]])
    Gs = np.array([[0.4, 2.0], [-0.3, 1e-6], [0.7, 0.0]])  # two rows join
    M = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0]])  # one joins padded (-1)
    s2, lam2 = _extend_pairs(s, lam, Gs, 1, M, mu=0.1, floor=1e-3)
    np.testing.assert_array_equal(s2[:1], s)  # old pairs untouched
    np.testing.assert_array_equal(lam2[:1], lam)
    # a violated row's slack mirrors the violation, a nearly active one gets the floor
    np.testing.assert_allclose(s2[1:], [[0.3, 1e-3], [0.7, 1.0]])
    np.testing.assert_allclose((s2 * lam2)[1:], [[0.1, 0.1], [0.1, 0.0]])


@pytest.mark.parametrize(
    "kw, fit_intercept",
    [
        (dict(n_outputs=2), True),
        (dict(), False),
        (dict(n_outputs=2), False),
        (dict(weights=True), True),
    ],
)
def test_working_sets_reach_the_full_optimum_for_the_squared_loss(kw, fit_intercept):
    """On working sets the squared loss reuses the certificate's J^T r for the KKT
    residual and the Newton right-hand side (shifted by multiples of J^T w per output and
    intercept): several outputs, no intercept and sample weights reach the optimum of
    the full program."""
    objectives = []
    for working_set in (False, True):
        program, loss, Y, w, beta = small_problem("squared", n=300, P=6, width=5, **kw)
        res = solve_native(
            program, loss, Y, w, beta, working_set=working_set, fit_intercept=fit_intercept
        )
        assert res.status == "optimal"
        objectives.append(res.objective)
    assert objectives[1] == pytest.approx(objectives[0], rel=1e-7)


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_reused_loss_products_give_the_same_iterates(monkeypatch, n_outputs):
    """The reuse of the certificate's J^T r (squared loss, working sets) changes no
    iterate: started with an intercept far from its optimum (so that the KKT residual's
    and the right-hand side's shifts by J^T w are large), three iterations with and
    without it end at the same point."""
    import skconvexrelu.solvers._native as native

    out = []
    for reuse in (True, False):
        monkeypatch.setattr(native, "REUSE_JTR", reuse)
        program, loss, Y, w, beta = small_problem(
            "squared", n=300, P=6, width=5, n_outputs=n_outputs
        )
        b0 = np.array([5.0, -3.0][:n_outputs])
        with pytest.warns(ConvergenceWarning):
            res = solve_native(program, loss, Y, w, beta, working_set=True, max_iter=3, b0=b0)
        out.append((res.U, res.intercept))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-8)


@pytest.mark.parametrize("loss_name", ["hinge", "cross_entropy"])
def test_loss_products_through_the_preconditioner_give_the_same_iterates(
    monkeypatch, loss_name
):
    """On working sets with a variable-space preconditioner, CG's loss products use the
    preconditioner's Gram matrices of the current curvature instead of passes over the
    data: the iterates are the same as with the passes, and the fit reaches the full
    program's optimum."""
    import skconvexrelu.solvers._native as native
    import skconvexrelu.solvers._native_ops as ops

    monkeypatch.setattr(ops, "CAPACITANCE", "variables")
    # exact Gram matrices: with float32 products the two runs' directions differ by their
    # rounding
    monkeypatch.setattr(native, "GRAM_FLOAT32", False)
    out = []
    for through_prec in (True, False):
        monkeypatch.setattr(native, "PREC_LOSS_PRODUCTS", through_prec)
        program, loss, Y, w, beta = small_problem(loss_name, n=300, P=6, width=5)
        with pytest.warns(ConvergenceWarning):
            res = solve_native(program, loss, Y, w, beta, working_set=True, max_iter=4)
        out.append(res.U)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-6, atol=1e-9)
    monkeypatch.setattr(native, "PREC_LOSS_PRODUCTS", True)
    program, loss, Y, w, beta = small_problem(loss_name, n=300, P=6, width=5)
    ws = solve_native(program, loss, Y, w, beta, working_set=True)
    program, loss, Y, w, beta = small_problem(loss_name, n=300, P=6, width=5)
    full = solve_native(program, loss, Y, w, beta, working_set=False)
    assert ws.status == "optimal"
    assert ws.objective == pytest.approx(full.objective, rel=1e-5)


@pytest.mark.parametrize("useful", [False, True])
def test_stops_when_cg_keeps_hitting_its_cap(monkeypatch, useful):
    # Newton systems beyond double precision (hinge at 4,000 samples): every solve runs CG
    # to its cap and the directions stop helping. Simulated: from the 13th solve on, CG
    # reports its cap and returns 1e-3 of the direction (useless) or all of it (useful).
    from skconvexrelu.solvers import _native as native

    real, calls = native._cg, [0]

    def capped(matvec, precond, rhs, rtol, maxiter):
        calls[0] += 1
        x, it = real(matvec, precond, rhs, rtol, maxiter)
        if calls[0] <= 12:
            return x, it
        return (x if useful else 1e-3 * x), maxiter

    monkeypatch.setattr(native, "_cg", capped)
    program, loss, Y, w, beta = small_problem(loss="squared")
    if useful:  # progress continues: no early stop
        res = solve_native(program, loss, Y, w, beta, max_iter=60)
        assert res.status == "optimal"
        return
    with pytest.warns(ConvergenceWarning, match="stalled"):
        res = solve_native(program, loss, Y, w, beta, max_iter=60)
    assert res.status == "stalled"
    # the solves of the first 3 iterations are real, then CG_FAIL_PATIENCE = 5 capped ones
    # without progress (the older rules alone stopped after 16)
    assert native.CG_FAIL_PATIENCE == 5
    assert res.n_iter <= 9
    assert np.isfinite(res.objective)


def test_corrector_count_follows_the_cost_of_the_preconditioner():
    from skconvexrelu.solvers._native import MAX_CORRECTORS, n_correctors

    program = small_problem(n=50, d=4, width=3)[0]  # blocks of 15: cheap next to n
    assert n_correctors(program) == 1
    assert n_correctors(program, working_set=True) == MAX_CORRECTORS == 3
    wide = small_problem(n=50, d=20, width=3)[0]  # blocks of 63: 63^2 >= 60 * 50
    assert n_correctors(wide) == 3


@pytest.mark.parametrize("ratio", [60, 0])
def test_iterations_run_at_most_the_chosen_correctors(monkeypatch, capsys, ratio):
    from skconvexrelu.solvers import _native as native

    monkeypatch.setattr(native, "CORRECTOR_RATIO", ratio)  # 0: always the full set
    program, loss, Y, w, beta = small_problem(loss="hinge")
    res = solve_native(program, loss, Y, w, beta, verbose=2)
    assert res.status == "optimal"
    used = [
        int(line.split(" gz ")[1].split()[0])
        for line in capsys.readouterr().out.splitlines()
        if " gz " in line
    ]
    assert used and max(used) <= native.n_correctors(program)
    if ratio == 0:  # the test can tell the two apart: three correctors do get used
        assert max(used) == 3


def test_certificate_reaches_tol_on_separable_hinge_data():
    """acute-inflammation (separable) with the hinge loss and beta = 1e-4: the primal point
    converged, but 80 to 140 columns of the dual point exceeded beta by up to 20%, too many
    for the usual repair, and the certified gap stalled at 1.1e-2 ("stalled", a warning).
    When only those columns keep the gap above tol, all of them are repaired."""
    import warnings

    from skconvexrelu import ConvexThreeLayerClassifier
    from skconvexrelu.datasets import load_uci

    X, y = load_uci("acute-inflammation", return_X_y=True)
    est = ConvexThreeLayerClassifier(loss="hinge", beta=1e-4, solver="ipm", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    assert est.solver_status_ == "optimal"
    assert est.stop_criterion_ <= est.tol


def test_softmax_preconditioner_stays_exact_with_the_intercept_at_small_beta():
    """pittsburg-bridges-SPAN (3 classes), cross-entropy, beta = 1e-4: with the intercept
    eliminated by a rank-o downdate, the downdate was dropped as not positive, CG ran to
    its cap from iteration 7 and the solver stopped with "numerical_error" 52% above the
    optimum. The projected rows keep the preconditioner exact."""
    import warnings

    from skconvexrelu import ConvexThreeLayerClassifier
    from skconvexrelu.datasets import load_uci

    X, y = load_uci("pittsburg-bridges-SPAN", return_X_y=True)
    est = ConvexThreeLayerClassifier(beta=1e-4, solver="ipm", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    assert est.n_outputs_ == 3
    assert est.solver_status_ == "optimal"
    assert est.stop_criterion_ <= est.tol


def test_softmax_intercept_block_keeps_its_null_direction():
    """The softmax's intercept block is singular along (1, ..., 1); its round-off
    eigenvalue there (1e-17, positive at some iterates) was inverted, the Newton matrix
    turned indefinite and CG broke down (standardized iris, beta = 1e-4: "stalled" at
    twice the optimum)."""
    import warnings

    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    from skconvexrelu import ConvexThreeLayerClassifier

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = ConvexThreeLayerClassifier(beta=1e-4, solver="ipm", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    assert est.solver_status_ == "optimal"
    assert est.stop_criterion_ <= est.tol


@pytest.mark.parametrize("beta", [0.5, 1.0])
def test_zero_network_is_returned_when_the_dual_bound_certifies_it(beta):
    """Above the smallest beta whose optimum is zero, but below the estimators' shortcut
    (which bounds it without the cone multipliers), the iterates go to zero with a cone
    violation that stays at a fixed fraction of max |X~ u|: iris, 3 classes, beta = 1
    ended "stalled" (gap 2e-7, relative violation 3e-2). The zero network is feasible,
    and the dual bound certifies it."""
    import warnings

    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    from skconvexrelu import ConvexThreeLayerClassifier

    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    est = ConvexThreeLayerClassifier(
        beta=beta, width=3, n_arrangements=10, solver="ipm", random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    assert est.solver_status_ == "optimal" and est.n_iter_ > 0  # not the shortcut
    assert est.n_subnetworks_ == 0
    assert est.objective_ == pytest.approx(np.log(3.0), rel=1e-9)
    assert est.stop_criterion_ <= est.tol


def _pilot_setup(monkeypatch, pilot):
    import skconvexrelu.solvers._native as native

    # a small program with working sets everywhere (the pilot's too) and small first sets,
    # so that many rows join during the run without a pilot
    monkeypatch.setattr(native, "WORKING_SET_MIN_N", 100)
    monkeypatch.setattr(native, "WS_FIRST_ROWS", 1)
    monkeypatch.setattr(native, "WS_SECOND_ROWS", 1)
    monkeypatch.setattr(native, "PILOT_MIN_N", 500 if pilot else 10**9)
    monkeypatch.setattr(native, "PILOT_FRACTION", 0.25)
    return native


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_pilot_working_set_reaches_the_same_optimum_sooner(monkeypatch, loss):
    """From PILOT_MIN_N samples on, a pilot solve on a part of the samples gives the
    first working set: the same optimum, feasible for every sample, with fewer rows
    joining during the run (cross-entropy, 8,000 teacher samples: 80 iterations -> 31)."""
    runs = {}
    for pilot in (False, True):
        native = _pilot_setup(monkeypatch, pilot)
        program, loss_, Y, w, beta = small_problem(loss, n=600, P=6, width=5)
        res = solve_native(program, loss_, Y, w, beta)
        _check_solution(program, loss_, Y, w, beta, res)
        ws = program._native_working_set
        assert native.grow_working_set(program, ws, res.U, 1e-10)[1] == 0
        runs[pilot] = res
    assert runs[True].objective == pytest.approx(runs[False].objective, rel=1e-6)
    assert runs[True].n_grown < runs[False].n_grown
    assert runs[True].n_iter < runs[False].n_iter
    assert runs[True].n_pilot_iter > 0 and runs[False].n_pilot_iter == 0


def test_rows_join_with_a_larger_quota_after_a_pilot(monkeypatch):
    """After a pilot most rows are known up front, and the ones still joining come in
    PILOT_GROW_FRACTION of a round's quota (GROW_FRACTION without a pilot)."""
    seen = {}
    for pilot in (False, True):
        native = _pilot_setup(monkeypatch, pilot)
        monkeypatch.setattr(native, "PILOT_GROW_FRACTION", 0.75)
        grow = native.grow_working_set
        fractions = seen[pilot] = []

        def spy(program, *args, fraction=1.0, _grow=grow, _seen=fractions, **kwargs):
            if program.n_samples == 600:  # the full run's, not the pilot's own
                _seen.append(fraction)
            return _grow(program, *args, fraction=fraction, **kwargs)

        monkeypatch.setattr(native, "grow_working_set", spy)
        program, loss, Y, w, beta = small_problem("cross_entropy", n=600, P=6, width=5)
        res = solve_native(program, loss, Y, w, beta)
        monkeypatch.setattr(native, "grow_working_set", grow)
        _check_solution(program, loss, Y, w, beta, res)
        assert (res.n_pilot_iter > 0) == pilot
    # inside the run (fraction below 1: the checks between rounds take the whole quota)
    assert set(seen[False]) - {1.0} == {native.GROW_FRACTION}
    # (the pilot's violated rows join first, PILOT_ADD_FRACTION quotas for the
    # cross-entropy)
    assert seen[True][0] == native.PILOT_ADD_FRACTION["cross_entropy"]
    assert set(seen[True][1:]) - {1.0} == {0.75}


def test_pilot_adds_more_violated_rows_for_the_cross_entropy(monkeypatch):
    """The cross-entropy's run grows its working set at every size: the rows that the
    pilot's point violates on the full data join up front by PILOT_ADD_FRACTION quotas
    (one for the other losses), and fewer join during the run."""
    rows, grown = {}, {}
    for frac in ({}, {"cross_entropy": 12.0}):
        native = _pilot_setup(monkeypatch, True)
        monkeypatch.setattr(native, "PILOT_ADD_FRACTION", frac)
        program, loss, Y, w, beta = small_problem("cross_entropy", n=600, P=6, width=5)
        ws, _ = native.pilot_working_set(program, loss, Y, w, beta, True, 1e-6, 1e-10)
        rows[len(frac)] = sum(np.count_nonzero(a >= 0) for a in ws)
        res = solve_native(program, loss, Y, w, beta)
        _check_solution(program, loss, Y, w, beta, res)
        grown[len(frac)] = res.n_grown
    assert rows[1] > rows[0]
    assert grown[1] <= grown[0]


def test_pilot_working_set_maps_its_rows_to_the_full_data(monkeypatch):
    native = _pilot_setup(monkeypatch, True)
    program, loss, Y, w, beta = small_problem("cross_entropy", n=600, P=6, width=5)
    n = program.n_samples
    first = native.initial_working_set(program)
    ws, n_iter = native.pilot_working_set(program, loss, Y, w, beta, True, 1e-6, 1e-10)
    assert n_iter > 0
    for idx, idx0 in zip(ws, first, strict=True):
        assert idx.shape[1:] == idx0.shape[1:]
        flat = idx.reshape(idx.shape[0], -1)
        assert flat.min() >= -1 and flat.max() < n
        for col in flat.T:  # every column's (block's) rows distinct
            rows = col[col >= 0]
            assert np.unique(rows).size == rows.size
        assert np.count_nonzero(flat >= 0) > idx0.size  # more than the first sets
    # it starts with the pilot's own final working set, in the full data's row numbers
    from skconvexrelu._arrangements import Configurations
    from skconvexrelu._program import ConvexProgram

    rows = np.sort(np.random.default_rng(0).choice(n, int(0.25 * n), replace=False))
    conf = program.conf
    sub = ConvexProgram(
        program.Xt[rows], Configurations(conf.D1[rows], conf.signs, conf.D2[rows])
    )
    pilot = solve_native(
        sub, loss, Y[rows], w[rows] / w[rows].sum(), beta, tol=native.PILOT_TOL
    )
    for idx, own in zip(ws, pilot.working_set, strict=True):
        mapped = np.where(own >= 0, rows[np.maximum(own, 0)], -1)
        assert np.array_equal(idx[: own.shape[0]], mapped)
    # then the rows outside the pilot's samples that its solution violates
    assert np.setdiff1d(ws[0][ws[0] >= 0], rows).size > 0


def test_pilot_without_weight_falls_back_to_the_first_working_set(monkeypatch):
    native = _pilot_setup(monkeypatch, True)
    program, loss, Y, w, beta = small_problem("squared", n=600, P=6, width=5)
    rows = np.sort(np.random.default_rng(0).choice(600, 150, replace=False))
    w = w.copy()
    w[rows] = 0.0
    w /= w.sum()
    assert native.pilot_working_set(program, loss, Y, w, beta, True, 1e-6, 1e-10)[0] is None
    res = solve_native(program, loss, Y, w, beta)
    # the same run as without a pilot
    native = _pilot_setup(monkeypatch, False)
    fresh, *_ = small_problem("squared", n=600, P=6, width=5)
    ref = solve_native(fresh, loss, Y, w, beta)
    assert res.n_iter == ref.n_iter and res.n_pilot_iter == 0
    assert res.objective == ref.objective
    assert np.array_equal(res.U, ref.U)


def test_loss_gram_by_float32_products(monkeypatch):
    """The variable-space loss Gram matrix by float32 products (``cache["gram32"]``) is
    the float64 one to float32 accuracy, from the kept rows and by chunks of samples;
    ``J^T dk`` is exact either way."""
    import skconvexrelu.solvers._native_ops as ops

    program, _, _, _, _ = small_problem("cross_entropy", n=300, P=6, width=5)
    op = ops.Operator(program)
    dk = np.random.default_rng(0).uniform(1e-3, 1.0, 300)
    out = {}
    for kept in (True, False):
        monkeypatch.setattr(ops, "ROWS_CACHE_BYTES", 2**30 if kept else 0)
        for lo in (False, True):
            M, msum = ops.Preconditioner._gram(op, dk, 128, {"gram32": lo})
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


@pytest.mark.parametrize("loss_name", ["hinge", "cross_entropy"])
def test_float32_gram_while_the_gap_is_large(monkeypatch, loss_name):
    """The cross-entropy's loss Gram matrix is formed in float32 products while the
    certified gap is above ``GRAM_FLOAT32_GAP`` and in float64 after: the fit is certified
    at the optimum of the float64 run. The hinge loss's stays in float64."""
    import skconvexrelu.solvers._native as native
    import skconvexrelu.solvers._native_ops as ops

    monkeypatch.setattr(ops, "CAPACITANCE", "variables")
    real, flags = ops.Preconditioner._gram, []

    def spy(op, dk, chunk, cache=None):
        flags.append(bool(cache is not None and cache.get("gram32", False)))
        return real(op, dk, chunk, cache)

    monkeypatch.setattr(ops.Preconditioner, "_gram", staticmethod(spy))
    res = {}
    for on in (True, False):
        monkeypatch.setattr(native, "GRAM_FLOAT32", on)
        flags.clear()
        program, loss, Y, w, beta = small_problem(loss_name, n=300, P=6, width=5)
        res[on] = solve_native(program, loss, Y, w, beta, working_set=True)
        assert any(flags) == (on and loss_name == "cross_entropy")
        assert not flags[-1]  # the last iterations in float64
    assert res[True].status == "optimal"
    assert res[True].stop_criterion <= 1e-6
    assert res[True].objective == pytest.approx(res[False].objective, rel=1e-6)


def test_top_near_picks_the_largest_near_entries():
    """``_top_near`` keeps, per column, the rows of its largest entries among the near
    ones, padded with -1: the same sets as a partition of every row, whether few entries
    are near (sorted) or many (partitioned)."""
    from skconvexrelu.solvers._native import _top_near

    rng = np.random.default_rng(0)
    for frac in (0.01, 0.5):
        v = rng.standard_normal((2000, 30))
        v[:, 0] = -10.0  # a column with nothing near
        v[:3, 1], v[3:, 1] = 5.0, -10.0  # fewer near rows than kept
        near = v > np.quantile(v[:, 2:], 1.0 - frac)
        a = 5
        out = _top_near(v, near, a)
        assert out.shape == (a, 30)
        for j in range(30):
            cand = np.flatnonzero(near[:, j])
            want = cand[np.argsort(-v[cand, j])][:a]
            got = out[:, j][out[:, j] >= 0]
            assert sorted(got) == sorted(want)
        assert np.all(out[:, 0] == -1)
        assert np.count_nonzero(out[:, 1] >= 0) == 3


@pytest.mark.parametrize("center", [False, True])
def test_loss_gram_products_before_and_after_forming_its_matrix(center):
    """The squared loss's Hessian products through the rows' structure (before the Gram
    matrix is formed) equal those through the Gram matrix and the explicit
    ``J^T diag(w) J V`` (minus the intercept's part); the matrix is formed only on use."""
    import skconvexrelu.solvers._native_ops as ops

    program, _, _, w, _ = small_problem(
        "squared", n=120, P=5, width=4, n_outputs=2, weights=True
    )
    w = w / w.sum()
    op = ops.Operator(program)
    gram = ops.LossGram(op, w)
    V = np.random.default_rng(3).standard_normal(program.shape)
    by_rows = gram.hess(V, center)
    assert not gram.formed
    assert gram.M.shape == (program.shape[2] * program.shape[3] * program.shape[4],) * 2
    assert gram.formed
    by_gram = gram.hess(V, center)
    F = op.F(op.g(op.Z(V)))
    if center:
        F = F - (w @ F) / w.sum()
    direct = op.adjoint(R=w[:, None] * F)
    np.testing.assert_allclose(by_rows, direct, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(by_gram, direct, rtol=1e-10, atol=1e-12)
    X, A = ops.Preconditioner._row_factors(op)
    assert A.flags.c_contiguous  # viewed as (n, P m) by every solve


@pytest.mark.parametrize(("space", "formed"), [("samples", 0), ("variables", 1)])
def test_squared_loss_gram_is_formed_only_for_a_variable_space_capacitance(
    monkeypatch, space, formed
):
    """Working sets, squared loss: the ``P m d~`` square loss Gram matrix (``O(n (P m
    d~)^2)`` to form) is formed once when the preconditioner's capacitance lives in
    variable space, and never when it lives in sample space; both fits reach the
    optimum."""
    import skconvexrelu.solvers._native_ops as ops

    monkeypatch.setattr(ops, "CAPACITANCE", space)
    calls = []
    gram = ops.Preconditioner._gram

    def spy(*args, **kwargs):
        calls.append(1)
        return gram(*args, **kwargs)

    monkeypatch.setattr(ops.Preconditioner, "_gram", staticmethod(spy))
    program, loss, Y, w, beta = small_problem("squared", n=300, P=6, width=5)
    res = solve_native(program, loss, Y, w, beta, working_set=True)
    assert len(calls) == formed
    _check_solution(program, loss, Y, w, beta, res)
    ref = solve_native(*small_problem("squared", n=300, P=6, width=5), working_set=False)
    assert res.objective == pytest.approx(ref.objective, rel=1e-6)
