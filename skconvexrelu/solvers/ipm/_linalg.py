"""Small numerical helpers of the interior-point method: conjugate gradients, step
lengths and the dual-certificate polish."""

import numpy as np


def _cg(matvec, precond, rhs, rtol, maxiter):
    x = np.zeros_like(rhs)
    r = rhs.copy()
    z = precond(r)
    p = z.copy()
    rz = float(np.vdot(r, z))
    nrm0 = float(np.sqrt(np.vdot(rhs, rhs)))
    if nrm0 == 0:
        return x, 0
    for it in range(1, maxiter + 1):
        Ap = matvec(p)
        pAp = float(np.vdot(p, Ap))
        if pAp <= 0:
            break
        a = rz / pAp
        x += a * p
        r -= a * Ap
        if np.sqrt(np.vdot(r, r)) <= rtol * nrm0:
            return x, it
        z = precond(r)
        rz_new = float(np.vdot(r, z))
        p *= rz_new / rz
        p += z
        rz = rz_new
    return x, maxiter


def _improve_dual(op, V, cnv, lam1, beta, max_columns=40):
    """Lower the dual-certificate column norms ``||V_j||`` above ``beta`` in place.

    ``V_j = (J^T r + G^T lambda)_j``; any ``lambda >= 0`` gives a valid certificate, so for
    each offending column the first-layer multipliers of that column are re-chosen by
    non-negative least squares (``min ||V_j - X~^T (A1_j l) + X~^T (A1_j l')||, l' >= 0``).
    ``cnv`` (the column norms) is updated in place. Nothing is done when more than
    ``max_columns`` columns are above ``beta`` (None: no limit).
    """
    from scipy.optimize import nnls

    bad = np.argwhere(cnv > beta)
    if max_columns is not None and len(bad) > max_columns:
        return
    for o, s, c, j in bad:
        X, a1 = op.column_rows(o, s, c, j)
        M = X.astype(np.float64).T * a1.astype(np.float64)[None, :]  # (d, rows)
        vj = V[o, s, c, :, j].astype(np.float64)
        base = vj - M @ lam1[:, o, s, c, j].astype(np.float64)
        try:
            x, rn = nnls(M, -base, maxiter=50 * M.shape[0])
        except RuntimeError:
            continue
        if rn < cnv[o, s, c, j]:
            V[o, s, c, :, j] = base + M @ x
            cnv[o, s, c, j] = np.linalg.norm(V[o, s, c, :, j])


def _max_step(x, dx):
    """Largest step in (0, 1] keeping ``x + step * dx >= 0`` (``x > 0``).

    ``min_{dx < 0} x / -dx = -1 / min(dx / x)``: one division and one reduction, no
    boolean gather (about ten times faster on the solver's arrays).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        r = float(np.min(dx / x, initial=0.0))
    if np.isnan(r):  # a zero x with a zero dx: fall back to the masked ratio
        neg = dx < 0
        return float(min(1.0, np.min(x[neg] / -dx[neg], initial=1.0)))
    return 1.0 if r >= -1.0 else -1.0 / r
