"""The program's linear maps for the native interior-point method.

Everything here works on the arrays of :class:`skconvexrelu._program.ConvexProgram`
without forming the ``n x (2 P m d~)`` feature matrix:

- the constraint map ``U -> (s1, s2)`` (first- and second-layer cone slacks) and the
  forward map ``U -> F`` share one ``(n, d~) @ (d~, K)`` product (``K = o*2*P*m``);
- every adjoint (gradient, dual certificate, Hessian product) is one ``(d~, n) @ (n, K)``
  product;
- :class:`WorkingSetOperator` is the same map restricted to per-column working sets of
  constraint rows;
- the loss rows ``J`` (the forward map of one sign pair of blocks) and their Gram
  matrices ``J^T diag(d) J`` (:func:`loss_gram`, :class:`LossGram`) are the pieces of the
  Newton matrix that the preconditioner
  (:class:`~skconvexrelu.solvers.ipm._preconditioner.Preconditioner`) and the squared
  loss's Hessian products share.
"""

import numpy as np

from ..._operator import ProgramOperator


class Operator(ProgramOperator):
    """The program's map (:class:`~skconvexrelu._operator.ProgramOperator`) with the
    pieces of the interior-point method's Newton matrix (see the module docstring)."""

    def __init__(self, program, dtype=None):
        super().__init__(program, dtype)
        # constraints whose row is identically zero (0 >= 0 for every U) are left out
        xnz = np.any(self.X != 0, axis=1)
        self.M1 = np.broadcast_to(
            xnz[:, None, None, None, None], (self.n, 1, 1, self.P, self.m)
        )
        d1any = np.any(program.conf.D1, axis=2) & xnz[:, None]  # (n, P)
        self.M2 = d1any[:, None, None, :]
        self.M1f = self.M1.astype(self.dtype)
        self.M2f = self.M2.astype(self.dtype)

    @property
    def n_cone_rows(self):
        """Number of cone constraints (rows that are not identically zero)."""
        return float(self.M1.sum() * self.o * 2 + self.M2.sum() * self.o * 2)

    def column_rows(self, o, s, c, j):
        """Data rows and signs of the first-layer constraints of one column."""
        return self.X, self.A1[:, c, j] * self.M1[:, 0, 0, c, j]

    #: the data products of :meth:`block_terms` do not change between iterations; they
    #: are kept when they take at most this many bytes
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

    # ------------------------------------------------------------ group norms
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

    def layers(self, U):
        """Unsigned constraint rows ``(X~ u_j, g)`` of the working set."""
        o, P, m, d = self.o, self.P, self.m, self.d
        Ub = U.reshape(o * 2 * P, d, m)
        Uc = np.ascontiguousarray(Ub.transpose(0, 2, 1)).reshape(-1, d, 1)  # (K, d, 1)
        Z1 = np.matmul(self.X1c, Uc)[..., 0].T.reshape(self.idx1.shape)
        Zb = np.matmul(self.X2c, Ub)  # (blocks, R2, m)
        g2 = np.einsum("brm,brm->br", Zb, self.S2c).T.reshape(self.idx2.shape)
        return Z1, g2

    def cone_rows(self, U):
        """``(A1 * Z, A2 * g, None)``: the working set's cone slacks (no outputs)."""
        Z1, g2 = self.layers(U)
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


# ------------------------------------------------------------------ loss rows
# The loss rows of block pair ``c`` are ``J_c = D2_ic s_j D1_icj x~_i`` (one row per
# sample, ``m d~`` columns); the two blocks of a pair (``sigma = +1, -1``) have opposite
# rows, so the loss term of the Newton matrix is ``E^T J^T diag(d) J E`` with
# ``E U = U_+ - U_-``.


def row_coefficients(op, sl=slice(None)):
    """``A_icj = D2_ic s_j D1_icj`` of the samples ``sl``, (nc, P, m): the unweighted
    loss rows are ``A_icj x~_i``."""
    signs = op.program.conf.signs.astype(np.float64)
    D1s = op.program.conf.D1[sl] * signs[None]
    return op.D2[sl].astype(np.float64)[:, :, None] * D1s


def row_factors(op, cache=None):
    """``(X~, A)``: the data (float64) and :func:`row_coefficients` of all samples
    (kept in ``cache``)."""
    key = "row_factors"
    if cache is not None and key in cache:
        return cache[key]
    # C order: the solves view A as (n, P m) (the product of the patterns is laid out
    # with the samples innermost, and every reshape was a copy)
    out = (
        np.asarray(op.X, dtype=np.float64),
        np.ascontiguousarray(row_coefficients(op)),
    )
    if cache is not None:
        cache[key] = out
    return out


def unweighted_rows(op, sl=slice(None)):
    """The loss rows ``D2_ic s_j D1_icj x~_i`` of the samples ``sl``, (P, nc, m d~)."""
    A = row_coefficients(op, sl).transpose(1, 0, 2)  # (P, nc, m)
    X = op.X[sl].astype(np.float64)
    rows = A[..., None] * X[None, :, None, :]
    return rows.reshape(op.P, X.shape[0], op.m * op.d)


def flat_rows(op, cache, max_bytes):
    """The unweighted rows as one ``(n, P m d~)`` array, kept in ``cache["rows_flat"]``
    when they fit in ``max_bytes`` (None without a cache or when they do not)."""
    flat = None if cache is None else cache.get("rows_flat")
    k_dim = op.P * op.m * op.d
    if flat is None and cache is not None and op.n * k_dim * 8 <= max_bytes:
        flat = unweighted_rows(op).transpose(1, 0, 2).reshape(op.n, k_dim)
        cache["rows_flat"] = flat
    return flat


def loss_gram(op, dk, chunk, cache=None, max_bytes=0):
    """``M = J_pair^T diag(dk) J_pair`` (``P m d~`` square) and ``J_pair^T dk``, by
    chunks of samples.

    With ``cache``, the unweighted rows are kept in the layout of the product when they
    fit in ``max_bytes`` (losses whose curvature changes at every iteration: one scaling
    and one symmetric product per iteration instead of rebuilding and transposing the
    rows). With ``cache["gram32"]`` the symmetric products run in float32 (twice as
    fast) and are summed in float64; ``J^T dk`` stays in float64.
    """
    n = op.n
    k_dim = op.P * op.m * op.d
    lo = cache is not None and cache.get("gram32", False)
    flat = flat_rows(op, cache, max_bytes)
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
        rows = unweighted_rows(op, sl)  # (P, chunk, m d~)
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


class LossGram:
    """The squared loss's Hessian in variable space.

    ``J^T diag(w) J = E^T M E`` with ``E U = U_+ - U_-`` (the two output signs share their
    loss rows) and ``M`` the ``P m d~`` square Gram matrix of the weighted features, the
    same for every output. Newton products with the loss then cost ``O((P m d~)^2)``
    whatever ``n``; forming ``M`` costs ``O(n (P m d~)^2)`` once, so it is formed on first
    use of :attr:`M` (the preconditioner's variable-space capacitance). Until then the
    products go through the loss rows' structure (data and patterns, ``O(n P m d~)``):
    on programs whose preconditioner stays in sample space, forming ``M`` would cost
    more than all the products of a run.
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
            self._M = loss_gram(self._op, self.w, self._chunk)[0]
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
            X, A = row_factors(self._op)
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
