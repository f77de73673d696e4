"""Tests of the interior-point method on working sets of constraints
(``skconvexrelu.solvers.ipm._solve``): growth inside one run, rounds, and the first
working set from a pilot solve."""

import warnings

import numpy as np
import pytest
from _ipm_checks import check_solution, violated_outside, with_working_set
from _programs import small_problem
from sklearn.exceptions import ConvergenceWarning

from skconvexrelu.solvers.ipm import (
    ALGO_WS,
    _run,
    _solve,
    initial_working_set,
    pilot_working_set,
    solve_native,
)


@pytest.mark.parametrize(
    "case",
    [dict(loss="squared", n=120), dict(loss="hinge", n=90), dict(loss="cross_entropy", n=90)],
    ids=lambda c: c["loss"],
)
@pytest.mark.parametrize("grow", [True, False], ids=["grow-in-run", "rounds"])
def test_working_set_solves_the_full_program(case, grow):
    # small first working sets force growth (inside the run or by rounds); the result is
    # the full program's optimum (same objective as without a working set) and feasible
    # for every sample
    settings = with_working_set(grow_in_run=grow, first_rows=1, second_rows=1)
    program, loss, Y, w, beta = small_problem(**case)
    full = solve_native(program, loss, Y, w, beta, working_set=False)
    res = solve_native(program, loss, Y, w, beta, working_set=True, settings=settings)
    check_solution(program, loss, Y, w, beta, res)
    assert res.solver == ALGO_WS
    assert res.objective == pytest.approx(full.objective, rel=1e-5)
    rows1, rows2 = res.working_set_rows
    assert rows1 < case["n"]
    assert violated_outside(program, res) == 0


def test_working_set_rounds_restart_without_crawling():
    """After the first working set the solution violates new constraints by up to about
    its own size: each round restarts with slacks scaled to that violation (not a fixed
    small floor, which makes the steps tiny) and the rounds before the last stop at a
    loose gap. The optimum is the full program's."""
    # the rounds (as beyond the growth caps) from the large first sets (as from small_n)
    settings = with_working_set(grow_in_run=False, small_n=0)
    program, loss, Y, w, beta = small_problem("squared", n=300, P=6, width=5)
    ws = solve_native(program, loss, Y, w, beta, working_set=True, settings=settings)
    full = solve_native(program, loss, Y, w, beta, working_set=False)
    assert ws.solver == ALGO_WS
    assert ws.status == "optimal"
    assert ws.n_iter <= 50
    assert ws.objective == pytest.approx(full.objective, rel=1e-6)


@pytest.mark.parametrize("loss", ["squared", "hinge", "cross_entropy"])
def test_working_set_grows_inside_one_run(loss):
    """Up to the growth caps the violated constraints join during the run: one
    interior-point run (no restarted rounds) reaches the full program's optimum, in fewer
    iterations than the rounds need."""
    kw = dict(n=300, P=6, width=5)
    iters = {}
    for grow in (True, False):
        settings = with_working_set(grow_in_run=grow, first_rows=1, second_rows=1)
        program, loss_, Y, w, beta = small_problem(loss, **kw)
        res = solve_native(program, loss_, Y, w, beta, working_set=True, settings=settings)
        check_solution(program, loss_, Y, w, beta, res)
        assert violated_outside(program, res) == 0
        assert (res.n_grown > 0) == grow
        iters[grow] = (res.n_rounds, res.n_iter, res.objective)
    rounds, n_iter, objective = iters[True]
    assert rounds == 1
    assert iters[False][0] >= 3  # the same start needs several rounds without growth
    assert n_iter < iters[False][1]
    assert objective == pytest.approx(iters[False][2], rel=1e-6)


@pytest.mark.parametrize("loss, grows", [("squared", False), ("cross_entropy", True)])
def test_growth_size_cap_depends_on_the_loss(loss, grows):
    # beyond grow_max_n the squared loss goes by rounds; the cross-entropy grows in the
    # run at every size (by rounds its first, loose working sets can let the outputs run
    # off on nearly separable data)
    settings = with_working_set(first_rows=1, second_rows=1, grow_max_n=10)
    program, loss_, Y, w, beta = small_problem(loss, n=300, P=6, width=5)
    res = solve_native(program, loss_, Y, w, beta, working_set=True, settings=settings)
    check_solution(program, loss_, Y, w, beta, res)
    assert (res.n_rounds == 1) == grows


def test_a_run_left_infeasible_by_its_growth_goes_on_by_rounds(monkeypatch):
    """When the Newton systems break down before the rows that joined during the run
    have lost their residual, no iterate is feasible: the solver then restarts by rounds
    instead of returning an infeasible point."""
    calls = []
    solve = _solve.solve_ipm

    def breaking_down(*args, **kwargs):
        calls.append(kwargs["grow"])
        if kwargs["grow"]:  # the growing run "breaks down" after a few iterations
            res = solve(*args, **{**kwargs, "max_iter": 4})
            res.feasible, res.status = False, "stalled"
            return res
        return solve(*args, **kwargs)

    monkeypatch.setattr(_solve, "solve_ipm", breaking_down)
    settings = with_working_set(first_rows=1)
    program, loss, Y, w, beta = small_problem("squared", n=120)
    res = solve_native(program, loss, Y, w, beta, working_set=True, settings=settings)
    assert calls[0] is True and not any(calls[1:]) and len(calls) >= 2
    check_solution(program, loss, Y, w, beta, res)


def test_a_grown_run_stalled_near_tol_is_finished_by_a_round(monkeypatch):
    """A growing run that ends feasible but "stalled" (its certificate stuck just above
    tol) is finished by one round from its point, which restarts the barrier, instead of
    returning with a warning."""
    calls = []
    solve = _solve.solve_ipm

    def stalling(*args, **kwargs):
        calls.append((kwargs["grow"], kwargs["U0"] is not None))
        res = solve(*args, **kwargs)
        if kwargs["grow"]:
            assert res.feasible
            res.status = "stalled"
        return res

    monkeypatch.setattr(_solve, "solve_ipm", stalling)
    program, loss, Y, w, beta = small_problem("hinge", n=300, P=6, width=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = solve_native(program, loss, Y, w, beta, working_set=True)
    assert calls[0] == (True, False)
    assert calls[1:] == [(False, True)]  # one round, started from the grown run's point
    check_solution(program, loss, Y, w, beta, res)


def test_a_round_broken_down_numerically_is_followed_by_a_cold_start(monkeypatch):
    """A round whose Newton systems broke down leaves a meaningless point (far above the
    zero network's objective): the next round starts from zero on the grown working set
    instead of from that point, and reaches the optimum."""
    calls = []
    solve = _solve.solve_ipm

    def breaking_down(*args, **kwargs):
        calls.append(kwargs["U0"] is not None or kwargs["warm_start"] is not None)
        if len(calls) == 2:  # the second round "breaks down" after one iteration
            res = solve(*args, **{**kwargs, "max_iter": 1})
            res.status, res.feasible = "numerical_error", False
            return res
        return solve(*args, **kwargs)

    monkeypatch.setattr(_solve, "solve_ipm", breaking_down)
    settings = with_working_set(first_rows=1, grow_in_run=False)
    program, loss, Y, w, beta = small_problem("squared", n=120)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = solve_native(program, loss, Y, w, beta, working_set=True, settings=settings)
    assert calls[:3] == [False, True, False]
    check_solution(program, loss, Y, w, beta, res)


def test_rounds_out_of_iterations_warn_with_the_violated_constraints():
    # the last round stops with constraints outside its working set still violated:
    # the result says so (status and warning) rather than "optimal"
    settings = with_working_set(grow_in_run=False, first_rows=1, second_rows=1, max_rounds=1)
    program, loss, Y, w, beta = small_problem("squared", n=120)
    with pytest.warns(ConvergenceWarning, match="outside its working set.*max_rounds"):
        res = solve_native(program, loss, Y, w, beta, working_set=True, settings=settings)
    assert res.n_rounds == 1
    assert res.status == "max_iter"
    assert violated_outside(program, res) > 0


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


# ---------------------------------------------------------------- pilot solve


def _pilot_settings(pilot, **changes):
    # a small program with working sets everywhere (the pilot's too) and small first
    # sets, so that many rows join during the run without a pilot
    return with_working_set(
        min_n=100,
        first_rows=1,
        second_rows=1,
        pilot_min_n=500 if pilot else 10**9,
        pilot_fraction=0.25,
        **changes,
    )


def _pilot(program, loss, Y, w, beta, settings):
    """The pilot's first working set and iterations (intercept, tol 1e-6, feas_tol 1e-10)."""
    return pilot_working_set(program, loss, Y, w, beta, True, 1e-6, 1e-10, settings=settings)


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_pilot_working_set_reaches_the_same_optimum_sooner(loss):
    """From pilot_min_n samples on, a pilot solve on a part of the samples gives the
    first working set: the same optimum, feasible for every sample, with fewer rows
    joining during the run and fewer iterations."""
    runs = {}
    for pilot in (False, True):
        settings = _pilot_settings(pilot)
        program, loss_, Y, w, beta = small_problem(loss, n=600, P=6, width=5)
        res = solve_native(program, loss_, Y, w, beta, settings=settings)
        check_solution(program, loss_, Y, w, beta, res)
        assert violated_outside(program, res) == 0
        runs[pilot] = res
    assert runs[True].objective == pytest.approx(runs[False].objective, rel=1e-6)
    assert runs[True].n_grown < runs[False].n_grown
    assert runs[True].n_iter < runs[False].n_iter
    assert runs[True].n_pilot_iter > 0 and runs[False].n_pilot_iter == 0


def test_rows_join_with_a_larger_quota_after_a_pilot(monkeypatch):
    """After a pilot most rows are known up front, and the ones still joining come in
    pilot_grow_fraction of a round's quota (grow_fraction without a pilot)."""
    seen = {}
    grow = _solve.grow_working_set
    for pilot in (False, True):
        settings = _pilot_settings(pilot, pilot_grow_fraction=0.75)
        fractions = seen[pilot] = []

        def spy(program, *args, fraction=1.0, _grow=grow, _seen=fractions, **kwargs):
            if program.n_samples == 600:  # the full run's, not the pilot's own
                _seen.append(fraction)
            return _grow(program, *args, fraction=fraction, **kwargs)

        # the checks between rounds and the pilot's (_solve), the growth in a run (_run)
        monkeypatch.setattr(_solve, "grow_working_set", spy)
        monkeypatch.setattr(_run, "grow_working_set", spy)
        program, loss, Y, w, beta = small_problem("cross_entropy", n=600, P=6, width=5)
        res = solve_native(program, loss, Y, w, beta, settings=settings)
        monkeypatch.setattr(_solve, "grow_working_set", grow)
        monkeypatch.setattr(_run, "grow_working_set", grow)
        check_solution(program, loss, Y, w, beta, res)
        assert (res.n_pilot_iter > 0) == pilot
    s = settings.working_set
    # inside the run (fraction below 1: the checks between rounds take the whole quota)
    assert set(seen[False]) - {1.0} == {s.grow_fraction}
    # the pilot's violated rows join first, by the cross-entropy's pilot quota
    assert seen[True][0] == s.pilot_add_fraction_curved == s.pilot_quota(loss)
    assert set(seen[True][1:]) - {1.0} == {0.75}


def test_pilot_adds_more_violated_rows_for_the_cross_entropy():
    """The cross-entropy's run grows its working set at every size: the rows that the
    pilot's point violates on the full data join up front by pilot_add_fraction_curved
    quotas (pilot_add_fraction for the other losses), and fewer join during the run."""
    rows, grown = {}, {}
    for quota in (1.0, 12.0):
        settings = _pilot_settings(True, pilot_add_fraction_curved=quota)
        program, loss, Y, w, beta = small_problem("cross_entropy", n=600, P=6, width=5)
        ws, _ = _pilot(program, loss, Y, w, beta, settings)
        rows[quota] = sum(np.count_nonzero(a >= 0) for a in ws)
        res = solve_native(program, loss, Y, w, beta, settings=settings)
        check_solution(program, loss, Y, w, beta, res)
        grown[quota] = res.n_grown
    assert rows[12.0] > rows[1.0]
    assert grown[12.0] <= grown[1.0]


def test_pilot_working_set_maps_its_rows_to_the_full_data():
    settings = _pilot_settings(True)
    s = settings.working_set
    program, loss, Y, w, beta = small_problem("cross_entropy", n=600, P=6, width=5)
    n = program.n_samples
    first = initial_working_set(program, s)
    ws, n_iter = _pilot(program, loss, Y, w, beta, settings)
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

    rows = np.sort(
        np.random.default_rng(0).choice(n, int(s.pilot_fraction * n), replace=False)
    )
    conf = program.conf
    sub = ConvexProgram(
        program.Xt[rows], Configurations(conf.D1[rows], conf.signs, conf.D2[rows])
    )
    pilot = solve_native(
        sub, loss, Y[rows], w[rows] / w[rows].sum(), beta, tol=s.pilot_tol, settings=settings
    )
    for idx, own in zip(ws, pilot.working_set, strict=True):
        mapped = np.where(own >= 0, rows[np.maximum(own, 0)], -1)
        assert np.array_equal(idx[: own.shape[0]], mapped)
    # then the rows outside the pilot's samples that its solution violates
    assert np.setdiff1d(ws[0][ws[0] >= 0], rows).size > 0


def test_pilot_without_weight_falls_back_to_the_first_working_set():
    settings = _pilot_settings(True)
    program, loss, Y, w, beta = small_problem("squared", n=600, P=6, width=5)
    rows = np.sort(np.random.default_rng(0).choice(600, 150, replace=False))
    w = w.copy()
    w[rows] = 0.0
    w /= w.sum()
    assert _pilot(program, loss, Y, w, beta, settings)[0] is None
    res = solve_native(program, loss, Y, w, beta, settings=settings)
    # the same run as without a pilot
    ref = solve_native(program, loss, Y, w, beta, settings=_pilot_settings(False))
    assert res.n_iter == ref.n_iter and res.n_pilot_iter == 0
    assert res.objective == ref.objective
    assert np.array_equal(res.U, ref.U)
