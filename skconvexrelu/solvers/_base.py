"""The one contract every solver follows."""

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SolveResult:
    """What a solver returns.

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
        (``"max_iter"``, ``"max_time"``, or the backend's status).
    stop_criterion : float
        The value of the stopping criterion at the returned point (nan when the backend
        reports none).
    history : list of float
        Objective values along the iterations (may be empty for backends that hide them).
    solver : str
        Name of what actually ran, e.g. ``"cvxpy:CLARABEL"``.
    """

    U: np.ndarray
    intercept: np.ndarray
    objective: float
    n_iter: int
    status: str
    stop_criterion: float = float("nan")
    history: list = field(default_factory=list)
    solver: str = ""
