"""Tests of the interior-point method's entry point, ``solve_native``
(``skconvexrelu.solvers.ipm``): its optimum against cvxpy + Clarabel on small programs,
its statuses, warm starts, precision and settings."""

import numpy as np
import pytest
from _ipm_checks import check_solution, with_working_set
from _programs import reference_solution, small_problem
from sklearn.exceptions import ConvergenceWarning

from skconvexrelu.solvers.ipm import ALGO, ALGO_WS, estimate_memory, solve_native
from skconvexrelu.solvers.settings import IPMSettings, PreconditionerSettings

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
    check_solution(program, loss, Y, w, beta, res)
    ref = reference_solution(program, loss, Y, w, beta)
    # the native certificate is a proven bound: within tol of the restricted optimum;
    # the two solvers agree to 1e-4 relative
    assert res.objective == pytest.approx(ref.objective, rel=1e-4)


@pytest.mark.parametrize("loss", ["squared", "hinge", "cross_entropy"])
def test_zero_weight_samples_keep_the_certificate(loss):
    # samples of zero weight still constrain the cones but add nothing to the loss: the
    # dual bound must skip them (0 / 0 in the conjugate would make it NaN, and the run
    # would stall with an infinite gap at the optimum)
    program, loss_, Y, w, beta = small_problem(loss, n=60, P=4)
    w = w.copy()
    w[::5] = 0.0
    w /= w.sum()
    res = solve_native(program, loss_, Y, w, beta, working_set=False)
    check_solution(program, loss_, Y, w, beta, res)
    assert np.isfinite(res.history).all()
    ref = reference_solution(program, loss_, Y, w, beta)
    assert res.objective == pytest.approx(ref.objective, rel=1e-4)


def test_no_intercept_and_no_bias_column():
    program, loss, Y, w, beta = small_problem("squared", bias=False, seed=3)
    res = solve_native(program, loss, Y, w, beta, fit_intercept=False)
    check_solution(program, loss, Y, w, beta, res)
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
    # the optimum with its dual variables: certified at once; the same point without
    # them restarts the slacks and multipliers and needs several iterations
    program, loss, Y, w, beta = small_problem("cross_entropy", n=60)
    cold = solve_native(program, loss, Y, w, beta)
    assert cold.n_iter > 5
    assert cold.warm_start is not None and cold.warm_start.working_set is None
    warm = solve_native(
        program, loss, Y, w, beta, U0=cold.U, b0=cold.intercept, warm_start=cold.warm_start
    )
    assert warm.status == "optimal"
    assert warm.n_iter <= 2
    assert warm.objective == pytest.approx(cold.objective, rel=1e-6)
    primal = solve_native(program, loss, Y, w, beta, U0=cold.U, b0=cold.intercept)
    assert primal.status == "optimal"
    assert primal.n_iter > warm.n_iter + 2


def test_warm_start_elsewhere_uses_no_dual_variables():
    # a warm start whose point is not U0 is not used: the same run as without it
    program, loss, Y, w, beta = small_problem("squared", n=60)
    cold = solve_native(program, loss, Y, w, beta)
    U0 = 0.5 * cold.U
    plain = solve_native(program, loss, Y, w, beta, U0=U0, b0=cold.intercept)
    other = solve_native(
        program, loss, Y, w, beta, U0=U0, b0=cold.intercept, warm_start=cold.warm_start
    )
    assert other.n_iter == plain.n_iter
    np.testing.assert_array_equal(other.U, plain.U)


def test_warm_start_reuses_the_working_set():
    # on working sets the warm start carries the final working set: started at its own
    # point, the run is certified at once on the same rows; without it the rows have to
    # join again
    program, loss, Y, w, beta = small_problem("squared", n=120)
    cold = solve_native(program, loss, Y, w, beta, working_set=True)
    assert cold.solver == ALGO_WS
    assert all(
        np.array_equal(a, b)
        for a, b in zip(cold.warm_start.working_set, cold.working_set, strict=True)
    )
    kw = dict(working_set=True, U0=cold.U, b0=cold.intercept)
    warm = solve_native(program, loss, Y, w, beta, warm_start=cold.warm_start, **kw)
    primal = solve_native(program, loss, Y, w, beta, **kw)
    assert warm.status == primal.status == "optimal"
    assert warm.working_set_rows == cold.working_set_rows
    assert warm.n_iter <= 2
    assert primal.n_iter > warm.n_iter + 5
    assert warm.objective == pytest.approx(cold.objective, rel=1e-6)


def test_warm_start_primal_only():
    # a primal warm start from a nearby problem (another beta) also converges
    program, loss, Y, w, beta = small_problem("squared", n=60)
    other = solve_native(program, loss, Y, w, 2 * beta)
    res = solve_native(program, loss, Y, w, beta, U0=other.U, b0=other.intercept)
    check_solution(program, loss, Y, w, beta, res)
    ref = solve_native(program, loss, Y, w, beta)
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
    from skconvexrelu.solvers.ipm import _run

    program, loss, Y, w, beta = small_problem("squared", n=40)
    assert estimate_memory(program) > 0
    monkeypatch.setattr(_run, "available_memory_bytes", lambda: 1000)
    with pytest.raises(MemoryError, match="GiB"):
        solve_native(program, loss, Y, w, beta)
    with pytest.raises(MemoryError, match="GiB"):  # on working sets too
        solve_native(program, loss, Y, w, beta, working_set=True)


def test_zero_rows_and_constant_configurations():
    # a sample equal to zero (no bias column) gives identically-zero constraint rows,
    # which the solver must leave out
    program, loss, Y, w, beta = small_problem("squared", bias=False, seed=2)
    program.Xt[0] = 0.0
    res = solve_native(program, loss, Y, w, beta)
    check_solution(program, loss, Y, w, beta, res)
    ref = reference_solution(program, loss, Y, w, beta)
    assert res.objective == pytest.approx(ref.objective, rel=1e-4)


@pytest.mark.parametrize("loss", ["squared", "hinge"])
def test_variable_space_capacitance(loss):
    # large n switches the preconditioner's capacitance matrix to variable space; force
    # it on a small problem: same optimum, and CG still converges in a few steps
    program, loss_, Y, w, beta = small_problem(loss, n=40, P=3)
    ref = solve_native(program, loss_, Y, w, beta)
    settings = IPMSettings(preconditioner=PreconditionerSettings(capacitance="variables"))
    res = solve_native(program, loss_, Y, w, beta, settings=settings)
    check_solution(program, loss_, Y, w, beta, res)
    assert res.objective == pytest.approx(ref.objective, rel=1e-5)
    assert res.n_cg <= 25 * res.n_iter  # about 5 solves per iteration


@pytest.mark.parametrize("min_n", [None, 120, 121])
def test_min_n_decides_whether_working_sets_are_used(min_n):
    # working_set="auto" goes through working sets from settings.working_set.min_n
    # samples on (None: the default, above these 120 samples); both reach the same optimum
    program, loss, Y, w, beta = small_problem("squared", n=120)
    settings = None if min_n is None else with_working_set(min_n=min_n)
    res = solve_native(program, loss, Y, w, beta, settings=settings)
    check_solution(program, loss, Y, w, beta, res)
    on = min_n is not None and min_n <= program.n_samples
    assert IPMSettings().working_set.min_n > program.n_samples
    assert res.solver == (ALGO_WS if on else ALGO)
    assert (res.working_set_rows is not None) == on
    ref = solve_native(program, loss, Y, w, beta, working_set=False)
    assert res.objective == pytest.approx(ref.objective, rel=1e-6)
