"""The fit pipeline shared by every estimator.

configurations (random, seeded) -> solve -> [search violated configurations -> re-solve]*
-> certificate. Estimators validate and encode their inputs, call
:func:`fit_convex_program` and store what it returns.
"""

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from tqdm.auto import tqdm

from ._arrangements import drop_useless, sample_configurations
from ._column_generation import certificate, dual_point, find_violations, select_new
from ._program import ConvexProgram
from ._reconstruction import drop_round_off, network_objective, reconstruct_network
from ._seeding import blocks_from_network, train_seed_network
from ._validation import check_fit_result
from .solvers import (
    SolverError,
    cvxpy_sized,
    get_solver,
    program_size,
    resolve_solver,
)

#: dropping round-off columns may cost this fraction of the fit's ``tol`` (relative)
DROP_FRACTION = 0.1

#: an early-stopped first-order fit on at least this many samples per input dimension gets
#: the narrow-cones advice (at 60,000 x 785, about 76 per dimension, the sampled cones are
#: 1e-4 radians wide and the program's optimum is near the rescaled sampled networks:
#: ``benchmarks/bench_wide_cones.py``; at 300 x 11 they are 4e-3 wide)
WIDE_CONES_RATIO = 20

#: ``solver="auto"`` solves with cvxpy after a numerical failure of the native solver only
#: up to this size (``solvers.program_size``, samples x variables;
#: Clarabel needs 10 to 23 minutes at 7e6, n = 1,600 of the benchmarks' teacher data);
#: beyond it the fit raises ``SolverError`` (cross-entropy at 16,000 samples of that data
#: ends "numerical_error" after 7 to 13 minutes, and Clarabel would then take hours)
AUTO_FALLBACK_MAX_SIZE = 10_000_000


#: ``solver="auto"`` solves again with cvxpy when the native solver stalled above this
#: stopping criterion on a program small enough for cvxpy (unscaled inputs can leave its
#: Newton systems beyond double precision: unscaled iris, cross-entropy, 0.95)
AUTO_FALLBACK_CRITERION = 1e-3


@dataclass
class FitOutcome:
    """Everything an estimator keeps from a fit."""

    program: ConvexProgram
    U: np.ndarray
    intercept: np.ndarray
    objective: float
    coefs: list
    intercepts: list
    result: object  # the last SolveResult
    objective_path: list = field(default_factory=list)
    certificate: dict = None
    seed_objective: float = None
    n_rounds: int = 0


def _pad(U, n_configurations):
    """``U`` with zero blocks appended for configurations added since it was computed."""
    extra = n_configurations - U.shape[2]
    if extra <= 0:
        return U
    shape = list(U.shape)
    shape[2] = extra
    return np.concatenate([U, np.zeros(shape, dtype=U.dtype)], axis=2)


def _finish(program, U, intercept, loss, Y, w, beta, fit_intercept, solver, tol):
    """Drop round-off columns, rebuild the network, and make ``objective`` describe it.

    Round-off columns go where that costs at most ``DROP_FRACTION * tol`` of the
    objective (:func:`drop_round_off`). The objective returned is the convex objective at
    the returned point; when the solver's point violates the cone constraints (an early
    stop), the rebuilt network computes something slightly different, and then the
    network's own objective is returned, with a warning.
    """
    budget = DROP_FRACTION * tol
    U = drop_round_off(program, U, intercept, loss, Y, w, beta, budget).astype(program.dtype)
    intercept = np.asarray(intercept, dtype=program.dtype)
    objective = program.objective(U, intercept, loss, Y, w, beta)
    coefs, intercepts = reconstruct_network(U, intercept, program.conf.signs, fit_intercept)
    Xin = program.Xt[:, :-1] if fit_intercept else program.Xt
    net_objective = network_objective(coefs, intercepts, Xin, Y, w, loss, beta)
    check_fit_result(coefs, intercepts, objective, solver=solver)
    if not abs(net_objective - objective) <= 1e-6 * max(abs(objective), 1e-12):
        advice = "Increase max_iter or tighten tol, or standardize the features."
        n, d = program.Xt.shape
        if str(solver).startswith("native:al-fista") and n >= WIDE_CONES_RATIO * d:
            advice = (
                f"With {n} samples in {d} dimensions the sampled cones are narrow: the "
                "program's own optimum can be much worse than this network (see the "
                "user guide on solvers); seed the configurations from a trained network "
                "(arrangements='nonconvex') rather than solving longer."
            )
        warnings.warn(
            f"The solution of {solver} violates the cone constraints by "
            f"{program.cone_violation(U):.3g}, so the rebuilt network's objective "
            f"({net_objective:.6g}) differs from the convex objective ({objective:.6g}); "
            f"objective_ is the network's. {advice}",
            ConvergenceWarning,
            stacklevel=4,
        )
        objective = net_objective
    return U, intercept, float(objective), coefs, intercepts


def _current_subnetworks(U, signs):
    """``(W1, w2)`` of the blocks of ``U`` that are in use (starting points for search)."""
    norms = np.sqrt(np.einsum("...dm,...dm->...m", U, U))
    active = np.argwhere(norms.sum(axis=-1) > 0)
    W1 = np.stack([U[o, s, c] for o, s, c in active]) if len(active) else None
    if W1 is None:
        return None
    # magnitudes live in the columns u_j: the block computes sum_j s_j relu(Xt u_j)
    w2 = np.stack([signs[c] for o, s, c in active]).astype(float)
    return W1, w2


def fit_convex_program(
    Xt,
    Y,
    w,
    loss,
    *,
    beta,
    width,
    n_arrangements,
    fit_intercept,
    random_state,
    solver="auto",
    solver_options=None,
    arrangements="random",
    column_generation=0,
    arrangements_per_round=10,
    max_arrangements=None,
    max_time=None,
    warm=None,
    verbose=0,
):
    """Sample (or reuse) configurations, solve, grow the sample, certify.

    Parameters
    ----------
    warm : tuple (Configurations, U, intercept) or None
        A previous fit's configurations and solution, to start from.

    Returns
    -------
    FitOutcome
    """
    start = time.perf_counter()
    rng = random_state
    solver_options = dict(solver_options or {})
    seed_net = seed_objective = None
    if warm is not None:
        conf, U0, b0 = warm
    else:
        conf, U0, b0 = sample_configurations(Xt, width, n_arrangements, rng), None, None
        if arrangements == "nonconvex":
            seed_net, seed_objective, seed_conf = train_seed_network(
                Xt, Y, w, loss, beta, width, fit_intercept, rng
            )
            conf = drop_useless(seed_conf).concat(conf)

    def remaining():
        return None if max_time is None else max(max_time - (time.perf_counter() - start), 0.0)

    def options_for(name, U0, b0):
        """The keyword arguments of solver ``name``: ``cvxpy_solver`` is cvxpy's only,
        ``device`` the first-order method's only."""
        options = {
            k: v for k, v in solver_options.items() if k not in ("cvxpy_solver", "device")
        }
        if name == "cvxpy":
            options["cvxpy_solver"] = solver_options.get("cvxpy_solver")
        else:
            options.update(U0=U0, b0=b0)
        if name == "al-fista":
            options["device"] = solver_options.get("device")
        return options

    def run(name, program, U0, b0):
        return get_solver(name)(
            program,
            loss,
            Y,
            w,
            beta,
            fit_intercept,
            max_time=remaining(),
            **options_for(name, U0, b0),
        )

    def solve(program, U0, b0):
        name = resolve_solver(solver, program, solver_options.get("device"), loss)
        try:
            result = run(name, program, U0, b0)
        except np.linalg.LinAlgError as exc:
            if name == "cvxpy" or solver != "auto":
                raise SolverError(
                    f"The {name} solver failed numerically ({exc}). Standardize the "
                    "features (StandardScaler), use a larger beta, or try "
                    "solver='cvxpy'."
                ) from exc
            failure = str(exc)
        else:
            if name == "cvxpy" or solver != "auto":
                return result
            if result.status == "numerical_error":
                failure = "ill-conditioned Newton systems"
            elif (
                result.status == "stalled"
                and result.stop_criterion > AUTO_FALLBACK_CRITERION
                and cvxpy_sized(program)
            ):
                failure = f"stalled at stopping criterion {result.stop_criterion:.2g}"
            else:
                return result
        size = program_size(program)
        if size > AUTO_FALLBACK_MAX_SIZE:
            raise SolverError(
                f"The native solver failed numerically ({failure}) on a program too large "
                f"for the cvxpy fallback ({size:.3g} samples x variables, more "
                f"than {AUTO_FALLBACK_MAX_SIZE:.3g}). Standardize the features "
                "(StandardScaler), use a larger beta or another loss, or fit a subsample."
            )
        warnings.warn(
            f"The native solver failed numerically ({failure}); solving with cvxpy.",
            ConvergenceWarning,
            stacklevel=4,
        )
        return run("cvxpy", program, None, None)

    program = ConvexProgram(Xt, conf, Y.shape[1], dtype=Xt.dtype)
    result = solve(program, U0 if U0 is None else _pad(U0, conf.n_configurations), b0)
    path = [result.objective]
    cert, n_rounds = None, 0
    if column_generation > 0:
        bar = tqdm(range(column_generation), disable=not verbose, desc="column generation")
        for _ in bar:
            F = program.forward(result.U) + result.intercept
            V = dual_point(loss, F, Y, w, fit_intercept)
            found = find_violations(
                Xt, V, width, rng, init=_current_subnetworks(result.U, conf.signs)
            )
            cert = certificate(loss, V, Y, w, beta, result.objective, found.max_value)
            bar.set_postfix(objective=result.objective, violation=cert["max_violation"])
            budget = arrangements_per_round
            if max_arrangements is not None:
                budget = min(budget, max_arrangements - conf.n_configurations)
            new = select_new(conf, found, beta * (1 + 1e-3), max(budget, 0))
            if new.n_configurations == 0:
                break
            if remaining() is not None and remaining() <= 0:
                warnings.warn(
                    f"max_time={max_time} s reached during column generation after "
                    f"{n_rounds} rounds; returning the best point found so far.",
                    ConvergenceWarning,
                    stacklevel=3,
                )
                break
            conf = conf.concat(new)
            program = ConvexProgram(Xt, conf, Y.shape[1], dtype=Xt.dtype)
            result = solve(program, _pad(result.U, conf.n_configurations), result.intercept)
            path.append(result.objective)
            n_rounds += 1
        else:
            # the budget of rounds is spent: certify the last solution
            F = program.forward(result.U) + result.intercept
            V = dual_point(loss, F, Y, w, fit_intercept)
            found = find_violations(
                Xt, V, width, rng, init=_current_subnetworks(result.U, conf.signs)
            )
            cert = certificate(loss, V, Y, w, beta, result.objective, found.max_value)

    tol = solver_options.get("tol", 1e-6)
    U, intercept, objective, coefs, intercepts = _finish(
        program,
        result.U,
        result.intercept,
        loss,
        Y,
        w,
        beta,
        fit_intercept,
        result.solver,
        tol,
    )
    if seed_net is not None:
        # the seed network is a feasible point: never return anything worse
        U_seed, b_seed = blocks_from_network(seed_net, program)
        seed = _finish(program, U_seed, b_seed, loss, Y, w, beta, fit_intercept, "seed", tol)
        if seed[2] < objective:
            U, intercept, objective, coefs, intercepts = seed
    if cert is not None:
        gap = float(objective - cert["lower_bound"])
        cert.update(objective=float(objective), gap=gap, relative_gap=gap / abs(objective))
    return FitOutcome(
        program=program,
        U=U,
        intercept=intercept,
        objective=float(objective),
        coefs=coefs,
        intercepts=intercepts,
        result=result,
        objective_path=path,
        certificate=cert,
        seed_objective=seed_objective,
        n_rounds=n_rounds,
    )
