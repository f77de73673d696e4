"""The interior-point method's entry point: the full program, or working sets of
constraints grown inside one run or by rounds (with a pilot solve for large ``n``)."""

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._allocator import tune_allocator
from ..settings import IPMSettings
from ._operator import LossGram, Operator
from ._run import solve_ipm
from ._working_set import grow_working_set, initial_working_set

ALGO_WS = "native:ipm-pcg+working-set"

__all__ = ["ALGO_WS", "pilot_working_set", "solve_native"]


def solve_native(program, loss, Y, w, beta, fit_intercept=True, max_iter=200, tol=1e-6,
                 U0=None, b0=None, verbose=0, max_time=None, working_set="auto",
                 settings=None, warm_start=None):  # fmt: skip
    """Solve the convex program with the structured interior-point method.

    See :mod:`skconvexrelu.solvers.ipm` for the algorithm, the working sets of
    constraints and the stopping rule.

    Parameters
    ----------
    program : ConvexProgram
    loss : Loss
    Y : ndarray of shape (n, n_outputs)
    w : ndarray of shape (n,)
        Normalized sample weights (summing to one).
    beta : float
    fit_intercept : bool, default=True
    max_iter : int or None, default=200
        Maximum number of interior-point (Newton) iterations (None means 200); with a
        working set, of each round.
    tol : float, default=1e-6
        Relative duality gap at which to stop (floored at 1e-3 in float32).
    U0, b0 : ndarray, optional
        Warm start.
    verbose : int, default=0
        1: a progress bar with the objective, the certified gap, the cone violation and
        the barrier parameter; 2: one printed line per iteration instead.
    max_time : float, optional
        Time budget in seconds; the best iterate is returned when it is exceeded.
    working_set : bool or "auto", default="auto"
        Enforce the cone constraints through per-neuron working sets (grown until no
        sample's constraint is violated); "auto": from ``settings.working_set.min_n``
        samples on. The result then has ``working_set_rows`` (rows per column and block).
    settings : IPMSettings, optional
        The method's settings (:mod:`skconvexrelu.solvers.settings`); None: defaults.
    warm_start : WarmStart, optional
        The ``warm_start`` of an earlier result on the same program: its working set is
        reused, and its dual variables too when ``U0`` is its point.

    Returns
    -------
    SolveResult

    Examples
    --------
    >>> import numpy as np
    >>> from skconvexrelu._arrangements import sample_configurations
    >>> from skconvexrelu._losses import make_loss
    >>> from skconvexrelu._program import ConvexProgram
    >>> from skconvexrelu.solvers.ipm import solve_native
    >>> rng = np.random.default_rng(0)
    >>> X = np.hstack([rng.standard_normal((40, 3)), np.ones((40, 1))])
    >>> y = np.maximum(X[:, :1], 0)
    >>> program = ConvexProgram(X, sample_configurations(X, 2, 4, random_state=0))
    >>> res = solve_native(program, make_loss("squared"), y, np.full(40, 1 / 40), 1e-3)
    >>> res.status
    'optimal'
    """
    tune_allocator()
    settings = IPMSettings() if settings is None else settings
    if working_set == "auto":
        working_set = program.n_samples >= settings.working_set.min_n
    max_iter = 200 if max_iter is None else int(max_iter)
    common = dict(fit_intercept=fit_intercept, verbose=verbose, max_iter=max_iter)
    if not working_set:
        return solve_ipm(program, loss, Y, w, beta, settings, tol=tol, U0=U0, b0=b0,
                         max_time=max_time, warm_start=warm_start, **common)  # fmt: skip
    rounds = _Rounds(program, loss, Y, w, beta, settings, tol, max_time, common)
    return rounds.solve(U0, b0, warm_start)


@dataclass
class _Totals:
    """Iterations, CG steps, direct factorizations and objectives over the rounds."""

    n_iter: int = 0
    n_cg: int = 0
    n_direct: int = 0
    history: list = field(default_factory=list)

    def add(self, res):
        self.n_iter += res.n_iter
        self.n_cg += res.n_cg
        self.n_direct += res.n_direct
        self.history += res.history


class _Rounds:
    """Working-set rounds: solve on the working set, check every constraint, grow."""

    def __init__(self, program, loss, Y, w, beta, settings, tol, max_time, common):
        self.program, self.loss, self.Y, self.w, self.beta = program, loss, Y, w, beta
        self.settings = settings
        self.ws_settings = settings.working_set
        self.tol = float(tol)
        self.max_time = max_time
        self.common = common
        self.verbose = common["verbose"]
        self.t_start = time.perf_counter()
        self.feas_tol = 1e-6 if np.dtype(program.dtype) == np.float32 else 1e-10

    def first_working_set(self, U0, warm_start):
        """From an earlier result, a pilot (large ``n``) or the likeliest facets; the
        constraints a warm start violates join at once."""
        s = self.ws_settings
        ws = None if warm_start is None else warm_start.working_set
        pilot_iter, grow_fraction = 0, s.grow_fraction
        if ws is None and self.program.n_samples >= s.pilot_min_n:
            ws, pilot_iter = pilot_working_set(
                self.program, self.loss, self.Y, self.w, self.beta,
                self.common["fit_intercept"], self.tol, self.feas_tol, self.max_time,
                self.verbose, self.settings,
            )  # fmt: skip
            if ws is not None:
                grow_fraction = s.pilot_grow_fraction
        if ws is None:
            ws = initial_working_set(self.program, s)
        if U0 is not None:
            ws = grow_working_set(self.program, ws, U0, self.feas_tol, s)[0]
        return ws, pilot_iter, grow_fraction

    def _time_left(self):
        if self.max_time is None:
            return None
        return max(0.0, self.max_time - (time.perf_counter() - self.t_start))

    def solve(self, U0, b0, warm_start):
        s = self.ws_settings
        program = self.program
        ws, pilot_iter, grow_fraction = self.first_working_set(U0, warm_start)
        # the squared loss's Gram matrix is the same in every round: formed once
        gram = None
        if self.loss.constant_curvature:
            gram = LossGram(Operator(program), np.asarray(self.w, dtype=np.float64))
        round_tol = max(self.tol, s.round_tol)  # only the last round needs the full accuracy
        grow = s.grows_in_run(self.loss, program.n_samples)
        loose = self.tol if grow else round_tol  # a growing run is meant to be the last
        totals, U, b, warm = _Totals(), U0, b0, warm_start
        for round_ in range(s.max_rounds):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = solve_ipm(program, self.loss, self.Y, self.w, self.beta, self.settings,
                                tol=loose, U0=U, b0=b, max_time=self._time_left(),
                                working_set=ws, loss_gram=gram, grow=grow,
                                grow_fraction=grow_fraction, warm_start=warm,
                                **self.common)  # fmt: skip
            ws, warm = res.working_set, res.warm_start
            totals.add(res)
            U, b = res.U, res.intercept
            grown, n_new, worst = grow_working_set(program, ws, U, self.feas_tol, s)
            self._report(round_, ws, res, n_new, worst)
            step = self._next(res, n_new, grow, loose, round_tol)
            if step is None:
                break
            grow, loose = step
            ws = grown
            if res.status == "numerical_error":
                # the Newton systems broke down: the round's point means nothing, the next
                # round starts cold on the grown working set
                U, b, warm = None, None, None
        for item in caught:  # the last round's warnings are the fit's
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
        return self._finish(res, totals, ws, round_, pilot_iter, n_new, worst)

    def _next(self, res, n_new, grow, loose, round_tol):
        """``(grow, loose)`` for the next round, or None when the rounds are done."""
        # a relaxation with too few constraints can be ill-conditioned: grow and go on
        if res.status == "max_time" or (res.status == "numerical_error" and n_new == 0):
            return None
        if grow and not res.feasible and res.status != "max_iter":
            # the rows that joined during the run kept a residual (the Newton systems
            # broke down first): go on by rounds, which restart the barrier with room for
            # every slack
            return False, round_tol
        if grow and res.status == "stalled" and n_new == 0:
            # feasible, but its certificate stopped short of tol (late Newton systems of
            # a grown run): one round from its point restarts the barrier
            return False, self.tol
        if n_new == 0:
            if loose <= self.tol:
                return None
            loose = self.tol  # feasible at the loose tolerance: one more round at tol
        return grow, loose

    def _report(self, round_, ws, res, n_new, worst):
        if self.verbose > 1:
            print(
                f"working set round {round_}: {ws[0].shape[0]} + {ws[1].shape[0]} rows per "
                f"column and block, {res.n_iter} iterations ({res.status}, grown "
                f"{res.n_grown} times); {n_new} constraints violated outside it (worst "
                f"{worst:.1e})",
                flush=True,
            )

    def _finish(self, res, totals, ws, round_, pilot_iter, n_new, worst):
        res.n_iter, res.n_cg, res.history = totals.n_iter, totals.n_cg, totals.history
        res.n_direct = totals.n_direct
        res.working_set = ws
        res.working_set_rows = (ws[0].shape[0], ws[1].shape[0])
        res.n_rounds = round_ + 1
        res.n_pilot_iter = pilot_iter
        res.solver = ALGO_WS
        if n_new:
            if res.status == "optimal":
                res.status = "max_iter"
            if res.status == "max_time":
                action = "Increase max_time."
            else:
                action = (
                    f"The working set needed more than {self.ws_settings.max_rounds} rounds: "
                    "raise WorkingSetSettings.max_rounds (solver_options)."
                )
            warnings.warn(
                f"native solver stopped after {totals.n_iter} iterations with {n_new} cone "
                f"constraints outside its working set violated (by {worst:.1e} relative). "
                + action,
                ConvergenceWarning,
                stacklevel=3,
            )
        return res


def pilot_working_set(program, loss, Y, w, beta, fit_intercept, tol, feas_tol,
                      max_time=None, verbose=0, settings=None):  # fmt: skip
    """First working set from a pilot solve on a random part of the samples.

    The program restricted to ``pilot_fraction`` of the samples (the same configurations,
    the weights renormalized; its cones are the full program's with fewer constraints) is
    solved to ``pilot_tol``; its final working set, mapped to the full data, plus the
    constraints its solution violates on the full data (``pilot_quota`` rounds' quota per
    column and block) start the full solve. The pilot's point itself is not used (a run
    started there takes more iterations). Returns the working set (None when the pilot
    fails or its samples carry no weight: the caller then starts from
    :func:`initial_working_set`) and the pilot's number of iterations.
    """
    settings = IPMSettings() if settings is None else settings
    s = settings.working_set
    n = program.n_samples
    w = np.asarray(w, dtype=np.float64)
    # a fixed seed: the fit does not depend on it, its iteration count should not vary
    rows = np.sort(
        np.random.default_rng(0).choice(n, int(s.pilot_fraction * n), replace=False)
    )
    wsum = float(w[rows].sum())
    if not wsum > 0:
        return None, 0
    sub = program.sample_subset(rows)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = solve_native(sub, loss, np.asarray(Y)[rows], w[rows] / wsum, beta,
                           fit_intercept=fit_intercept, tol=max(float(tol), s.pilot_tol),
                           max_time=None if max_time is None else 0.25 * max_time,
                           verbose=0, settings=settings)  # fmt: skip
    if res.status == "numerical_error" or not np.all(np.isfinite(res.U)):
        return None, res.n_iter
    if res.working_set is None:  # a pilot small enough for the full program
        ws = initial_working_set(program, s)
    else:
        ws = tuple(np.where(a >= 0, rows[np.maximum(a, 0)], -1) for a in res.working_set)
    ws, n_new, worst = grow_working_set(program, ws, res.U, feas_tol, s,
                                        fraction=s.pilot_quota(loss))  # fmt: skip
    if verbose > 1:
        print(
            f"pilot on {rows.size} samples: {res.n_iter} iterations ({res.status}), "
            f"{time.perf_counter() - t0:.1f} s; its point violates {n_new} constraints "
            f"of the full data (worst {worst:.1e}); first working set "
            f"{ws[0].shape[0]} + {ws[1].shape[0]} rows per column and block",
            flush=True,
        )
    return ws, res.n_iter
