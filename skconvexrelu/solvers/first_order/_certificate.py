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


def _envelope_dual_point(al, lm, F, b, fit_intercept):
    """``r``: minus the envelope's gradient, one class's multipliers rescaled so that
    ``sum_i r_i = 0`` when an intercept is fitted."""
    be, op = al.be, al.op
    r = np.empty((op.n, op.o))
    bb = al.bvec(b)
    for sl in op.chunks:
        Fc = be.asarray(F[sl], op.dtype)
        r[sl] = -be.to_numpy(al.bloss.value_grad(Fc + bb, sl, al.nu)[1])
    return lm.balance(r, fit_intercept)


def _dual_colnorm(al, Z, r, rho_n):
    """``max_j ||(J^T r + G^T C lambda^+)_j||`` with the multiplier estimate
    ``lambda^+ = max(0, lambda - rho_n h(U))``."""
    be, op, X = al.be, al.op, al.op.X
    rb = be.asarray(r, op.dtype)
    Vd = None
    for sl in op.chunks:
        Zb = op.block(Z[sl])
        g, _ = op.from_images(Zb, sl)
        l1, l2 = al.multiplier_estimate(Zb, g, sl, rho_n)
        part = X[sl].T @ op.chunk_cotangent(sl, rb[sl], l1, l2)
        Vd = part if Vd is None else Vd + part
    return float(np.max(be.to_numpy(op.column_norms(Vd)).astype(np.float64), initial=0.0))


def certificate(al, lm, V, Z, b, rho_n, fit_intercept):
    """The :class:`Certificate` of the point ``V`` (images ``Z``) with intercept ``b``.

    ``r = -grad L(J U + bp)`` for a smooth loss (``bp`` the polished intercept, so that
    ``sum_i r_i = 0``), minus the envelope's gradient for a non-smooth one; with the
    multiplier estimate, ``(r, lambda^+) / gamma`` is dual feasible and
    ``loss.dual(r / gamma)`` a lower bound on the optimum. The non-smooth loss's ``r``
    need not sum to zero exactly, so its bound is corrected for the intercept.
    """
    loss, Y, w = lm.loss, lm.Y, lm.w
    F, viol, _ = al.op.outputs_and_violation(Z)
    bp = lm.polish_intercept(F, b) if fit_intercept else np.zeros(al.op.o)
    cn = al.be.to_numpy(al.op.column_norms(V)).astype(np.float64)
    pobj = loss.value(F + bp, Y, w) + al.beta * float(cn.sum())
    if al.bloss.envelope:
        r = _envelope_dual_point(al, lm, F, b, fit_intercept)
    else:
        r = -loss.gradient(F + bp, Y, w)
    gamma = dual_scale(_dual_colnorm(al, Z, r, rho_n), al.beta)
    corrected = fit_intercept and not loss.smooth
    dobj = lower_bound(loss, r, gamma, Y, w, intercept=bp if corrected else None)
    gap = relative_gap(pobj, dobj)
    return Certificate(pobj, dobj, gap, viol, bp, gamma)
