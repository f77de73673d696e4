"""The convex program through cvxpy (Clarabel by default, MOSEK with a license, SCS).

The program is built vectorized: for each output ``o`` and output sign ``sigma`` one
variable matrix ``V`` of shape ``(d~, P*m)`` holds every column ``u_j`` of every
configuration; masks are constant matrices, so building takes milliseconds whatever
``P`` and ``m`` are.
"""

import contextlib
import functools
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._base import SolveResult

#: cvxpy solvers this module knows how to configure, in order of preference.
KNOWN_SOLVERS = ("MOSEK", "CLARABEL", "SCS")


class SolverError(ValueError):
    """The numerical solver returned no usable solution."""


@functools.lru_cache(maxsize=1)
def mosek_license_available():
    """Whether MOSEK is installed *and* finds a license (checked once, quietly)."""
    try:
        import mosek
    except ImportError:
        return False
    try:
        with mosek.Env() as env:
            env.checkoutlicense(mosek.feature.pts)
        return True
    except Exception:
        return False


def _check_mosek():
    try:
        import mosek  # noqa: F401
    except ImportError as exc:
        raise ValueError(
            "cvxpy_solver='MOSEK' was requested but MOSEK is not installed; install it "
            "with `pip install skconvexrelu[mosek]` (it needs a license file), or use "
            "cvxpy_solver=None for the open solver Clarabel."
        ) from exc
    if not mosek_license_available():
        raise ValueError(
            "cvxpy_solver='MOSEK' was requested but MOSEK found no license: it looks for "
            "the license file 'mosek.lic' in ~/mosek/ or at the path in the environment "
            "variable MOSEKLM_LICENSE_FILE. Install a license file, or use "
            "cvxpy_solver=None for the open solver Clarabel."
        )


# Clarabel sometimes stalls ("InsufficientProgress") on the exponential cones of the
# cross-entropy losses; a second try with shorter steps and no presolve usually succeeds.
_CLARABEL_RETRY = {"presolve_enable": False, "max_step_fraction": 0.9}


def choose_cvxpy_solvers(cvxpy_solver=None):
    """The list of ``(solver, extra options)`` to try, in order."""
    if cvxpy_solver is None:
        first = [("MOSEK", {})] if mosek_license_available() else []
        return first + [("CLARABEL", {}), ("CLARABEL", _CLARABEL_RETRY), ("SCS", {})]
    name = str(cvxpy_solver).upper()
    if name == "MOSEK":
        _check_mosek()
    if name == "CLARABEL":
        return [(name, {}), (name, _CLARABEL_RETRY)]
    return [(name, {})]


def _polish_clarabel(problem, V, b, program, loss, Y, w, beta, options, first):
    """Solve again without equilibration; keep the better of the two solutions.

    On cross-entropy programs Clarabel can end "optimal_inaccurate" well above the
    optimum with its default equilibration, and reach "optimal" without it.
    """
    import cvxpy as cp

    U, intercept, status = first
    try:
        with _no_cvxpy_accuracy_warning():
            problem.solve(solver="CLARABEL", **{**options, "equilibrate_enable": False})
    except cp.error.SolverError:
        return first
    if problem.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        return first
    U2, intercept2 = _collect(program, V, b)
    feasible = program.cone_violation(U2) <= max(program.cone_violation(U), 1e-9)
    better = program.objective(U2, intercept2, loss, Y, w, beta) < program.objective(
        U, intercept, loss, Y, w, beta
    )
    if problem.status == cp.OPTIMAL or (feasible and better):
        return U2, intercept2, problem.status
    return first


def _solver_options(name, max_iter, tol, max_time):
    opts = {}
    if name == "CLARABEL":
        opts.update(tol_gap_abs=tol, tol_gap_rel=tol)
        if max_iter is not None:
            opts["max_iter"] = int(max_iter)
        if max_time is not None:
            opts["time_limit"] = float(max_time)
    elif name == "SCS":
        opts.update(eps_abs=tol, eps_rel=tol)
        if max_iter is not None:
            opts["max_iters"] = int(max_iter)
        if max_time is not None:
            opts["time_limit_secs"] = float(max_time)
    elif name == "MOSEK":
        params = {"MSK_DPAR_INTPNT_CO_TOL_REL_GAP": tol}
        if max_iter is not None:
            params["MSK_IPAR_INTPNT_MAX_ITERATIONS"] = int(max_iter)
        if max_time is not None:
            params["MSK_DPAR_OPTIMIZER_MAX_TIME"] = float(max_time)
        opts["mosek_params"] = params
    return opts


def build_problem(program, loss, Y, w, beta, fit_intercept=True):
    """The cvxpy problem and its variables ``(problem, V, b)``.

    ``V[o][s]`` is the ``(d~, P*m)`` variable of output ``o`` and sign index ``s``.
    """
    import cvxpy as cp

    n, d = program.Xt.shape
    P, m = program.conf.signs.shape
    op = program.operator
    A1 = np.asarray(op.A1, dtype=np.float64).reshape(n, P * m)
    A2 = np.asarray(op.A2, dtype=np.float64)

    V = [[cp.Variable((d, P * m)) for _ in range(2)] for _ in range(program.n_outputs)]
    constraints, columns, penalty = [], [], 0
    for o in range(program.n_outputs):
        f_o = 0
        for s, sigma in enumerate((1.0, -1.0)):
            Z, G, f = op.cvxpy_layers(V[o][s])
            constraints += [cp.multiply(A1, Z) >= 0, cp.multiply(A2, G) >= 0]
            f_o = f_o + sigma * f
            penalty = penalty + cp.sum(cp.norm(V[o][s], 2, axis=0))
        columns.append(f_o)
    F = (
        cp.vstack(columns).T
        if program.n_outputs > 1
        else cp.reshape(columns[0], (n, 1), order="C")
    )
    b = cp.Variable(program.n_outputs) if fit_intercept else None
    if b is not None:
        if loss.shift_invariant:
            # the loss ignores a constant added to every output: pin that direction down
            constraints.append(cp.sum(b) == 0)
        F = F + np.ones((n, 1)) @ cp.reshape(b, (1, program.n_outputs), order="C")
    objective = loss.cvxpy(F, np.asarray(Y, dtype=np.float64), np.asarray(w, np.float64))
    problem = cp.Problem(
        cp.Minimize(objective_scale(loss, n) * (objective + beta * penalty)), constraints
    )
    return problem, V, b


def objective_scale(loss, n_samples):
    """The factor the objective is multiplied by before it goes to the conic solver.

    ``sqrt(n)`` for non-smooth losses (the hinge), 1 otherwise. With weights summing to
    one the hinge program's coefficients are of order ``1 / n``, and Clarabel's
    feasibility tolerances, floored at an absolute 1e-8, let its dual drift: it stops
    "optimal" noticeably above the optimum even at ``tol=1e-8``. Times ``sqrt(n)`` it
    stops within solver precision; times ``n`` it ends "optimal_inaccurate" on some
    small data sets. The smooth losses stay unscaled: the squared loss's solve does not
    gain, and Clarabel fails on scaled cross-entropy programs.
    """
    return 1.0 if loss.smooth else float(np.sqrt(n_samples))


def _collect(program, V, b):
    U = program.zeros()
    P, m = program.conf.signs.shape
    d = program.n_features
    for o in range(program.n_outputs):
        for s in range(2):
            U[o, s] = np.moveaxis(V[o][s].value.reshape(d, P, m), 1, 0)
    intercept = np.zeros(program.n_outputs, dtype=program.dtype)
    if b is not None:
        intercept[:] = b.value
    return U, intercept


def solve_cvxpy(
    program,
    loss,
    Y,
    w,
    beta,
    fit_intercept=True,
    max_iter=None,
    tol=1e-8,
    U0=None,
    b0=None,
    verbose=0,
    max_time=None,
    cvxpy_solver=None,
):
    """Solve the convex program with a conic solver through cvxpy.

    Parameters
    ----------
    program, loss : ConvexProgram, Loss
    Y, w : ndarray of shape (n, n_outputs), ndarray of shape (n,)
        Encoded targets, and sample weights summing to one.
    beta : float
        Weight of the group-lasso penalty.
    fit_intercept : bool
        Fit an unregularized output intercept.
    max_iter, tol, max_time : int or None, float, float or None
        The conic solver's iteration limit (its own default when None), relative and
        absolute duality-gap tolerance, and time limit in seconds.
    U0, b0 : ignored
        Interior-point solvers do not use warm starts; accepted for a common signature.
    verbose : int
        Print the conic solver's log.
    cvxpy_solver : str or None
        ``"CLARABEL"``, ``"MOSEK"``, ``"SCS"`` or another installed cvxpy solver; None
        tries MOSEK when it has a license, then Clarabel, then SCS.

    Returns
    -------
    SolveResult
        ``stop_criterion`` is nan: cvxpy does not expose the conic solver's final gap;
        ``status`` says whether its own stopping rule (gap below ``tol``) was met.
    """
    import cvxpy as cp

    from .._validation import check_cvxpy_size

    P, m = program.conf.signs.shape
    check_cvxpy_size(program.n_samples, program.n_features, m, P, program.n_outputs)
    problem, V, b = build_problem(program, loss, Y, w, beta, fit_intercept)
    limits = (max_iter, tol, max_time)
    name, options, status = _solve_first(problem, V, cvxpy_solver, limits, verbose)
    U, intercept = _collect(program, V, b)
    if status == cp.OPTIMAL_INACCURATE and name == "CLARABEL":
        U, intercept, status = _polish_clarabel(
            problem, V, b, program, loss, Y, w, beta, options, (U, intercept, status)
        )
    if status != cp.OPTIMAL:
        _warn_not_optimal(name, status, limits, problem, program)
    stats = problem.solver_stats
    n_iter = int(stats.num_iters) if stats and stats.num_iters is not None else 0
    objective = program.objective(U, intercept, loss, Y, w, beta)
    return SolveResult(
        U=U,
        intercept=intercept,
        objective=objective,
        n_iter=n_iter,
        status="optimal" if status == cp.OPTIMAL else str(status),
        stop_criterion=float("nan"),
        history=[objective],
        solver=f"cvxpy:{name}",
    )


@contextlib.contextmanager
def _no_cvxpy_accuracy_warning():
    """Silence cvxpy's own "Solution may be inaccurate" ``UserWarning`` (it advises
    "another solver" or "verbose=True" and would repeat on every retry): the status it
    reports is handled here, with one :class:`ConvergenceWarning` of
    :func:`_warn_not_optimal` when the final point is still inaccurate."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Solution may be inaccurate", category=UserWarning
        )
        yield


def _warn_not_optimal(name, status, limits, problem, program):
    """One ``ConvergenceWarning`` for a conic solve that did not end "optimal": what
    stopped it and the one change most likely to help."""
    import cvxpy as cp

    from .._validation import conditioning_advice

    max_iter, tol, max_time = limits
    stats = problem.solver_stats
    n_iter = getattr(stats, "num_iters", None)
    if status == cp.USER_LIMIT:
        if max_iter is not None and n_iter is not None and n_iter >= max_iter:
            why, advice = f"max_iter={max_iter} iterations", "Increase max_iter."
        elif max_time is not None:
            why, advice = f"max_time={max_time} s", "Increase max_time."
        else:
            why, advice = "its iteration or time limit", "Increase max_iter or max_time."
        msg = (
            f"cvxpy solver {name} stopped after {why} before reaching tol={tol:g} (status "
            f"{status!r}); the solution may be inaccurate. {advice}"
        )
    else:
        msg = (
            f"cvxpy solver {name} could not reach tol={tol:g} (status {status!r}: it "
            "stopped at its own looser tolerances"
            + (", also when solved again without equilibration" if name == "CLARABEL" else "")
            + "); the solution may be inaccurate. To make the program easier, "
            f"{conditioning_advice(program.Xt, np.float64)}."
        )
    warnings.warn(msg, ConvergenceWarning, stacklevel=4)


def _solve_first(problem, V, cvxpy_solver, limits, verbose):
    """Try the conic solvers of :func:`choose_cvxpy_solvers` in turn until one returns a
    solution (optimal, inaccurate, or stopped by a limit with a point).

    ``limits`` is ``(max_iter, tol, max_time)``. Returns ``(name, options, status)`` of
    the solve that succeeded; raises :class:`SolverError` when none did.
    """
    import cvxpy as cp

    errors = []
    for name, extra in choose_cvxpy_solvers(cvxpy_solver):
        options = {**_solver_options(name, *limits), **extra}
        try:
            with _no_cvxpy_accuracy_warning():
                problem.solve(solver=name, verbose=bool(verbose), **options)
        except cp.error.SolverError as exc:
            errors.append(f"{name}: {exc}")
            continue
        status = problem.status
        if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or (
            status == cp.USER_LIMIT and V[0][0].value is not None
        ):
            return name, options, status
        errors.append(f"{name}: status {status!r}")
    raise SolverError(
        "The conic solver returned no solution ("
        + "; ".join(errors)
        + "). Try solver='native', fewer n_arrangements, a larger beta, or standardize "
        "the features."
    )
