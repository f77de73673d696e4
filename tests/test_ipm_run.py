"""Tests of one interior-point run (``skconvexrelu.solvers.ipm._run``): its warm start,
Newton solves (preconditioner coarse space, direct factorization, conjugate-gradient
cap), correctors, loss products, certificate and stopping rules."""

import warnings

import numpy as np
import pytest
from _ipm_checks import check_solution
from _programs import small_problem
from sklearn.exceptions import ConvergenceWarning

from skconvexrelu.solvers.ipm import WarmStart, n_correctors, solve_native
from skconvexrelu.solvers.settings import IPMSettings, PreconditionerSettings


def test_warm_start_matches_only_its_own_run():
    rng = np.random.default_rng(0)
    U = rng.standard_normal((1, 2, 3, 4, 2))
    duals = tuple(rng.random((5, 1, 2, 3, 2)) for _ in range(2)) + tuple(
        rng.random((5, 1, 2, 3)) for _ in range(2)
    )
    ws = (np.arange(5 * 12).reshape(5, 1, 2, 3, 2), np.arange(5 * 6).reshape(5, 1, 2, 3))
    full = WarmStart(U=U.copy(), duals=duals)
    on_ws = WarmStart(U=U.copy(), duals=duals, working_set=tuple(a.copy() for a in ws))
    shape = duals[0].shape
    assert full.matches(U, shape, None)
    assert on_ws.matches(U, shape, ws)
    assert not full.matches(U + 1e-12, shape, None)  # another point
    assert not full.matches(U[..., :1], shape, None)  # another shape
    assert not full.matches(U, (4,) + shape[1:], None)  # slacks of another size
    assert not full.matches(U, shape, ws)  # a working set against every constraint
    assert not on_ws.matches(U, shape, None)
    other = (ws[0], ws[1][::-1])
    assert not on_ws.matches(U, shape, other)  # other rows


def test_hinge_newton_solves_stay_cheap_late():
    # the intercept's downdate is applied through the projected loss rows: inverted
    # separately, late hinge iterations lose the preconditioner's accuracy and need
    # many more CG steps
    program, loss, Y, w, beta = small_problem("hinge", n=150, P=5, width=5)
    res = solve_native(program, loss, Y, w, beta)
    check_solution(program, loss, Y, w, beta, res)
    assert res.n_cg <= 12 * res.n_iter


@pytest.mark.parametrize("mode", ["samples", "variables"])
def test_direct_factorization_in_the_last_iterations(mode):
    # from the first iteration on (both thresholds at 0) and never: the same optimum,
    # every certificate holding; the default waits for costly solves late in a run
    program, loss, Y, w, beta = small_problem("hinge", n=300, P=5, width=5)
    runs = {}
    for after in (0, 10**9):
        settings = IPMSettings(
            deflate_after_cg=after,
            dense_after_cg=after,
            preconditioner=PreconditionerSettings(capacitance=mode),
        )
        runs[after] = res = solve_native(program, loss, Y, w, beta, settings=settings)
        check_solution(program, loss, Y, w, beta, res)
    assert runs[0].n_direct >= runs[0].n_iter - 5
    assert runs[10**9].n_direct == 0
    assert runs[0].objective == pytest.approx(runs[10**9].objective, rel=1e-6)
    # with the direct factorization, CG needs a few steps per solve at most
    assert runs[0].n_cg < runs[10**9].n_cg


def test_coarse_space_cuts_the_late_hinge_solves():
    # the same program with the coarse space at every iteration and never: the same
    # optimum, far fewer conjugate-gradient steps with it
    program, loss, Y, w, beta = small_problem("hinge", n=300, P=5, width=5)
    runs = {}
    for after in (0, 10**9):
        settings = IPMSettings(deflate_after_cg=after)
        runs[after] = res = solve_native(program, loss, Y, w, beta, settings=settings)
        check_solution(program, loss, Y, w, beta, res)
    assert runs[0].objective == pytest.approx(runs[10**9].objective, rel=1e-6)
    assert runs[0].n_cg < 0.7 * runs[10**9].n_cg


@pytest.mark.parametrize("useful", [False, True])
@pytest.mark.parametrize("patience", [2, 5])
def test_stops_when_cg_keeps_hitting_its_cap(monkeypatch, useful, patience):
    # Newton systems beyond double precision: every solve runs CG to its cap and the
    # directions stop helping. Simulated: from the 13th solve on, CG reports its cap and
    # returns 1e-3 of the direction (useless) or all of it (useful).
    from skconvexrelu.solvers.ipm import _newton

    real, calls = _newton._cg, [0]

    def capped(matvec, precond, rhs, rtol, maxiter):
        calls[0] += 1
        x, it = real(matvec, precond, rhs, rtol, maxiter)
        if calls[0] <= 12:
            return x, it
        return (x if useful else 1e-3 * x), maxiter

    monkeypatch.setattr(_newton, "_cg", capped)
    program, loss, Y, w, beta = small_problem(loss="squared")
    settings = IPMSettings(cg_fail_patience=patience)
    if useful:  # progress continues: no early stop
        res = solve_native(program, loss, Y, w, beta, max_iter=60, settings=settings)
        assert res.status == "optimal"
        return
    with pytest.warns(ConvergenceWarning, match="stalled"):
        res = solve_native(program, loss, Y, w, beta, max_iter=60, settings=settings)
    assert res.status == "stalled"
    # the solves of the first 3 iterations are real, then ``patience`` capped ones
    # without progress (the other stopping rules alone wait longer)
    assert res.n_iter <= 4 + patience
    assert np.isfinite(res.objective)


@pytest.mark.parametrize("ratio", [60, 0])
def test_iterations_run_at_most_the_chosen_correctors(capsys, ratio):
    settings = IPMSettings(corrector_ratio=ratio)  # 0: always the full set
    program, loss, Y, w, beta = small_problem(loss="hinge")
    res = solve_native(program, loss, Y, w, beta, verbose=2, settings=settings)
    assert res.status == "optimal"
    used = [
        int(line.split(" gz ")[1].split()[0])
        for line in capsys.readouterr().out.splitlines()
        if " gz " in line
    ]
    assert used and max(used) <= n_correctors(program, False, settings)
    if ratio == 0:  # the test can tell the two apart: three correctors do get used
        assert max(used) == 3


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_reused_loss_products_give_the_same_iterates(n_outputs):
    """The reuse of the certificate's J^T r (squared loss, working sets) changes no
    iterate: started with an intercept far from its optimum (so that the KKT residual's
    and the right-hand side's shifts by J^T w are large), three iterations with and
    without it end at the same point."""
    out = []
    for reuse in (True, False):
        program, loss, Y, w, beta = small_problem(
            "squared", n=300, P=6, width=5, n_outputs=n_outputs
        )
        b0 = np.array([5.0, -3.0][:n_outputs])
        settings = IPMSettings(reuse_jtr=reuse)
        kw = dict(working_set=True, max_iter=3)
        with pytest.warns(ConvergenceWarning):
            res = solve_native(program, loss, Y, w, beta, b0=b0, settings=settings, **kw)
        out.append((res.U, res.intercept))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-8)


@pytest.mark.parametrize("loss_name", ["hinge", "cross_entropy"])
def test_loss_products_through_the_preconditioner_give_the_same_iterates(loss_name):
    """On working sets with a variable-space preconditioner, CG's loss products use the
    preconditioner's Gram matrices of the current curvature instead of passes over the
    data: the iterates are the same as with the passes, and the fit reaches the full
    program's optimum."""
    variables = PreconditionerSettings(capacitance="variables")
    out = []
    for through_prec in (True, False):
        # exact Gram matrices: with float32 products the two runs' directions differ by
        # their rounding
        settings = IPMSettings(
            gram_float32=False, prec_loss_products=through_prec, preconditioner=variables
        )
        program, loss, Y, w, beta = small_problem(loss_name, n=300, P=6, width=5)
        with pytest.warns(ConvergenceWarning):
            res = solve_native(
                program, loss, Y, w, beta, working_set=True, max_iter=4, settings=settings
            )
        out.append(res.U)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-6, atol=1e-9)
    settings = IPMSettings(gram_float32=False, preconditioner=variables)
    program, loss, Y, w, beta = small_problem(loss_name, n=300, P=6, width=5)
    ws = solve_native(program, loss, Y, w, beta, working_set=True, settings=settings)
    full = solve_native(program, loss, Y, w, beta, working_set=False)
    assert ws.status == "optimal"
    assert ws.objective == pytest.approx(full.objective, rel=1e-5)


@pytest.mark.parametrize("loss_name", ["hinge", "cross_entropy"])
def test_float32_gram_while_the_gap_is_large(monkeypatch, loss_name):
    """The cross-entropy's loss Gram matrix is formed in float32 products while the
    certified gap is above ``gram_float32_gap`` and in float64 after: the fit is certified
    at the optimum of the float64 run. The hinge loss's stays in float64."""
    from skconvexrelu.solvers.ipm import _operator

    real, flags = _operator.loss_gram, []

    def spy(op, dk, chunk, cache=None, max_bytes=0):
        flags.append(bool(cache is not None and cache.get("gram32", False)))
        return real(op, dk, chunk, cache, max_bytes)

    monkeypatch.setattr(_operator, "loss_gram", spy)
    variables = PreconditionerSettings(capacitance="variables")
    res = {}
    for on in (True, False):
        settings = IPMSettings(gram_float32=on, preconditioner=variables)
        flags.clear()
        program, loss, Y, w, beta = small_problem(loss_name, n=300, P=6, width=5)
        res[on] = solve_native(program, loss, Y, w, beta, working_set=True, settings=settings)
        assert any(flags) == (on and loss_name == "cross_entropy")
        assert not flags[-1]  # the last iterations in float64
    assert res[True].status == "optimal"
    assert res[True].stop_criterion <= 1e-6
    assert res[True].objective == pytest.approx(res[False].objective, rel=1e-6)


@pytest.mark.parametrize(("space", "formed"), [("samples", 0), ("variables", 1)])
def test_squared_loss_gram_is_formed_only_for_a_variable_space_capacitance(
    monkeypatch, space, formed
):
    """Working sets, squared loss: the ``P m d~`` square loss Gram matrix (``O(n (P m
    d~)^2)`` to form) is formed once when the preconditioner's capacitance lives in
    variable space, and never when it lives in sample space; both fits reach the
    optimum."""
    from skconvexrelu.solvers.ipm import _operator

    calls = []
    gram = _operator.loss_gram

    def spy(*args, **kwargs):
        calls.append(1)
        return gram(*args, **kwargs)

    monkeypatch.setattr(_operator, "loss_gram", spy)
    settings = IPMSettings(preconditioner=PreconditionerSettings(capacitance=space))
    program, loss, Y, w, beta = small_problem("squared", n=300, P=6, width=5)
    res = solve_native(program, loss, Y, w, beta, working_set=True, settings=settings)
    assert len(calls) == formed
    check_solution(program, loss, Y, w, beta, res)
    ref = solve_native(*small_problem("squared", n=300, P=6, width=5), working_set=False)
    assert res.objective == pytest.approx(ref.objective, rel=1e-6)


# ------------------------------------------------------- certificates on real data


def _fit_without_warnings(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X, y)
    return est


def _iris():
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def test_certificate_reaches_tol_on_separable_hinge_data():
    """On separable data with the hinge loss and a small beta the primal point
    converges while many columns of the dual point exceed beta, too many for the usual
    repair of a few columns, and the certified gap would stall. When only those columns
    keep the gap above tol, all of them are repaired."""
    from skconvexrelu import ConvexThreeLayerClassifier
    from skconvexrelu.datasets import load_uci

    X, y = load_uci("acute-inflammation", return_X_y=True)
    est = ConvexThreeLayerClassifier(loss="hinge", beta=1e-4, solver="ipm", random_state=0)
    _fit_without_warnings(est, X, y)
    assert est.solver_status_ == "optimal"
    assert est.stop_criterion_ <= est.tol


def test_softmax_preconditioner_stays_exact_with_the_intercept_at_small_beta():
    """Three classes, cross-entropy, small beta: with the intercept eliminated by a
    rank-o downdate, the downdate can be dropped as not positive and CG then runs to its
    cap until the run fails far above the optimum. The projected rows keep the
    preconditioner exact."""
    from skconvexrelu import ConvexThreeLayerClassifier
    from skconvexrelu.datasets import load_uci

    X, y = load_uci("pittsburg-bridges-SPAN", return_X_y=True)
    est = ConvexThreeLayerClassifier(beta=1e-4, solver="ipm", random_state=0)
    _fit_without_warnings(est, X, y)
    assert est.n_outputs_ == 3
    assert est.solver_status_ == "optimal"
    assert est.stop_criterion_ <= est.tol


def test_softmax_intercept_block_keeps_its_null_direction():
    """The softmax's intercept block is singular along (1, ..., 1); inverting its
    round-off eigenvalue there (positive at some iterates) turns the Newton matrix
    indefinite and CG breaks down. The pseudo-inverse leaves that direction out."""
    from skconvexrelu import ConvexThreeLayerClassifier

    X, y = _iris()
    est = ConvexThreeLayerClassifier(beta=1e-4, solver="ipm", random_state=0)
    _fit_without_warnings(est, X, y)
    assert est.solver_status_ == "optimal"
    assert est.stop_criterion_ <= est.tol


@pytest.mark.parametrize("beta", [0.5, 1.0])
def test_zero_network_is_returned_when_the_dual_bound_certifies_it(beta):
    """Above the smallest beta whose optimum is zero, but below the estimators' shortcut
    (which bounds it without the cone multipliers), the iterates go to zero with a cone
    violation that stays at a fixed fraction of max |X~ u|, so no iterate is accepted.
    The zero network is feasible, and the dual bound certifies it."""
    from skconvexrelu import ConvexThreeLayerClassifier

    X, y = _iris()
    est = ConvexThreeLayerClassifier(
        beta=beta,
        width=3,
        n_arrangements=10,
        solver="ipm",
        arrangements="random",
        random_state=0,
    )
    _fit_without_warnings(est, X, y)
    assert est.solver_status_ == "optimal" and est.n_iter_ > 0  # not the shortcut
    assert est.n_subnetworks_ == 0
    assert est.objective_ == pytest.approx(np.log(3.0), rel=1e-9)
    assert est.stop_criterion_ <= est.tol


def test_a_run_whose_best_is_its_zero_start_does_not_stall():
    """The zero start is exactly feasible, so it is the best iterate until the iterates
    (infeasible on the way) meet the cone constraints: staleness counted from it would
    stop a converging run and return the constant model."""
    from tqdm.auto import tqdm

    from skconvexrelu.solvers.ipm._run import InteriorPointRun

    program, loss, Y, w, beta = small_problem(loss="squared")
    run = InteriorPointRun(program, loss, Y, w, beta, IPMSettings())
    run.initial_point()
    run.max_iter, run.max_time = 200, None
    run._start_bookkeeping()
    pobj, _, _ = run.check(0, tqdm(disable=True))
    assert run.status == "running" and run.best_it == 0 and not np.any(run.best[0])
    # many iterations later, complementarity negligible, still no feasible iterate
    run.mu = 1e-12 * abs(pobj) / run.N
    assert run._stopping_status(40, pobj) == "running"
    # a best iterate that moved away from zero and then made no progress: stalled
    run.best = (np.ones_like(run.best[0]),) + run.best[1:]
    assert run._stopping_status(40, pobj) == "stalled"
