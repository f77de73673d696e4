"""The duality-gap certificate shared by every solver and by column generation.

For the program ``min L(J U + b) + beta sum_j ||u_j||  s.t.  G U >= 0`` a dual point is a
pair ``(r, lambda)`` with ``lambda >= 0`` and ``sum_i r_i = 0`` when ``b`` is fitted; it is
dual feasible when every column satisfies ``||(J^T r + G^T lambda)_j|| <= beta``. Any pair
becomes feasible once divided by ``gamma = max(1, max_j ||(J^T r + G^T lambda)_j|| /
beta)`` (:func:`dual_scale`), and then ``loss.dual(r / gamma)`` is a lower bound on the
optimum (weak duality, :func:`lower_bound`). The objective minus the best such bound is
the duality gap (:func:`relative_gap`): every solver's stopping rule, and the estimators'
``certificate_``.

Column generation uses the same bound over configurations that are not in the program:
the search for violated configurations returns the largest ``|r^T (sub-network)|`` it
finds, and :func:`search_certificate` turns it into a bound over every configuration it
examined.
"""

import numpy as np

__all__ = ["dual_point", "dual_scale", "lower_bound", "relative_gap", "search_certificate"]


def dual_scale(max_colnorm, beta):
    """``gamma``: the factor that makes a dual point with this largest column norm feasible.

    ``inf`` when ``beta = 0`` and some column norm is positive (no scaling helps).
    """
    if beta > 0:
        return max(1.0, float(max_colnorm) / beta)
    return np.inf if max_colnorm > 0 else 1.0


def lower_bound(loss, r, gamma, Y, w, intercept=None):
    """``loss.dual(r / gamma)``: a lower bound on the optimum when ``(r, lambda) / gamma``
    is dual feasible.

    ``intercept``: when given, ``r``'s columns need not sum to zero and the bound is
    corrected by ``-<sum_i r_i / gamma, b>`` (exact for any intercept ``b``).
    """
    if not np.isfinite(gamma):
        return -np.inf
    dobj = loss.dual(r / gamma, Y, w)
    if intercept is not None:
        dobj -= float(np.sum(r / gamma, axis=0) @ intercept)
    return float(dobj)


def relative_gap(primal, dual):
    """``(primal - dual) / |primal|`` (guarded at ``|primal| = 0``)."""
    return (primal - dual) / max(abs(primal), 1e-12)


def dual_point(loss, F, Y, w, fit_intercept):
    """``r = -grad L(F)``, made to sum to zero over the samples when ``b`` is fitted.

    The dual of the program with an unregularized intercept requires ``sum_i r_io = 0``.
    At an exact optimum this holds; the loss's :meth:`~skconvexrelu._losses.Loss.center`
    removes the solver's round-off while keeping ``r`` in the domain of its conjugate.
    """
    r = -loss.gradient(F, Y, w)
    if not fit_intercept:
        return r
    return loss.center(r, Y, w)


def search_certificate(loss, r, Y, w, beta, objective, max_value):
    """The certificate of a solution after a search for violated configurations.

    ``r`` is the solution's dual point (:func:`dual_point`), ``max_value`` the largest
    ``|r^T (sub-network output)|`` the search found over unit sub-networks.

    Returns
    -------
    dict
        ``restricted_gap``: ``objective - dual(r)``, the duality gap of the program over
        the current configurations (solver precision at an optimum);
        ``max_violation``: ``gamma``, the largest value found by the search divided by
        ``beta`` (at most 1 means no violated configuration was found);
        ``lower_bound``: ``dual(r / max(gamma, 1))``, a lower bound on the optimum of the
        program over every configuration the search examined;
        ``gap``: ``objective - lower_bound``;
        ``relative_gap``: ``gap / objective``.
    """
    gamma = max_value / beta
    lower = lower_bound(loss, r, max(gamma, 1.0), Y, w)
    gap = objective - lower
    return {
        "restricted_gap": float(objective - loss.dual(r, Y, w)),
        "max_violation": float(gamma),
        "lower_bound": float(lower),
        "gap": float(gap),
        "relative_gap": float(gap / abs(objective)) if objective else float("nan"),
    }
