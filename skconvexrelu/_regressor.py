"""ConvexThreeLayerRegressor."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils._param_validation import StrOptions

from ._base import BaseConvexThreeLayer, fit_context, rowwise

_PARAMS_DOC = """
    beta : float or "auto", default="auto"
        Weight decay ``beta`` of the training objective (see :ref:`math`), which is the
        group-lasso weight of the convex program. The objective is normalized per sample,
        so the paper's ``beta`` corresponds to ``beta / n_samples`` here. Larger values
        give fewer sub-networks. ``"auto"`` is ``0.4 / sqrt(n_samples)`` up to 1,000
        samples and ``0.4 * sqrt(1000) / n_samples`` beyond (``SeedSettings.auto_beta``,
        ``auto_beta_rows``; with sample weights, their effective number
        ``1 / sum(w**2)`` for weights summing to one; repeated rows count as one sample
        with their weights added, so that weights and repeated rows agree). For
        the squared loss ``beta`` is relative to the spread of the targets: the fit
        solves the program for ``y / s`` (``s`` the standard deviation of ``y``,
        ``target_scale_``), which is the program for ``y`` with ``beta_ = beta * s``, so
        a target in any unit gets the same model.
    width : int, default=10
        Number of first-layer neurons ``m`` of each sub-network.
    n_arrangements : int, default=10
        Number of configurations ``(D1, s, D2)``; each gives up to two sub-networks per
        output (one per output sign). With ``arrangements="trained"`` it is the number
        of sub-networks of the seed network.
    loss : {LOSSES}, default="{DEFAULT_LOSS}"
        Training loss.
    solver : {{"auto", "cvxpy", "native", "ipm", "al-fista"}}, default="auto"
        ``"cvxpy"`` solves the conic program with a generic solver (see
        ``cvxpy_solver``). ``"ipm"`` is the package's structured interior-point method
        (few iterations, exact to ``tol``, for inputs of up to a few dozen features);
        ``"al-fista"`` its matrix-free first-order method (augmented Lagrangian with
        accelerated proximal steps; memory and time per step linear in ``n_samples``,
        for wide inputs, and the one that runs on torch, see ``device``). ``"native"``
        picks ``"ipm"`` when one of its iterations is affordable, else ``"al-fista"``.
        ``"auto"`` picks ``"native"`` for the cross-entropy loss and for large programs,
        cvxpy otherwise (the thresholds are those of ``SolverChoiceSettings``, see
        ``solver_options``). ``solver_`` says what ran.
    cvxpy_solver : {{"CLARABEL", "MOSEK", "SCS", "ECOS"}} or None, default=None
        Conic solver used by ``solver="cvxpy"``. None uses MOSEK when it is installed
        with a license, otherwise Clarabel, falling back to SCS. Asking for MOSEK without
        a license raises a ValueError naming the license file.
    fit_intercept : bool, default=True
        Fit a first-layer bias (a column of ones added to ``X``, part of the unit-norm
        constraint) and an unregularized output intercept.
    max_iter : int or None, default=None
        Iteration limit of the solver; None uses the solver's default, and with
        ``arrangements="trained"`` and ``solver="auto"`` a budget: the first-order method
        improves the seed network for ``SeedSettings.polish_steps`` steps (about the
        cost of training it) unless the gap reaches ``tol`` earlier
        (``solver_status_ == "budget"``; ``stop_criterion_`` is the gap reached).
    tol : float, default=1e-6
        Stopping tolerance of the solver: relative duality gap
        ``(objective - lower bound) / objective`` of the sampled program (with the
        relative cone violation for the first-order method; Newton accuracy at that
        level for the interior-point method; cvxpy's solvers' own gap).
    random_state : int, RandomState instance or None, default=None
        Seed of the configuration sampling.
    verbose : int, default=0
        1: one line per phase of the fit (seed network, solve, each round of column
        generation, result) with its objective and time; 2: also the solvers' progress
        (a progress bar for the native solvers and column generation, the conic
        solver's log for cvxpy). 0 prints nothing.
    arrangements : {{"trained", "random", "nonconvex"}}, default="trained"
        Where the configurations come from. ``"trained"`` trains a non-convex network
        of ``n_arrangements`` sub-networks of this ``width`` (full-batch Adam, see
        ``SeedSettings``, seeded by ``random_state``) and takes its configurations (at
        most ``SeedSettings.max_output_blocks`` configurations times outputs; random
        ones fill up when it has fewer distinct ones). That network is a feasible point
        of the convex program, so ``objective_`` is never above its objective
        (``nonconvex_objective_``); with ``solver="auto"`` the program is solved from
        that point (see ``max_iter``). ``"random"`` samples ``n_arrangements``
        configurations from random networks. ``"nonconvex"`` adds the configurations of
        a trained network of 10 sub-networks (1,000 Adam steps) to ``n_arrangements``
        random ones and solves that program to ``tol``.
    column_generation : int, default=0
        Rounds of column generation after the first solve. Each round searches for
        configurations whose dual constraint is violated at the current solution (one
        sub-network fitted to the dual point by projected gradient ascent from many
        starts), adds up to ``arrangements_per_round`` of them and solves again. It
        stops early when the search finds no violated configuration. With rounds,
        ``certificate_`` bounds the distance to the optimum.
    arrangements_per_round : int, default=10
        Configurations added per round of column generation.
    max_arrangements : int or None, default=None
        Upper limit on the number of configurations column generation may reach.
    max_time : float or None, default=None
        Time budget in seconds for the whole fit. When it runs out the fit stops with a
        ``ConvergenceWarning`` and keeps the best point found so far.
    warm_start : bool, default=False
        Reuse the configurations and the solution of the previous call to ``fit`` (on
        data with the same number of samples), e.g. along a path of ``beta`` values.
    device : str, torch.device or None, default=None
        Run the first-order native solver (``"al-fista"``) on torch tensors on this
        device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...); needs the optional
        dependency torch (``pip install skconvexrelu[torch]``). With ``solver="auto"``
        or ``"native"`` a device selects ``"al-fista"``; with ``"cvxpy"`` or ``"ipm"``
        it is an error. None computes with NumPy.
    solver_options : settings object, list of them, or None, default=None
        Tuning of the native solvers and of the solver choice, as objects of
        :mod:`skconvexrelu.solvers.settings`: ``IPMSettings`` (the interior-point
        method, ``"ipm"``), ``FirstOrderSettings`` (the first-order method,
        ``"al-fista"``), ``SolverChoiceSettings`` (how ``"auto"`` and ``"native"``
        choose, and when ``"auto"`` falls back to cvxpy) and ``SeedSettings`` (the
        seed network of ``arrangements="trained"``), at most one of each kind,
        e.g. ``[IPMSettings(cg_maxiter=100), SolverChoiceSettings(native_size=0)]``.
        A solver without settings of its own kind uses the defaults; cvxpy takes none
        (see ``cvxpy_solver``). Anything else raises a ``TypeError`` in ``fit``.
"""

_ATTRS_DOC = """
    coefs_ : list of ndarray
        ``[W1 (n_features, K*width), W2 (K*width, K), W3 (K, n_outputs)]`` of the
        rebuilt network, in :class:`~sklearn.neural_network.MLPRegressor`'s layout.
    intercepts_ : list of ndarray
        ``[b1 (K*width), b2 (K), b3 (n_outputs)]``; ``b1`` is the first-layer bias
        (inside the unit-norm constraint), ``b2`` is zero.
    objective_ : float
        Value of the convex program at the returned point, equal to the training
        objective of the rebuilt network (with ``beta_``).
    beta_ : float
        The weight decay of ``objective_``: ``beta`` (its value for ``"auto"``) times
        ``target_scale_``.
    target_scale_ : float
        Standard deviation of the training targets for the squared loss (1 for
        classifiers): the program is solved for the targets divided by it.
    n_subnetworks_ : int
        Number ``K`` of sub-networks of the rebuilt network (non-zero blocks).
    n_arrangements_ : int
        Number of distinct configurations used (at most ``n_arrangements``).
    n_iter_ : int
        Iterations run by the solver.
    solver_ : str
        What actually solved the program, e.g. ``"cvxpy:CLARABEL"``.
    solver_status_ : str
        ``"optimal"`` or the status the solver stopped with.
    stop_criterion_ : float
        The solver's stopping criterion at the returned point.
    objective_path_ : ndarray
        Objective after the first solve and after each round of column generation.
    certificate_ : dict or None
        With column generation: ``max_violation`` (largest dual-constraint violation
        found by the search, in units of ``beta``; at most 1 means none was found),
        ``lower_bound`` (a lower bound on the optimum over every configuration the
        search examined), ``gap`` and ``relative_gap`` (``objective_`` minus that
        bound), ``restricted_gap`` (duality gap over the configurations in use). The
        bound is certain for the configurations examined; for all configurations it is
        an estimate, since the search is heuristic. None without column generation.
    nonconvex_objective_ : float or None
        With ``arrangements="trained"`` or ``"nonconvex"``: objective of the
        Adam-trained network whose configurations seeded the program (``objective_`` is
        never above it).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
"""


class ConvexThreeLayerRegressor(RegressorMixin, BaseConvexThreeLayer):
    __doc__ = (
        """Three-layer ReLU network regressor trained through its convex reformulation
    (Ergen & Pilanci, 2021).

    The model is a sum of ``K`` parallel sub-networks
    ``f(x) = sum_k relu(relu([x, 1] W1_k) w2_k) w3_k + b``, trained with weight decay
    ``beta`` under ``||W1_k||_F <= 1``. ``fit`` chooses ``n_arrangements``
    hyperplane-arrangement configurations, solves the equivalent convex group-lasso
    program with cone constraints on them, and rebuilds the network from its solution;
    ``K`` is chosen by the sparsity of the solution. By default the configurations are
    those of a briefly trained seed network and the convex solve starts from it, for a
    budget of steps (see ``arrangements`` and ``max_iter``); with a chosen solver the
    sampled program is solved to ``tol``.

    Parameters
    ----------"""
        + _PARAMS_DOC.format(LOSSES='{"squared"}', DEFAULT_LOSS="squared")
        + """
    Attributes
    ----------"""
        + _ATTRS_DOC
        + """
    See Also
    --------
    ConvexThreeLayerClassifier : the same model for classification.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skconvexrelu import ConvexThreeLayerRegressor
    >>> X, y = make_regression(n_samples=60, n_features=3, noise=0.1, random_state=0)
    >>> y = y / y.std()
    >>> reg = ConvexThreeLayerRegressor(beta=1e-3, width=3, n_arrangements=5,
    ...                                 random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
    >>> bool(reg.score(X, y) > 0.9)
    True
    """
    )

    _parameter_constraints = {
        **BaseConvexThreeLayer._parameter_constraints,
        "loss": [StrOptions({"squared"})],
    }

    def _encode_targets(self, y):
        y = np.asarray(y, dtype=np.float64)
        self._y_ndim = y.ndim
        return (y.reshape(-1, 1) if y.ndim == 1 else y), "squared"

    def _target_scale(self, Y, w):
        """The weighted standard deviation of the targets, pooled over the outputs (1 for
        constant targets): ``beta`` is relative to it, so that the fit of ``c * y`` is
        ``c`` times the fit of ``y``."""
        centered = Y - w @ Y
        scale = float(np.sqrt(w @ np.mean(centered**2, axis=1)))
        return scale if np.isfinite(scale) and scale > 1e-12 * (1 + np.abs(Y).max()) else 1.0

    @fit_context
    def fit(self, X, y, sample_weight=None):
        """Fit the network by solving the convex program.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; the loss is their weighted mean.

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight)

    @rowwise
    def predict(self, X):
        """Output of the rebuilt network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A Dask array gives a Dask array, computed block by block.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
        """
        F = self._forward(X)
        return F.ravel() if self._y_ndim == 1 else F

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
