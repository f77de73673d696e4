"""The fit pipeline shared by every estimator.

configurations (random, seeded) -> solve -> [search violated configurations -> re-solve]*
-> certificate. Estimators validate and encode their inputs, call
:func:`fit_convex_program` and store what it returns. The steps are the methods of
:class:`FitRun`: :meth:`~FitRun.solve` (with the ``"auto"`` fallback to cvxpy),
:meth:`~FitRun.search` and :meth:`~FitRun.column_generation`, and :meth:`~FitRun.finish`.
"""

import time
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from tqdm.auto import tqdm

from ._arrangements import drop_useless, sample_configurations
from ._certificate import dual_point, search_certificate
from ._column_generation import find_violations, select_new
from ._expected_cost import check_seed, first_order_step_work, warn_if_long
from ._nonconvex import network_configurations
from ._program import ConvexProgram
from ._reconstruction import drop_round_off, network_objective, reconstruct_network
from ._seeding import (
    blocks_from_network,
    own_configurations,
    seed_plan,
    train_seed_network,
    trained_configurations,
)
from ._validation import check_fit_result, conditioning_advice
from .solvers import (
    SolverError,
    cvxpy_sized,
    get_solver,
    program_size,
    resolve_solver,
)
from .solvers.settings import (
    FirstOrderSettings,
    IPMSettings,
    SeedSettings,
    SolverChoiceSettings,
    settings_of,
)

#: dropping round-off columns may cost this fraction of the fit's ``tol`` (relative)
DROP_FRACTION = 0.1

#: an early-stopped first-order fit on at least this many samples per input dimension gets
#: the narrow-cones advice: the sampled cones are then so narrow that the program's own
#: optimum can be far from the networks they came from (``benchmarks/bench_wide_cones.py``)
WIDE_CONES_RATIO = 20


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
    #: ``(conf, U, intercept)`` to warm-start a next fit from: by default the returned
    #: point, after a budgeted solve the solver's own (see :meth:`FitRun.finish`)
    warm: tuple = None

    def __post_init__(self):
        if self.warm is None:
            self.warm = (self.program.conf, self.U, self.intercept)


def _pad(U, n_configurations):
    """``U`` with zero blocks appended for configurations added since it was computed."""
    extra = n_configurations - U.shape[2]
    if extra <= 0:
        return U
    shape = list(U.shape)
    shape[2] = extra
    return np.concatenate([U, np.zeros(shape, dtype=U.dtype)], axis=2)


def _holds_seed(program):
    """Whether ``program`` can hold a sub-network of the seed for every output: not with
    fewer configurations than outputs (``SeedSettings.max_output_blocks``). The polish
    then starts far above the seed and did not come back to it within its budget on any
    set measured (4 to 10 classes), so the fit is the seed network."""
    return program.conf.n_configurations >= program.n_outputs


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
        advice = (
            "Use a smaller tol (e.g. tol=1e-8): the solver's point then violates the cone "
            "constraints less."
        )
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
            stacklevel=5,
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


class FitRun:
    """One fit of the convex program: its data, loss and solver set-up, and its clock.

    The methods are the steps of :func:`fit_convex_program`; the parameters are those of
    that function. ``solver_options`` holds the settings objects of
    :mod:`skconvexrelu.solvers.settings`: :class:`SolverChoiceSettings` steer the choice
    of the solver and the fallback, :class:`IPMSettings` go to the interior-point method
    and :class:`FirstOrderSettings` to the first-order method (cvxpy takes none).
    """

    def __init__(
        self,
        Xt,
        Y,
        w,
        loss,
        beta,
        fit_intercept,
        width,
        random_state,
        *,
        solver="auto",
        solver_options=None,
        max_iter=None,
        tol=1e-6,
        verbose=0,
        device=None,
        cvxpy_solver=None,
        max_time=None,
        objective_scale=1.0,
    ):
        self.start = time.perf_counter()
        self.objective_scale = objective_scale  # reported objectives, in the user's units
        self.Xt, self.Y, self.w, self.loss = Xt, Y, w, loss
        self.beta, self.fit_intercept, self.width = beta, fit_intercept, width
        self.rng = random_state
        self.solver, self.device, self.cvxpy_solver = solver, device, cvxpy_solver
        self.max_iter, self.tol, self.verbose = max_iter, tol, verbose
        self.max_time = max_time
        self.choice = settings_of(solver_options, SolverChoiceSettings)
        self.seeding = settings_of(solver_options, SeedSettings)
        self.seed_point = None  # the seed network's point of the program, a warm start
        self.cost_checked = False  # the expected-time warning is given at most once
        self.polish = False  # a budgeted first-order solve from the seed network
        self.settings = {
            "ipm": settings_of(solver_options, IPMSettings),
            "al-fista": settings_of(solver_options, FirstOrderSettings),
        }

    # ------------------------------------------------------------------ the clock
    def remaining(self):
        """Seconds left of ``max_time`` (None without a limit)."""
        if self.max_time is None:
            return None
        return max(self.max_time - (time.perf_counter() - self.start), 0.0)

    # --------------------------------------------------------------- configurations
    def configurations(self, n_arrangements, arrangements, warm):
        """The configurations and the starting point of the fit.

        Returns ``(conf, U0, b0, seed_net, seed_objective)``: ``warm``'s configurations and
        solution when given; else sampled configurations, preceded with
        ``arrangements="nonconvex"`` by those of a trained network (``seed_net``); with
        ``arrangements="trained"`` the trained network's own configurations
        (:func:`~skconvexrelu._seeding.trained_configurations`), and with
        ``solver="auto"`` and no ``max_iter`` the solve becomes a budgeted polish of that
        network (``SeedSettings.polish_steps``), as it does from ``warm``'s solution.
        """
        budgeted = self.solver == "auto" and self.max_iter is None
        if warm is not None:
            conf, U0, b0 = warm
            self.polish = arrangements == "trained" and budgeted
            return conf, U0, b0, None, None
        data = (self.Xt, self.Y, self.w, self.loss, self.beta)
        if arrangements == "trained":
            plan = seed_plan(len(self.Xt), n_arrangements, self.Y.shape[1], self.seeding)
            check_seed(plan, *self.Xt.shape, self.width, self.choice, self.max_time)
            net, obj, conf = trained_configurations(
                *data,
                self.width,
                self.fit_intercept,
                self.rng,
                n_arrangements,
                self.seeding,
                max_time=self.remaining(),
            )
            self.polish = budgeted
            self.report(
                "seed",
                f"{net.n_subnetworks} sub-networks, objective "
                f"{obj * self.objective_scale:.6g}",
            )
            return conf, None, None, net, obj
        conf = sample_configurations(self.Xt, self.width, n_arrangements, self.rng)
        if arrangements != "nonconvex":
            return conf, None, None, None, None
        seed_net, seed_objective, seed_conf = train_seed_network(
            *data, self.width, self.fit_intercept, self.rng
        )
        self.report("seed", f"objective {seed_objective * self.objective_scale:.6g}")
        return drop_useless(seed_conf).concat(conf), None, None, seed_net, seed_objective

    def report(self, phase, text):
        """One line for ``verbose >= 1``: the phase, what it reached and the time."""
        if self.verbose:
            elapsed = time.perf_counter() - self.start
            print(f"[skconvexrelu] {phase}: {text} ({elapsed:.2f} s)", flush=True)

    def program(self, conf):
        """The convex program on ``conf``."""
        return ConvexProgram(self.Xt, conf, self.Y.shape[1], dtype=self.Xt.dtype)

    # ------------------------------------------------------------------- solving
    def polish_budget(self, program):
        """Steps of a budgeted polish of ``program``: ``polish_steps`` from the seed
        network (none when the program holds fewer configurations than outputs),
        ``warm_steps`` from a previous solution, and on very large programs at most
        ``polish_work / (n K (d~ + 32))`` (at least 10; see
        :class:`~skconvexrelu.solvers.settings.SeedSettings`)."""
        s = self.seeding
        if self.seed_point is None:
            steps = s.warm_steps
        elif not _holds_seed(program):
            return 0
        else:
            steps = s.polish_steps
        return min(steps, max(10, int(s.polish_work // first_order_step_work(program))))

    def first_order_settings(self, from_seed):
        """The first-order method's settings; a polish runs in
        ``SeedSettings.polish_dtype`` unless ``FirstOrderSettings.dtype`` is set, and
        ``from_seed`` (the seed network's point) with ``SeedSettings.polish_signs``
        unless ``FirstOrderSettings.signs`` is set."""
        settings = self.settings["al-fista"]
        if self.polish and settings.dtype is None:
            settings = replace(settings, dtype=self.seeding.polish_dtype)
        if self.polish and from_seed and settings.signs == "both":
            # from the seed only: a previous solution (warm_start, the CV estimators'
            # path, a round of column generation) may need the other signs
            settings = replace(settings, signs=self.seeding.polish_signs)
        return settings

    def planned_steps(self):
        """The most steps a first-order solve takes in this fit (not a polish)."""
        if self.max_iter is not None:
            return self.max_iter
        return self.settings["al-fista"].max_iter

    def solver_kwargs(self, name, program, U0, b0):
        """The keyword arguments of solver ``name``: ``cvxpy_solver`` is cvxpy's only,
        ``device`` the first-order method's only; the native solvers take a warm start
        and their settings."""
        # verbose=1 prints one line per phase; the solvers' own progress from verbose=2
        kwargs = dict(max_iter=self.max_iter, tol=self.tol, verbose=max(self.verbose - 1, 0))
        if name == "cvxpy":
            kwargs["cvxpy_solver"] = self.cvxpy_solver
        elif name == "al-fista":
            from_seed = U0 is None and self.seed_point is not None
            if from_seed:
                U0, b0 = self.seed_point
            settings = self.first_order_settings(from_seed)
            kwargs.update(U0=U0, b0=b0, settings=settings, device=self.device)
            if self.polish:
                kwargs.update(max_iter=self.polish_budget(program), budget=True)
        else:
            kwargs.update(U0=U0, b0=b0, settings=self.settings[name])
        return kwargs

    def run(self, name, program, U0, b0):
        """Solve ``program`` with the resolved solver ``name``."""
        return get_solver(name)(
            program,
            self.loss,
            self.Y,
            self.w,
            self.beta,
            self.fit_intercept,
            max_time=self.remaining(),
            **self.solver_kwargs(name, program, U0, b0),
        )

    def solve(self, program, U0, b0):
        """Solve ``program`` with the solver the user chose, from ``(U0, b0)``.

        With ``solver="auto"`` a native solve that fails numerically (or stalls far from
        ``tol`` on a program cvxpy can take) is redone with cvxpy (:meth:`fallback`).
        """
        name = resolve_solver(
            self.solver, program, self.device, self.loss, self.choice, self.settings["ipm"]
        )
        if self.polish:
            name = "al-fista"
        if not (self.cost_checked or self.polish):
            # a budgeted polish is bounded by SeedSettings.polish_work by design
            self.cost_checked = True
            warn_if_long(
                name,
                program,
                self.planned_steps(),
                self.choice,
                self.settings["ipm"],
                self.max_time,
            )
        may_fall_back = name != "cvxpy" and self.solver == "auto"
        try:
            result = self.run(name, program, U0, b0)
        except np.linalg.LinAlgError as exc:
            if not may_fall_back:
                raise SolverError(
                    f"The {name} solver failed numerically ({exc}). To avoid it, "
                    f"{conditioning_advice(self.Xt, self.Xt.dtype)}; or try "
                    "solver='cvxpy'."
                ) from exc
            failure = str(exc)
        else:
            failure = self.native_failure(program, result) if may_fall_back else None
            if failure is None:
                return result
        return self.fallback(program, failure)

    def first_solve(self, program, U0, b0, seed_net):
        """The solve on the first configurations: from ``(U0, b0)`` (a warm start) when
        given, else from the seed network's point for the first-order method."""
        if seed_net is not None:
            self.seed_point = blocks_from_network(seed_net, program)
        if U0 is not None:
            U0 = _pad(U0, program.conf.n_configurations)
        result = self.solve(program, U0, b0)
        if self.polish and seed_net is not None and not _holds_seed(program):
            P = program.conf.n_configurations
            self.report(
                "solve",
                f"no polish: {P} configuration{'s' if P > 1 else ''} for "
                f"{program.n_outputs} outputs cannot hold the seed network",
            )
            return result
        self.report(
            "solve",
            f"{result.solver} {result.status} after {result.n_iter} iterations, objective "
            f"{result.objective * self.objective_scale:.6g}, stopping criterion "
            f"{result.stop_criterion:.2g}",
        )
        return result

    def native_failure(self, program, result):
        """Why a native ``result`` calls for the cvxpy fallback, or None when it is kept."""
        if result.status == "numerical_error":
            return "ill-conditioned Newton systems"
        if (
            result.status == "stalled"
            and result.stop_criterion > self.choice.fallback_criterion
            and cvxpy_sized(program, self.choice)
        ):
            return f"stalled at stopping criterion {result.stop_criterion:.2g}"
        return None

    def fallback(self, program, failure):
        """Solve ``program`` with cvxpy after the native ``failure``, with a warning; raise
        :class:`SolverError` when the program is too large for cvxpy."""
        size = program_size(program)
        limit = self.choice.fallback_max_size
        if size > limit:
            raise SolverError(
                f"The native solver failed numerically ({failure}) on a program too large "
                f"for the cvxpy fallback ({size:.3g} samples x variables, more "
                f"than {limit:.3g}). To avoid it, "
                f"{conditioning_advice(self.Xt, self.Xt.dtype)}; or fit a subsample."
            )
        warnings.warn(
            f"The native solver failed numerically ({failure}); solving with cvxpy.",
            ConvergenceWarning,
            stacklevel=5,
        )
        return self.run("cvxpy", program, None, None)

    # -------------------------------------------------------- column generation
    def search(self, program, result):
        """Search for configurations whose dual constraint ``result``'s dual point
        violates; returns ``(found, certificate)``
        (:func:`~skconvexrelu._certificate.search_certificate`)."""
        F = program.forward(result.U) + result.intercept
        r = dual_point(self.loss, F, self.Y, self.w, self.fit_intercept)
        init = _current_subnetworks(result.U, program.conf.signs)
        found = find_violations(self.Xt, r, self.width, self.rng, init=init)
        cert = search_certificate(
            self.loss, r, self.Y, self.w, self.beta, result.objective, found.max_value
        )
        return found, cert

    def column_generation(self, program, result, rounds, per_round, max_arrangements):
        """Up to ``rounds`` rounds: search, add up to ``per_round`` violated
        configurations (at most ``max_arrangements`` in all), solve again from the last
        solution. Stops when the search finds none or ``max_time`` runs out.

        Returns ``(program, result, path, certificate, n_rounds)``; ``path`` holds the
        objective after each solve, the certificate is that of the last solution.
        """
        path, n_rounds = [result.objective], 0
        bar = tqdm(range(rounds), disable=self.verbose < 2, desc="column generation")
        for _ in bar:
            found, cert = self.search(program, result)
            bar.set_postfix(objective=result.objective, violation=cert["max_violation"])
            conf = program.conf
            budget = per_round
            if max_arrangements is not None:
                budget = min(budget, max_arrangements - conf.n_configurations)
            new = select_new(conf, found, self.beta * (1 + 1e-3), max(budget, 0))
            if new.n_configurations == 0 or self.out_of_time(n_rounds):
                break
            program = self.program(conf.concat(new))
            U0 = _pad(result.U, program.conf.n_configurations)
            result = self.solve(program, U0, result.intercept)
            path.append(result.objective)
            n_rounds += 1
            self.report(
                f"column generation round {n_rounds}",
                f"{program.conf.n_configurations} configurations, objective "
                f"{result.objective * self.objective_scale:.6g}, largest violation "
                f"{cert['max_violation']:.3g} beta",
            )
        else:
            # the budget of rounds is spent: certify the last solution
            _, cert = self.search(program, result)
        return program, result, path, cert, n_rounds

    def out_of_time(self, n_rounds):
        """Whether ``max_time`` ran out (with a warning) after ``n_rounds`` rounds."""
        left = self.remaining()
        if left is None or left > 0:
            return False
        warnings.warn(
            f"max_time={self.max_time} s reached during column generation after "
            f"{n_rounds} rounds; returning the best point found so far.",
            ConvergenceWarning,
            stacklevel=5,
        )
        return True

    # -------------------------------------------------------------------- finish
    def finish(self, program, result, seed_net, seed_objective, cert):
        """The :class:`FitOutcome` of ``result``: its network (or the seed network's when
        its objective ``seed_objective`` is lower) and the certificate updated to the
        returned objective.

        A budgeted solve may stop at a point that violates its cone constraints: that
        point is then expressed on the configurations of its own network
        (:func:`~skconvexrelu._seeding.own_configurations`), where it is feasible and its
        objective is that network's; the outcome's ``warm`` keeps the solver's point on
        ``program``, for the next fit of a path.
        """
        data = (self.loss, self.Y, self.w, self.beta, self.fit_intercept)
        solved, warm = program, None
        if result.status == "budget":
            # the next fit of a path starts from the solver's own point, on the same
            # configurations: its network's may be up to twice as many (a sign of each
            # block may take its own), and would double again at every fit of the path
            warm = (program.conf, result.U, np.asarray(result.intercept))
            solved, U = own_configurations(program, result.U)
            result.U = U.astype(program.dtype)
        out = _finish(solved, result.U, result.intercept, *data, result.solver, self.tol)
        if seed_net is not None and seed_objective < out[2]:
            # the seed network is a feasible point of the program on its own
            # configurations (which need not all be in ``program``): never return worse
            seed_program = self.program(
                drop_useless(network_configurations(seed_net, self.Xt))
            )
            U_seed, b_seed = blocks_from_network(seed_net, seed_program)
            seed = _finish(seed_program, U_seed, b_seed, *data, "seed", self.tol)
            if seed[2] < out[2]:
                out, solved, warm = seed, seed_program, None
        U, intercept, objective, coefs, intercepts = out
        if cert is not None:
            gap = float(objective - cert["lower_bound"])
            cert.update(objective=float(objective), gap=gap, relative_gap=gap / abs(objective))
        self.report(
            "done",
            f"objective {objective * self.objective_scale:.6g}, "
            f"{coefs[2].shape[0]} sub-networks",
        )
        return FitOutcome(
            program=solved,
            U=U,
            intercept=intercept,
            objective=float(objective),
            coefs=coefs,
            intercepts=intercepts,
            result=result,
            certificate=cert,
            warm=warm,
        )


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
    max_iter=None,
    tol=1e-6,
    verbose=0,
    device=None,
    cvxpy_solver=None,
    arrangements="random",
    column_generation=0,
    arrangements_per_round=10,
    max_arrangements=None,
    max_time=None,
    warm=None,
    objective_scale=1.0,
):
    """Sample (or reuse) configurations, solve, grow the sample, certify.

    Parameters
    ----------
    solver_options : settings object, list of them, or None
        The estimators' ``solver_options`` (see :class:`FitRun`).
    max_iter, tol, verbose, device, cvxpy_solver
        Passed to the solvers that take them (see :meth:`FitRun.solver_kwargs`).
    warm : tuple (Configurations, U, intercept) or None
        A previous fit's configurations and solution, to start from.
    objective_scale : float, default=1.0
        Factor of the objectives printed with ``verbose`` (the square of the target
        scale, so that they are in the user's units).

    The other parameters are the estimators' (``random_state`` a ``RandomState``).

    Returns
    -------
    FitOutcome
    """
    fit = FitRun(
        Xt,
        Y,
        w,
        loss,
        beta,
        fit_intercept,
        width,
        random_state,
        solver=solver,
        solver_options=solver_options,
        max_iter=max_iter,
        tol=tol,
        verbose=verbose,
        device=device,
        cvxpy_solver=cvxpy_solver,
        max_time=max_time,
        objective_scale=objective_scale,
    )
    conf, U0, b0, seed_net, seed_objective = fit.configurations(
        n_arrangements, arrangements, warm
    )
    program = fit.program(conf)
    result = fit.first_solve(program, U0, b0, seed_net)
    path, cert, n_rounds = [result.objective], None, 0
    if column_generation > 0:
        program, result, path, cert, n_rounds = fit.column_generation(
            program, result, column_generation, arrangements_per_round, max_arrangements
        )
    out = fit.finish(program, result, seed_net, seed_objective, cert)
    path[-1] = out.objective  # the returned network's (see FitRun.finish)
    out.objective_path, out.seed_objective, out.n_rounds = path, seed_objective, n_rounds
    return out
