"""The convex regressor along a sequence of ``beta`` values."""

import time

from ._common import convex_regressor, fit_in_target_units


def beta_path(X, y, betas, width=5, n_arrangements=20, random_state=0, **params):
    """Fit the convex regressor along a sequence of ``beta`` values.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    betas : sequence of float
        Values of the (per-sample) ``beta``.
    width, n_arrangements : int, default=5, 20
    random_state : int, default=0
        The same seed for every fit, so every fit sees the same configurations.
    **params
        Further estimator parameters.

    Returns
    -------
    rows : list of dict
        One dict per ``beta``: ``beta``, ``objective``, ``n_subnetworks``,
        ``train_r2`` and ``fit_time``.
    """
    rows = []
    for beta in betas:
        est = convex_regressor(
            beta=float(beta),
            width=width,
            n_arrangements=n_arrangements,
            random_state=random_state,
            **params,
        )
        start = time.perf_counter()
        fit_in_target_units(est, X, y)
        rows.append(
            {
                "beta": float(beta),
                "objective": float(est.objective_),
                "n_subnetworks": int(est.n_subnetworks_),
                "train_r2": float(est.score(X, y)),
                "fit_time": time.perf_counter() - start,
            }
        )
    return rows
