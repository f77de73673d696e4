"""Small programs shared by the solver tests (imported by the test modules)."""

import warnings

import numpy as np
import pytest

from skconvexrelu._arrangements import sample_configurations
from skconvexrelu._losses import make_loss
from skconvexrelu._program import ConvexProgram

try:
    from skconvexrelu.solvers._cvxpy import solve_cvxpy
except ImportError:  # pragma: no cover - the cvxpy solver ships with the package
    solve_cvxpy = None


def small_problem(
    loss="squared",
    n=50,
    d=4,
    width=3,
    P=5,
    n_outputs=1,
    seed=0,
    dtype=np.float64,
    bias=True,
    weights=False,
):
    """A small teacher-network problem: (program, loss, Y, w, beta)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W1 = rng.standard_normal((d, 4))
    w2 = rng.standard_normal(4)
    y = np.maximum(X @ W1, 0) @ w2
    Xt = np.hstack([X, np.ones((n, 1))]) if bias else X
    conf = sample_configurations(Xt, width, P, random_state=seed)
    if loss == "squared":
        Y = y[:, None] if n_outputs == 1 else np.stack([y, np.sin(X[:, 0])], 1)[:, :n_outputs]
    elif n_outputs == 1:
        Y = np.where(y > np.median(y), 1.0, -1.0)[:, None]
    else:
        labels = np.digitize(y, np.quantile(y, np.linspace(0, 1, n_outputs + 1)[1:-1]))
        Y = np.eye(n_outputs)[labels]
        if loss == "hinge":
            Y = 2.0 * Y - 1.0
    program = ConvexProgram(Xt, conf, n_outputs=Y.shape[1], dtype=dtype)
    w = rng.uniform(0.5, 1.5, n) if weights else np.ones(n)
    w = w / w.sum()
    return program, make_loss(loss, Y.shape[1]), Y, w, 0.05 / n


def reference_solution(program, loss, Y, w, beta, fit_intercept=True):
    """The cvxpy optimum, accurate enough to compare at 1e-4."""
    if solve_cvxpy is None:  # pragma: no cover
        pytest.skip("cvxpy solver unavailable")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return solve_cvxpy(program, loss, Y, w, beta, fit_intercept=fit_intercept, tol=1e-9)
