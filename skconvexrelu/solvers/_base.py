"""The one contract every solver follows: it returns a :class:`SolveResult`."""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SolveResult:
    """What a solver returns.

    The first eight fields are set by every solver; the others describe the work of one
    solver and keep their defaults elsewhere.

    Attributes
    ----------
    U : ndarray of shape (n_outputs, 2, P, d~, m)
        The solution blocks (see :mod:`skconvexrelu._program`).
    intercept : ndarray of shape (n_outputs,)
        The output intercept ``b`` (zeros when none is fitted).
    objective : float
        The convex objective at ``(U, intercept)``.
    n_iter : int
        Iterations the solver ran.
    status : str
        ``"optimal"`` when the stopping criterion was met, else what stopped it
        (``"max_iter"``, ``"max_time"``, ``"stalled"``, ``"numerical_error"``, or the
        conic solver's status).
    stop_criterion : float
        The value of the stopping criterion at the returned point (nan when the backend
        reports none).
    history : list of float
        Objective values along the iterations (may be empty for backends that hide them).
    solver : str
        Name of what actually ran, e.g. ``"cvxpy:CLARABEL"`` or
        ``"native:ipm-pcg+working-set"``.
    n_cg : int, default=0
        Interior-point method: conjugate-gradient steps over all Newton solves.
    n_direct : int, default=0
        Interior-point method: iterations whose Newton systems were solved with a direct
        factorization.
    working_set : tuple of ndarray or None, default=None
        Interior-point method on working sets: the rows of the constraints it ended
        with, ``(idx1, idx2)`` per column and per block (None when every constraint was
        used).
    working_set_rows : tuple of int or None, default=None
        Interior-point method on working sets: the number of rows of the two parts of
        the final working set (first-layer and second-layer constraints).
    n_grown : int, default=0
        Interior-point method: times the working set grew inside one run.
    n_rounds : int, default=1
        Interior-point method: solves run (working-set rounds, each warm started).
    n_pilot_iter : int, default=0
        Interior-point method: iterations of the pilot solve on a subsample that chose
        the first working set (0 without a pilot).
    feasible : bool or None, default=None
        Interior-point method: whether the returned iterate passed the feasibility test
        of its stopping rule (False: none did and the last iterate is returned; None:
        the solver has no such test).
    device : str or None, default=None
        First-order method: the torch device it ran on (None for NumPy).
    warm_start : object or None, default=None
        Interior-point method: its final primal-dual point
        (:class:`~skconvexrelu.solvers.ipm.WarmStart`), which a later solve of the same
        program can start from (``solve_native(..., warm_start=...)``).
    """

    U: np.ndarray
    intercept: np.ndarray
    objective: float
    n_iter: int
    status: str
    stop_criterion: float = float("nan")
    history: list = field(default_factory=list)
    solver: str = ""
    n_cg: int = 0
    n_direct: int = 0
    working_set: tuple | None = None
    working_set_rows: tuple | None = None
    n_grown: int = 0
    n_rounds: int = 1
    n_pilot_iter: int = 0
    feasible: bool | None = None
    warm_start: object = None
    device: str | None = None
    warm_start: object = None
