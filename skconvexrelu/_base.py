"""What the regressor and the classifier share: parameters, the fit pipeline, predict."""

import functools
import numbers

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._dask import as_dask_rows, is_dask_collection
from ._fit import fit_convex_program
from ._losses import make_loss
from ._reconstruction import network_forward
from ._validation import check_feature_scale, densify
from .solvers import KNOWN_SOLVERS, SOLVERS
from .solvers.settings import (
    FirstOrderSettings,
    IPMSettings,
    SeedSettings,
    SolverChoiceSettings,
    settings_of,
)


def add_bias_column(X, fit_intercept):
    """``X~``: ``X`` with a column of ones when a first-layer bias is fitted."""
    if not fit_intercept:
        return X
    return np.hstack([X, np.ones((X.shape[0], 1), dtype=X.dtype)])


def validate_fit_input(estimator, X, y):
    """``(X, y)`` validated by scikit-learn for ``estimator.fit`` (float64 or float32,
    one or several outputs, labels of any type) with a sparse ``X`` made dense
    (:func:`~skconvexrelu._validation.densify`)."""
    X, y = validate_data(
        estimator,
        X,
        y,
        accept_sparse=True,
        dtype=[np.float64, np.float32],
        multi_output=True,
        y_numeric=False,
    )
    return densify(X), y


def row_space(X):
    """``(X V, V^T)`` for more features than samples, else ``(X, None)``.

    With ``d > n`` the first-layer weights only act through ``X u``: the part of a
    column ``u`` orthogonal to the row space of ``X`` changes no output and only adds to
    its norm (the group-lasso penalty, the unit-norm constraint), so every optimum lies
    in the row space. Writing ``u = V a`` with ``V`` an orthonormal basis of it
    (``d x r``, ``r <= n``, from the SVD) gives the same program on the ``r`` columns of
    ``X V``, with ``||u|| = ||a||``; the fitted first layer is mapped back by ``V``.
    """
    n, d = X.shape
    if d <= n:
        return X, None
    _, s, Vt = np.linalg.svd(np.asarray(X, dtype=np.float64), full_matrices=False)
    rank = max(1, int(np.sum(s > s[0] * max(n, d) * np.finfo(np.float64).eps)))
    basis = Vt[:rank]
    return (X @ basis.T).astype(X.dtype), basis


def _all_distinct(rows):
    """Whether no two rows are equal, by a one-number fingerprint of each row (equal rows
    have equal fingerprints, so distinct fingerprints prove distinct rows); sorting the
    fingerprints costs far less than sorting the rows."""
    coef = np.random.default_rng(0).standard_normal(rows.shape[1])
    fingerprints = np.sort(rows @ coef)
    return bool(np.all(fingerprints[1:] != fingerprints[:-1]))


def canonical_samples(X, Y, sample_weight):
    """``(X, Y, sample_weight)`` as a weighted set of distinct samples.

    Samples of zero weight do not enter the problem and are left out. A sample of
    integer weight ``k`` and ``k`` copies of it are the same term of the weighted
    objective, and so is any order of the samples; but the solvers stop within ``tol``
    of the optimum at a point that depends on the rows they are given. So when some
    rows repeat (equal in ``X`` and ``Y``) or the weights differ, the repeated rows are
    merged into one (their weights added) and the rows sorted: a weighted fit and the
    fit on the rows repeated by the weights then solve the same program, with the same
    floating-point operations. Distinct rows of equal weight are returned as they are.
    """
    keep = sample_weight > 0
    if not keep.all():
        X, Y, sample_weight = X[keep], Y[keep], sample_weight[keep]
    # float32 features are exact in float64, so the merged rows keep their values
    rows = np.hstack([X.astype(np.float64, copy=False), Y])
    equal_weights = np.all(sample_weight == sample_weight[0])
    if equal_weights and _all_distinct(rows):
        return X, Y, sample_weight
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    if len(unique) == len(rows) and equal_weights:
        return X, Y, sample_weight
    merged = np.bincount(inverse.ravel(), weights=sample_weight, minlength=len(unique))
    d = X.shape[1]
    X = np.ascontiguousarray(unique[:, :d], dtype=X.dtype)
    return X, np.ascontiguousarray(unique[:, d:]), merged


def _scaled_certificate(cert, factor):
    """``cert`` with its objective values multiplied by ``factor`` (ratios unchanged)."""
    if cert is None:
        return None
    cert = dict(cert)
    for key in ("objective", "lower_bound", "gap", "restricted_gap"):
        if key in cert:
            cert[key] = cert[key] * factor
    return cert


class BaseConvexThreeLayer(BaseEstimator):
    """Shared machinery; see :class:`ConvexThreeLayerRegressor` for the parameters."""

    _parameter_constraints = {
        "beta": [Interval(numbers.Real, 0, None, closed="neither"), StrOptions({"auto"})],
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
        "arrangements": [StrOptions({"random", "nonconvex", "trained"})],
        "column_generation": [Interval(numbers.Integral, 0, None, closed="left")],
        "arrangements_per_round": [Interval(numbers.Integral, 1, None, closed="left")],
        "max_arrangements": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "max_time": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "warm_start": ["boolean"],
        "device": "no_validation",  # None, a device string or a torch.device: checked in fit
        "solver_options": "no_validation",  # settings objects: checked in fit
    }

    def __init__(
        self,
        beta="auto",
        width=10,
        n_arrangements=10,
        loss="squared",
        solver="auto",
        cvxpy_solver=None,
        fit_intercept=True,
        max_iter=None,
        tol=1e-6,
        random_state=None,
        verbose=0,
        arrangements="trained",
        column_generation=0,
        arrangements_per_round=10,
        max_arrangements=None,
        max_time=None,
        warm_start=False,
        device=None,
        solver_options=None,
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
        self.arrangements = arrangements
        self.column_generation = column_generation
        self.arrangements_per_round = arrangements_per_round
        self.max_arrangements = max_arrangements
        self.max_time = max_time
        self.warm_start = warm_start
        self.device = device
        self.solver_options = solver_options

    # -------------------------------------------------------------- subclass hooks
    def _encode_targets(self, y):
        """Return ``(Y, loss_name)``: ``Y`` of shape (n, n_outputs) as the loss expects."""
        raise NotImplementedError

    def _target_scale(self, Y, w):
        """The scale ``s`` of the encoded targets: the program is solved for ``Y / s``
        with ``beta`` (the same as ``Y`` with ``beta * s``, see the regressor)."""
        return 1.0

    # ------------------------------------------------------------------------ fit
    def _fit(self, X, y, sample_weight=None):
        if is_dask_collection(X):
            from ._fit_dask import dask_fit

            return dask_fit(self, X, y, sample_weight)
        X, Y, w, loss = self._validate_fit_data(X, y, sample_weight)
        self._check_solver_setup()
        X, basis = row_space(X)
        Xt = add_bias_column(X, self.fit_intercept)
        scale = self._target_scale(Y, w)
        beta = self._resolved_beta(w)
        warm = None
        if self.warm_start and hasattr(self, "_warm"):
            conf, U, b = self._warm
            if (
                conf.D1.shape[0] == Xt.shape[0]
                and U.shape[0] == Y.shape[1]
                and U.shape[3] == Xt.shape[1]
            ):
                warm = self._warm
        out = fit_convex_program(
            Xt,
            Y / scale,
            w,
            loss,
            beta=beta,
            width=self.width,
            n_arrangements=self.n_arrangements,
            fit_intercept=self.fit_intercept,
            random_state=check_random_state(self.random_state),
            solver=self.solver,
            solver_options=self.solver_options,
            max_iter=self.max_iter,
            tol=self.tol,
            verbose=self.verbose,
            device=self.device,
            cvxpy_solver=self.cvxpy_solver,
            arrangements=self.arrangements,
            column_generation=self.column_generation,
            arrangements_per_round=self.arrangements_per_round,
            max_arrangements=self.max_arrangements,
            max_time=self.max_time,
            warm=warm,
            objective_scale=scale**2,
        )
        self._store(out, loss, Y.shape[1], scale, beta)
        if basis is not None:  # the first layer back in the features' coordinates
            self.coefs_[0] = (basis.T @ self.coefs_[0]).astype(self.coefs_[0].dtype)
        return self

    def _validate_fit_data(self, X, y, sample_weight):
        """``(X, Y, w, loss)``: validated data, encoded targets, weights summing to one
        and the loss object; samples of zero weight are left out and repeated samples
        merged (:func:`canonical_samples`)."""
        X, y = validate_fit_input(self, X, y)
        check_feature_scale(X)
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if sample_weight.sum() <= 0:
            raise ValueError("sample_weight must have a positive sum.")
        Y, loss_name = self._encode_targets(y)
        X, Y, sample_weight = canonical_samples(X, Y, sample_weight)
        w = sample_weight / sample_weight.sum()
        return X, Y, w, make_loss(loss_name, Y.shape[1])

    def _check_solver_setup(self):
        """Clear errors for ``solver_options`` that are not settings objects and for a
        ``device`` that cannot be used."""
        for kind in (IPMSettings, FirstOrderSettings, SolverChoiceSettings, SeedSettings):
            settings_of(self.solver_options, kind)
        if self.device is None:
            return
        if self.solver in ("cvxpy", "ipm"):
            raise ValueError(
                f"device={self.device!r} runs the first-order native solver on torch; "
                f"solver={self.solver!r} cannot use it. Use solver='al-fista' (or "
                "'native' / 'auto'), or device=None."
            )
        from ._backend import get_backend

        get_backend(self.device)  # a clear error for a bad device or a missing torch

    def _resolved_beta(self, w):
        """``beta``, or for ``"auto"`` ``SeedSettings.auto_beta / sqrt(n_eff)`` with the
        effective number of samples ``n_eff = 1 / sum(w ** 2)`` of the weights ``w``."""
        if not (isinstance(self.beta, str) and self.beta == "auto"):
            return float(self.beta)
        return settings_of(self.solver_options, SeedSettings).auto_beta_for(1.0 / np.sum(w**2))

    def _store(self, out, loss, n_outputs, scale, beta):
        """Set the fitted attributes from a :class:`~skconvexrelu._fit.FitOutcome` of the
        targets divided by ``scale``: the network is scaled back (``w2`` and ``w3`` by
        ``sqrt(scale)``, the output intercept by ``scale``) and the objectives by
        ``scale ** 2``, with ``beta_ = beta * scale``."""
        conf = out.program.conf
        self._warm = out.warm
        W1, W2, W3 = out.coefs
        b1, b2, b3 = out.intercepts
        root = np.sqrt(scale).astype(W1.dtype)  # keep the dtype of the data
        self.coefs_ = [W1, W2 * root, W3 * root]
        self.intercepts_ = [b1, b2 * root, b3 * np.asarray(scale, dtype=b3.dtype)]
        self.beta_ = float(beta * scale)
        self.target_scale_ = float(scale)
        self.objective_ = out.objective * scale**2
        self.objective_path_ = np.asarray(out.objective_path) * scale**2
        self.certificate_ = _scaled_certificate(out.certificate, scale**2)
        seed = out.seed_objective
        self.nonconvex_objective_ = None if seed is None else seed * scale**2
        self.n_subnetworks_ = self.coefs_[2].shape[0]
        self.n_arrangements_ = conf.n_configurations
        self.n_iter_ = out.result.n_iter
        self.solver_ = out.result.solver
        self.solver_status_ = out.result.status
        self.stop_criterion_ = out.result.stop_criterion
        self.n_outputs_ = n_outputs
        self.loss_ = loss

    # -------------------------------------------------------------------- predict
    def _forward(self, X):
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse=True, dtype=[np.float64, np.float32], reset=False
        )
        return network_forward(self.coefs_, self.intercepts_, densify(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True  # made dense (see _validation.densify)
        tags.non_deterministic = False
        return tags


def rowwise(method):
    """``method(X)`` of a fitted estimator, and on a Dask array of rows a Dask array of
    its results, computed block by block where the blocks are (nothing is gathered)."""

    @functools.wraps(method)
    def wrapper(self, X):
        if not is_dask_collection(X):
            return method(self, X)
        check_is_fitted(self)
        X = as_dask_rows(X, "X")
        probe = method(self, np.zeros((1, X.shape[1]), dtype=X.dtype))
        func = functools.partial(method, self)
        if probe.ndim == 1:
            return X.map_blocks(func, drop_axis=1, dtype=probe.dtype)
        return X.map_blocks(func, chunks=(X.chunks[0], probe.shape[1:]), dtype=probe.dtype)

    return wrapper


def fit_context(func):
    """``@_fit_context`` with nested parameter validation skipped."""
    return _fit_context(prefer_skip_nested_validation=True)(func)
