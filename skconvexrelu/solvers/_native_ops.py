"""Structured linear algebra for the native interior-point solver.

Everything here works on the arrays of :class:`skconvexrelu._program.ConvexProgram`
without forming the ``n x (2 P m d~)`` feature matrix:

- the constraint map ``U -> (s1, s2)`` (first- and second-layer cone slacks) and the
  forward map ``U -> F`` share one ``(n, d~) @ (d~, K)`` product (``K = o*2*P*m``);
- every adjoint (gradient, dual certificate, Hessian product) is one ``(d~, n) @ (n, K)``
  product;
- the Newton matrix ``H = J^T D J + G^T C G + H_psi`` is applied matrix-free. Its
  preconditioner (:class:`Preconditioner`) is ``(B + J_R^T D_R J_R)^{-1}`` by the
  Woodbury identity: ``B = G^T C G + H_psi`` is block diagonal over the blocks
  ``(o, sigma, c)`` (each ``m d~`` square, every cone barrier term lives in one block) and
  is factored exactly; the loss term enters through an exact capacitance matrix, in
  sample space (``n x n``) or in variable space (``P m d~`` square, formed in
  ``O(n (P m d~)^2)`` by chunks over the samples, so linear in ``n``), whichever
  :func:`capacitance_costs` finds cheaper (for the softmax, whose curvature couples the
  outputs, one capacitance for all outputs, in sample space up to
  ``COUPLED_SAMPLES_MAX`` rows ``n o``). The preconditioner is the exact inverse of the
  Newton matrix and CG takes one to a few steps per solve.
"""

import numpy as np
from scipy.linalg.lapack import dtrtri

SIG = np.array([1.0, -1.0])
#: a Cholesky flop costs about this many matrix-product flops (NumPy's OpenBLAS, 2 cores:
#: 33 GFlop/s for a 2,200-square factorization against 157 GFlop/s for a product)
CHOLESKY_COST = 4.0
#: the preconditioner keeps the unweighted loss rows (P, n, m d~) up to this many bytes
ROWS_CACHE_BYTES = 256 * 2**20
#: the softmax's coupled capacitance lives in sample space up to this many rows (n o),
#: else in variable space up to this many (o P m d~)
COUPLED_SAMPLES_MAX = 4000
COUPLED_VARIABLES_MAX = 8000


def capacitance_costs(n, P, md, constant=False, coupled=1):
    """Cost per iteration (in matrix-product flops) of the preconditioner's capacitance
    matrix in sample space and in variable space: ``n^2 k + c n^3 / 3`` against
    ``c k^3 / 3 + 4 P^2 (m d~)^3`` (plus ``n k^2 / 2`` to form the loss Gram matrix when the
    loss curvature changes), ``k = P m d~``, ``c = CHOLESKY_COST``. With ``coupled = o``
    outputs coupled by the softmax, one capacitance of ``n o`` or ``o k`` rows for all
    outputs (``o (o + 1) / 2`` Gram matrices in variable space).

    Measured (teacher data, d = 10, P = 20, m = 10, squared loss, working sets): sample
    space 21.9 s against 25.7 s at n = 1,600; 51.8 s against 28.2 s at n = 2,400.
    """
    k = P * md
    o = coupled
    samples = o * n * n * k + CHOLESKY_COST * (n * o) ** 3 / 3
    variables = CHOLESKY_COST * (o * k) ** 3 / 3 + 4.0 * o * P * P * md**3
    if not constant:
        variables += n * k * k * o * (o + 1) / 4
    return float(samples), float(variables)


#: "auto", "samples" or "variables": where the preconditioner's capacitance matrix lives
CAPACITANCE = "auto"
#: the coarse space (:meth:`Preconditioner.deflate`) keeps a few dense arrays of
#: (coarse directions) x (variables) entries; it is left out beyond this many (80 MB each;
#: 20 configurations, width 10, 11 features: 1.8 million)
DEFLATE_MAX_ENTRIES = 10_000_000
#: late in a run the Newton matrix of one output (side ``2 P m d~``) is factored directly
#: instead of through the Woodbury identity (:meth:`Preconditioner.densify`) up to this
#: side (20 configurations, width 10, 11 features: 4,400; a 6,000-square factor is 0.3 GB)
DENSE_MAX = 6000


class Operator:
    """Matrix-free maps of one program (see module docstring)."""

    def __init__(self, program, dtype=None):
        self.program = program
        self.dtype = np.dtype(program.dtype if dtype is None else dtype)
        cast = (lambda a: a) if dtype is None else (lambda a: np.asarray(a, dtype=self.dtype))
        self.X = cast(program.Xt)
        self.n, self.d = self.X.shape
        self.o, _, self.P, _, self.m = program.shape
        self.S1 = cast(program.S1)  # (n, P, m)
        self.A1 = cast(program.A1)
        self.D2 = cast(program.D2)  # (n, P)
        self.A2 = cast(program.A2)
        self.sig = SIG.astype(self.dtype)
        # constraints whose row is identically zero (0 >= 0 for every U) are left out
        xnz = np.any(self.X != 0, axis=1)
        self.M1 = np.broadcast_to(
            xnz[:, None, None, None, None], (self.n, 1, 1, self.P, self.m)
        )
        d1any = np.any(program.conf.D1, axis=2) & xnz[:, None]  # (n, P)
        self.M2 = d1any[:, None, None, :]
        self.M1f = self.M1.astype(self.dtype)
        self.M2f = self.M2.astype(self.dtype)

    # ------------------------------------------------------------------ maps
    def Z(self, U):
        o, _, P, d, m = U.shape
        Umat = np.moveaxis(U, 3, 0).reshape(d, -1)
        return (self.X @ Umat).reshape(self.n, o, 2, P, m)

    # plain einsum loops: its "optimized" batched-matmul route is about 7x slower here
    def g(self, Z):
        return np.einsum("nospm,npm->nosp", Z, self.S1)

    def F(self, g):
        return np.einsum("nosp,np,s->no", g, self.D2, self.sig)

    @property
    def n_cone_rows(self):
        """Number of cone constraints (rows that are not identically zero)."""
        return float(self.M1.sum() * self.o * 2 + self.M2.sum() * self.o * 2)

    def cons(self, U):
        """Unsigned constraint rows ``(X~ u_j, g)`` of ``U``."""
        Z = self.Z(U)
        return Z, self.g(Z)

    def column_rows(self, o, s, c, j):
        """Data rows and signs of the first-layer constraints of one column."""
        return self.X, self.A1[:, c, j] * self.M1[:, 0, 0, c, j]

    #: the data products of :meth:`block_terms` are kept when they take at most this many
    #: bytes (they do not change between iterations)
    BLOCK_CACHE_BYTES = 64 * 2**20

    def _block_data(self, sl):
        """Packed products of the samples ``sl``: ``x x^T`` (upper triangle, (nc, T)) and
        the signed neuron pairs ``s_j s_k D1_j D1_k`` (upper triangle, (nc, P, Q))."""
        d, m = self.d, self.m
        iu = np.triu_indices(d)
        ju = np.triu_indices(m)
        Xc = self.X[sl].astype(np.float64)
        XX = (Xc[:, :, None] * Xc[:, None, :])[:, iu[0], iu[1]]
        D1c = self.program.conf.D1[sl]
        signs = self.program.conf.signs.astype(np.float64)  # (P, m)
        pair = (D1c[:, :, ju[0]] & D1c[:, :, ju[1]]) * (signs[:, ju[0]] * signs[:, ju[1]])
        return XX, pair

    def _block_layout(self):
        """Where each entry of the blocks (o,2,P,m,d,m,d) and of the first-layer diagonal
        blocks (o,2,P,m,d,d) sits in the packed products (flat indices)."""
        if getattr(self, "_layout", None) is None:
            o, P, m, d = self.o, self.P, self.m, self.d
            iu = np.triu_indices(d)
            ju = np.triu_indices(m)
            T, Q = len(iu[0]), len(ju[0])
            tri = np.zeros((d, d), dtype=np.intp)
            tri[iu] = np.arange(T)
            tri[iu[1], iu[0]] = np.arange(T)
            pr = np.zeros((m, m), dtype=np.intp)
            pr[ju] = np.arange(Q)
            pr[ju[1], ju[0]] = np.arange(Q)
            blk = np.arange(o * 2 * P).reshape(o, 2, P)
            # R2[t, (b, q)] flat: t * (o 2 P Q) + b * Q + q
            i2 = (
                tri[None, None, None, None, :, None, :] * (o * 2 * P * Q)
                + blk[:, :, :, None, None, None, None] * Q
                + pr[None, None, None, :, None, :, None]
            )
            # R1[t, (b, j)] flat: t * (o 2 P m) + b * m + j
            i1 = (
                tri[None, None, None, None] * (o * 2 * P * m)
                + blk[..., None, None, None] * m
                + np.arange(m)[None, None, None, :, None, None]
            )
            self._layout = (i2, i1)
        return self._layout

    def block_terms(self, c1, c2, chunk=2048):
        """``G^T diag(c) G`` per block: the second-layer part (o,2,P,m,d,m,d) and the
        first-layer part (o,2,P,m,d,d) on the diagonal, by chunks of samples with
        symmetric packing."""
        n, o, P, m, d = self.n, self.o, self.P, self.m, self.d
        T = d * (d + 1) // 2
        Q = m * (m + 1) // 2
        if getattr(self, "_block_cache", None) is None:
            keep = n * (T + P * Q) * 8 <= self.BLOCK_CACHE_BYTES
            self._block_cache = {} if keep else False
        cache = self._block_cache
        R2 = np.zeros((T, o * 2 * P * Q))
        R1 = np.zeros((T, o * 2 * P * m))
        for a in range(0, n, chunk):
            sl = slice(a, min(n, a + chunk))
            if cache and a in cache:
                XX, pair = cache[a]
            else:
                XX, pair = self._block_data(sl)
                if cache is not False:
                    cache[a] = (XX, pair)
            nc = XX.shape[0]
            W = np.asarray(c2[sl], dtype=np.float64)[..., None] * pair[:, None, None]
            R2 += XX.T @ W.reshape(nc, -1)
            R1 += XX.T @ np.asarray(c1[sl], dtype=np.float64).reshape(nc, -1)
        i2, i1 = self._block_layout()
        return R2.ravel()[i2], R1.ravel()[i1]

    def apply(self, U):
        """``(s1, s2, F)``: cone slacks ``A1*Z``, ``A2*g`` and the outputs (no intercept)."""
        Z = self.Z(U)
        g = self.g(Z)
        s1 = self.A1[:, None, None] * Z
        s2 = self.A2[:, None, None] * g
        return s1, s2, self.F(g)

    def adjoint(self, y1=None, y2=None, R=None, signed=False):
        """``G1^T y1 + G2^T y2 + J^T R`` as an array of the shape of ``U``.

        With ``signed=True``, ``y1`` and ``y2`` already carry the constraint signs
        (``A1 * y1``, ``A2 * y2``; the signs are +-1), which saves two passes.
        """
        n, o, P, m, d = self.n, self.o, self.P, self.m, self.d
        Wg = np.zeros((n, o, 2, P), dtype=self.dtype)
        if y2 is not None:
            Wg += y2 if signed else self.A2[:, None, None] * y2
        if R is not None:
            Wg += (
                R[:, :, None, None] * self.sig[None, None, :, None] * self.D2[:, None, None, :]
            )
        WZ = self.S1[:, None, None] * Wg[..., None]
        if y1 is not None:
            WZ += y1 if signed else self.A1[:, None, None] * y1
        G = self.X.T @ WZ.reshape(n, -1)
        return np.moveaxis(G.reshape(d, o, 2, P, m), 0, 3)

    # ------------------------------------------------------------ group norms
    @staticmethod
    def colnorms(U):
        return np.sqrt(np.einsum("...dm,...dm->...m", U, U))

    @staticmethod
    def psi(U, mu, beta):
        """Barrier-smoothed group norm ``min_t beta t - mu log(t^2 - ||u||^2)``.

        Returns its value, gradient and the radial/tangential Hessian coefficients.
        """
        a = np.sqrt(np.einsum("...dm,...dm->...m", U, U)).astype(np.float64)
        q = np.sqrt(mu * mu + (beta * a) ** 2)
        t = (mu + q) / beta
        val = float(np.sum(beta * t - mu * np.log(np.maximum(t * t - a * a, 1e-300))))
        ht = beta / t  # tangential curvature, also grad = ht * u
        hr = beta * mu / (q * t)  # radial curvature
        return val, ht, hr

    @staticmethod
    def psi_hess_apply(V, U, ht, hr):
        a = np.sqrt(np.einsum("...dm,...dm->...m", U, U))
        uh = U / np.where(a > 0, a, 1.0)[..., None, :]
        proj = np.einsum("...dm,...dm->...m", uh, V)
        return (
            ht[..., None, :].astype(V.dtype) * V
            + ((hr - ht)[..., None, :] * proj[..., None, :]).astype(V.dtype) * uh
        )


class WorkingSetOperator:
    """The cone constraints of a working set of samples, chosen column by column.

    ``idx1`` (``(R1, o, 2, P, m)``) lists for every column ``u_j`` the samples whose
    first-layer constraint is kept, ``idx2`` (``(R2, o, 2, P)``) for every block the
    samples whose second-layer constraint is kept (``-1`` pads). The slacks and
    multipliers then have these shapes instead of ``(n, ...)``; the data rows are gathered
    once, so a product costs ``O((R1 + R2 m) o 2 P d~)`` whatever ``n``.
    """

    def __init__(self, program, idx1, idx2, dtype=None):
        self.program = program
        self.dtype = np.dtype(program.dtype if dtype is None else dtype)
        X = np.asarray(program.Xt, dtype=self.dtype)
        self.o, _, self.P, self.d, self.m = program.shape
        P, m = self.P, self.m
        self.idx1, self.idx2 = idx1, idx2
        self.M1 = idx1 >= 0
        self.M2 = idx2 >= 0
        self.M1f = self.M1.astype(self.dtype)
        self.M2f = self.M2.astype(self.dtype)
        i1 = np.where(self.M1, idx1, 0)
        i2 = np.where(self.M2, idx2, 0)
        cidx = np.arange(P)[:, None]
        jidx = np.arange(m)[None, :]
        self.n = idx1.shape[0]
        self.A1 = (np.asarray(program.A1, dtype=self.dtype)[i1, cidx, jidx]) * self.M1f
        S1g = np.asarray(program.S1, dtype=self.dtype)[i2, np.arange(P)]  # (R2, o, 2, P, m)
        self.A2 = np.asarray(program.A2, dtype=self.dtype)[i2, np.arange(P)] * self.M2f
        # column-major copies for batched products: (columns, rows, d~), (blocks, rows, d~)
        R1, R2 = idx1.shape[0], idx2.shape[0]
        self.X1c = np.ascontiguousarray(X[i1.reshape(R1, -1).T])  # (K, R1, d~)
        self.X2c = np.ascontiguousarray(X[i2.reshape(R2, -1).T])  # (o 2 P, R2, d~)
        self.S2c = np.ascontiguousarray(S1g.reshape(R2, -1, m).transpose(1, 0, 2))

    @property
    def n_cone_rows(self):
        return float(self.M1.sum() + self.M2.sum())

    def cons(self, U):
        o, P, m, d = self.o, self.P, self.m, self.d
        Ub = U.reshape(o * 2 * P, d, m)
        Uc = np.ascontiguousarray(Ub.transpose(0, 2, 1)).reshape(-1, d, 1)  # (K, d, 1)
        Z1 = np.matmul(self.X1c, Uc)[..., 0].T.reshape(self.idx1.shape)
        Zb = np.matmul(self.X2c, Ub)  # (blocks, R2, m)
        g2 = np.einsum("brm,brm->br", Zb, self.S2c).T.reshape(self.idx2.shape)
        return Z1, g2

    def apply(self, U):
        Z1, g2 = self.cons(U)
        return self.A1 * Z1, self.A2 * g2, None

    def adjoint(self, y1=None, y2=None, R=None, signed=False):
        if R is not None:
            raise ValueError("a working set carries no loss rows")
        o, P, m, d = self.o, self.P, self.m, self.d
        out = np.zeros((o * 2 * P, d, m), dtype=self.dtype)
        if y1 is not None:
            w1 = y1 if signed else self.A1 * y1
            w1 = w1.reshape(self.n, -1).T[:, None, :]  # (K, 1, R1)
            v = np.matmul(w1, self.X1c)[:, 0, :].reshape(o * 2 * P, m, d)
            out += v.transpose(0, 2, 1)
        if y2 is not None:
            w2 = y2 if signed else self.A2 * y2
            w2 = w2.reshape(self.idx2.shape[0], -1).T  # (blocks, R2)
            out += np.matmul(self.X2c.transpose(0, 2, 1), self.S2c * w2[:, :, None])
        return out.reshape(self.program.shape)

    def column_rows(self, o, s, c, j):
        k = np.ravel_multi_index((o, s, c, j), self.idx1.shape[1:])
        return self.X1c[k], self.A1[:, o, s, c, j]

    def block_terms(self, c1, c2):
        o, P, m, d = self.o, self.P, self.m, self.d
        md = m * d
        # batched products over the columns (blocks): (d x R) @ (R x d) each
        X1 = self.X1c.astype(np.float64)
        c1 = np.asarray(c1, dtype=np.float64).reshape(self.n, -1).T
        R1 = np.matmul(X1.transpose(0, 2, 1), X1 * c1[:, :, None])
        R2 = self.idx2.shape[0]
        Phi = (self.S2c[..., :, None] * self.X2c[..., None, :]).astype(np.float64)
        Phi = Phi.reshape(Phi.shape[0], R2, md)  # (o 2 P, R2, md)
        c2 = np.asarray(c2, dtype=np.float64).reshape(R2, -1).T
        B = np.matmul(Phi.transpose(0, 2, 1), Phi * c2[:, :, None])
        return (
            np.ascontiguousarray(B.reshape(o, 2, P, m, d, m, d)),
            R1.reshape(o, 2, P, m, d, d),
        )


def _pair(V, pair=True):
    """``E V`` as rows ``(o, P m d~)``: ``u_+ - u_-`` per column (``V[:, 0]`` alone when
    not ``pair``), the layout of the variable-space Gram matrices."""
    x = V[:, 0] - V[:, 1] if pair else V[:, 0]
    return np.asarray(x, dtype=np.float64).transpose(0, 1, 3, 2).reshape(V.shape[0], -1)


def _unpair(q, P, m, d):
    """``E^T q``: rows ``(o, P m d~)`` of the sign pairs back to the shape of ``U``."""
    q = q.reshape(q.shape[0], P, m, d).transpose(0, 1, 3, 2)
    return np.stack([q, -q], axis=1)


class LossGram:
    """The squared loss's Hessian in variable space.

    ``J^T diag(w) J = E^T M E`` with ``E U = U_+ - U_-`` (the two output signs share their
    loss rows) and ``M`` the ``P m d~`` square Gram matrix of the weighted features, the
    same for every output. Newton products with the loss then cost ``O((P m d~)^2)``
    whatever ``n``; forming ``M`` costs ``O(n (P m d~)^2)`` once, so it is formed on first
    use of :attr:`M` (the preconditioner's variable-space capacitance). Until then the
    products go through the loss rows' structure (data and patterns, ``O(n P m d~)``):
    on programs whose preconditioner stays in sample space ``M`` would cost more than all
    the products of a run (``n = 1,600``, 20 configurations, width 10: 0.4-0.55 s to form,
    against about 170 products).
    """

    def __init__(self, op, w, chunk=2048):
        self.o, self.P, self.m, self.d = op.o, op.P, op.m, op.d
        self._op, self._chunk = op, chunk
        self.w = np.asarray(w, dtype=np.float64)
        self._M = None
        self._rows = None
        R = np.repeat(self.w[:, None], op.o, axis=1).astype(op.dtype)
        self.jtw = op.adjoint(R=R).astype(np.float64)  # J_o^T w for every output o
        self.mvec = _pair(self.jtw, pair=False)
        self.sw = float(self.w.sum())

    @property
    def formed(self):
        """Whether :attr:`M` has been formed."""
        return self._M is not None

    @property
    def M(self):
        """The ``P m d~`` square Gram matrix ``J_pair^T diag(w) J_pair`` (formed once)."""
        if self._M is None:
            self._M = Preconditioner._gram(self._op, self.w, self._chunk)[0]
            self._rows = None
        return self._M

    def wsum(self, V):
        """``sum_i w_i (J V)_i`` per output."""
        return np.einsum("ok,ok->o", _pair(V), self.mvec)

    def hess(self, V, center):
        """``J^T diag(w) J V`` (minus the eliminated intercept's part when ``center``)."""
        x = _pair(V)
        if self._M is not None:
            q = x @ self._M
            if center:
                q -= (np.einsum("ok,ok->o", x, self.mvec) / self.sw)[:, None] * self.mvec
            return _unpair(q, self.P, self.m, self.d)
        if self._rows is None:
            X, A = Preconditioner._row_factors(self._op)
            self._rows = (X, A.reshape(A.shape[0], -1))
        X, Af = self._rows
        d = X.shape[1]
        q = np.empty_like(x)
        for k in range(x.shape[0]):
            Z = X @ x[k].reshape(-1, d).T  # (n, P m): x~_i . x_cj
            r = np.einsum("nk,nk->n", Z, Af) * self.w
            if center:
                r -= self.w * (r.sum() / self.sw)
            q[k] = ((X * r[:, None]).T @ Af).T.reshape(-1)
        return _unpair(q, self.P, self.m, self.d)


class Preconditioner:
    """Woodbury preconditioner for the Newton matrix (see the module docstring).

    Parameters
    ----------
    op : Operator
    c1, c2 : arrays of the shapes of the slacks
        Barrier curvatures ``lambda / s`` (0 on left-out constraints).
    Dd : ndarray (n, o)
        Diagonal loss curvature.
    ht, hr : arrays (o, 2, P, m)
        Tangential and radial curvature of the smoothed group norms.
    U : current variables (directions of the radial curvature).
    center : bool
        The intercept is eliminated: the loss rows are projected off ``D^(1/2) 1`` (per
        output; for the softmax's coupled curvature in sample space, off the range of
        the stacked ``o x o`` square roots; in variable space, through the Schur
        complement of the coupled Gram matrix).
    Dfull : ndarray (n, o, o) or None
        Full per-sample loss curvature (softmax): the capacitance then couples the
        outputs.
    cache : dict or None
        Kept between iterations: with ``cache["constant"] = True`` (loss curvature that
        does not change, the squared loss) the loss Gram matrix is formed once.
    """

    def __init__(
        self,
        op,
        c1,
        c2,
        Dd,
        ht,
        hr,
        U,
        center=False,
        chunk=2048,
        cache=None,
        Dfull=None,
        opk=None,
    ):
        # the cone terms live on the constraint rows (opk: a working set), the loss
        # term on every sample (op)
        opk = op if opk is None else opk
        n, o, P, m, d = op.n, op.o, op.P, op.m, op.d
        md = m * d
        B, R1 = opk.block_terms(c1, c2)
        a_ = np.sqrt(np.einsum("...dm,...dm->...m", U, U)).astype(np.float64)
        uh = np.moveaxis(
            (U / np.where(a_ > 0, a_, 1.0)[..., None, :]).astype(np.float64), -1, -2
        )
        Hp = ht[..., None, None] * np.eye(d) + (hr - ht)[..., None, None] * (
            uh[..., :, None] * uh[..., None, :]
        )
        idx = np.arange(m)
        B[:, :, :, idx, :, idx, :] += (R1 + Hp).transpose(3, 0, 1, 2, 4, 5)
        K = o * 2 * P
        B = B.reshape(K, md, md)
        dg = np.sqrt(np.maximum(np.einsum("kii->ki", B), 1e-300))
        B /= dg[:, :, None]
        B /= dg[:, None, :]
        B[:, np.arange(md), np.arange(md)] += 1e-12
        self._B, self._dg = B, dg  # the scaled blocks, for the coarse space (deflate)
        self.coarse = None
        self.dense = None
        try:
            Lc = np.linalg.cholesky(B)
            # LAPACK's triangular inverse: more accurate here than a batched general
            # inverse of L, which made the last iterations' solves need more CG steps
            Li = np.empty_like(Lc)
            for k in range(K):
                Li[k], info = dtrtri(Lc[k], lower=1)
                if info != 0:
                    raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            w_, V_ = np.linalg.eigh(B)
            w_ = np.maximum(w_, 1e-12 * w_.max(axis=1, keepdims=True))
            Li = np.einsum("kij,kj->kji", V_, 1.0 / np.sqrt(w_))
        self.G = Li / dg[:, None, :]  # B^{-1} = G^T G, shape (K, md, md)
        self.shape = (o, 2, P, d, m)
        self.dtype = op.dtype
        self.o, self.P, self.m, self.d = o, P, m, d

        # capacitance matrix, one per output. The blocks (c, +1) and (c, -1) have opposite
        # loss rows, so J B^{-1} J^T sums (B+^{-1} + B-^{-1}) over the pair.
        G = self.G.reshape(o, 2, P, md, md)
        Binv = np.matmul(G.transpose(0, 1, 2, 4, 3), G)  # (o, 2, P, md, md)
        self.Binv = Binv.reshape(o * 2 * P, md, md)
        Bs = Binv[:, 0] + Binv[:, 1]  # (o, P, md, md)
        dgs = np.sqrt(np.maximum(np.einsum("...ii->...i", Bs), 1e-300))
        Bs /= dgs[..., :, None]
        Bs /= dgs[..., None, :]
        Bs[..., np.arange(md), np.arange(md)] += 1e-12
        try:
            Hc = np.linalg.cholesky(Bs) * dgs[..., :, None]
        except np.linalg.LinAlgError:
            w_, V_ = np.linalg.eigh(Bs)
            Hc = V_ * np.sqrt(np.maximum(w_, 0.0))[..., None, :] * dgs[..., :, None]
        Dd64 = np.maximum(np.asarray(Dd, dtype=np.float64), 0.0)
        # kept for the direct factorization (densify)
        self._op, self._Dd, self._center, self._chunk = op, Dd64, center, chunk
        k_dim = P * md
        # exact capacitance, in sample space (n x n) or in variable space (P m d~ square),
        # whichever is cheaper (the loss Gram matrix of the variable space is formed once
        # when the loss curvature is constant, as for the squared loss: `cache` keeps it)
        constant = cache is not None and cache.get("constant", False)
        coupled = Dfull is not None and o > 1
        cost_s, cost_v = capacitance_costs(n, P, md, constant, o if coupled else 1)
        self.mode = "samples" if cost_s <= cost_v else "variables"
        if CAPACITANCE != "auto":
            self.mode = CAPACITANCE
        if coupled:
            # the softmax couples the outputs sample by sample: one capacitance for all
            # outputs, where the cost model puts it when it fits (per-output matrices
            # left the coupling out: unscaled iris, 3 classes, CG at its cap from the
            # eighth iteration and "stalled" 26% above the optimum); beyond both sizes,
            # the per-output matrices (inexact, in bounded memory)
            if self.mode == "samples" and n * o <= COUPLED_SAMPLES_MAX:
                self.mode = "coupled"
            elif o * P * md <= COUPLED_VARIABLES_MAX:
                self.mode = "coupled-variables"
            elif n * o <= COUPLED_SAMPLES_MAX:
                self.mode = "coupled"
        self.Hc = Hc
        self.Jc, self.Sc, self.Hinv = [], [], None
        self.Dh = None
        self.Qproj = None
        self.loss_grams = None
        if self.mode == "coupled":
            # softmax: the loss curvature couples the outputs sample by sample; one
            # (n o) square capacitance with the symmetric square roots of the o x o blocks
            ev, evec = np.linalg.eigh(Dfull)
            Dh = np.einsum("nab,nb,ncb->nac", evec, np.sqrt(np.maximum(ev, 0.0)), evec)
            self.Dh = Dh
            Jr = self._unweighted_rows(op)
            S = np.zeros((n, o, n, o))
            for a in range(o):
                W = np.matmul(Jr, Hc[a]).transpose(1, 0, 2).reshape(n, k_dim)
                Ga = W @ W.T
                S += np.einsum("ib,ik,kc->ibkc", Dh[:, :, a], Ga, Dh[:, :, a], optimize=True)
            S = S.reshape(n * o, n * o)
            if center:
                # the eliminated intercept (with sum(b) = 0) projects the rows D^(1/2) J off
                # the range of T = [D_1^(1/2); ...; D_n^(1/2)], since 1^T D 1 = T^T T: the
                # Schur complement is J^T D^(1/2) (I - Q Q^T) D^(1/2) J exactly (the rank-o
                # downdate below, its earlier form, was dropped as not positive at small
                # beta: pittsburg-bridges-SPAN, beta = 1e-4, CG at its cap from iteration 7)
                T = Dh.reshape(n * o, o)
                Uq, sv, _ = np.linalg.svd(T, full_matrices=False)
                # (singular values of sqrt(eigenvalues): 1e-6 keeps the eigenvalue cut of
                # the solver's intercept block, 1e-12, and drops the null direction 1)
                Q = Uq[:, sv > 1e-6 * sv.max()] if sv.max() > 0 else Uq[:, :0]
                SQ = S @ Q
                S += Q @ ((Q.T @ SQ) @ Q.T) - SQ @ Q.T - Q @ SQ.T
                self.Qproj = Q
            S[np.arange(n * o), np.arange(n * o)] += 1.0
            self.Jc = [Jr]
            self.Sc = [_cholesky(S)]
        elif self.mode == "samples":
            for k in range(o):
                # with the intercept eliminated, the rows are projected (see _loss_rows)
                Jr = self._loss_rows(op, Dd64[:, k], cache, k, project=center)
                # W = J_c H_c written straight into the (n, P, md) layout of the product
                # (the same numbers without the transposed copy; measured alone at n = 400:
                # 10 ms -> 6 ms for the product and the Gram matrix)
                W = np.empty((n, P, md))
                np.matmul(Jr, Hc[k], out=W.transpose(1, 0, 2))
                Wm = W.reshape(n, k_dim)
                S = Wm @ Wm.T
                S[np.arange(n), np.arange(n)] += 1.0
                self.Jc.append(Jr)
                self.Sc.append(_cholesky(S))
            # the solves apply the rows through their structure (data and patterns) instead
            # of reading the (P, n, m d~) array twice per solve
            self._rows = self._row_factors(op, cache)
            self._sq = np.sqrt(Dd64)
            # the unit vectors D^(1/2) 1 / ||D^(1/2) 1|| of the projection (per output)
            self._q = self._sq / np.maximum(np.linalg.norm(self._sq, axis=0), 1e-300)
        elif self.mode == "coupled-variables":
            self._coupled_variables(op, Dfull, Hc, center, chunk, cache)
        else:
            # Woodbury on the rank-(P m d~) loss term J^T D J = E^T M E (E: u_+ - u_-):
            # (B + E^T M E)^{-1}
            #   = B^{-1} - B^{-1} E^T H^{-T} [I - (I + H^T M H)^{-1}] H^{-1} E B^{-1}
            Hinv = np.empty_like(Hc)
            for k in range(o):
                for c in range(P):
                    Hinv[k, c] = np.linalg.inv(Hc[k, c])
            self.Hinv = Hinv
            cached = None if cache is None else cache.get("M")
            if callable(cached):  # formed on first use (see LossGram)
                cached = cache["M"] = cached()
            if cached is not None and np.array_equal(cached[0], Dd64):
                Ms, msums = cached[1], cached[2]
            else:
                grams = [self._gram(op, Dd64[:, k], chunk, cache) for k in range(o)]
                Ms, msums = [g[0] for g in grams], [g[1] for g in grams]
                if cache is not None:
                    cache["M"] = (Dd64.copy(), Ms, msums)
            if center:
                # the eliminated intercept: M - m m^T / c with m = J^T D 1, c = 1^T D 1
                # (the Gram matrix of the projected rows; kept while D does not change)
                cached = None if cache is None else cache.get("Mc")
                if cached is not None and np.array_equal(cached[0], Dd64):
                    Ms = cached[1]
                else:
                    csum = Dd64.sum(0)
                    Ms = [
                        _centered_gram(M, mk, ck)
                        for M, mk, ck in zip(Ms, msums, csum, strict=True)
                    ]
                    if cache is not None and cache.get("constant", False):
                        cache["Mc"] = (Dd64.copy(), Ms)
            for k in range(o):
                # C = I + Hb^T M Hb with Hb = blockdiag(H_c): row blocks H_c^T M_c. in one
                # batched product, then column blocks (Hb^T M)_.c H_c (tall products)
                HtM = np.matmul(Hc[k].transpose(0, 2, 1), Ms[k].reshape(P, md, k_dim))
                HtM = HtM.reshape(k_dim, k_dim)
                C = np.empty((k_dim, k_dim))
                for c in range(P):
                    cols = slice(c * md, (c + 1) * md)
                    np.matmul(HtM[:, cols], Hc[k, c], out=C[:, cols])
                C[np.arange(k_dim), np.arange(k_dim)] += 1.0
                self.Sc.append(_cholesky(C))
            # with a diagonal loss curvature, Ms is the Newton matrix's loss term exactly
            # (intercept eliminated): see loss_hess
            self.loss_grams = Ms if Dfull is None else None

    def _coupled_variables(self, op, Dfull, Hc, center, chunk, cache):
        """The capacitance of all outputs at once in variable space (``o P m d~`` square).

        The loss term is ``E^T M E`` with blocks ``M_ab = J_r^T diag(D_ab) J_r`` (the rows
        ``J_r`` are the same for every output, ``D_ab`` the softmax curvature between
        outputs ``a`` and ``b``); the eliminated intercept subtracts
        ``S (sum_i D_i)^+ S^T`` with ``S_ab = J_r^T D_ab``, exactly. Then
        ``C = I + Hb^T M Hb`` with ``Hb`` block diagonal over ``(a, c)``.
        """
        n, o, P, m, d = op.n, op.o, op.P, op.m, op.d
        k = P * m * d
        flat = self._cached_rows(op, cache)
        M = np.zeros((o, k, o, k))
        S = np.zeros((o, k, o))
        for a0 in range(0, n, chunk):
            sl = slice(a0, min(n, a0 + chunk))
            if flat is not None:
                rows = flat[sl]
            else:
                rows = self._unweighted_rows(op, sl).transpose(1, 0, 2).reshape(-1, k)
            for a in range(o):
                for b in range(a, o):
                    h = Dfull[sl, a, b]
                    M[a, :, b] += rows.T @ (rows * h[:, None])
                    S[a, :, b] += rows.T @ h
        for a in range(o):
            for b in range(a):
                M[a, :, b] = M[b, :, a].T
                S[a, :, b] = S[b, :, a]  # D_ab = D_ba
        M = M.reshape(o * k, o * k)
        if center:
            Sm = S.reshape(o * k, o)
            M -= Sm @ np.linalg.pinv(Dfull.sum(0), rcond=1e-12, hermitian=True) @ Sm.T
        self.Hinv = np.linalg.inv(Hc)
        # Hb^T M Hb by its (a, c) column blocks
        Hb = Hc.reshape(o * P, m * d, m * d)
        md = m * d
        HtM = np.matmul(Hb.transpose(0, 2, 1), M.reshape(o * P, md, o * k)).reshape(
            o * k, o * k
        )
        C = np.empty((o * k, o * k))
        for j in range(o * P):
            cols = slice(j * md, (j + 1) * md)
            np.matmul(HtM[:, cols], Hb[j], out=C[:, cols])
        C[np.arange(o * k), np.arange(o * k)] += 1.0
        self.Sc = [_cholesky(0.5 * (C + C.T))]

    @staticmethod
    def _row_coefficients(op, sl=slice(None)):
        """``A_icj = D2_ic s_j D1_icj`` of the samples ``sl``, (nc, P, m): the unweighted
        loss rows are ``A_icj x~_i``."""
        signs = op.program.conf.signs.astype(np.float64)
        D1s = op.program.conf.D1[sl] * signs[None]
        return op.D2[sl].astype(np.float64)[:, :, None] * D1s

    @staticmethod
    def _row_factors(op, cache=None):
        """``(X~, A)``: the data (float64) and :meth:`_row_coefficients` of all samples
        (kept in ``cache``)."""
        key = "row_factors"
        if cache is not None and key in cache:
            return cache[key]
        # C order: the solves view A as (n, P m) (the product of the patterns is laid out
        # with the samples innermost, and every reshape was a copy)
        out = (
            np.asarray(op.X, dtype=np.float64),
            np.ascontiguousarray(Preconditioner._row_coefficients(op)),
        )
        if cache is not None:
            cache[key] = out
        return out

    def _rows_apply(self, k, v):
        """``J_k v`` for ``v`` of shape ``(P, m d~)``: the (projected, weighted) loss rows
        of output ``k``, from their structure (``O(n P m d~)``)."""
        X, A = self._rows
        n, P, m = A.shape
        d = X.shape[1]
        Z = X @ v.reshape(P * m, d).T  # (n, P m): x~_i . v_cj
        u = np.einsum("nk,nk->n", Z, A.reshape(n, P * m)) * self._sq[:, k]
        if self._center:
            u -= self._q[:, k] * (self._q[:, k] @ u)
        return u

    def _rows_adjoint(self, k, z):
        """``J_k^T z`` as ``(P, m d~)`` (see :meth:`_rows_apply`)."""
        X, A = self._rows
        n, P, m = A.shape
        z = np.array(z, dtype=np.float64)
        if self._center:
            z -= self._q[:, k] * (self._q[:, k] @ z)
        z *= self._sq[:, k]
        T = (X * z[:, None]).T @ A.reshape(n, P * m)  # (d~, P m)
        return T.T.reshape(P, m * X.shape[1])

    @staticmethod
    def _unweighted_rows(op, sl=slice(None)):
        """The loss rows ``D2_ic s_j D1_icj x~_i`` of the samples ``sl``, (P, nc, m d~)."""
        A = Preconditioner._row_coefficients(op, sl).transpose(1, 0, 2)  # (P, nc, m)
        X = op.X[sl].astype(np.float64)
        rows = A[..., None] * X[None, :, None, :]
        return rows.reshape(op.P, X.shape[0], op.m * op.d)

    @staticmethod
    def _loss_rows(op, dk, cache, k, project=False):
        """Weighted loss rows ``sqrt(dk_i) J_c`` per block pair ``c``, (P, n, m d~); kept in
        ``cache`` while ``dk`` does not change (the squared loss).

        With ``project``, the rows of the program with its intercept eliminated:
        ``(I - q q^T) D^(1/2) J`` with ``q = D^(1/2) 1 / ||D^(1/2) 1||``, so that
        ``J^T D J - (J^T D 1)(J^T D 1)^T / 1^T D 1`` is their Gram matrix exactly (no
        rank-one downdate to invert later, which lost all accuracy once the hinge loss's
        curvature spread over many orders of magnitude).
        """
        key = ("rows", k, project)
        if cache is not None and key in cache and np.array_equal(cache[key][0], dk):
            return cache[key][1]
        sq = np.sqrt(dk)
        base = None if cache is None else cache.get("rows_base")
        if base is None:  # fixed: kept when not too large
            base = Preconditioner._unweighted_rows(op)
            if cache is not None and base.nbytes <= ROWS_CACHE_BYTES:
                cache["rows_base"] = base
        Jr = base * sq[None, :, None]
        nq = np.linalg.norm(sq)
        if project and nq > 0:
            q = sq / nq
            Jr -= q[None, :, None] * np.einsum("n,pnk->pk", q, Jr)[:, None, :]
        if cache is not None and cache.get("constant", False):
            cache[key] = (dk.copy(), Jr)
        return Jr

    @staticmethod
    def _cached_rows(op, cache):
        """The unweighted rows as one ``(n, P m d~)`` array, kept in ``cache["rows_flat"]``
        when they fit in ``ROWS_CACHE_BYTES`` (None without a cache or when they do not)."""
        flat = None if cache is None else cache.get("rows_flat")
        k_dim = op.P * op.m * op.d
        if flat is None and cache is not None and op.n * k_dim * 8 <= ROWS_CACHE_BYTES:
            flat = Preconditioner._unweighted_rows(op).transpose(1, 0, 2).reshape(op.n, k_dim)
            cache["rows_flat"] = flat
        return flat

    @staticmethod
    def _gram(op, dk, chunk, cache=None):
        """``M = J_pair^T diag(dk) J_pair`` (``P m d~`` square) and ``J_pair^T dk``, by
        chunks of samples; with ``cache``, the unweighted rows are kept in the layout of the
        product when they fit in ``ROWS_CACHE_BYTES`` (losses whose curvature changes at
        every iteration: one scaling and one symmetric product per iteration instead of
        rebuilding and transposing the rows). With ``cache["gram32"]`` the symmetric
        products run in float32 (twice as fast) and are summed in float64; ``J^T dk`` stays
        in float64."""
        n = op.n
        k_dim = op.P * op.m * op.d
        lo = cache is not None and cache.get("gram32", False)
        flat = Preconditioner._cached_rows(op, cache)
        if flat is not None:
            sq = np.sqrt(dk)
            if lo:
                Jr = np.empty(flat.shape, np.float32)
                np.multiply(flat, sq[:, None], out=Jr, casting="same_kind")
                return (Jr.T @ Jr).astype(np.float64), flat.T @ dk
            Jr = flat * sq[:, None]
            return Jr.T @ Jr, Jr.T @ sq
        M = np.zeros((k_dim, k_dim))
        msum = np.zeros(k_dim)
        for a in range(0, n, chunk):
            sl = slice(a, min(n, a + chunk))
            rows = Preconditioner._unweighted_rows(op, sl)  # (P, chunk, m d~)
            msum += np.einsum("pnk,n->pk", rows, dk[sl]).reshape(k_dim)
            Jr = np.multiply(
                rows,
                np.sqrt(dk[sl])[None, :, None],
                out=np.empty(rows.shape, np.float32 if lo else np.float64),
                casting="same_kind",
            )
            Jr = Jr.transpose(1, 0, 2).reshape(-1, k_dim)
            M += Jr.T @ Jr
        return M, msum

    def _apply_A(self, R):
        o, P, m, d = self.o, self.P, self.m, self.d
        md = m * d
        v = np.asarray(R, dtype=np.float64).transpose(0, 1, 2, 4, 3).reshape(o * 2 * P, md)
        y = np.matmul(self.Binv, v[:, :, None])[:, :, 0].reshape(o, 2, P, md)
        if self.mode == "coupled":
            Jr = self.Jc[0]
            n = Jr.shape[1]
            q = np.stack(
                [
                    np.matmul(Jr, (y[k, 0] - y[k, 1])[:, :, None]).sum(0)[:, 0]
                    for k in range(o)
                ],
                axis=1,
            )  # (n, o): J_a applied per output
            qs = np.einsum("nba,na->nb", self.Dh, q).ravel()
            Q = self.Qproj
            if Q is not None:
                qs -= Q @ (Q.T @ qs)
            z = _cho_solve(self.Sc[0], qs)
            if Q is not None:
                z -= Q @ (Q.T @ z)
            z = z.reshape(n, o)
            zeta = np.einsum("nba,nb->na", self.Dh, z)
            Binv = self.Binv.reshape(o, 2, P, md, md)
            for k in range(o):
                t = np.matmul(zeta[None, None, :, k], Jr)[:, 0, :]  # (P, md)
                corr = np.matmul(Binv[k], t[None, :, :, None])[..., 0]
                y[k, 0] -= corr[0]
                y[k, 1] += corr[1]
            return y.reshape(o, 2, P, m, d).transpose(0, 1, 2, 4, 3)
        if self.mode == "coupled-variables":
            q = np.matmul(self.Hinv, (y[:, 0] - y[:, 1])[..., None])[..., 0]  # (o, P, md)
            qf = q.reshape(-1)
            z = (qf - _cho_solve(self.Sc[0], qf)).reshape(o, P, md)
            t = np.matmul(self.Hinv.transpose(0, 1, 3, 2), z[..., None])[..., 0]
            corr = np.matmul(self.Binv.reshape(o, 2, P, md, md), t[:, None, :, :, None])
            y[:, 0] -= corr[:, 0, ..., 0]
            y[:, 1] += corr[:, 1, ..., 0]
            return y.reshape(o, 2, P, m, d).transpose(0, 1, 2, 4, 3)
        for k in range(o):
            if self.mode == "samples":
                q = self._rows_apply(k, y[k, 0] - y[k, 1])  # (n,)
                z = _cho_solve(self.Sc[k], q)
                t = self._rows_adjoint(k, z)  # (P, md) = J_c^T z
            else:
                q = np.matmul(self.Hinv[k], (y[k, 0] - y[k, 1])[:, :, None])[:, :, 0]
                qf = q.reshape(-1)
                z = (qf - _cho_solve(self.Sc[k], qf)).reshape(P, md)
                t = np.matmul(self.Hinv[k].transpose(0, 2, 1), z[:, :, None])[:, :, 0]
            corr = np.matmul(self.Binv.reshape(o, 2, P, md, md)[k], t[None, :, :, None])[
                ..., 0
            ]
            y[k, 0] -= corr[0]
            y[k, 1] += corr[1]
        return y.reshape(o, 2, P, m, d).transpose(0, 1, 2, 4, 3)

    def deflate(self, U):
        """Add a coarse space: the exact Newton matrix on the radial directions of the
        columns in use (:data:`DEFLATE_AFTER_CG`).

        Late in a solve the Woodbury inverse loses its accuracy along those directions:
        their own curvature (the smoothed group norms' radial curvature, down to 1e-15)
        is tiny next to the loss term's, and the inverse there is the difference of two
        huge terms (measured, hinge loss at 1,600 samples: the preconditioned Newton
        matrix off the identity by 3e2 in norm, 99.8% of it along these directions).
        For each column pair ``(sigma = +1, sigma = -1)`` in use the coarse space holds
        the sum and the difference of the two unit directions (the loss term sees the
        difference, so its curvature along the sum is computed without cancellation),
        otherwise the one column's unit direction. ``E = V^T H V`` is formed exactly from
        the blocks and the loss term of this preconditioner, and :meth:`__call__` then
        applies the balancing preconditioner
        ``(I - Q H) M (I - H Q) + Q`` with ``Q = V E^+ V^T``.
        Returns False (nothing done) for the softmax's coupled capacitances and beyond
        :data:`DEFLATE_MAX_ENTRIES`.
        """
        if self.mode not in ("samples", "variables"):
            return False
        from scipy import sparse

        o, P, m, d = self.o, self.P, self.m, self.d
        md, K = m * d, o * 2 * P
        U = np.asarray(U, dtype=np.float64)  # (o, 2, P, d, m)
        nrm = np.sqrt(np.einsum("...dm,...dm->...m", U, U))
        live = nrm > 1e-8 * max(float(nrm.max()), 1e-300)
        uh = U / np.where(live, nrm, 1.0)[..., None, :]
        both = live[:, 0] & live[:, 1]  # (o, P, m)
        k_, c_, j_ = np.nonzero(both)
        lk, ls, lc, lj = np.nonzero(live & ~both[:, None])
        npair, r = len(k_), 2 * len(k_) + len(lk)
        if r == 0 or r * U.size > DEFLATE_MAX_ENTRIES:
            return False
        # V (r x N, sparse) in the blocks' layout (o, 2, P, m, d): the sums of the pairs,
        # their differences, then the lone columns
        ii = np.arange(d)

        def at(k, s_, c, j):
            return (((k * 2 + s_) * P + c) * m + j)[:, None] * d + ii

        up = uh[k_, 0, c_, :, j_] / np.sqrt(2.0)  # (npair, d)
        um = uh[k_, 1, c_, :, j_] / np.sqrt(2.0)
        pair_cols = np.hstack([at(k_, 0, c_, j_), at(k_, 1, c_, j_)])
        rows = np.concatenate(
            [np.repeat(np.arange(2 * npair), 2 * d), np.repeat(np.arange(2 * npair, r), d)]
        )
        lone = at(lk, ls, lc, lj).ravel()
        cols = np.concatenate([pair_cols.ravel(), pair_cols.ravel(), lone])
        sums, diffs = np.hstack([up, um]).ravel(), np.hstack([up, -um]).ravel()
        vals = np.concatenate([sums, diffs, uh[lk, ls, lc, :, lj].ravel()])
        Vs = sparse.csr_matrix((vals, (rows, cols)), shape=(r, K * md))
        # block part: B = diag(dg) B_scaled diag(dg)
        Vd = Vs.toarray().reshape(r, K, md)
        HV = np.matmul(self._B, (Vd * self._dg).transpose(1, 2, 0)).transpose(2, 0, 1)
        HV = (HV * self._dg).reshape(r, o, 2, P * md)
        # loss part: E^T L E with E v = v_+ - v_- (rows (P, m d) per output)
        Vp = Vd.reshape(r, o, 2, P * md)
        for k in range(o):
            Es = sparse.csr_matrix(Vp[:, k, 0] - Vp[:, k, 1])
            if self.mode == "samples":
                Jf = self.Jc[k].transpose(1, 0, 2).reshape(-1, P * md)  # (n, P m d)
                q = np.asarray((Es @ Jf.T) @ Jf)
            else:
                q = np.asarray(Es @ self.loss_grams[k])
            HV[:, k, 0] += q
            HV[:, k, 1] -= q
        HV = HV.reshape(r, K * md)
        E = np.asarray(Vs @ HV.T)
        E = 0.5 * (E + E.T)
        if not np.all(np.isfinite(E)):
            return False
        ev, evec = np.linalg.eigh(E)
        keep = ev > 1e-14 * max(float(ev.max()), 1e-300)
        Einv = (evec[:, keep] / ev[keep]) @ evec[:, keep].T
        self.coarse = (Vs, HV, Einv)
        return True

    def densify(self):
        """Factor the Newton matrix itself, one output at a time (no Woodbury identity).

        Late in a run the Woodbury inverse (and the coarse space of :meth:`deflate`)
        subtracts huge terms along the columns' radial directions, whose own curvature is
        tiny; CG then needs tens to hundreds of steps per solve, and its relative
        tolerance on the right-hand side (dominated by the barrier terms) leaves the
        stationarity of the group norms too loose for the certificate: hinge loss, 6,000
        samples, "stalled" at a gap of 8e-6 with column norms of the dual point above
        ``beta`` by 2e-5. The Newton matrix of one output, ``B + E^T M E`` (``2 P m d~``
        square: the blocks and the centered loss Gram matrix ``M``), is formed and
        factored with a symmetric diagonal scaling instead (``(2 P m d~)^3 / 3`` flops, 0.7
        s at 4,400 here), and :meth:`__call__` solves with it. Only for a loss curvature
        that is diagonal over the outputs (not the softmax's coupled one) and up to
        :data:`DENSE_MAX`; returns whether it was done.
        """
        o, P, m, d = self.o, self.P, self.m, self.d
        md = m * d
        k_dim = P * md
        if self.mode not in ("samples", "variables") or 2 * k_dim > DENSE_MAX:
            return False
        Ms = self.loss_grams
        if Ms is None:  # sample-space capacitance: the loss Gram matrices of this curvature
            Ms = []
            for k in range(o):
                M, msum = self._gram(self._op, self._Dd[:, k], self._chunk)
                Ms.append(_centered_gram(M, msum, self._Dd[:, k].sum()) if self._center else M)
        B = (self._B * self._dg[:, :, None] * self._dg[:, None, :]).reshape(o, 2, P, md, md)
        idx = np.arange(2 * k_dim)
        factors = []
        for k in range(o):
            H = np.zeros((2, k_dim, 2, k_dim))
            H[0, :, 0] = Ms[k]
            H[1, :, 1] = Ms[k]
            H[0, :, 1] = -Ms[k]
            H[1, :, 0] = -Ms[k]
            for s_ in range(2):
                for c in range(P):
                    sl = slice(c * md, (c + 1) * md)
                    H[s_, sl, s_, sl] += B[k, s_, c]
            H = H.reshape(2 * k_dim, 2 * k_dim)
            dg = np.sqrt(np.maximum(H[idx, idx], 1e-300))
            H /= dg[:, None]
            H /= dg[None, :]
            H[idx, idx] += 1e-14
            try:
                factors.append((_cholesky(H), dg))
            except np.linalg.LinAlgError:
                return False
        self.dense = factors
        return True

    def loss_hess(self, V):
        """The Newton matrix's loss term applied to ``V`` through the variable-space Gram
        matrices this preconditioner formed (no pass over the data), or None when it has
        none (sample space, or the softmax's coupled curvature)."""
        if self.loss_grams is None:
            return None
        x = _pair(V)
        q = np.stack([x[k] @ M for k, M in enumerate(self.loss_grams)])
        return _unpair(q, self.P, self.m, self.d)

    def __call__(self, R):
        o, P, m, d = self.o, self.P, self.m, self.d
        if self.dense is not None:
            v = np.asarray(R, dtype=np.float64).transpose(0, 1, 2, 4, 3).reshape(o, -1)
            pairs = zip(v, self.dense, strict=True)
            z = np.stack([_cho_solve(L, x / dg) / dg for x, (L, dg) in pairs])
            return z.reshape(o, 2, P, m, d).transpose(0, 1, 2, 4, 3).astype(self.dtype)
        if self.coarse is None:
            return self._apply_A(R).astype(self.dtype)
        # the coarse space lives in the blocks' layout (o, 2, P, m, d)
        Vs, HV, Einv = self.coarse
        rf = np.asarray(R, dtype=np.float64).transpose(0, 1, 2, 4, 3).reshape(-1)
        c = Einv @ (Vs @ rf)
        y = (rf - HV.T @ c).reshape(o, 2, P, m, d).transpose(0, 1, 2, 4, 3)
        z = self._apply_A(y).transpose(0, 1, 2, 4, 3).reshape(-1)
        z -= Vs.T @ (Einv @ (HV @ z))
        z += Vs.T @ c
        return z.reshape(o, 2, P, m, d).transpose(0, 1, 2, 4, 3).astype(self.dtype)


def _centered_gram(M, msum, csum):
    """The loss Gram matrix with the intercept eliminated: ``M - m m^T / c`` with
    ``m = J^T D 1`` and ``c = 1^T D 1`` (the Gram matrix of the projected rows)."""
    return M - np.outer(msum, msum) / csum if csum > 0 else M


def _cholesky(A):
    """Lower Cholesky factor of one large matrix.

    NumPy's, not SciPy's: SciPy ships its own threaded OpenBLAS, and a large call there
    leaves its threads spinning against NumPy's (measured: every later product 2x slower).
    """
    return np.linalg.cholesky(A)


def _cho_solve(L, z):
    from scipy.linalg import solve_triangular

    y = solve_triangular(L, z, lower=True, check_finite=False)
    return solve_triangular(L.T, y, lower=False, check_finite=False)
