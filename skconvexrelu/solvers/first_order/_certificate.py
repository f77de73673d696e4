"""The stopping measures of the first-order method at the current point: objective,
certified lower bound, relative duality gap and cone violation."""

from dataclasses import dataclass

import numpy as np

from ..._certificate import dual_scale, lower_bound, relative_gap


@dataclass
class Certificate:
    """The measures at one point (see the stopping rule of
    :mod:`skconvexrelu.solvers.first_order`).

    Attributes
    ----------
    pobj : float
        Objective at ``(U, bp)``.
    dobj : float
        Lower bound on the optimum (weak duality).
    gap : float
        ``(pobj - dobj) / |pobj|``.
    viol : float
        Largest cone violation relative to ``max |X~ U|``.
    bp : ndarray of shape (o,)
        The intercept, polished for the current outputs (smooth losses).
    gamma : float
        Scaling that made the dual point feasible.
    """

    pobj: float
    dobj: float
    gap: float
    viol: float
    bp: np.ndarray
    gamma: float


def _dual_colnorm(al, Z, r, rho_n):
    """``max_j ||(J^T r + G^T C lambda^+)_j||`` over every column of the program, with
    the multiplier estimate ``lambda^+ = max(0, lambda - rho_n h(U))``; with one sign
    kept per configuration also over the blocks held at zero (see
    :meth:`~._lagrangian.AugmentedLagrangian.dual_products`), so that the bound is
    the program's, not that of the kept blocks."""
    kept, held = al.dual_products(Z, r, rho_n)
    parts = [kept, held] if al.op.S == 1 else [kept]
    return max(
        float(np.max(al.be.to_numpy(al.op.column_norms(V)).astype(np.float64), initial=0.0))
        for V in parts
    )


def certificate(al, lm, V, Z, b, rho_n, fit_intercept):
    """The :class:`Certificate` of the point ``V`` (images ``Z``) with intercept ``b``.

    ``r = -grad L(J U + bp)`` for a smooth loss (``bp`` the polished intercept, so that
    ``sum_i r_i = 0``), minus the envelope's gradient for a non-smooth one; with the
    multiplier estimate, ``(r, lambda^+) / gamma`` is dual feasible and
    ``loss.dual(r / gamma)`` a lower bound on the optimum. The non-smooth loss's ``r``
    need not sum to zero exactly, so its bound is corrected for the intercept.
    """
    loss, Y, w = lm.loss, lm.Y, lm.w
    F, viol, _ = al.outputs_and_violation(Z)
    bp = lm.polish_intercept(F, b) if fit_intercept else np.zeros(al.op.o)
    cn = al.be.to_numpy(al.op.column_norms(V)).astype(np.float64)
    pobj = loss.value(F + bp, Y, w) + al.beta * float(cn.sum())
    if al.bloss.envelope:
        # one class's multipliers rescaled so that sum_i r_i = 0 with an intercept
        r = lm.balance(al.envelope_gradient(F, b), fit_intercept)
    else:
        r = -loss.gradient(F + bp, Y, w)
    gamma = dual_scale(_dual_colnorm(al, Z, r, rho_n), al.beta)
    corrected = fit_intercept and not loss.smooth
    dobj = lower_bound(loss, r, gamma, Y, w, intercept=bp if corrected else None)
    gap = relative_gap(pobj, dobj)
    return Certificate(pobj, dobj, gap, viol, bp, gamma)
