"""One iteration's Newton system: its residuals, curvature terms and search directions.

The Newton system ``(J^T D J + G^T (lambda/s) G + H_psi) dU = rhs`` (the intercept
eliminated exactly through its ``o x o`` Schur complement) is solved matrix-free by
preconditioned conjugate gradients; :class:`NewtonSystem` holds everything that stays
fixed within one iteration (residuals, the loss curvature, the smoothed group norms) and
computes the predictor, corrector and centrality-corrector directions from it.
"""

from dataclasses import dataclass

import numpy as np

from ._linalg import _cg, _max_step

__all__ = ["Direction", "NewtonSystem"]


def _safe_ratio(num, den, mask):
    """``num / den`` where ``mask`` holds, 0 elsewhere (``den`` may be 0 off the mask)."""
    return np.where(mask > 0, num / np.where(mask > 0, den, 1.0), 0.0)


@dataclass
class Direction:
    """A search direction with its largest primal and dual steps."""

    dU: np.ndarray
    db: np.ndarray
    ds1: np.ndarray
    ds2: np.ndarray
    dl1: np.ndarray
    dl2: np.ndarray
    ap: float
    ad: float
    hinge: tuple = None  # (dxi, dsb, dna, dnb) for the hinge loss's epigraph variables
    n_cg: int = 0

    @property
    def step(self):
        return min(self.ap, self.ad)


class NewtonSystem:
    """The Newton system at the current iterate of ``run`` and barrier parameter ``mu``.

    ``run`` is the :class:`~skconvexrelu.solvers.ipm._run.InteriorPointRun` whose
    iterate (``U, b, s, lambda`` and the hinge's epigraph variables) defines it.
    """

    def __init__(self, run, mu):
        self.run = run
        self.Fb = run.F.astype(np.float64) + run.b
        self.rp1 = (run.Gs1 - run.s1) * run.M1
        self.rp2 = (run.Gs2 - run.s2) * run.M2
        self.c1 = run.l1 / run.s1 * run.M1
        self.c2 = run.l2 / run.s2 * run.M2
        if run.hinge:
            self._hinge_terms()
        self._smooth_terms(mu)
        self.JtR = None  # J^T of the loss part of the right-hand side (same in every solve)
        self.prec_loss = None  # a preconditioner whose Gram matrices give the loss term

    def _hinge_terms(self):
        """Residuals and eliminated curvature of the hinge's epigraph constraints."""
        run = self.run
        MH = run.MH
        self.rpb = (run.xi - 1.0 + run.Y * self.Fb - run.sb) * MH
        self.rxi = (run.Wm - run.na - run.nb) * MH
        self.ca = run.na / run.xi * MH
        self.cb = run.nb / run.sb * MH
        self.kap = _safe_ratio(self.ca * self.cb, self.ca + self.cb, MH)

    def _smooth_terms(self, mu):
        """Loss curvature, smoothed-norm pieces and the intercept's Schur complement."""
        run = self.run
        if run.hinge:
            self.r, self.Dd, self.Pm = None, self.kap, None
        else:
            self.r, self.Dd, self.Pm = run.lm.derivatives(self.Fb, mu)
        U = run.U
        if run.beta > 0:
            _, ht, hr = run.op.psi(U, mu, run.beta)
        else:
            ht = hr = np.full(U.shape[:3] + U.shape[4:], 1e-12)
        # rcond 1e-12: the softmax's intercept block is singular along (1, ..., 1); its
        # eigenvalue there is round-off, and inverting it made the Newton matrix indefinite
        self.Hbb_pinv = (
            np.linalg.pinv(run.lm.hbb(self.Dd, self.Pm), rcond=1e-12, hermitian=True)
            if run.fit_intercept
            else None
        )
        self.ht, self.hr = ht.astype(np.float64), hr.astype(np.float64)

    # ------------------------------------------------------------------ products
    def loss_hess(self, Fv):
        """The loss Hessian, with the intercept eliminated, applied to outputs ``Fv``."""
        lm = self.run.lm
        HF = lm.hess_apply(Fv, self.Dd, self.Pm)
        if self.run.fit_intercept:
            HF = HF - lm.hess_apply(
                np.broadcast_to(self.Hbb_pinv @ HF.sum(0), Fv.shape), self.Dd, self.Pm
            )
        return HF.astype(self.run.dtype)

    def matvec(self, V):
        """The Newton matrix applied to ``V``: ``G^T C G V`` (the signs of the constraint
        rows cancel) plus the loss term plus the smoothed norms' Hessian."""
        run = self.run
        op, opk = run.op, run.opk
        if opk is op:
            Zv = op.first_layer(V)
            gv = op.second_layer(Zv)
            HF = self.loss_hess(op.outputs(gv).astype(np.float64))
            out = op.adjoint(self.c1 * Zv, self.c2 * gv, HF, signed=True)
        else:
            Zv, gv = opk.layers(V)
            out = opk.adjoint(self.c1 * Zv, self.c2 * gv, signed=True)
            if run.gram is not None:
                out += run.gram.hess(V, run.fit_intercept).astype(run.dtype)
            elif self.prec_loss is not None:
                # the preconditioner's Gram matrices are this loss term exactly
                out += self.prec_loss.loss_hess(V).astype(run.dtype)
            else:
                out += op.adjoint(R=self.loss_hess(op.forward(V).astype(np.float64)))
        out += op.psi_hess_apply(V, run.U, self.ht, self.hr)
        return out

    # ---------------------------------------------------------------- directions
    def _loss_residual(self, ta, tb):
        """``r`` of the right-hand side (the hinge's eliminated epigraph part included)
        and, for the hinge, the coefficient ``e / (ca + cb)`` of its recovery."""
        run = self.run
        if not run.hinge:
            return self.r, None
        MH = run.MH
        e = (ta / run.xi - run.na + tb / run.sb - run.nb - self.cb * self.rpb - self.rxi) * MH
        ecoef = _safe_ratio(e, self.ca + self.cb, MH)
        r = run.Y * (tb / run.sb - self.cb * self.rpb - self.cb * ecoef) * MH
        return r, ecoef

    def _rhs(self, y1, y2, R, rb):
        """The right-hand side ``G^T y + J^T R - grad psi``."""
        run = self.run
        op, opk, dtype = run.op, run.opk, run.dtype
        if opk is op:
            rhs = op.adjoint(y1.astype(dtype), y2.astype(dtype), R.astype(dtype))
        else:
            if run.hinge or self.JtR is None:  # the loss part is the same in every solve
                if run.reuse_jtr and "kkt" in run.jtr:
                    # R = r - w c with r the KKT residual's: J^T R = J^T r - c J^T w
                    c = self.Hbb_pinv @ rb if run.fit_intercept else np.zeros(run.o)
                    self.JtR = run.jtr.pop("kkt") - run.gram.jtw * c[:, None, None, None, None]
                else:
                    self.JtR = op.adjoint(R=R.astype(dtype))
            rhs = opk.adjoint(y1.astype(dtype), y2.astype(dtype)) + self.JtR
        rhs -= (self.ht[..., None, :] * run.U).astype(dtype)
        return rhs

    def _intercept_step(self, dU, rb):
        """The cone slacks' change and the intercept's step for ``dU``."""
        run = self.run
        dF = None
        if run.gram is not None:  # no per-sample outputs needed: the intercept's row only
            dGs1, dGs2 = (a.astype(np.float64) for a in run.opk.cone_rows(dU)[:2])
            dFsum = run.gram.wsum(dU)
        else:
            dGs1, dGs2, dF = run.apply64(dU)
            dF = dF.astype(np.float64)
            dFsum = run.lm.hess_apply(dF, self.Dd, self.Pm).sum(0)
        db = self.Hbb_pinv @ (rb - dFsum) if run.fit_intercept else np.zeros(run.o)
        return dGs1, dGs2, dF, db

    def direction(self, t1, t2, ta, tb, prec, cg_rtol):
        """The direction for complementarity targets ``t`` (0 for the predictor)."""
        run = self.run
        s1, s2, l1, l2, M1, M2 = run.s1, run.s2, run.l1, run.l2, run.M1, run.M2
        y1 = (t1 - l1 * self.rp1) / s1 * M1
        y2 = (t2 - l2 * self.rp2) / s2 * M2
        r, ecoef = self._loss_residual(ta, tb)
        rb = r.sum(0)
        R = r
        if run.fit_intercept:
            R = r - run.lm.hess_apply(
                np.broadcast_to(self.Hbb_pinv @ rb, self.Fb.shape), self.Dd, self.Pm
            )
        rhs = self._rhs(y1, y2, R, rb)
        rtol = cg_rtol if prec.dense is None else min(cg_rtol, run.settings.dense_cg_rtol)
        dU, ncg = _cg(self.matvec, prec, rhs, rtol, run.cg_maxiter)
        dGs1, dGs2, dF, db = self._intercept_step(dU, rb)
        ds1 = (dGs1 + self.rp1) * M1
        ds2 = (dGs2 + self.rp2) * M2
        dl1 = (t1 - l1 * s1 - l1 * ds1) / s1 * M1
        dl2 = (t2 - l2 * s2 - l2 * ds2) / s2 * M2
        ap = min(_max_step(s1, ds1), _max_step(s2, ds2))
        ad = min(_max_step(l1 + (1 - M1), dl1), _max_step(l2 + (1 - M2), dl2))
        d = Direction(dU, db, ds1, ds2, dl1, dl2, ap, ad, n_cg=ncg)
        if run.hinge:
            self._hinge_direction(d, dF + db, ecoef, ta, tb)
        return d

    def _hinge_direction(self, d, dFt, ecoef, ta, tb):
        """The epigraph variables' part of direction ``d`` and its step limits."""
        run = self.run
        MH, Y = run.MH, run.Y
        xi, sb, na, nb = run.xi, run.sb, run.na, run.nb
        dxi = (ecoef - _safe_ratio(self.cb, self.ca + self.cb, MH) * Y * dFt) * MH
        dna = (ta - na * xi - na * dxi) / xi * MH
        dsb = (dxi + Y * dFt + self.rpb) * MH
        dnb = (tb - nb * sb - nb * dsb) / sb * MH
        d.ap = min(d.ap, _max_step(xi, dxi), _max_step(sb, dsb))
        d.ad = min(d.ad, _max_step(na + (1 - MH), dna), _max_step(nb + (1 - MH), dnb))
        d.hinge = (dxi, dsb, dna, dnb)
