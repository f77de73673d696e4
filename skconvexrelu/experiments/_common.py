"""Helpers shared by the experiments: data splits, the estimator, rows, progress bars."""

import numpy as np

from .._losses import SquaredLoss
from .._regressor import ConvexThreeLayerRegressor
from ..datasets import load_uci

#: Every experiment minimizes the squared loss (the regression framing).
LOSS = SquaredLoss()


class UnknownParameterError(ValueError):
    """An estimator parameter that :class:`ConvexThreeLayerRegressor` does not have."""


def progress_bar(total, desc, enabled):
    """A tqdm progress bar of ``total`` steps, hidden unless ``enabled``."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False)


def convex_regressor(**params):
    """A :class:`~skconvexrelu.ConvexThreeLayerRegressor` built from ``params``.

    Parameters whose value is None are left at their default, so optional settings
    (``arrangements``, ``column_generation``, ``arrangements_per_round``, ``max_time``)
    can be passed through from a command line unconditionally.

    Parameters
    ----------
    **params
        Constructor parameters of the estimator.

    Returns
    -------
    estimator : ConvexThreeLayerRegressor

    Raises
    ------
    ValueError
        If a parameter set to something other than None is not a parameter of the
        estimator.
    """
    supported = ConvexThreeLayerRegressor().get_params()
    given = {k: v for k, v in params.items() if v is not None}
    unknown = sorted(set(given) - set(supported))
    if unknown:
        raise UnknownParameterError(
            f"ConvexThreeLayerRegressor has no parameter(s) {', '.join(unknown)}; "
            f"available: {', '.join(sorted(supported))}."
        )
    given.setdefault("arrangements", "random")  # the paper's sampled configurations
    return ConvexThreeLayerRegressor(**given)


def fit_in_target_units(est, X, y):
    """Fit ``est`` with its ``beta`` weighing the objective in the units of ``y``, the
    paper's convention.

    The regressor's ``beta`` is relative to the spread of the targets
    (``target_scale_``); it is divided by that spread before the fit, so that
    ``est.beta_`` is the given ``beta`` and ``objective_`` compares with gradient
    methods run on ``y`` with that ``beta``.
    """
    Y = np.asarray(y, dtype=float).reshape(len(y), -1)
    scale = est._target_scale(Y, np.full(len(Y), 1.0 / len(Y)))
    return est.set_params(beta=est.beta / scale).fit(X, y)


def uci_split(name, fold=0):
    """Train and test arrays of a bundled UCI data set in the regression framing.

    Parameters
    ----------
    name : str
        One of :data:`skconvexrelu.datasets.UCI_DATASETS`.
    fold : int, default=0
        Which of the four predefined ``folds`` to use.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        Features and class numbers as float targets.
    """
    ds = load_uci(name)
    train, test = ds.folds[fold]
    y = ds.target.astype(float)
    return ds.data[train], y[train], ds.data[test], y[test]


def mse(pred, y):
    """Mean squared error of the predictions ``pred``."""
    return float(np.mean((np.ravel(pred) - np.ravel(y)) ** 2))


def result_row(dataset, method, **values):
    """One row of results: every column present, None where a method has no value."""
    row = {
        "dataset": dataset,
        "method": method,
        "objective": None,
        "train_loss": None,
        "test_error": None,
        "fit_time": None,
        "n_subnetworks": None,
        "certificate_gap": None,
        "note": "",
    }
    row.update(values)
    return row
