"""Loss pieces of the native solver: curvatures, barrier-smoothed hinge, intercept polish
and the dual point used by the duality-gap certificate."""

import numpy as np
from scipy.special import expit, logsumexp


class LossModel:
    """The loss as the interior-point method sees it.

    For the smooth losses (squared, logistic, softmax) the loss is used as is. The hinge
    loss ``w max(0, h)`` with ``h = 1 - y f`` is replaced by its barrier smoothing
    ``min_xi w xi - mu log(xi) - mu log(xi - h)`` (closed form), whose derivative
    ``alpha = mu / (xi - h)`` lies in ``(0, w)``: it is the hinge's dual variable.
    """

    def __init__(self, loss, Y, w):
        self.loss = loss
        self.kind = (
            loss.name
            if loss.name != "cross_entropy"
            else (
                "softmax"
                if Y.shape[1] > 1 and type(loss).__name__ == "SoftmaxLoss"
                else "logistic"
            )
        )
        self.Y = Y
        self.w = w
        self.W = np.repeat(w[:, None], Y.shape[1], axis=1)

    # ---------------------------------------------------------------- Newton pieces
    def derivatives(self, F, mu):
        """``r = -dL_mu/dF`` (n, o) and the diagonal curvature ``Dd`` (n, o)."""
        Y, W = self.Y, self.W
        if self.kind == "squared":
            return W * (Y - F), W.copy(), None
        if self.kind == "logistic":
            p = expit(-Y * F)
            return W * Y * p, W * p * (1.0 - p), None
        if self.kind == "softmax":
            Pm = np.exp(F - logsumexp(F, axis=1, keepdims=True))
            return W * (Y - Pm), W * Pm * (1.0 - Pm), Pm
        if self.kind == "hinge":
            alpha, curv = self._hinge(F, mu)
            return Y * alpha, curv, None
        raise ValueError(self.kind)

    def _hinge(self, F, mu):
        W = self.W
        pos = W > 0
        Ws = np.where(pos, W, 1.0)
        wh = Ws * (1.0 - self.Y * F)
        sq = np.sqrt(wh * wh + 4.0 * mu * mu)
        e = np.where(wh > 0, 4.0 * mu * mu / (sq + np.abs(wh)), sq - wh)  # sq - wh
        xi_minus_h = (2.0 * mu + e) / (2.0 * Ws)
        alpha = mu / xi_minus_h
        one_minus = np.where(wh > 0, 2.0 * mu * mu / (sq * (sq + wh)), 0.5 * (1.0 - wh / sq))
        curv = mu * one_minus / xi_minus_h**2
        alpha = np.where(pos, np.minimum(alpha, W), 0.0)
        curv = np.where(pos, curv, 0.0)
        return alpha, curv

    def hess_apply(self, Fv, Dd, Pm):
        """The loss Hessian applied to ``Fv`` (n, o)."""
        if self.kind == "softmax":
            return self.W * (Pm * Fv - Pm * np.sum(Pm * Fv, axis=1, keepdims=True))
        return Dd * Fv

    def full_curvature(self, Pm):
        """Per-sample ``o x o`` curvature blocks of the softmax loss (None otherwise)."""
        if self.kind != "softmax" or Pm is None:
            return None
        return self.w[:, None, None] * (
            np.einsum("na,ab->nab", Pm, np.eye(Pm.shape[1])) - Pm[:, :, None] * Pm[:, None, :]
        )

    def hbb(self, Dd, Pm):
        """The intercept block ``sum_i D_i`` (o, o)."""
        if self.kind == "softmax":
            return np.diag(self.w @ Pm) - np.einsum("n,na,nb->ab", self.w, Pm, Pm)
        return np.diag(Dd.sum(0))

    # ----------------------------------------------------------------- intercept
    def polish_intercept(self, F0, b, n_steps=30):
        """The optimal intercept for fixed outputs ``F0`` (Newton; closed form for squared).

        The hinge intercept is returned unchanged (its optimality is handled by
        :meth:`dual_point`)."""
        Y, W = self.Y, self.W
        if self.kind == "squared":
            return (W * (Y - F0)).sum(0) / np.maximum(W.sum(0), 1e-300)
        if self.kind == "hinge":
            return b
        b = np.array(b, dtype=np.float64)
        val = self.loss.value(F0 + b, Y, self.w)
        for _ in range(n_steps):
            r, Dd, Pm = self.derivatives(F0 + b, 0.0)
            gr = -r.sum(0)
            if np.max(np.abs(gr)) < 1e-15:
                break
            H = self.hbb(Dd, Pm) + 1e-14 * np.eye(len(b))
            step = -np.linalg.lstsq(H, gr, rcond=None)[0]
            t = 1.0
            while t > 1e-10:
                nb = b + t * step
                nv = self.loss.value(F0 + nb, Y, self.w)
                if nv <= val + 1e-4 * t * float(gr @ step):
                    break
                t *= 0.5
            else:
                break
            b, val = nb, nv
        return b

    def dual_point(self, F, mu, fit_intercept):
        """A point ``r`` in the domain of ``loss.dual`` with ``sum_i r_i = 0`` when an
        intercept is fitted (up to the precision of the intercept polish)."""
        return self.balance(self.derivatives(F, mu)[0], fit_intercept)

    def balance(self, r, fit_intercept):
        """For the hinge loss, scale one class's multipliers so that ``sum_i r_i = 0``."""
        r = np.array(r, dtype=np.float64)
        if self.kind == "hinge" and fit_intercept:
            # alpha in [0, w]: scale down the side with the larger total so sum_i r_i = 0
            for k in range(r.shape[1]):
                pos = self.Y[:, k] > 0
                sp, sn = r[pos, k].sum(), -r[~pos, k].sum()
                if sp > sn and sp > 0:
                    r[pos, k] *= sn / sp
                elif sn > sp and sn > 0:
                    r[~pos, k] *= sp / sn
        return r
