"""The loss on the array backend, by chunks of samples, as the first-order method sees it.

A smooth loss is used as it is (:meth:`~skconvexrelu._losses.Loss.value_grad`). A
non-smooth loss (the hinge ``max(0, 1 - y f)``) gets its own multipliers ``nu`` for the
split ``F = J U + b``: the method of multipliers then sees its Moreau envelope, evaluated
at ``F + nu / (rho_h w)``, whose curvature is ``rho_h w_i`` per sample; ``-nu`` converges
to the hinge's dual variables.
"""

import numpy as np


class BackendLoss:
    """Value and gradient in ``F`` of the (enveloped) loss on backend arrays.

    Attributes
    ----------
    envelope : bool
        Whether the loss goes through its Moreau envelope (non-smooth losses).
    curv : float
        Curvature bound of the per-sample loss as seen here: the loss's ``curvature``, or
        ``rho_h`` for the envelope.
    """

    def __init__(self, loss, Y, w, be, dtype, rho_h):
        self.loss = loss
        self.be = be
        self.Y = be.asarray(Y, dtype)
        W = np.repeat(np.asarray(w, dtype=np.float64)[:, None], Y.shape[1], axis=1)
        self.W = be.asarray(W, dtype)
        self.envelope = not loss.smooth
        self.rho_h = rho_h
        if self.envelope:
            self.Wpos = be.asarray(np.where(W > 0, W, 1.0), dtype)
            self.mask = be.asarray((W > 0).astype(np.float64), dtype)
            self.curv = rho_h
        else:
            self.curv = loss.curvature

    def value_grad(self, F, sl, nu=None):
        """``(value, gradient)`` of the (enveloped) loss of the samples ``sl`` at ``F``."""
        if not self.envelope:
            return self.loss.value_grad(F, self.Y[sl], self.W[sl], self.be)
        be, Y, W = self.be, self.Y[sl], self.W[sl]
        rho = self.rho_h
        t = Y * (F + nu[sl] / (rho * self.Wpos[sl]))
        # z = argmin_z max(0, 1 - z) + (rho / 2) (z - t)^2, per sample and output
        z = be.where(t >= 1.0, t, be.where(t <= 1.0 - 1.0 / rho, t + 1.0 / rho, t * 0 + 1.0))
        dz = z - t
        val = be.vdot(W, be.pos(1.0 - z)) + 0.5 * rho * be.vdot(W, dz * dz)
        return val, -rho * W * Y * dz * self.mask[sl]
