"""One run of the interior-point method: the iterate, the loop and its named steps.

:class:`InteriorPointRun` holds the iterate (``U, b``, cone slacks ``s`` and multipliers
``lambda``, the hinge's epigraph variables) and runs the loop::

    initial point
    repeat:
        grow the working set (every few iterations, when it grows in the run)
        check: certificate, KKT residual, best iterate, stopping rules
        Newton system and its preconditioner
        predictor, Mehrotra corrector, Gondzio centrality correctors
        step
    result

See :mod:`skconvexrelu.solvers.ipm` for the algorithm and the stopping rule.
"""

import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..._certificate import dual_scale, lower_bound, relative_gap
from ..._losses import LossModel, constant_model
from ..._validation import available_memory_bytes, conditioning_advice
from .._base import SolveResult
from ._cost import estimate_memory, n_correctors
from ._linalg import _improve_dual
from ._newton import NewtonSystem
from ._operator import LossGram, Operator
from ._preconditioner import Preconditioner
from ._working_set import extend_pairs, grow_working_set, row_masks, working_set_operators

ALGO = "native:ipm-pcg"


@dataclass
class WarmStart:
    """A run's final primal-dual point, to warm start a run on the same program."""

    U: np.ndarray
    duals: tuple  # (s1, s2, l1, l2)
    hinge: tuple = None  # (xi, sb, na, nb)
    working_set: tuple = None

    def matches(self, U, slack_shape, working_set):
        """Whether this point belongs to a run started at ``U`` on ``working_set``."""
        if self.U.shape != U.shape or not np.array_equal(self.U, U):
            return False
        if self.duals[0].shape != slack_shape:
            return False
        if (working_set is None) != (self.working_set is None):
            return False
        return working_set is None or all(
            np.array_equal(a, b) for a, b in zip(self.working_set, working_set, strict=True)
        )


def check_memory(program, working_set):
    """Raise ``MemoryError`` up front when the run cannot fit in the available memory."""
    need = estimate_memory(program, None if working_set is None else len(working_set[0]))
    avail = available_memory_bytes()
    if avail is not None and need > avail:
        raise MemoryError(
            f"The native solver needs about {need / 2**30:.1f} GiB of working memory for this "
            f"program (n={program.n_samples}, shape {program.shape}) but only "
            f"{avail / 2**30:.1f} GiB is available (its dense blocks are m*d~ = "
            f"{program.shape[3] * program.shape[4]} wide); use fewer features (e.g. a PCA "
            "projection), a smaller width, fewer configurations or a smaller sample."
        )


class InteriorPointRun:
    """One interior-point solve of ``program`` (see :func:`solve_ipm` for the parameters)."""

    def __init__(self, program, loss, Y, w, beta, settings, fit_intercept=True, tol=1e-6,
                 working_set=None, loss_gram=None):  # fmt: skip
        self.program = program
        self.settings = settings
        self.dtype = np.dtype(program.dtype)
        f32 = self.dtype == np.float32
        self.tol = max(float(tol), 1e-3) if f32 else float(tol)
        self.feas_tol = 1e-6 if f32 else 1e-10
        self.stall_iters = 8 if f32 else 15
        self.fit_intercept = fit_intercept
        self.beta = float(beta)
        # op: the loss on every sample; opk: the cone constraints (of the working set);
        # the certificate is computed in float64 whatever the working precision
        self.op = Operator(program)
        self.opc = self.op if self.dtype == np.float64 else Operator(program, np.float64)
        self.o = self.op.o
        self.Y = np.asarray(Y, dtype=np.float64).reshape(self.op.n, -1)
        self.w = np.asarray(w, dtype=np.float64)
        self.lm = LossModel(loss, self.Y, self.w)
        self.loss = loss
        self.hinge = not loss.smooth
        self.working_set = None
        self._set_working_set(working_set)
        # on a working set, the squared loss's Hessian is applied through its Gram matrix
        self.gram = None
        if self.opk is not self.op and loss.constant_curvature:
            self.gram = LossGram(self.op, self.w) if loss_gram is None else loss_gram
        # the certificate's J^T r (one pass over all n samples) also serves the KKT
        # residual and the Newton right-hand side of the same iterate, whose residuals
        # differ from it by multiples of w (J^T w is kept)
        self.reuse_jtr = settings.reuse_jtr and self.gram is not None and not f32
        self.jtr = {}
        self.max_correctors = n_correctors(program, working_set is not None, settings)
        self.pcache = self._preconditioner_cache()

    def _set_working_set(self, working_set):
        """Use ``working_set`` (None: every constraint) for the cone constraints."""
        self.working_set = working_set
        if working_set is None:
            self.opk, self.opkc = self.op, self.opc
        else:
            self.opk, self.opkc = working_set_operators(self.program, working_set)
        self.M1, self.M2 = row_masks(self.opk)
        # conjugate-gradient steps are cheap on small Newton systems; on large ones an
        # ill-conditioned late system is not worth hundreds of them
        size = self.opk.n * self.o * 2 * self.op.P * self.op.m
        cap = self.settings.cg_maxiter
        self.cg_maxiter = cap if size <= 1_000_000 else cap // 4

    def _preconditioner_cache(self):
        """What the preconditioners of the run share (the loss Gram matrix, when constant)."""
        pcache = {"constant": self.loss.constant_curvature}
        gram, lm, o = self.gram, self.lm, self.o
        if gram is not None:
            # formed when the preconditioner's capacitance is in variable space
            pcache["M"] = lambda: (
                np.maximum(lm.W.astype(np.float64), 0.0),
                [gram.M] * o,
                list(gram.mvec),
            )
        return pcache

    # ------------------------------------------------------------ products
    def apply64(self, V):
        """Cone slacks and outputs (computed in the working precision) as float64."""
        if self.opk is self.op:
            return tuple(a.astype(np.float64, copy=False) for a in self.op.cone_rows(V))
        t1, t2, _ = self.opk.cone_rows(V)
        return tuple(a.astype(np.float64, copy=False) for a in (t1, t2, self.op.forward(V)))

    def adjoint_c(self, y1, y2, r):
        """``G^T (y1, y2) + J^T r`` in float64 (certificate and KKT residual)."""
        if self.opkc is self.opc:
            return self.opc.adjoint(y1, y2, r)
        return self.opkc.adjoint(y1, y2) + self.opc.adjoint(R=r)

    @property
    def n_barrier(self):
        """``N``: the number of barrier terms (cone rows, hinge pairs) plus one."""
        N = self.opk.n_cone_rows + 1.0
        return N + 2.0 * self.MH.sum() if self.hinge else N

    def complementarity(self):
        tot = np.sum(self.s1 * self.l1 * self.M1) + np.sum(self.s2 * self.l2 * self.M2)
        if self.hinge:
            tot += np.sum((self.xi * self.na + self.sb * self.nb) * self.MH)
        return float(tot / self.N)

    # ------------------------------------------------------------ initial point
    def initial_point(self, U0=None, b0=None, warm=None):
        """The starting iterate: ``U0`` (or zero), the best intercept for it, slacks and
        multipliers on the central path (or a warm start's, when it matches)."""
        program, lm = self.program, self.lm
        self.U = (
            program.zeros()
            if U0 is None
            else np.array(U0, dtype=self.dtype).reshape(program.shape)
        )
        self.b = np.zeros(self.o)
        if self.fit_intercept and b0 is not None:
            self.b = np.array(b0, dtype=np.float64).reshape(self.o)
        self.Gs1, self.Gs2, self.F = self.apply64(self.U)
        if self.fit_intercept and b0 is None:
            self.b = lm.polish_intercept(self.F.astype(np.float64), self.b)
        if U0 is None or warm is None or not warm.matches(self.U, self.Gs1.shape,
                                                          self.working_set):  # fmt: skip
            warm = None
        if warm is not None:
            self.s1, self.s2, self.l1, self.l2 = (a.copy() for a in warm.duals)
        else:
            self._central_slacks(U0 is not None)
        if self.hinge:
            self._hinge_start(warm)
        self.N = self.n_barrier
        self.mu = self.complementarity()

    def _central_slacks(self, warm_primal):
        """Slacks at least ``theta`` and multipliers with ``s lambda = theta lam0``."""
        Y, w, o = self.Y, self.w, self.o
        Rres = Y - (self.F + self.b) if self.loss.constant_curvature else Y
        yscale = float(np.sqrt(np.sum(w[:, None] * Rres**2) / max(o, 1))) or 1.0
        zs = float(np.max(np.abs(self.Gs1))) if warm_primal else 0.0
        theta = max(yscale, zs * 0.1, 1e-8)
        lam0 = yscale / self.op.n
        if warm_primal and zs > 0:
            # a warm primal start begins closer to the path, but leaves the slacks room in
            # proportion to how far it violates the (new) constraints
            viol = max(float(-self.Gs1.min(initial=0.0)), float(-self.Gs2.min(initial=0.0)))
            viol /= zs
            ws = self.settings.working_set
            theta = max(min(max(ws.warm_slack * viol, 1e-3), 0.1) * zs, 1e-8)
        M1, M2 = self.M1, self.M2
        self.s1 = np.maximum(self.Gs1, theta) * M1 + (1 - M1)
        self.s2 = np.maximum(self.Gs2, theta) * M2 + (1 - M2)
        self.l1 = lam0 * theta / self.s1 * M1
        self.l2 = lam0 * theta / self.s2 * M2

    def _hinge_start(self, warm):
        """Hinge: epigraph variables ``xi >= 0``, ``sb = xi - 1 + y f >= 0`` and their
        multipliers ``na``, ``nb``."""
        self.Wm = self.lm.W
        self.MH = MH = (self.Wm > 0).astype(np.float64)
        h0 = 1.0 - self.Y * (self.F.astype(np.float64) + self.b)
        self.xi = (np.maximum(h0, 0.0) + 1.0) * MH + (1 - MH)
        self.sb = (self.xi - h0) * MH + (1 - MH)
        self.na = 0.5 * self.Wm
        self.nb = 0.5 * self.Wm
        if (
            warm is not None
            and warm.hinge is not None
            and warm.hinge[0].shape == self.Wm.shape
        ):
            self.xi, self.sb, self.na, self.nb = (a.copy() for a in warm.hinge)

    # ------------------------------------------------------------ certificate
    def certificate(self, late=False):
        """(objective, lower bound, relative gap, polished intercept) at the iterate."""
        opc, lm, U = self.opc, self.lm, self.U
        F64 = self.F if opc is self.op else opc.forward(U.astype(np.float64))
        bp = lm.polish_intercept(F64, self.b) if self.fit_intercept else self.b
        pobj = lm.loss.value(F64 + bp, self.Y, self.w) + self.program.penalty(U, self.beta)
        if self.hinge:
            r = lm.balance(self.Y * np.clip(self.nb, 0.0, self.Wm), self.fit_intercept)
        else:
            r = lm.dual_point(F64 + bp, 0.0, self.fit_intercept)
        y1 = self.l1 * self.M1
        if self.reuse_jtr:
            self.jtr["cert"] = (opc.adjoint(R=r), bp)
            V = self.opkc.adjoint(y1, self.l2 * self.M2) + self.jtr["cert"][0]
        else:
            V = self.adjoint_c(y1, self.l2 * self.M2, r)
        cnv = opc.colnorms(V)
        beta = self.beta
        intercept = bp if self.fit_intercept and self.hinge else None
        if beta > 0 and np.any(cnv > beta) and (cnv.max() < 1.01 * beta or late):
            _improve_dual(self.opkc, V, cnv, y1, beta)
        dobj = self._bound(r, cnv, intercept)
        target = pobj - self.tol * abs(pobj)
        if (late and beta > 0 and max(dobj, self.best_dual) < target
                <= lower_bound(self.loss, r, 1.0, self.Y, self.w, intercept)):  # fmt: skip
            # only the columns above beta keep the gap above tol: re-choose the
            # multipliers of all of them, one small non-negative least squares each
            _improve_dual(self.opkc, V, cnv, y1, beta, max_columns=None)
            dobj = max(dobj, self._bound(r, cnv, intercept))
        # any earlier dual point is still a valid lower bound on the same program's optimum
        self.best_dual = max(self.best_dual, dobj)
        return pobj, dobj, relative_gap(pobj, self.best_dual), bp

    def _bound(self, r, cnv, intercept):
        gamma = dual_scale(cnv.max(initial=0.0), self.beta)
        return lower_bound(self.loss, r, gamma, self.Y, self.w, intercept)

    def kkt_residual(self, pobj):
        """max(relative complementarity, relative dual residual, intercept residual)."""
        Fb = self.F.astype(np.float64) + self.b
        r = self.Y * self.nb if self.hinge else self.lm.derivatives(Fb, self.mu)[0]
        y1, y2 = self.l1 * self.M1, self.l2 * self.M2
        if self.reuse_jtr and "cert" in self.jtr:
            # r differs from the certificate's only by the intercept: w (b_cert - b)
            jtr_c, bc = self.jtr.pop("cert")
            shift = (np.asarray(bc) - self.b)[:, None, None, None, None]
            self.jtr["kkt"] = jtr_c + self.gram.jtw * shift
            V = self.opkc.adjoint(y1, y2) + self.jtr["kkt"]
        else:
            V = self.adjoint_c(y1, y2, r)
        beta = self.beta
        if beta > 0:
            _, ht, _ = self.op.psi(self.U, self.mu, beta)
            V -= ht[..., None, :] * self.U
        n_cols = V.size / V.shape[3]
        scale = beta * np.sqrt(n_cols) if beta > 0 else max(float(np.abs(V).max()), 1.0)
        dual = float(np.sqrt(np.vdot(V, V))) / scale
        inter = 0.0
        if self.fit_intercept:
            inter = float(np.abs(r.sum(0)).max() / max(np.abs(r).sum(), 1e-300))
        comp = (self.N - 1.0) * self.mu / max(abs(pobj), 1e-300)
        return max(comp, dual, inter)

    # ------------------------------------------------------------ the loop
    def run(self, max_iter=200, max_time=None, verbose=0, grow=False, grow_fraction=0.25):
        """Iterate until a stopping rule holds; returns the :class:`SolveResult`."""
        from tqdm.auto import tqdm

        self.t_start = time.perf_counter()
        self.max_iter = 200 if max_iter is None else int(max_iter)
        self.max_time = max_time
        self._start_bookkeeping()
        bar = tqdm(total=self.max_iter, disable=not verbose or verbose > 1, desc=ALGO)
        for it in range(self.max_iter + 1):
            if grow and it > 0 and it % self.settings.working_set.grow_every == 0:
                self.grow(it, grow_fraction)
            pobj, gap, kkt = self.check(it, bar)
            if self.status != "running":
                break
            self.n_iter = it + 1
            bar.update(1)
            if not self.iterate(pobj, gap):
                break
            if verbose > 1:
                self._print_iteration(it, pobj, gap, kkt)
        bar.close()
        if self.status == "running":
            self.status = "max_iter"
        return self.result()

    def _start_bookkeeping(self):
        self.history, self.best, self.best_it = [], None, 0
        self.best_dual = -np.inf
        self.status, self.n_iter, self.crit = "running", 0, np.inf
        self.tau, self.cg_rtol = 0.99, 1e-5
        self.total_cg, self.n_direct, self.n_grown = 0, 0, 0
        self.capped, self.capped_run = False, 0  # a solve hit cg_maxiter; in a row
        # the preconditioner's coarse space, then the direct factorization, once the
        # Newton solves need many conjugate-gradient steps (see IPMSettings)
        self.deflating, self.direct = False, False
        self.cg_last, self.solves_last = 0, 1
        self.mu_floor = 1e-14 * self.mu
        self.mu_min = self.mu
        # the zero network is always feasible: where the dual bound certifies it, it is
        # returned, since the iterates' cone violation relative to max |X~ u| does not
        # shrink as they go to zero
        zero_b = constant_model(self.loss, self.Y, self.w, self.fit_intercept)[0]
        self.zero_b = zero_b
        self.zero_obj = float(self.loss.value(np.broadcast_to(zero_b, self.Y.shape), self.Y,
                                              self.w))  # fmt: skip

    def grow(self, it, fraction):
        """The constraints the iterate violates join the working set; their slacks mirror
        the violation and their multipliers start on the central path, so the
        infeasible-start method drives their residuals to zero with the others."""
        ws = self.settings.working_set
        grown, n_new, _ = grow_working_set(
            self.program, self.working_set, self.U, self.feas_tol, ws, fraction=fraction
        )
        if not n_new:
            return
        self.n_grown += 1
        r1, r2 = self.working_set[0].shape[0], self.working_set[1].shape[0]
        self._set_working_set(grown)
        # the outputs F do not change: only the slacks of the grown set
        self.Gs1, self.Gs2 = (
            a.astype(np.float64, copy=False) for a in self.opk.cone_rows(self.U)[:2]
        )
        zs = max(float(np.max(np.abs(self.Gs1), initial=0.0)), 1e-300)
        floor_s = ws.grow_slack * zs
        self.s1, self.l1 = extend_pairs(
            self.s1, self.l1, self.Gs1, r1, self.M1, self.mu, floor_s
        )
        self.s2, self.l2 = extend_pairs(
            self.s2, self.l2, self.Gs2, r2, self.M2, self.mu, floor_s
        )
        self.N = self.n_barrier
        self.mu = self.complementarity()
        self.best, self.best_it = None, it

    def violation(self):
        """The largest cone violation relative to ``max |X~ u|``."""
        zmax = max(float(np.max(np.abs(self.Gs1), initial=0.0)), 1e-300)
        v1 = float(np.max(-self.Gs1 * self.M1, initial=0.0))
        v2 = float(np.max(-self.Gs2 * self.M2, initial=0.0))
        return max(v1, v2, 0.0) / zmax

    def check(self, it, bar):
        """Certificate, best iterate and stopping rules; sets ``status`` when done."""
        viol = self.violation()
        late = bool(self.history) and self.mu * self.N <= 1e-4 * abs(self.history[-1])
        pobj, dobj, gap, bp = self.certificate(late)
        kkt = self.kkt_residual(pobj)
        self.crit = max(min(gap, kkt), viol / self.feas_tol * self.tol)
        self.history.append(pobj)
        self._keep_best(it, viol, pobj, bp)
        bar.set_postfix(
            obj=f"{pobj:.6g}", gap=f"{gap:.2e}", viol=f"{viol:.1e}", mu=f"{self.mu:.1e}"
        )
        self._zero_network_check()
        self.status = self._stopping_status(it, pobj)
        return pobj, gap, kkt

    def _keep_best(self, it, viol, pobj, bp):
        best = self.best
        if (
            viol <= self.feas_tol
            and np.isfinite(pobj)
            and (best is None or self.crit <= best[3])
        ):
            if best is None or self.crit < 0.9 * best[3]:
                self.best_it = it
            duals = (self.s1.copy(), self.s2.copy(), self.l1.copy(), self.l2.copy())
            self.best = (self.U.copy(), bp.copy(), pobj, self.crit, duals)

    def _zero_network_check(self):
        """Return the zero network once the best lower bound certifies it to ``tol``."""
        zero_gap = relative_gap(self.zero_obj, self.best_dual)
        if self.crit > self.tol and zero_gap <= self.tol:
            duals = (self.s1.copy(), self.s2.copy(), self.l1.copy(), self.l2.copy())
            zero_b = np.array(self.zero_b, dtype=float)
            self.best = (np.zeros_like(self.U), zero_b, self.zero_obj, zero_gap, duals)
            self.crit = zero_gap

    def _stopping_status(self, it, pobj):
        """The status that ends the run at iteration ``it``, or "running"."""
        if self.crit <= self.tol:
            return "optimal"
        if it == self.max_iter:
            return "max_iter"
        if not np.isfinite(self.crit) and it > 0 and not np.isfinite(self.mu):
            return "numerical_error"
        # once complementarity is negligible next to tol, only the dual certificate can
        # still improve; Newton systems are then at their worst conditioning: stop soon
        complementarity = self.mu * self.N
        endgame = complementarity <= 1e-2 * self.tol * abs(pobj)
        patience = 6 if endgame else self.stall_iters
        stale = it - self.best_it
        # a best iterate that is still the zero start (exactly feasible) does not make the
        # run stale: its iterates are on their way to feasibility, and stopping there
        # would return the constant model
        moved = self.best is not None and np.any(self.best[0])
        if moved and stale > patience and complementarity <= 1e-4 * abs(pobj):
            return "stalled"
        self.capped_run, self.capped = (self.capped_run + 1 if self.capped else 0), False
        if min(self.capped_run, stale) >= self.settings.cg_fail_patience:
            return "stalled"
        if self.max_time is not None and time.perf_counter() - self.t_start > self.max_time:
            return "max_time"
        return "running"

    # ------------------------------------------------------------ one iteration
    def iterate(self, pobj, gap):
        """One Newton iteration; False when it failed numerically (``status`` set)."""
        newton = NewtonSystem(self, self.mu)
        prec = self.preconditioner(newton, gap)
        if prec is None:
            self.status = "numerical_error"
            return False
        cg_start = self.total_cg
        d, sig, n_corr = self.predictor_corrector(newton, prec, pobj)
        self.cg_last, self.solves_last = self.total_cg - cg_start, 2 + n_corr
        self.take_step(d)
        if not self._progress_is_sane():
            self.status = "numerical_error"
            return False
        self.tau = 0.995 if min(d.ap, d.ad) > 0.8 else 0.99
        self.cg_rtol = min(1e-6, max(1e-10, 1e-2 * gap))
        self._last = (sig, n_corr, prec, d)
        return True

    def preconditioner(self, newton, gap):
        """The preconditioner of this iteration's Newton matrix (None if it lost positive
        definiteness), with its coarse space or direct factorization when CG needs them."""
        s = self.settings
        curved = self.loss.smooth and not self.loss.constant_curvature
        # a curved loss's Gram matrix in float32 products while the gap is large
        self.pcache["gram32"] = s.gram_float32 and curved and gap > s.gram_float32_gap
        try:
            prec = Preconditioner(
                self.op, newton.c1, newton.c2, newton.Dd, newton.ht, newton.hr, self.U,
                center=self.fit_intercept, cache=self.pcache,
                Dfull=self.lm.full_curvature(newton.Pm), opk=self.opk,
                settings=s.preconditioner,
            )  # fmt: skip
        except np.linalg.LinAlgError:
            return None
        # (not for a run whose gap is already below tol: it waits for feasibility only)
        many = self.cg_last > s.deflate_after_cg * self.solves_last
        self.deflating = self.deflating or (many and gap > self.tol)
        self.direct = self.direct or (
            self.deflating
            and (self.capped_run > 0 or self.cg_last > s.dense_after_cg * self.solves_last)
        )
        if self.deflating:
            try:
                # the Newton matrix factored directly once the coarse space did not suffice
                # (where it is small enough), else the coarse space
                if self.direct and prec.densify():
                    self.n_direct += 1
                else:
                    prec.deflate(self.U)
            except np.linalg.LinAlgError:  # coarse stays None: the plain preconditioner
                pass
        if (s.prec_loss_products and self.opk is not self.op and self.gram is None
                and prec.loss_grams is not None):  # fmt: skip
            # working sets: CG's loss products through the preconditioner's variable-space
            # Gram matrices of this iterate's curvature instead of passes over the data
            newton.prec_loss = prec
        return prec

    def _solve(self, newton, prec, t1, t2, ta, tb):
        d = newton.direction(t1, t2, ta, tb, prec, self.cg_rtol)
        self.total_cg += d.n_cg
        self.capped |= d.n_cg >= self.cg_maxiter
        return d

    def predictor_corrector(self, newton, prec, pobj):
        """Predictor (affine scaling), Mehrotra corrector, then Gondzio's centrality
        correctors while they lengthen the step; returns the direction, the centering
        parameter and the number of correctors."""
        d = self._solve(newton, prec, 0.0, 0.0, 0.0, 0.0)
        mu, M1, M2 = self.mu, self.M1, self.M2
        tot = np.sum((self.s1 + d.ap * d.ds1) * (self.l1 + d.ad * d.dl1) * M1) + np.sum(
            (self.s2 + d.ap * d.ds2) * (self.l2 + d.ad * d.dl2) * M2
        )
        ta = tb = 0.0
        if self.hinge:
            dxi, dsb, dna, dnb = d.hinge
            tot += np.sum(
                ((self.xi + d.ap * dxi) * (self.na + d.ad * dna)
                 + (self.sb + d.ap * dsb) * (self.nb + d.ad * dnb)) * self.MH
            )  # fmt: skip
        mu_aff = float(tot / self.N)
        floor = max(self.mu_floor, 1e-3 * self.tol * abs(pobj) / self.N)
        sig = min(1.0, max(self.settings.sigma_min, (mu_aff / mu) ** 3, floor / mu))
        if self.hinge:
            ta = (sig * mu - dxi * dna) * self.MH
            tb = (sig * mu - dsb * dnb) * self.MH
        t1 = (sig * mu - d.ds1 * d.dl1) * M1
        t2 = (sig * mu - d.ds2 * d.dl2) * M2
        d = self._solve(newton, prec, t1, t2, ta, tb)
        d, n_corr = self._centrality_correctors(newton, prec, d, (t1, t2, ta, tb), sig)
        return d, sig, n_corr

    def _push(self, x, dx, lam, dlam, mask, at, lo, hi):
        """Targets that push the complementarity products at step ``at`` into [lo, hi]."""
        v = (x + at * dx) * (lam + at * dlam)
        return (np.clip(v, lo, hi) - v).clip(-hi, None) * mask

    def _centrality_correctors(self, newton, prec, d, targets, sig):
        """Gondzio's multiple centrality correctors: solves are cheap next to the
        preconditioner, so push the complementarity products back into a box."""
        t1, t2, ta, tb = targets
        alpha = d.step
        n_corr = 0
        while alpha < 0.95 and n_corr < self.max_correctors:
            at = min(1.0, 1.5 * alpha + 0.1)
            lo, hi = 0.1 * sig * self.mu, 10.0 * sig * self.mu
            n1 = t1 + self._push(self.s1, d.ds1, self.l1, d.dl1, self.M1, at, lo, hi)
            n2 = t2 + self._push(self.s2, d.ds2, self.l2, d.dl2, self.M2, at, lo, hi)
            na_t, nb_t = ta, tb
            if self.hinge:
                gx, gs, gna, gnb = d.hinge
                na_t = ta + self._push(self.xi, gx, self.na, gna, self.MH, at, lo, hi)
                nb_t = tb + self._push(self.sb, gs, self.nb, gnb, self.MH, at, lo, hi)
            trial = self._solve(newton, prec, n1, n2, na_t, nb_t)
            n_corr += 1
            if trial.step < 1.01 * alpha:
                break
            d, alpha, t1, t2, ta, tb = trial, trial.step, n1, n2, na_t, nb_t
        return d, n_corr

    def take_step(self, d):
        """Move along ``d`` with a common primal and dual step, fraction to the boundary."""
        ap = ad = self.tau * min(d.ap, d.ad)
        self.U = (self.U + ap * d.dU).astype(self.dtype)
        self.b = self.b + ap * d.db
        self.s1 = self.s1 + ap * d.ds1
        self.s2 = self.s2 + ap * d.ds2
        self.l1 = self.l1 + ad * d.dl1
        self.l2 = self.l2 + ad * d.dl2
        if self.hinge:
            dxi, dsb, dna, dnb = d.hinge
            self.xi, self.sb = self.xi + ap * dxi, self.sb + ap * dsb
            self.na, self.nb = self.na + ad * dna, self.nb + ad * dnb
        self.Gs1, self.Gs2, self.F = self.apply64(self.U)
        self.mu = self.complementarity()
        self.mu_min = min(self.mu_min, self.mu)
        d.ap = d.ad = ap

    def _progress_is_sane(self):
        """A convex program's iterates do not need the barrier parameter to grow by orders
        of magnitude: that happens only when near-singular Newton systems give wrong
        directions (e.g. degenerate data whose sub-networks can act as the intercept)."""
        mu = self.mu
        return np.isfinite(mu) and np.all(np.isfinite(self.F)) and mu <= 1e4 * self.mu_min

    def _print_iteration(self, it, pobj, gap, kkt):
        sig, n_corr, prec, d = self._last
        kind = "direct" if prec.dense else "coarse" if prec.coarse else "woodbury"
        print(
            f"it {it}: obj {pobj:.8g} gap {gap:.2e} kkt {kkt:.2e} viol {self.violation():.1e} "
            f"mu {self.mu:.2e} sig {sig:.1e} ap {d.ap:.3f} cg {self.total_cg} "
            f"gz {n_corr} prec {kind}",
            flush=True,
        )

    # ------------------------------------------------------------ result
    def result(self):
        """The best iterate as a :class:`SolveResult` (with a warning unless optimal)."""
        feasible = self.best is not None
        best = self.best
        if best is None:
            # no feasible iterate (rows that joined during the run can keep a residual
            # when the Newton systems break down): the last one, flagged for the caller
            duals = (self.s1, self.s2, self.l1, self.l2)
            best = (self.U, self.b, self.history[-1], self.crit, duals)
        U_out, b_out, _, crit_out, duals = best
        warm = WarmStart(
            U=U_out.copy(),
            duals=tuple(a.copy() for a in duals),
            hinge=(
                tuple(a.copy() for a in (self.xi, self.sb, self.na, self.nb))
                if self.hinge
                else None
            ),
            working_set=(
                None if self.working_set is None else tuple(a.copy() for a in self.working_set)
            ),
        )
        if self.status != "optimal":
            warnings.warn(self._stop_message(crit_out), ConvergenceWarning, stacklevel=5)
        intercept = b_out if self.fit_intercept else np.zeros(self.o)
        intercept = np.asarray(intercept, dtype=self.dtype)
        obj = self.program.objective(U_out, intercept, self.loss, self.Y, self.w, self.beta)
        return SolveResult(
            U=U_out,
            intercept=intercept,
            objective=float(obj),
            n_iter=self.n_iter,
            status=self.status,
            stop_criterion=float(crit_out),
            history=self.history,
            solver=ALGO,
            n_cg=self.total_cg,
            n_direct=self.n_direct,
            working_set=self.working_set,
            n_grown=self.n_grown,
            feasible=feasible,
            warm_start=warm,
        )

    def _stop_message(self, crit):
        """What stopped the run short of ``tol``, and the one change most likely to help
        (advice on the data is judged from the program's own features ``Xt``)."""
        head = f"native solver stopped after {self.n_iter} iterations"
        tail = f"with stopping criterion {crit:.2e} > tol={self.tol:g}"
        if self.status in ("numerical_error", "stalled"):
            advice = conditioning_advice(self.program.Xt, self.dtype)
            why = (
                "numerical_error: its Newton systems became too ill-conditioned to give "
                "usable directions"
                if self.status == "numerical_error"
                else f"stalled: its last iterations no longer reduced the stopping "
                f"criterion, the Newton directions being too inaccurate in "
                f"{self.dtype.name}; more iterations would not help"
            )
            return (
                f"{head} ({why}) {tail}; the best iterate is returned. To go further, "
                f"{advice}."
            )
        if self.status == "max_time":
            return (
                f"native solver stopped at the time limit (max_time: {self.max_time:.3g} s "
                f"were left for this solve; {self.n_iter} iterations) {tail}; the best "
                "iterate is returned. Increase max_time."
            )
        return (
            f"native solver stopped after max_iter={self.max_iter} iterations {tail}; the "
            "best iterate is returned. Increase max_iter."
        )


def solve_ipm(program, loss, Y, w, beta, settings, fit_intercept=True, max_iter=200,
              tol=1e-6, U0=None, b0=None, verbose=0, max_time=None, working_set=None,
              loss_gram=None, grow=False, grow_fraction=0.25, warm_start=None):  # fmt: skip
    """Solve the convex program (or its restriction to ``working_set``) with one
    interior-point run.

    ``working_set`` (``(idx1, idx2)``, see :mod:`._working_set`) keeps only those cone
    constraints (the loss keeps every sample) and, with ``grow``, grows inside the run by
    ``grow_fraction`` of a round's quota; ``loss_gram``, a :class:`LossGram` of the same
    program and weights, saves forming it again; ``warm_start`` (a previous result's
    ``warm_start`` on the same program) reuses its dual variables when ``U0`` is its
    point. See :func:`~skconvexrelu.solvers.ipm.solve_native` for the other parameters.
    """
    check_memory(program, working_set)
    run = InteriorPointRun(program, loss, Y, w, beta, settings, fit_intercept, tol,
                           working_set, loss_gram)  # fmt: skip
    run.initial_point(U0, b0, warm_start)
    return run.run(max_iter, max_time, verbose, grow, grow_fraction)
