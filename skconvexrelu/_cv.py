"""Cross-validated estimators: the ``beta`` path with warm starts, in the style of LassoCV."""

import numbers

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_sample_weight

from ._arrangements import sample_configurations
from ._base import (
    BaseConvexThreeLayer,
    add_bias_column,
    canonical_samples,
    fit_context,
    validate_fit_input,
)
from ._classifier import ConvexThreeLayerClassifier
from ._losses import constant_model, make_loss
from ._program import ConvexProgram, beta_max
from ._regressor import ConvexThreeLayerRegressor

_CV_CONSTRAINTS = {
    **{k: v for k, v in BaseConvexThreeLayer._parameter_constraints.items() if k != "beta"},
    "betas": ["array-like", None],
    "n_betas": [Interval(numbers.Integral, 1, None, closed="left")],
    "eps": [Interval(numbers.Real, 0, 1, closed="neither"), None],
    "cv": ["cv_object"],
    "scoring": [str, callable, None],
    "n_jobs": [numbers.Integral, None],
}


def beta_grid(estimator, X, y, n_betas=5, eps=None, sample_weight=None):
    """A decreasing grid of ``n_betas`` values of ``beta``.

    With ``arrangements="trained"`` it runs from 10 times the default ``beta="auto"`` of
    the weighted samples as the fit sees them
    (:func:`~skconvexrelu._base.canonical_samples`) down to ``eps`` times that (``eps``
    None: 1e-2, so the default is in the middle). Otherwise it runs from
    :func:`skconvexrelu._program.beta_max` on the configurations the estimator samples
    from ``X`` with its ``random_state`` (where the network vanishes) down to ``eps``
    times it (None: 1e-3).
    """
    X = np.asarray(X, dtype=float)
    est = clone(estimator)
    Y, loss_name = est._encode_targets(y)
    sw = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, float)
    X, Y, sw = canonical_samples(X, Y, sw)
    w = sw / sw.sum()
    if est.arrangements == "trained":
        top = 10 * est.set_params(beta="auto")._resolved_beta(w)
        return top * np.logspace(0, np.log10(1e-2 if eps is None else eps), n_betas)
    Xt = add_bias_column(X, est.fit_intercept)
    conf = sample_configurations(
        Xt, est.width, est.n_arrangements, check_random_state(est.random_state)
    )
    _, R = constant_model(make_loss(loss_name, Y.shape[1]), Y, w, est.fit_intercept)
    # beta is relative to the targets' scale (see the regressor's ``target_scale_``)
    top = beta_max(ConvexProgram(Xt, conf, Y.shape[1]), R) / est._target_scale(Y, w)
    top = top if top > 0 else 1.0
    return top * np.logspace(0, np.log10(1e-3 if eps is None else eps), n_betas)


def _path_order(betas, trained):
    """The order of the fits along ``betas`` (decreasing), as runs of indices: each run
    starts from the solution of the fit before it, the first index of a later run from
    the path's first fit.

    From the largest ``beta`` down for sampled configurations (the path of a lasso);
    with ``arrangements="trained"`` from the middle value (the default ``beta`` of the
    grid, whose fit trains the seed network: the fold's default fit) outwards, up then
    down.
    """
    if not trained:
        return [list(range(len(betas)))]
    middle = len(betas) // 2
    return [list(range(middle, -1, -1)), list(range(middle + 1, len(betas)))]


def _path_scores(estimator, X, y, sample_weight, train, test, betas, scorer):
    """Scores on ``test`` along ``betas`` (decreasing), warm-starting each fit
    (:func:`_path_order`); with ``sample_weight`` the scores are weighted too."""
    est = clone(estimator).set_params(warm_start=True)
    sw, test_weight = None, {}
    if sample_weight is not None:
        sw, test_weight = sample_weight[train], {"sample_weight": sample_weight[test]}
    scores = np.empty(len(betas))
    first = None
    for run in _path_order(betas, est.arrangements == "trained"):
        if first is not None:
            est._warm = first  # a later run starts from the path's first fit
        for i in run:
            est.set_params(beta=betas[i]).fit(X[train], y[train], sample_weight=sw)
            scores[i] = scorer(est, X[test], y[test], **test_weight)
            first = est._warm if first is None else first
    return scores


class _CVMixin:
    """The shared ``fit`` of the CV estimators."""

    _base_class = None

    def _inner(self):
        params = {
            k: getattr(self, k)
            for k in BaseConvexThreeLayer._parameter_constraints
            if k != "beta"
        }
        return self._base_class(**params)

    @fit_context
    def fit(self, X, y, sample_weight=None):
        """Fit the path on each fold, pick ``beta`` by CV, refit on all the data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        X, y = validate_fit_input(self, X, y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
            if sample_weight.sum() <= 0:
                raise ValueError("sample_weight must have a positive sum.")
        inner = self._inner()
        if self.betas is None:
            betas = beta_grid(inner, X, y, self.n_betas, self.eps, sample_weight)
        else:
            betas = np.sort(np.asarray(self.betas, dtype=float).ravel())[::-1]
            if betas.size == 0 or np.any(betas <= 0):
                raise ValueError("betas must be a non-empty list of positive values.")
        cv = check_cv(self.cv, y, classifier=is_classifier(self))
        scorer = check_scoring(inner, scoring=self.scoring)
        folds = list(cv.split(X, y))
        scores = Parallel(n_jobs=self.n_jobs)(
            delayed(_path_scores)(inner, X, y, sample_weight, train, test, betas, scorer)
            for train, test in folds
        )
        self.betas_ = betas
        self.cv_scores_ = np.asarray(scores).T  # (n_betas, n_folds)
        mean = self.cv_scores_.mean(axis=1)
        best = float(betas[int(np.argmax(mean))])
        final = inner.set_params(beta=best).fit(X, y, sample_weight=sample_weight)
        for name, value in vars(final).items():
            if (
                name.endswith("_")
                and not name.startswith("__")
                or name in ("_y_ndim", "_warm")
            ):
                setattr(self, name, value)
        self.beta_ = best  # the chosen value of ``betas`` (the refit's weight decay is
        # ``beta_ * target_scale_``)
        return self


_CV_DOC = """
    Cross-validation picks ``beta`` from ``betas`` (by default ``n_betas`` values from 10 times
    the default ``beta="auto"`` down to a tenth of it). Each fold fits the whole path
    with ``warm_start=True``, reusing the configurations and the previous solution: with
    ``arrangements="trained"`` from the middle value outwards (its fit is the fold's
    default fit, seed network included), each further fit a budget of
    ``SeedSettings.warm_steps`` first-order steps; otherwise from the largest ``beta``
    down. Folds run in parallel with
    ``n_jobs`` (joblib, so a Dask backend works too). The model is then refit on all the
    data with the chosen ``beta_``.

    Parameters
    ----------
    betas : array-like or None, default=None
        Values of ``beta`` to try; None builds a grid: with
        ``arrangements="trained"`` from 10 times the default ``beta="auto"`` down to
        ``eps`` times that, else from the ``beta`` where the network vanishes down to
        ``eps`` times it.
    n_betas : int, default=5
        Size of the grid when ``betas`` is None.
    eps : float or None, default=None
        Smallest over largest ``beta`` of the grid; None is 1e-2 with
        ``arrangements="trained"`` (the default ``beta`` in the middle), else 1e-3.
    cv : int, cross-validation generator or iterable, default=5
        As in :func:`sklearn.model_selection.cross_val_score`.
    scoring : str, callable or None, default=None
        Score to maximize; None uses the estimator's ``score``.
    n_jobs : int or None, default=None
        Folds fitted in parallel.
    **params
        Every other parameter of the estimator (``width``, ``n_arrangements``,
        ``loss``, ``solver``, ...), with the same meaning.

    Attributes
    ----------
    beta_ : float
        The chosen ``beta``.
    betas_ : ndarray of shape (n_betas,)
        The values tried, decreasing.
    cv_scores_ : ndarray of shape (n_betas, n_folds)
        Test score of each ``beta`` on each fold.
    coefs_, intercepts_, objective_, n_subnetworks_, ...
        Those of the model refit with ``beta_``.
"""


def _cv_init(self, params):
    for key, value in params.items():
        setattr(self, key, value)


class ConvexThreeLayerRegressorCV(_CVMixin, ConvexThreeLayerRegressor):
    __doc__ = (
        """Convex three-layer ReLU regressor with ``beta`` chosen by cross-validation.
"""
        + _CV_DOC
        + """
    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from skconvexrelu import ConvexThreeLayerRegressorCV
    >>> X, y = make_regression(n_samples=60, n_features=3, noise=0.5, random_state=0)
    >>> reg = ConvexThreeLayerRegressorCV(n_betas=3, cv=3, width=3, n_arrangements=4,
    ...                                   random_state=0).fit(X, y / y.std())
    >>> reg.cv_scores_.shape
    (3, 3)
    """
    )

    _base_class = ConvexThreeLayerRegressor
    _parameter_constraints = {
        **_CV_CONSTRAINTS,
        "loss": ConvexThreeLayerRegressor._parameter_constraints["loss"],
    }

    def __init__(self, *, betas=None, n_betas=5, eps=None, cv=5, scoring=None, n_jobs=None,
                 width=10, n_arrangements=10, loss="squared", solver="auto",
                 cvxpy_solver=None, fit_intercept=True, max_iter=None, tol=1e-6,
                 random_state=None, verbose=0, arrangements="trained", column_generation=0,
                 arrangements_per_round=10, max_arrangements=None, max_time=None,
                 warm_start=False, device=None, solver_options=None):  # fmt: skip
        _cv_init(self, {k: v for k, v in locals().items() if k not in ("self", "__class__")})


class ConvexThreeLayerClassifierCV(_CVMixin, ConvexThreeLayerClassifier):
    __doc__ = (
        """Convex three-layer ReLU classifier with ``beta`` chosen by cross-validation.
"""
        + _CV_DOC
        + """
    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from skconvexrelu import ConvexThreeLayerClassifierCV
    >>> X, y = make_moons(n_samples=60, noise=0.1, random_state=0)
    >>> clf = ConvexThreeLayerClassifierCV(n_betas=3, cv=3, width=3, n_arrangements=4,
    ...                                    random_state=0).fit(X, y)
    >>> bool(clf.score(X, y) > 0.8)
    True
    """
    )

    _base_class = ConvexThreeLayerClassifier
    _parameter_constraints = dict(_CV_CONSTRAINTS)

    def __init__(self, *, betas=None, n_betas=5, eps=None, cv=5, scoring=None, n_jobs=None,
                 width=10, n_arrangements=10, loss="cross_entropy", solver="auto",
                 cvxpy_solver=None, fit_intercept=True, max_iter=None, tol=1e-6,
                 random_state=None, verbose=0, arrangements="trained", column_generation=0,
                 arrangements_per_round=10, max_arrangements=None, max_time=None,
                 warm_start=False, device=None, solver_options=None):  # fmt: skip
        _cv_init(self, {k: v for k, v in locals().items() if k not in ("self", "__class__")})
