"""The program's data on one array backend, processed by chunks of samples."""

import numpy as np


class ChunkedOperator:
    """The data, masks and chunks of samples of a program on one array backend.

    Variables are kept as ``V`` of shape ``(d~, K)``, ``K = o 2 P m`` columns in the
    order ``(o, sigma, c, j)``; first-layer images ``Z = X~ V`` as ``(n, K)``. The cone
    rows of sample ``i`` are scaled by ``c_i = mean_k ||x~_k|| / ||x~_i||`` (``M1``,
    ``M2``); ``A1``, ``A2`` are the unscaled rows.

    Parameters
    ----------
    program : ConvexProgram
    be : backend (:mod:`skconvexrelu.solvers._backend`)
    dtype : numpy dtype
    chunk_elements : int
        Entries of ``X~ U`` per chunk of samples on a CPU; an accelerator takes every
        sample at once.
    """

    def __init__(self, program, be, dtype, chunk_elements):
        self.be = be
        Xt = program.Xt
        self.n, self.d = Xt.shape
        self.o, _, self.P, _, self.m = program.shape
        self.K = self.o * 2 * self.P * self.m
        self.dtype = dtype
        nx = np.sqrt(np.einsum("nd,nd->n", Xt, Xt, dtype=np.float64))
        nx = np.where(nx > 0, nx, 1.0)
        c = nx.mean() / nx  # row scaling of the cone constraints of each sample
        n, P, m = self.n, self.P, self.m
        A1 = np.asarray(program.A1, dtype=np.float64)
        A2 = np.asarray(program.A2, dtype=np.float64)
        sig = np.array([1.0, -1.0])
        self.X = be.asarray(Xt, dtype)
        self.S1 = be.asarray(np.asarray(program.S1).reshape(n, 1, 1, P, m), dtype)
        self.A1 = be.asarray(A1.reshape(n, 1, 1, P, m), dtype)
        self.A2 = be.asarray(A2.reshape(n, 1, 1, P), dtype)
        self.M1 = be.asarray((c[:, None, None] * A1).reshape(n, 1, 1, P, m), dtype)
        self.M2 = be.asarray((c[:, None] * A2).reshape(n, 1, 1, P), dtype)
        DS = sig[None, :, None] * np.asarray(program.D2, dtype=np.float64)[:, None, :]
        self.DS = be.asarray(DS.reshape(n, 1, 2, P), dtype)
        rows = n if be.accelerator else max(64, chunk_elements // max(self.K, 1))
        self.chunks = [slice(i, min(i + rows, n)) for i in range(0, n, rows)]

    # layout ------------------------------------------------------------------
    def to_internal(self, U):
        V = np.moveaxis(np.asarray(U), 3, 0).reshape(self.d, self.K)
        return self.be.asarray(V, self.dtype)

    def to_blocks(self, V):
        V = self.be.to_numpy(V).reshape(self.d, self.o, 2, self.P, self.m)
        return np.ascontiguousarray(np.moveaxis(V, 0, 3))

    def block(self, Zc):
        return Zc.reshape(Zc.shape[0], self.o, 2, self.P, self.m)

    # maps --------------------------------------------------------------------
    def layers(self, Zc, sl):
        """``(g, F)`` of one chunk: second-layer pre-activations, outputs (no intercept)."""
        be = self.be
        g = be.sum(Zc * self.S1[sl], axis=-1)
        F = be.sum(be.sum(g * self.DS[sl], axis=-1), axis=-1)
        return g, F

    def cotangent(self, sl, RF, R1=None, R2=None):
        """``(rows, K)`` cotangent of ``Z`` for ``RF`` on F and ``R1, R2`` on the cone rows."""
        Rg = self.DS[sl] * RF[:, :, None, None]
        if R2 is not None:
            Rg = Rg + self.M2[sl] * R2
        RZ = self.S1[sl] * Rg[..., None]
        if R1 is not None:
            RZ = RZ + self.M1[sl] * R1
        return RZ.reshape(RZ.shape[0], self.K)

    def colnorms(self, V):
        return self.be.sqrt(self.be.sum(V * V, axis=0))

    def forward_into(self, V, Zout):
        """``Zout = X~ V``, chunk by chunk."""
        for sl in self.chunks:
            self.be.matmul_into(self.X[sl], V, Zout[sl])
        return Zout

    def outputs(self, Z):
        """``(F, violation, max|Z|)`` (F without intercept, numpy float64); the violation
        is the largest negative cone row (unscaled) relative to ``max |Z|``."""
        be = self.be
        F = np.empty((self.n, self.o))
        v, zmax = 0.0, 0.0
        for sl in self.chunks:
            Zb = self.block(Z[sl])
            g, Fc = self.layers(Zb, sl)
            F[sl] = be.to_numpy(Fc)
            v = max(
                v, be.amax(be.pos(-self.A1[sl] * Zb)), be.amax(be.pos(-self.A2[sl] * g))
            )
            zmax = max(zmax, be.amax(be.abs(Zb)))
        return F, v / max(zmax, 1e-300), zmax
