"""The program's linear map: one operator for the program, every solver and the
certificate.

Variables are one array ``U`` of shape ``(n_outputs, 2, P, d~, m)`` (see
:mod:`skconvexrelu._program`). The map and its pieces::

    Z[n, o, s, c, j] = x~_n . u_{o s c j}                     first_layer   (one product)
    g[n, o, s, c]    = sum_j S1[n, c, j] Z[n, o, s, c, j]     second_layer  (S1 = s_cj D1_ncj)
    F[n, o]          = sum_{s, c} sigma_s D2[n, c] g[n, o, s, c]   outputs
    cone rows        A1 * Z >= 0,  A2 * g >= 0                cone_rows

and the adjoint of the whole map, outputs and cone rows together, is one
``(d~, n) @ (n, o 2 P m)`` product (:meth:`ProgramOperator.adjoint`). The
``n x (2 P m d~)`` feature matrix is never formed. Every method can work on a slice of the
samples (``rows``), which is how the first-order method streams the data in chunks.

The array backend (:mod:`skconvexrelu._backend`: NumPy, or torch on a CPU or a GPU) is
a parameter of the operator; the interior-point method adds the pieces of its Newton
matrix in :mod:`skconvexrelu.solvers.ipm._operator`, the first-order method the row
scaling of its penalty in :mod:`skconvexrelu.solvers.first_order._operator`, and the
cvxpy model is built from :meth:`ProgramOperator.cvxpy_layers`.
"""

import numpy as np

from ._backend import NumpyBackend

__all__ = ["SIGMA", "ProgramOperator"]

#: the output sign of the two blocks of a pair (``sigma = +1, -1``)
SIGMA = np.array([1.0, -1.0])

_ALL = slice(None)


class ProgramOperator:
    """The linear map of one program on one array backend.

    Parameters
    ----------
    program : ConvexProgram
    dtype : numpy dtype, optional
        Working precision (default: the program's).
    backend : NumpyBackend or TorchBackend, optional
        Where the arrays live (default: NumPy, sharing the program's arrays).
    """

    def __init__(self, program, dtype=None, backend=None):
        self.program = program
        self.be = NumpyBackend() if backend is None else backend
        self.dtype = np.dtype(program.dtype if dtype is None else dtype)
        self.X = self._put(program.Xt)
        self.n, self.d = program.Xt.shape
        self.o, _, self.P, _, self.m = program.shape
        self.S = 2  # output signs per configuration (see the first-order operator)
        self.K = self.o * self.S * self.P * self.m
        self.S1 = self._put(program.S1)  # (n, P, m): s_cj D1_ncj
        self.A1 = self._put(program.A1)  # (n, P, m): first-layer cone signs
        self.D2 = self._put(program.D2)  # (n, P)
        self.A2 = self._put(program.A2)  # (n, P): second-layer cone signs
        self.sig = self._put(SIGMA)

    def _put(self, a):
        """``a`` on the backend in the working precision (no copy when it already is)."""
        if isinstance(self.be, NumpyBackend) and a.dtype == self.dtype:
            return a
        return self.be.asarray(a, self.dtype)

    # ------------------------------------------------------------------ the map
    def first_layer(self, U, rows=_ALL):
        """``Z`` of shape ``(n, o, 2, P, m)``: every column's ``X~ u_j``."""
        o, _, P, d, m = U.shape
        Umat = self.be.moveaxis(U, 3, 0).reshape(d, -1)
        Z = self.X[rows] @ Umat
        return Z.reshape(Z.shape[0], o, 2, P, m)

    def second_layer(self, Z, rows=_ALL):
        """``g`` of shape ``(n, o, 2, P)``: the pre-activations of the second ReLU."""
        S1 = self.S1[rows]
        n, o, S = Z.shape[:3]
        if o * S == 1 or not isinstance(self.be, NumpyBackend):
            return self.be.einsum("nospm,npm->nosp", Z, S1)
        # NumPy's einsum is two to four times slower when it broadcasts S1 over the
        # blocks than one contraction per (output, sign)
        g = np.empty(Z.shape[:4], dtype=np.result_type(Z, S1))
        for a in range(o):
            for s in range(S):
                np.einsum("npm,npm->np", Z[:, a, s], S1, out=g[:, a, s])
        return g

    def outputs(self, g, rows=_ALL):
        """``F`` of shape ``(n, o)``, without intercept."""
        return self.be.einsum("nosp,np,s->no", g, self.D2[rows], self.sig)

    def output_weights(self, rows=_ALL):
        """``sigma_s D2[n, c]`` broadcast as ``(n, 1, 2, P)``: the weight of ``g`` in
        ``F``."""
        return self.sig[None, None, :, None] * self.D2[rows][:, None, None, :]

    def forward(self, U, rows=_ALL):
        """``F(U)`` without intercept."""
        return self.outputs(self.second_layer(self.first_layer(U, rows), rows), rows)

    def layers(self, U, rows=_ALL):
        """``(Z, g)``: the unsigned cone rows of ``U``."""
        Z = self.first_layer(U, rows)
        return Z, self.second_layer(Z, rows)

    def cone_rows(self, U):
        """``(A1 * Z, A2 * g, F)``: the cone slacks and the outputs (no intercept)."""
        Z, g = self.layers(U)
        s1 = self.A1[:, None, None] * Z
        s2 = self.A2[:, None, None] * g
        return s1, s2, self.outputs(g)

    # -------------------------------------------------------------- the adjoint
    def cotangent(self, y1=None, y2=None, R=None, signed=False, rows=_ALL):
        """The cotangent of ``Z`` (``(n, o, 2, P, m)``) for ``R`` on the outputs and
        ``y1``, ``y2`` on the cone rows. With ``signed=True`` the ``y`` already carry the
        cone signs (``A1 * y1``, ``A2 * y2``) or any other row weights."""
        nr = self.X[rows].shape[0]
        Wg = self.be.zeros((nr, self.o, self.S, self.P), self.dtype)
        if y2 is not None:
            Wg += y2 if signed else self.A2[rows][:, None, None] * y2
        if R is not None:
            Wg += R[:, :, None, None] * self.output_weights(rows)
        WZ = self.S1[rows][:, None, None] * Wg[..., None]
        if y1 is not None:
            WZ += y1 if signed else self.A1[rows][:, None, None] * y1
        return WZ

    def adjoint(self, y1=None, y2=None, R=None, signed=False, rows=_ALL):
        """``G1^T y1 + G2^T y2 + J^T R`` as an array of the shape of ``U``."""
        WZ = self.cotangent(y1, y2, R, signed, rows)
        G = self.X[rows].T @ WZ.reshape(WZ.shape[0], -1)
        return self.be.moveaxis(G.reshape(self.d, self.o, 2, self.P, self.m), 0, 3)

    # ------------------------------------------------------------ norms, cones
    @staticmethod
    def colnorms(U):
        """``||u_j||`` for every column, shape ``(o, 2, P, m)`` (NumPy)."""
        return np.sqrt(np.einsum("...dm,...dm->...m", U, U))

    def block_violation(self, U, chunk=8192):
        """The largest violation of each block's cone constraints, shape ``(o, 2, P)``
        (0 where feasible), by chunks of samples (NumPy)."""
        o, _, P = U.shape[:3]
        out = np.zeros((o, 2, P))
        for a in range(0, self.n, chunk):
            sl = slice(a, a + chunk)
            Z, g = self.layers(U, sl)
            v1 = (-self.A1[sl, None, None] * Z).max(axis=(0, 4), initial=0.0)
            v2 = (-self.A2[sl, None, None] * g).max(axis=0, initial=0.0)
            out = np.maximum(out, np.maximum(v1, v2))
        return out

    # ------------------------------------------------------------ the conic model
    def cvxpy_layers(self, V):
        """The map of one output sign's block of variables as cvxpy expressions.

        ``V`` is a cvxpy variable of shape ``(d~, P m)`` (columns in the order
        ``(c, j)``). Returns ``(Z, g, f)``: the first-layer rows ``(n, P m)``, the
        second-layer pre-activations ``(n, P)`` and the outputs ``sum_c D2_c g_c`` (n,).
        """
        import cvxpy as cp
        import scipy.sparse as sp

        n, P, m = self.n, self.P, self.m
        X = np.asarray(self.X, dtype=np.float64)
        S1 = np.asarray(self.S1, dtype=np.float64).reshape(n, P * m)
        D2 = np.asarray(self.D2, dtype=np.float64)
        B = sp.kron(sp.eye(P), np.ones((m, 1)), format="csr")  # sums each block's m columns
        Z = X @ V
        g = cp.multiply(S1, Z) @ B
        return Z, g, cp.sum(cp.multiply(D2, g), axis=1)
