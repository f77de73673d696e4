"""The interior-point method's preconditioner: the exact inverse of the Newton matrix.

The Newton matrix ``H = J^T D J + G^T C G + H_psi`` is applied matrix-free (see
:mod:`._operator`). Its preconditioner (:class:`Preconditioner`) is
``(B + J_R^T D_R J_R)^{-1}`` by the Woodbury identity: ``B = G^T C G + H_psi`` is block
diagonal over the blocks ``(o, sigma, c)`` (each ``m d~`` square, every cone barrier term
lives in one block) and is factored exactly; the loss term enters through an exact
capacitance matrix, in sample space (``n x n``) or in variable space (``P m d~`` square,
formed in ``O(n (P m d~)^2)`` by chunks over the samples, so linear in ``n``), whichever
:func:`capacitance_costs` finds cheaper. For the softmax, whose curvature couples the
outputs, one capacitance serves all outputs, in sample space up to
``coupled_samples_max`` rows ``n o`` (:class:`~skconvexrelu.solvers.settings.
PreconditionerSettings`). The preconditioner is the exact inverse of the Newton matrix
and CG takes one to a few steps per solve.

Late in a run the Woodbury inverse loses accuracy along the columns' radial directions;
:meth:`Preconditioner.deflate` adds a coarse space there and
:meth:`Preconditioner.densify` factors one output's Newton matrix directly instead.
"""

import numpy as np
from scipy.linalg.lapack import dtrtri

from ..settings import PreconditionerSettings
from . import _operator
from ._operator import _pair, _unpair, flat_rows, row_factors, unweighted_rows

__all__ = ["Preconditioner", "capacitance_costs"]


def capacitance_costs(n, P, md, constant=False, coupled=1, cholesky_cost=4.0):
    """Cost per iteration (in matrix-product flops) of the preconditioner's capacitance
    matrix in sample space and in variable space.

    ``n^2 k + c n^3 / 3`` against ``c k^3 / 3 + 4 P^2 (m d~)^3`` (plus ``n k^2 / 2`` to
    form the loss Gram matrix when the loss curvature changes), ``k = P m d~``,
    ``c = cholesky_cost`` (the cost of a Cholesky flop in matrix-product flops). With
    ``coupled = o`` outputs coupled by the softmax, one capacitance of ``n o`` or ``o k``
    rows for all outputs (``o (o + 1) / 2`` Gram matrices in variable space).
    """
    k = P * md
    o = coupled
    samples = o * n * n * k + cholesky_cost * (n * o) ** 3 / 3
    variables = cholesky_cost * (o * k) ** 3 / 3 + 4.0 * o * P * P * md**3
    if not constant:
        variables += n * k * k * o * (o + 1) / 4
    return float(samples), float(variables)


class Preconditioner:
    """Woodbury preconditioner for the Newton matrix (see the module docstring).

    Parameters
    ----------
    op : Operator
        The loss term lives on every sample of ``op``.
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
    chunk : int
        Samples per chunk when forming Gram matrices.
    cache : dict or None
        Kept between iterations: with ``cache["constant"] = True`` (loss curvature that
        does not change, the squared loss) the loss Gram matrix is formed once.
    Dfull : ndarray (n, o, o) or None
        Full per-sample loss curvature (softmax): the capacitance then couples the
        outputs.
    opk : Operator, WorkingSetOperator or None
        The cone constraints' rows (a working set; None: ``op``).
    settings : PreconditionerSettings or None
        None: the defaults.
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
        *,
        settings=None,
    ):
        self.settings = PreconditionerSettings() if settings is None else settings
        # the cone terms live on the constraint rows (opk: a working set), the loss
        # term on every sample (op)
        opk = op if opk is None else opk
        n, o, P, m, d = op.n, op.o, op.P, op.m, op.d
        md = m * d
        self.shape = (o, 2, P, d, m)
        self.dtype = op.dtype
        self.o, self.P, self.m, self.d = o, P, m, d
        # the scaled blocks, kept for the coarse space (deflate) and densify
        self._B, self._dg = self._scaled_blocks(opk, c1, c2, ht, hr, U)
        self.coarse = None
        self.dense = None
        self.G = self._inverse_factor(self._B) / self._dg[:, None, :]  # B^{-1} = G^T G
        Hc = self._pair_factors()
        Dd64 = np.maximum(np.asarray(Dd, dtype=np.float64), 0.0)
        # kept for the direct factorization (densify)
        self._op, self._Dd, self._center, self._chunk = op, Dd64, center, chunk
        constant = cache is not None and cache.get("constant", False)
        coupled = Dfull is not None and o > 1
        self.mode = self._capacitance_mode(n, md, constant, coupled)
        self.Hc = Hc
        self.Jc, self.Sc, self.Hinv = [], [], None
        self.Dh = None
        self.Qproj = None
        self.loss_grams = None
        if self.mode == "coupled":
            self._coupled_samples(op, Dfull, Hc, center)
        elif self.mode == "samples":
            self._samples(op, Dd64, Hc, center, cache)
        elif self.mode == "coupled-variables":
            self._coupled_variables(op, Dfull, Hc, center, chunk, cache)
        else:
            self._variables(op, Dd64, Hc, center, chunk, cache, Dfull)

    # ------------------------------------------------------------- the blocks
    @staticmethod
    def _scaled_blocks(opk, c1, c2, ht, hr, U):
        """The blocks ``B`` (cone terms and smoothed group norms), ``(o 2 P, m d~, m d~)``,
        with a symmetric diagonal scaling: ``(B_scaled, dg)``, ``B = dg B_scaled dg``."""
        d, m = opk.d, opk.m
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
        K = opk.o * 2 * opk.P
        B = B.reshape(K, md, md)
        dg = np.sqrt(np.maximum(np.einsum("kii->ki", B), 1e-300))
        B /= dg[:, :, None]
        B /= dg[:, None, :]
        B[:, np.arange(md), np.arange(md)] += 1e-12
        return B, dg

    @staticmethod
    def _inverse_factor(B):
        """``L^{-1}`` of the blocks' Cholesky factors ``L`` (by eigenvalues, with tiny
        eigenvalues raised, where a block is not numerically positive definite)."""
        try:
            Lc = np.linalg.cholesky(B)
            # LAPACK's triangular inverse: more accurate here than a batched general
            # inverse of L, which made the last iterations' solves need more CG steps
            Li = np.empty_like(Lc)
            for k in range(B.shape[0]):
                Li[k], info = dtrtri(Lc[k], lower=1)
                if info != 0:
                    raise np.linalg.LinAlgError
        except np.linalg.LinAlgError:
            w_, V_ = np.linalg.eigh(B)
            w_ = np.maximum(w_, 1e-12 * w_.max(axis=1, keepdims=True))
            Li = np.einsum("kij,kj->kji", V_, 1.0 / np.sqrt(w_))
        return Li

    def _pair_factors(self):
        """Sets :attr:`Binv` (the blocks' inverses) and returns ``H_c`` with
        ``H_c H_c^T = B_(c,+1)^{-1} + B_(c,-1)^{-1}`` per output and pair, (o, P, md, md).

        The blocks ``(c, +1)`` and ``(c, -1)`` have opposite loss rows, so the
        capacitance's ``J B^{-1} J^T`` sums the pair's inverses.
        """
        o, P, md = self.o, self.P, self.m * self.d
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
        return Hc

    # ---------------------------------------------------- the capacitance matrix
    def _capacitance_mode(self, n, md, constant, coupled):
        """Where the capacitance lives: "samples", "variables", or for the softmax's
        coupled curvature "coupled" (sample space) or "coupled-variables".

        The cheaper by :func:`capacitance_costs` (the loss Gram matrix of the variable
        space is formed once when the loss curvature is constant, as for the squared
        loss), unless ``settings.capacitance`` fixes it.
        """
        s = self.settings
        o, P = self.o, self.P
        cost_s, cost_v = capacitance_costs(
            n, P, md, constant, o if coupled else 1, s.cholesky_cost
        )
        mode = "samples" if cost_s <= cost_v else "variables"
        if s.capacitance != "auto":
            mode = s.capacitance
        if coupled:
            # the softmax couples the outputs sample by sample: one capacitance for all
            # outputs, where the cost model puts it when it fits (per-output matrices
            # leave the coupling out, and CG then runs to its cap); beyond both sizes,
            # the per-output matrices (inexact, in bounded memory)
            if mode == "samples" and n * o <= s.coupled_samples_max:
                mode = "coupled"
            elif o * P * md <= s.coupled_variables_max:
                mode = "coupled-variables"
            elif n * o <= s.coupled_samples_max:
                mode = "coupled"
        return mode

    def _coupled_samples(self, op, Dfull, Hc, center):
        """One ``(n o)`` square capacitance for all outputs (softmax), with the symmetric
        square roots of the per-sample ``o x o`` curvature blocks."""
        n, o = op.n, op.o
        k_dim = op.P * op.m * op.d
        ev, evec = np.linalg.eigh(Dfull)
        Dh = np.einsum("nab,nb,ncb->nac", evec, np.sqrt(np.maximum(ev, 0.0)), evec)
        self.Dh = Dh
        Jr = unweighted_rows(op)
        S = np.zeros((n, o, n, o))
        for a in range(o):
            W = np.matmul(Jr, Hc[a]).transpose(1, 0, 2).reshape(n, k_dim)
            Ga = W @ W.T
            S += np.einsum("ib,ik,kc->ibkc", Dh[:, :, a], Ga, Dh[:, :, a], optimize=True)
        S = S.reshape(n * o, n * o)
        if center:
            self.Qproj = self._project_intercept(S, Dh)
        S[np.arange(n * o), np.arange(n * o)] += 1.0
        self.Jc = [Jr]
        self.Sc = [_cholesky(S)]

    @staticmethod
    def _project_intercept(S, Dh):
        """Project the coupled capacitance ``S`` (in place) for the eliminated intercept;
        returns the orthonormal basis ``Q`` it is projected off.

        The eliminated intercept (with ``sum(b) = 0``) projects the rows ``D^(1/2) J``
        off the range of ``T = [D_1^(1/2); ...; D_n^(1/2)]``, since ``1^T D 1 = T^T T``:
        the Schur complement is ``J^T D^(1/2) (I - Q Q^T) D^(1/2) J`` exactly (a rank-o
        downdate of the capacitance instead loses positive definiteness at small beta).
        """
        n, o = Dh.shape[:2]
        T = Dh.reshape(n * o, o)
        Uq, sv, _ = np.linalg.svd(T, full_matrices=False)
        # (singular values of sqrt(eigenvalues): 1e-6 keeps the eigenvalue cut of the
        # solver's intercept block, 1e-12, and drops the null direction 1)
        Q = Uq[:, sv > 1e-6 * sv.max()] if sv.max() > 0 else Uq[:, :0]
        SQ = S @ Q
        S += Q @ ((Q.T @ SQ) @ Q.T) - SQ @ Q.T - Q @ SQ.T
        return Q

    def _samples(self, op, Dd64, Hc, center, cache):
        """One ``n x n`` capacitance ``I + J_k H H^T J_k^T`` per output."""
        n, o, P = op.n, op.o, op.P
        md = op.m * op.d
        k_dim = P * md
        for k in range(o):
            # with the intercept eliminated, the rows are projected (see _loss_rows)
            Jr = self._loss_rows(op, Dd64[:, k], cache, k, project=center)
            # W = J_c H_c written straight into the (n, P, md) layout of the product
            # (the same numbers without the transposed copy)
            W = np.empty((n, P, md))
            np.matmul(Jr, Hc[k], out=W.transpose(1, 0, 2))
            Wm = W.reshape(n, k_dim)
            S = Wm @ Wm.T
            S[np.arange(n), np.arange(n)] += 1.0
            self.Jc.append(Jr)
            self.Sc.append(_cholesky(S))
        # the solves apply the rows through their structure (data and patterns) instead
        # of reading the (P, n, m d~) array twice per solve
        self._rows = row_factors(op, cache)
        self._sq = np.sqrt(Dd64)
        # the unit vectors D^(1/2) 1 / ||D^(1/2) 1|| of the projection (per output)
        self._q = self._sq / np.maximum(np.linalg.norm(self._sq, axis=0), 1e-300)

    def _variables(self, op, Dd64, Hc, center, chunk, cache, Dfull):
        """One ``P m d~`` square capacitance per output.

        Woodbury on the rank-(P m d~) loss term ``J^T D J = E^T M E`` (E: u_+ - u_-):
        ``(B + E^T M E)^{-1}
        = B^{-1} - B^{-1} E^T H^{-T} [I - (I + H^T M H)^{-1}] H^{-1} E B^{-1}``.
        """
        o, P = op.o, op.P
        Hinv = np.empty_like(Hc)
        for k in range(o):
            for c in range(P):
                Hinv[k, c] = np.linalg.inv(Hc[k, c])
        self.Hinv = Hinv
        Ms, msums = self._variable_grams(op, Dd64, chunk, cache)
        if center:
            Ms = self._centered_grams(Ms, msums, Dd64, cache)
        for k in range(o):
            self.Sc.append(_cholesky(self._variable_capacitance(Hc[k], Ms[k])))
        # with a diagonal loss curvature, Ms is the Newton matrix's loss term exactly
        # (intercept eliminated): see loss_hess
        self.loss_grams = Ms if Dfull is None else None

    def _variable_grams(self, op, Dd64, chunk, cache):
        """The loss Gram matrices ``M_k`` and ``J^T D_k 1`` of every output; kept in
        ``cache["M"]`` (a callable there forms them on first use: see
        :class:`~._operator.LossGram`)."""
        cached = None if cache is None else cache.get("M")
        if callable(cached):  # formed on first use (see LossGram)
            cached = cache["M"] = cached()
        if cached is not None and np.array_equal(cached[0], Dd64):
            return cached[1], cached[2]
        grams = [
            _operator.loss_gram(op, Dd64[:, k], chunk, cache, self.settings.rows_cache_bytes)
            for k in range(op.o)
        ]
        Ms, msums = [g[0] for g in grams], [g[1] for g in grams]
        if cache is not None:
            cache["M"] = (Dd64.copy(), Ms, msums)
        return Ms, msums

    @staticmethod
    def _centered_grams(Ms, msums, Dd64, cache):
        """The eliminated intercept: ``M - m m^T / c`` with ``m = J^T D 1``,
        ``c = 1^T D 1`` (the Gram matrix of the projected rows; kept while ``D`` does not
        change)."""
        cached = None if cache is None else cache.get("Mc")
        if cached is not None and np.array_equal(cached[0], Dd64):
            return cached[1]
        csum = Dd64.sum(0)
        Ms = [_centered_gram(M, mk, ck) for M, mk, ck in zip(Ms, msums, csum, strict=True)]
        if cache is not None and cache.get("constant", False):
            cache["Mc"] = (Dd64.copy(), Ms)
        return Ms

    @staticmethod
    def _variable_capacitance(Hck, Mk):
        """``C = I + Hb^T M Hb`` with ``Hb = blockdiag(H_c)``: row blocks ``H_c^T M_c.``
        in one batched product, then column blocks ``(Hb^T M)_.c H_c`` (tall products)."""
        P, md = Hck.shape[0], Hck.shape[1]
        k_dim = P * md
        HtM = np.matmul(Hck.transpose(0, 2, 1), Mk.reshape(P, md, k_dim))
        HtM = HtM.reshape(k_dim, k_dim)
        C = np.empty((k_dim, k_dim))
        for c in range(P):
            cols = slice(c * md, (c + 1) * md)
            np.matmul(HtM[:, cols], Hck[c], out=C[:, cols])
        C[np.arange(k_dim), np.arange(k_dim)] += 1.0
        return C

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
        flat = flat_rows(op, cache, self.settings.rows_cache_bytes)
        M = np.zeros((o, k, o, k))
        S = np.zeros((o, k, o))
        for a0 in range(0, n, chunk):
            sl = slice(a0, min(n, a0 + chunk))
            if flat is not None:
                rows = flat[sl]
            else:
                rows = unweighted_rows(op, sl).transpose(1, 0, 2).reshape(-1, k)
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

    # ------------------------------------------------------------ the loss rows
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

    def _loss_rows(self, op, dk, cache, k, project=False):
        """Weighted loss rows ``sqrt(dk_i) J_c`` per block pair ``c``, (P, n, m d~); kept in
        ``cache`` while ``dk`` does not change (the squared loss).

        With ``project``, the rows of the program with its intercept eliminated:
        ``(I - q q^T) D^(1/2) J`` with ``q = D^(1/2) 1 / ||D^(1/2) 1||``, so that
        ``J^T D J - (J^T D 1)(J^T D 1)^T / 1^T D 1`` is their Gram matrix exactly (no
        rank-one downdate to invert later, which loses all accuracy once the hinge loss's
        curvature spreads over many orders of magnitude).
        """
        key = ("rows", k, project)
        if cache is not None and key in cache and np.array_equal(cache[key][0], dk):
            return cache[key][1]
        sq = np.sqrt(dk)
        base = None if cache is None else cache.get("rows_base")
        if base is None:  # fixed: kept when not too large
            base = unweighted_rows(op)
            if cache is not None and base.nbytes <= self.settings.rows_cache_bytes:
                cache["rows_base"] = base
        Jr = base * sq[None, :, None]
        nq = np.linalg.norm(sq)
        if project and nq > 0:
            q = sq / nq
            Jr -= q[None, :, None] * np.einsum("n,pnk->pk", q, Jr)[:, None, :]
        if cache is not None and cache.get("constant", False):
            cache[key] = (dk.copy(), Jr)
        return Jr

    # ------------------------------------------------------------ the inverse
    def _apply_A(self, R):
        """The Woodbury inverse applied to ``R`` (of the shape of ``U``)."""
        o, P, m, d = self.o, self.P, self.m, self.d
        md = m * d
        v = np.asarray(R, dtype=np.float64).transpose(0, 1, 2, 4, 3).reshape(o * 2 * P, md)
        y = np.matmul(self.Binv, v[:, :, None])[:, :, 0].reshape(o, 2, P, md)
        if self.mode == "coupled":
            self._correct_coupled(y)
        elif self.mode == "coupled-variables":
            self._correct_coupled_variables(y)
        else:
            self._correct_per_output(y)
        return y.reshape(o, 2, P, m, d).transpose(0, 1, 2, 4, 3)

    def _correct_coupled(self, y):
        """The loss term's correction of ``y = B^{-1} r`` (in place), coupled capacitance
        in sample space."""
        o, P, md = self.o, self.P, self.m * self.d
        Jr = self.Jc[0]
        n = Jr.shape[1]
        q = np.stack(
            [np.matmul(Jr, (y[k, 0] - y[k, 1])[:, :, None]).sum(0)[:, 0] for k in range(o)],
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

    def _correct_coupled_variables(self, y):
        """The loss term's correction of ``y = B^{-1} r`` (in place), coupled capacitance
        in variable space."""
        o, P, md = self.o, self.P, self.m * self.d
        q = np.matmul(self.Hinv, (y[:, 0] - y[:, 1])[..., None])[..., 0]  # (o, P, md)
        qf = q.reshape(-1)
        z = (qf - _cho_solve(self.Sc[0], qf)).reshape(o, P, md)
        t = np.matmul(self.Hinv.transpose(0, 1, 3, 2), z[..., None])[..., 0]
        corr = np.matmul(self.Binv.reshape(o, 2, P, md, md), t[:, None, :, :, None])
        y[:, 0] -= corr[:, 0, ..., 0]
        y[:, 1] += corr[:, 1, ..., 0]

    def _correct_per_output(self, y):
        """The loss term's correction of ``y = B^{-1} r`` (in place), one capacitance per
        output (sample or variable space)."""
        o, P, md = self.o, self.P, self.m * self.d
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

    # ------------------------------------------------------------ coarse space
    def deflate(self, U):
        """Add a coarse space: the exact Newton matrix on the radial directions of the
        columns in use.

        The interior-point method adds it once CG needs many steps per solve
        (``IPMSettings.deflate_after_cg``). Late in a solve the Woodbury inverse loses
        its accuracy along those directions: their own curvature (the smoothed group
        norms' radial curvature, down to 1e-15) is tiny next to the loss term's, and the
        inverse there is the difference of two huge terms; most of the preconditioned
        Newton matrix's distance to the identity lies along them. For each column pair
        ``(sigma = +1, sigma = -1)`` in use the coarse space holds the sum and the
        difference of the two unit directions (the loss term sees the difference, so its
        curvature along the sum is computed without cancellation), otherwise the one
        column's unit direction. ``E = V^T H V`` is formed exactly from the blocks and
        the loss term of this preconditioner, and :meth:`__call__` then applies the
        balancing preconditioner ``(I - Q H) M (I - H Q) + Q`` with ``Q = V E^+ V^T``.
        Returns False (nothing done) for the softmax's coupled capacitances and beyond
        ``settings.deflate_max_entries``.
        """
        if self.mode not in ("samples", "variables"):
            return False
        U = np.asarray(U, dtype=np.float64)  # (o, 2, P, d, m)
        Vs = self._coarse_directions(U)
        if Vs is None:
            return False
        HV = self._coarse_products(Vs)
        E = np.asarray(Vs @ HV.T)
        E = 0.5 * (E + E.T)
        if not np.all(np.isfinite(E)):
            return False
        ev, evec = np.linalg.eigh(E)
        keep = ev > 1e-14 * max(float(ev.max()), 1e-300)
        Einv = (evec[:, keep] / ev[keep]) @ evec[:, keep].T
        self.coarse = (Vs, HV, Einv)
        return True

    def _coarse_directions(self, U):
        """The coarse space's directions ``V`` (r x N, sparse) in the blocks' layout
        (o, 2, P, m, d): the sums of the pairs, their differences, then the lone columns
        (None when there are none or too many)."""
        from scipy import sparse

        o, P, m, d = self.o, self.P, self.m, self.d
        md, K = m * d, o * 2 * P
        nrm = np.sqrt(np.einsum("...dm,...dm->...m", U, U))
        live = nrm > 1e-8 * max(float(nrm.max()), 1e-300)
        uh = U / np.where(live, nrm, 1.0)[..., None, :]
        both = live[:, 0] & live[:, 1]  # (o, P, m)
        k_, c_, j_ = np.nonzero(both)
        lk, ls, lc, lj = np.nonzero(live & ~both[:, None])
        npair, r = len(k_), 2 * len(k_) + len(lk)
        if r == 0 or r * U.size > self.settings.deflate_max_entries:
            return None
        up = uh[k_, 0, c_, :, j_] / np.sqrt(2.0)  # (npair, d)
        um = uh[k_, 1, c_, :, j_] / np.sqrt(2.0)
        pair_cols = np.hstack(
            [self._column_entries(k_, 0, c_, j_), self._column_entries(k_, 1, c_, j_)]
        )
        rows = np.concatenate(
            [np.repeat(np.arange(2 * npair), 2 * d), np.repeat(np.arange(2 * npair, r), d)]
        )
        lone = self._column_entries(lk, ls, lc, lj).ravel()
        cols = np.concatenate([pair_cols.ravel(), pair_cols.ravel(), lone])
        sums, diffs = np.hstack([up, um]).ravel(), np.hstack([up, -um]).ravel()
        vals = np.concatenate([sums, diffs, uh[lk, ls, lc, :, lj].ravel()])
        return sparse.csr_matrix((vals, (rows, cols)), shape=(r, K * md))

    def _column_entries(self, k, s_, c, j):
        """Flat indices of the ``d`` entries of the columns ``(k, s_, c, j)`` in the
        blocks' layout (o, 2, P, m, d), one row per column."""
        P, m, d = self.P, self.m, self.d
        return (((k * 2 + s_) * P + c) * m + j)[:, None] * d + np.arange(d)

    def _coarse_products(self, Vs):
        """``H V`` (r x N) from the blocks and the loss term of this preconditioner."""
        from scipy import sparse

        o, P, m, d = self.o, self.P, self.m, self.d
        md, K = m * d, o * 2 * P
        r = Vs.shape[0]
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
        return HV.reshape(r, K * md)

    # ------------------------------------------------------ direct factorization
    def densify(self):
        """Factor the Newton matrix itself, one output at a time (no Woodbury identity).

        Late in a run the Woodbury inverse (and the coarse space of :meth:`deflate`)
        subtracts huge terms along the columns' radial directions, whose own curvature is
        tiny; CG then needs tens to hundreds of steps per solve, and its relative
        tolerance on the right-hand side (dominated by the barrier terms) leaves the
        stationarity of the group norms too loose for the certificate (the run stalls a
        little above its tolerance). The Newton matrix of one output, ``B + E^T M E``
        (``2 P m d~`` square: the blocks and the centered loss Gram matrix ``M``), is
        formed and factored with a symmetric diagonal scaling instead
        (``(2 P m d~)^3 / 3`` flops), and :meth:`__call__` solves with it. Only for a loss
        curvature that is diagonal over the outputs (not the softmax's coupled one) and
        up to ``settings.dense_max``; returns whether it was done.
        """
        o, P, m, d = self.o, self.P, self.m, self.d
        md = m * d
        k_dim = P * md
        if self.mode not in ("samples", "variables") or 2 * k_dim > self.settings.dense_max:
            return False
        Ms = self.loss_grams
        if Ms is None:  # sample-space capacitance: the loss Gram matrices of this curvature
            Ms = []
            for k in range(o):
                M, msum = _operator.loss_gram(self._op, self._Dd[:, k], self._chunk)
                Ms.append(_centered_gram(M, msum, self._Dd[:, k].sum()) if self._center else M)
        B = (self._B * self._dg[:, :, None] * self._dg[:, None, :]).reshape(o, 2, P, md, md)
        factors = []
        for k in range(o):
            H, dg = self._scaled_newton_matrix(Ms[k], B[k])
            try:
                factors.append((_cholesky(H), dg))
            except np.linalg.LinAlgError:
                return False
        self.dense = factors
        return True

    @staticmethod
    def _scaled_newton_matrix(Mk, Bk):
        """One output's Newton matrix ``B + E^T M E`` (``2 P m d~`` square) from its loss
        Gram matrix and its blocks ``(2, P, m d~, m d~)``, with a symmetric diagonal
        scaling: ``(H_scaled, dg)``, ``H = dg H_scaled dg``."""
        P, md = Bk.shape[1], Bk.shape[2]
        k_dim = P * md
        idx = np.arange(2 * k_dim)
        H = np.zeros((2, k_dim, 2, k_dim))
        H[0, :, 0] = Mk
        H[1, :, 1] = Mk
        H[0, :, 1] = -Mk
        H[1, :, 0] = -Mk
        for s_ in range(2):
            for c in range(P):
                sl = slice(c * md, (c + 1) * md)
                H[s_, sl, s_, sl] += Bk[s_, c]
        H = H.reshape(2 * k_dim, 2 * k_dim)
        dg = np.sqrt(np.maximum(H[idx, idx], 1e-300))
        H /= dg[:, None]
        H /= dg[None, :]
        H[idx, idx] += 1e-14
        return H, dg

    # ------------------------------------------------------------ application
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
    leaves its threads spinning against NumPy's, which slows every later product down.
    """
    return np.linalg.cholesky(A)


def _cho_solve(L, z):
    from scipy.linalg import solve_triangular

    y = solve_triangular(L, z, lower=True, check_finite=False)
    return solve_triangular(L.T, y, lower=False, check_finite=False)
