"""The augmented Lagrangian of the program on the backend: its smooth part (loss plus
penalty of the cone rows), its gradient, the multipliers and the proximal step of the
group norm."""

import numpy as np


class AugmentedLagrangian:
    """``L(J U + b) + (1 / (2 rho_n)) ||max(0, lambda - rho_n h(U))||^2 + beta sum_j ||u_j||``.

    Holds the multipliers ``lambda = (lam1, lam2)`` of the first- and second-layer cone
    rows and, for a loss seen through its envelope, ``nu`` (see
    :mod:`~skconvexrelu.solvers.first_order._loss`). Points are given by their images
    ``Z = X~ V``; every pass goes chunk by chunk (``op.chunks``).

    Parameters
    ----------
    op : ChunkedOperator
    bloss : BackendLoss
    beta : float
    """

    def __init__(self, op, bloss, beta):
        self.op = op
        self.be = be = op.be
        self.bloss = bloss
        self.beta = beta
        n, o, S, P, m = op.n, op.o, op.S, op.P, op.m
        self.lam1 = be.zeros((n, o, S, P, m), op.dtype)
        self.lam2 = be.zeros((n, o, S, P), op.dtype)
        self.nu = be.zeros((n, o), op.dtype) if bloss.envelope else None

    def bvec(self, b):
        """The intercept as a ``(1, o)`` backend array."""
        return self.be.asarray(np.asarray(b, dtype=np.float64)[None, :], self.op.dtype)

    def piece(self, Zc, sl, bb, rho_n, grad):
        """Smooth part of the samples ``sl``: value, the cotangent of ``Z`` and the
        intercept's gradient (None, None without ``grad``)."""
        op, be = self.op, self.be
        Zb = op.block(Zc)
        g, F = op.from_images(Zb, sl)
        val, RF = self.bloss.value_grad(F + bb, sl, self.nu)
        # q = max(0, lambda - rho_n h), computed in place
        q1 = op.M1[sl] * Zb
        q1 *= -rho_n
        q1 += self.lam1[sl]
        q1 = be.pos_(q1)
        q2 = be.pos_(self.lam2[sl] - rho_n * (op.M2[sl] * g))
        val += (be.vdot(q1, q1) + be.vdot(q2, q2)) / (2.0 * rho_n)
        if not grad:
            return val, None, None
        # the penalty's gradient: minus the scaled rows' multipliers, in place
        q1 *= op.M1[sl]
        q1 *= -1.0
        q2 = op.M2[sl] * q2
        q2 *= -1.0
        RZ = op.cotangent(q1, q2, RF, signed=True, rows=sl)
        return val, RZ.reshape(RZ.shape[0], op.K), be.sum(RF, axis=0)

    def value_at(self, Z, b, rho_n):
        """Value of the smooth part at the point with images ``Z`` and intercept ``b``."""
        bb = self.bvec(b)
        return sum(self.piece(Z[sl], sl, bb, rho_n, False)[0] for sl in self.op.chunks)

    def grad_at(self, Z, Zp, mom, b, rho_n):
        """Value and gradient ``(V, b)`` at the point with images ``Z + mom (Z - Zp)``."""
        be, X = self.be, self.op.X
        bb = self.bvec(b)
        val, GV, gb = 0.0, None, 0.0
        for sl in self.op.chunks:
            if mom == 0:
                Zc = Z[sl]
            else:
                Zc = Z[sl] - Zp[sl]
                Zc *= mom
                Zc += Z[sl]
            v, RZ, rf = self.piece(Zc, sl, bb, rho_n, True)
            val += v
            gb = gb + rf
            part = X[sl].T @ RZ
            GV = part if GV is None else GV + part
        return val, GV, be.to_numpy(gb).astype(np.float64)

    def multiplier_estimate(self, Zb, g, sl, rho_n):
        """``max(0, lambda - rho_n h(U))`` of the samples ``sl`` (images in blocks)."""
        op, be = self.op, self.be
        l1 = be.pos(self.lam1[sl] - rho_n * (op.M1[sl] * Zb))
        l2 = be.pos(self.lam2[sl] - rho_n * (op.M2[sl] * g))
        return l1, l2

    def update_multipliers(self, Z, b, rho_n):
        """``lambda <- max(0, lambda - rho_n h(U))``; ``nu`` <- the envelope's gradient."""
        op = self.op
        bb = self.bvec(b)
        for sl in op.chunks:
            Zb = op.block(Z[sl])
            g, F = op.from_images(Zb, sl)
            self.lam1[sl], self.lam2[sl] = self.multiplier_estimate(Zb, g, sl, rho_n)
            if self.bloss.envelope:
                self.nu[sl] = self.bloss.value_grad(F + bb, sl, self.nu)[1]

    def norm_products(self, Q, Q2, rho_unit):
        """``(J^T W J Q, G^T C^2 G Q2 / n)``: one step of each power iteration."""
        op, X = self.op, self.op.X
        A, A2 = 0.0, 0.0
        for sl in op.chunks:
            Zb = op.block(X[sl] @ Q)
            g, F = op.from_images(Zb, sl)
            A = A + X[sl].T @ op.chunk_cotangent(sl, self.bloss.W[sl] * F)
            Zb = op.block(X[sl] @ Q2)
            g, F = op.from_images(Zb, sl)
            R1, R2 = op.M1[sl] * Zb * rho_unit, op.M2[sl] * g * rho_unit
            A2 = A2 + X[sl].T @ op.chunk_cotangent(sl, F * 0, R1, R2)
        return A, A2

    def estimate_norms(self, rho_unit, n_power=5):
        """Largest eigenvalues of ``J^T W J`` and ``G^T C^2 G / n`` (power iteration)."""
        op, be = self.op, self.be
        shape = (op.d, op.o, 2, op.P, op.m)
        Q = op.to_internal(np.moveaxis(np.random.default_rng(0).standard_normal(shape), 0, 3))
        Q2 = be.copy(Q)
        ests = [1.0, 1.0]
        for _ in range(n_power):
            Q = Q * (1.0 / max(np.sqrt(be.vdot(Q, Q)), 1e-300))
            Q2 = Q2 * (1.0 / max(np.sqrt(be.vdot(Q2, Q2)), 1e-300))
            A, A2 = self.norm_products(Q, Q2, rho_unit)
            ests = [be.vdot(Q, A), be.vdot(Q2, A2)]
            Q, Q2 = A, A2
        return [max(float(e), 1e-300) * 1.1 for e in ests]

    # ------------------------------------------------- the certificate's passes
    def outputs_and_violation(self, Z):
        """``(F, violation, max|Z|)`` at the point with images ``Z`` (see
        :meth:`~._operator.ChunkedOperator.outputs_and_violation`)."""
        return self.op.outputs_and_violation(Z)

    def envelope_gradient(self, F, b):
        """Minus the envelope's gradient at the outputs ``F + b`` (numpy ``(n, o)``)."""
        be, op = self.be, self.op
        r = np.empty((op.n, op.o))
        bb = self.bvec(b)
        for sl in op.chunks:
            Fc = be.asarray(F[sl], op.dtype)
            r[sl] = -be.to_numpy(self.bloss.value_grad(Fc + bb, sl, self.nu)[1])
        return r

    def dual_products(self, Z, r, rho_n):
        """``(J^T r + G^T C lambda^+, J^T r)`` (``(d~, K)`` each) with the multiplier
        estimate ``lambda^+ = max(0, lambda - rho_n h(U))`` at the point with images
        ``Z``. The second is computed only when the operator keeps one sign per
        configuration (else 0.0): up to its sign it is the dual column of the block held
        at zero, whose cone rows take zero multipliers."""
        be, op, X = self.be, self.op, self.op.X
        rb = be.asarray(r, op.dtype)
        Vd, Vr = 0.0, 0.0
        for sl in op.chunks:
            Zb = op.block(Z[sl])
            g, _ = op.from_images(Zb, sl)
            l1, l2 = self.multiplier_estimate(Zb, g, sl, rho_n)
            Vd = Vd + X[sl].T @ op.chunk_cotangent(sl, rb[sl], l1, l2)
            if op.S == 1:
                Vr = Vr + X[sl].T @ op.chunk_cotangent(sl, rb[sl])
        return Vd, Vr

    def prox(self, W, step):
        """Group soft-thresholding of the columns of ``W`` (the group norm's prox)."""
        be = self.be
        cn = self.op.column_norms(W)
        scale = be.pos(1.0 - (self.beta * step) / be.where(cn > 0, cn, cn * 0 + 1.0))
        return W * scale[None, :]
