"""The inner solver: FISTA on the augmented Lagrangian for fixed multipliers.

Proximal gradient steps (group soft-thresholding of the columns; the intercept takes a
plain gradient step), backtracking on the Lipschitz constant and O'Donoghue-Candes
adaptive restart. The images ``X~ Y`` of the extrapolated point are combinations of the
images of the last two iterates, so a step costs one forward map and one adjoint unless
backtracking rejects it.
"""

import time
from dataclasses import dataclass

import numpy as np


@dataclass
class FistaState:
    """The iterates of FISTA, kept across multiplier updates (momentum included).

    Attributes
    ----------
    V, b : current iterate (backend array ``(d~, K)``, numpy ``(o,)``)
    Vp, bprev : previous iterate
    Z, Zp, Zn : images ``X~ V`` of the current and previous iterates, and a buffer for
        the candidate's
    tk : float
        Momentum parameter.
    Lip : float
        Current estimate of the Lipschitz constant of the smooth part's gradient.
    """

    V: object
    b: np.ndarray
    Z: object
    Zp: object
    Zn: object
    Lip: float
    Vp: object = None
    bprev: np.ndarray = None
    tk: float = 1.0

    def start_momentum(self):
        """No momentum at the first step: the previous iterate is the current one."""
        self.Vp, self.bprev = self.V, self.b
        self.Zp, self.Z = self.Z, self.Zp
        self.Z[...] = self.Zp  # Zp holds the images of V as well
        self.tk = 1.0


@dataclass
class InnerControl:
    """What one inner solve may do.

    Attributes
    ----------
    n_steps : int
        Most steps (forward + adjoint pairs).
    min_steps : int
        Fewest steps before the stationarity test.
    tol : float
        Stationarity ``L max_j ||step_j|| / beta`` at which to stop.
    fit_intercept : bool
    slack : float
        Rounding allowance of the backtracking test (relative to the smooth value).
    t_start : float
        ``time.perf_counter()`` at the start of the solve.
    max_time : float or None
        Time budget of the solve in seconds.
    """

    n_steps: int
    min_steps: int
    tol: float
    fit_intercept: bool
    slack: float
    t_start: float
    max_time: float | None = None


def out_of_time(t_start, max_time):
    """Whether more than ``max_time`` seconds passed since ``t_start``."""
    return max_time is not None and time.perf_counter() - t_start > max_time


def _backtrack(al, st, Vy, by, hy, GV, gb, rho_n, slack):
    """Proximal steps from ``(Vy, by)`` until the quadratic model bounds the value,
    doubling ``st.Lip`` after each rejected step. Returns the candidate ``(Vn, bn)``
    (images in ``st.Zn``), the step ``D``, its squared norm and the steps taken."""
    be = al.be
    taken = 0
    while True:
        Vn = al.prox(Vy - GV * (1.0 / st.Lip), 1.0 / st.Lip)
        bn = by - gb / st.Lip
        al.op.forward_into(Vn, st.Zn)
        hn = al.value_at(st.Zn, bn, rho_n)
        D = Vn - Vy
        db = bn - by
        dd = be.vdot(D, D) + float(db @ db)
        model = hy + be.vdot(GV, D) + float(gb @ db) + 0.5 * st.Lip * dd
        taken += 1
        if hn <= model + slack * abs(hy) or st.Lip > 1e30:
            return Vn, bn, D, dd, taken
        st.Lip *= 2.0


def fista_step(al, st, rho_n, ctl):
    """One accelerated proximal gradient step (with its backtracking) on ``st``.

    Returns the number of steps taken (one plus the rejected ones) and the
    stationarity of the accepted step."""
    be = al.be
    tk1 = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * st.tk * st.tk))
    mom = (st.tk - 1.0) / tk1
    V, b = st.V, st.b
    Vy = V + mom * (V - st.Vp) if mom > 0 else V
    by = b + mom * (b - st.bprev) if mom > 0 else b
    hy, GV, gb = al.grad_at(st.Z, st.Zp, mom, by, rho_n)
    if not ctl.fit_intercept:
        gb = np.zeros(al.op.o)
    Vn, bn, D, dd, taken = _backtrack(al, st, Vy, by, hy, GV, gb, rho_n, ctl.slack)
    # adaptive restart (gradient scheme)
    if be.vdot(Vy - Vn, Vn - V) + float((by - bn) @ (bn - b)) > 0:
        tk1 = 1.0
    st.Vp, st.bprev, st.V, st.b = V, b, Vn, bn
    st.Zp, st.Z, st.Zn = st.Z, st.Zn, st.Zp
    st.tk = tk1
    beta = al.beta
    stat = st.Lip * be.amax(al.op.column_norms(D)) / beta if beta > 0 else np.sqrt(dd)
    return taken, stat


def inner_solve(al, st, rho_n, ctl):
    """FISTA steps on ``st`` until ``ctl.n_steps`` are taken, the stationarity reaches
    ``ctl.tol`` (after ``ctl.min_steps``) or the time budget is spent. Returns the number
    of steps taken."""
    k = 0
    while k < ctl.n_steps:
        taken, stat = fista_step(al, st, rho_n, ctl)
        k += taken
        if k >= ctl.min_steps and stat <= ctl.tol:
            break
        if out_of_time(ctl.t_start, ctl.max_time):
            break
    return k
