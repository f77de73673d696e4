"""What the regressor and the classifier share: parameters, the fit pipeline, predict."""

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._arrangements import sample_configurations
from ._losses import make_loss
from ._program import ConvexProgram
from ._reconstruction import network_forward, reconstruct_network, threshold_blocks
from .solvers import KNOWN_SOLVERS, SOLVERS, get_solver, resolve_solver


def add_bias_column(X, fit_intercept):
    """``X~``: ``X`` with a column of ones when a first-layer bias is fitted."""
    if not fit_intercept:
        return X
    return np.hstack([X, np.ones((X.shape[0], 1), dtype=X.dtype)])


class BaseConvexThreeLayer(BaseEstimator):
    """Shared machinery; see :class:`ConvexThreeLayerRegressor` for the parameters."""

    _parameter_constraints = {
        "beta": [Interval(numbers.Real, 0, None, closed="neither")],
        "width": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_arrangements": [Interval(numbers.Integral, 1, None, closed="left")],
        "loss": [StrOptions({"squared", "hinge", "cross_entropy"})],
        "solver": [StrOptions(set(SOLVERS))],
        "cvxpy_solver": [StrOptions(set(KNOWN_SOLVERS) | {"ECOS"}), None],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        beta=1e-3,
        width=10,
        n_arrangements=20,
        loss="squared",
        solver="auto",
        cvxpy_solver=None,
        fit_intercept=True,
        max_iter=None,
        tol=1e-6,
        random_state=None,
        verbose=0,
    ):
        self.beta = beta
        self.width = width
        self.n_arrangements = n_arrangements
        self.loss = loss
        self.solver = solver
        self.cvxpy_solver = cvxpy_solver
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    # -------------------------------------------------------------- subclass hooks
    def _encode_targets(self, y):
        """Return ``(Y, loss_name)``: ``Y`` of shape (n, n_outputs) as the loss expects."""
        raise NotImplementedError

    # ------------------------------------------------------------------------ fit
    def _fit(self, X, y, sample_weight=None):
        X, y = validate_data(
            self,
            X,
            y,
            dtype=[np.float64, np.float32],
            multi_output=True,
            y_numeric=False,
        )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if sample_weight.sum() <= 0:
            raise ValueError("sample_weight must have a positive sum.")
        Y, loss_name = self._encode_targets(y)
        # Samples of zero weight do not enter the non-convex problem: leave them out.
        keep = sample_weight > 0
        X, Y, sample_weight = X[keep], Y[keep], sample_weight[keep]
        w = sample_weight / sample_weight.sum()
        loss = make_loss(loss_name, Y.shape[1])

        rng = check_random_state(self.random_state)
        Xt = add_bias_column(X, self.fit_intercept)
        conf = sample_configurations(Xt, self.width, self.n_arrangements, rng)
        program = ConvexProgram(Xt, conf, Y.shape[1], dtype=X.dtype)

        solver_name = resolve_solver(self.solver, program)
        solve = get_solver(solver_name)
        kwargs = dict(max_iter=self.max_iter, tol=self.tol, verbose=self.verbose)
        if solver_name == "cvxpy":
            kwargs["cvxpy_solver"] = self.cvxpy_solver
        result = solve(program, loss, Y, w, self.beta, self.fit_intercept, **kwargs)

        # a column whose whole effect on the outputs is below 1e-7 of the targets scale
        # is solver round-off: drop it
        row_norm = float(np.sqrt((Xt * Xt).sum(axis=1)).max())
        atol = 1e-7 * max(1.0, float(np.abs(Y).max())) / max(row_norm, 1e-300)
        U = threshold_blocks(result.U, atol=atol)
        intercept = np.asarray(result.intercept, dtype=X.dtype)
        self.coefs_, self.intercepts_ = reconstruct_network(
            U, intercept, conf.signs, self.fit_intercept
        )
        self.objective_ = program.objective(U, intercept, loss, Y, w, self.beta)
        self.n_subnetworks_ = self.coefs_[2].shape[0]
        self.n_arrangements_ = conf.n_configurations
        self.n_iter_ = result.n_iter
        self.solver_ = result.solver
        self.solver_status_ = result.status
        self.stop_criterion_ = result.stop_criterion
        self.n_outputs_ = Y.shape[1]
        self.loss_ = loss
        if not np.all(np.isfinite(self.objective_)):
            warnings.warn("The solver returned a non-finite objective.", RuntimeWarning)
        return self

    # -------------------------------------------------------------------- predict
    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return network_forward(self.coefs_, self.intercepts_, X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags


def fit_context(func):
    """``@_fit_context`` with nested parameter validation skipped."""
    return _fit_context(prefer_skip_nested_validation=True)(func)
