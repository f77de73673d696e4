"""The outer loop of the first-order method: setup, multiplier updates, stopping rule
and result (see :mod:`skconvexrelu.solvers.first_order`)."""

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..._backend import get_backend
from ..._losses import LossModel
from ..._validation import conditioning_advice
from .._allocator import tune_allocator
from .._base import SolveResult
from ..settings import FirstOrderSettings
from ._certificate import certificate
from ._fista import FistaState, InnerControl, inner_solve, out_of_time
from ._lagrangian import AugmentedLagrangian
from ._loss import BackendLoss
from ._operator import ChunkedOperator, kept_signs, working_dtype

ALGO = "native:al-fista"


def default_max_iter(program, device=None, settings=None):
    """``max_iter=None``: ``settings.max_iter`` steps, fewer when they would exceed
    ``settings.work_cap`` floating-point operations (each step costs
    ``4 n d~ (o 2 P m)``), at least 100.

    The work cap is meant for CPUs; on an accelerator (a torch device other than the CPU)
    the default is ``settings.max_iter`` steps whatever the size.
    """
    settings = FirstOrderSettings() if settings is None else settings
    if device is not None and getattr(device, "type", "cpu") != "cpu":
        return settings.max_iter
    n, d = program.Xt.shape
    o, _, P, _, m = program.shape
    per_step = 4.0 * n * d * o * 2 * P * m
    return int(max(100, min(settings.max_iter, settings.work_cap // per_step)))


@dataclass
class _Limits:
    """When the outer loop stops: tolerance (``tol``, ``feas_tol``), inner steps, time."""

    tol: float
    feas_tol: float
    max_iter: int
    max_time: float | None
    t_start: float


@dataclass
class _Run:
    """What the outer loop works on: the augmented Lagrangian, the loss model, FISTA's
    state and the penalty."""

    al: AugmentedLagrangian
    lm: LossModel
    state: FistaState
    rho: float
    rho_n: float
    lip_floor: float


@dataclass
class _Progress:
    """The outer loop's record: objectives, best iterate, steps, and the marks of the
    last 10% improvement of the criterion (for the stall test)."""

    history: list = field(default_factory=list)
    best: tuple | None = None  # (V, intercept, objective, criterion)
    last: tuple | None = None  # the same for the latest iterate
    n_iter: int = 0
    outer: int = 0
    best_mark: float = np.inf
    mark_outer: int = 0
    mark_iter: int = 0

    def record(self, cert, crit, V, be):
        self.history.append(cert.pobj)
        # a reference, not a copy: the loop stops right after a record or rebinds the
        # state's V to a new array, so this stays the latest iterate
        self.last = (V, cert.bp.copy(), cert.pobj, crit)
        if np.isfinite(cert.pobj) and (self.best is None or crit <= self.best[3]):
            self.best = (be.copy(V), cert.bp.copy(), cert.pobj, crit)
        if crit < 0.9 * self.best_mark:
            self.best_mark, self.mark_outer, self.mark_iter = crit, self.outer, self.n_iter


def _setup(program, loss, Y, w, beta, fit_intercept, U0, b0, be, settings, al=None):
    """The initial point (zero or the warm start, intercept polished), the multipliers
    at zero, the norm estimates and the penalty. ``al`` replaces the in-memory
    :class:`~._lagrangian.AugmentedLagrangian` (the data passes of
    :mod:`~._blockwise`)."""
    dtype = working_dtype(program, settings)
    n = program.n_samples
    Y = np.asarray(Y, dtype=np.float64).reshape(n, -1)
    w = np.asarray(w, dtype=np.float64)
    if al is None:
        signs = kept_signs(U0, settings)
        op = ChunkedOperator(program, be, dtype, settings.chunk_elements, signs=signs)
        bloss = BackendLoss(loss, Y, w, be, dtype, settings.rho_envelope)
        al = AugmentedLagrangian(op, bloss, beta)
    op, bloss = al.op, al.bloss
    rho_unit = 1.0 / n  # the cone rows are weighted like the loss (weights 1/n)
    if U0 is None:
        V = be.zeros((op.d, op.K), dtype)
    else:
        V = op.to_internal(np.asarray(U0, dtype=dtype).reshape(program.shape))
    b = np.zeros(op.o)
    if fit_intercept and b0 is not None:
        b = np.array(b0, dtype=np.float64).reshape(op.o)
    Z = op.forward_into(V, op.image_buffer())
    F0, _, _ = al.outputs_and_violation(Z)
    lm = LossModel(loss, Y, w)  # intercept polish and hinge balance, shared with ipm
    if fit_intercept and b0 is None:
        b = lm.polish_intercept(F0, b)
    Lj, Lg = al.estimate_norms(rho_unit)
    if fit_intercept:
        Lj = max(Lj, 1.0)  # the intercept direction: sum_i w_i = 1
    rho = settings.rho_nonsmooth if bloss.envelope else settings.rho * bloss.curv
    Lip = bloss.curv * Lj + rho * Lg
    state = FistaState(V, b, Z, op.image_buffer(), op.image_buffer(), Lip)
    lip_floor = 0.1 * (bloss.curv * Lj + rho * Lg)
    return _Run(al, lm, state, rho, rho * rho_unit, lip_floor)


def _stop_status(pr, crit, limits, settings):
    """Why the loop stops at this point, or None to go on."""
    if crit <= limits.tol:
        return "optimal"
    if pr.n_iter >= limits.max_iter:
        return "max_iter"
    if out_of_time(limits.t_start, limits.max_time):
        return "max_time"
    if (
        pr.outer - pr.mark_outer > settings.stall_outer
        and pr.n_iter - pr.mark_iter > settings.stall_iters
    ):
        return "stalled"
    return None


def _report(bar, verbose, cert, pr, run, t_start):
    """Progress bar (``verbose=1``) or one printed line (``verbose=2``)."""
    bar.set_postfix(
        obj=f"{cert.pobj:.6g}",
        gap=f"{cert.gap:.2e}",
        viol=f"{cert.viol:.1e}",
        rho=f"{run.rho:.1e}",
    )
    if verbose > 1:
        print(
            f"outer {pr.outer} it {pr.n_iter}: obj {cert.pobj:.8g} gap {cert.gap:.2e} "
            f"viol {cert.viol:.2e} gamma-1 {cert.gamma - 1:.2e} rho {run.rho:.1e} "
            f"L {run.state.Lip:.2e} t {time.perf_counter() - t_start:.1f}s",
            flush=True,
        )


def _outer_loop(run, limits, settings, fit_intercept, slack, bar, verbose):
    """Certificate, stopping test, inner FISTA solve and multiplier update, until a stop.

    Returns the status and the :class:`_Progress`."""
    al, lm, st = run.al, run.lm, run.state
    pr = _Progress()
    inner_tol = settings.inner_tol0
    while True:
        cert = certificate(al, lm, st.V, st.Z, st.b, run.rho_n, fit_intercept)
        crit = max(cert.gap, cert.viol / limits.feas_tol * limits.tol)
        pr.record(cert, crit, st.V, al.be)
        _report(bar, verbose, cert, pr, run, limits.t_start)
        status = _stop_status(pr, crit, limits, settings)
        if status is not None:
            return status, pr
        if fit_intercept and lm.loss.smooth:
            st.b = cert.bp  # the polished intercept is optimal for the current outputs
        if pr.outer == 0:  # momentum is kept across multiplier updates
            st.start_momentum()
        ctl = InnerControl(
            n_steps=min(settings.inner_max, limits.max_iter - pr.n_iter),
            min_steps=settings.inner_min,
            tol=inner_tol,
            fit_intercept=fit_intercept,
            slack=slack,
            t_start=limits.t_start,
            max_time=limits.max_time,
        )
        k = inner_solve(al, st, run.rho_n, ctl)
        pr.n_iter += k
        bar.update(k)
        if pr.n_iter < limits.max_iter:
            # with the steps spent the loop stops at the next certificate, which takes
            # its own multiplier estimate: no update (a pass, and n x K multipliers)
            al.update_multipliers(st.Z, st.b, run.rho_n)
        st.Lip = max(0.9 * st.Lip, run.lip_floor)
        inner_tol = max(settings.inner_decay * inner_tol, 0.1 * limits.tol)
        pr.outer += 1


def _warn_early_stop(status, n_iter, crit, limits, settings, program):
    """The ``ConvergenceWarning`` of a stop other than ``"optimal"`` (raised at the
    caller of :func:`solve_first_order`): what stopped the run and the one change most
    likely to help (advice on the data is judged from the program's features ``Xt``)."""
    tol = limits.tol
    tail = f"with stopping criterion {crit:.2e} > tol={tol:g}; the best iterate is returned"
    if status == "stalled":
        msg = (
            f"first-order solver stopped after {n_iter} iterations (stalled: the "
            f"criterion fell by less than 10% over {settings.stall_outer} outer "
            f"iterations and {settings.stall_iters} steps, so more iterations would not "
            f"help) {tail}. To go further, "
            f"{conditioning_advice(program.advice_rows, program.dtype)}."
        )
    elif status == "max_time":
        msg = (
            f"first-order solver stopped at the time limit (max_time: "
            f"{limits.max_time:.3g} s were left for this solve; {n_iter} iterations) "
            f"{tail}. Increase max_time."
        )
    else:
        msg = (
            f"first-order solver stopped after max_iter={limits.max_iter} iterations "
            f"{tail}. Increase max_iter."
        )
    warnings.warn(msg, ConvergenceWarning, stacklevel=3)


def _final_status(status, pr, budget, limits, settings, program):
    """The status the run returns with, after its warning if it stopped early.

    With ``budget``, ``max_iter`` is a budget, not a failure: the status is ``"budget"``
    and the latest iterate is returned (the caller rebuilds it on its own network's
    configurations, and the latest is the one whose rebuilt network is best; the
    best-criterion iterate may be an early one)."""
    if budget and status == "max_iter":
        status, pr.best = "budget", pr.last
    if status not in ("optimal", "budget"):
        _warn_early_stop(status, pr.n_iter, pr.best[3], limits, settings, program)
    return status


def solve_first_order(
    program,
    loss,
    Y,
    w,
    beta,
    fit_intercept=True,
    max_iter=None,
    tol=1e-6,
    U0=None,
    b0=None,
    verbose=0,
    max_time=None,
    device=None,
    settings=None,
    budget=False,
):
    """Solve the convex program with the matrix-free augmented-Lagrangian FISTA method.

    See :mod:`skconvexrelu.solvers.first_order` for the algorithm and the stopping rule.

    Parameters
    ----------
    program : ConvexProgram
    loss : Loss
    Y : ndarray of shape (n, n_outputs)
    w : ndarray of shape (n,)
        Normalized sample weights (summing to one).
    beta : float
    fit_intercept : bool, default=True
    max_iter : int or None, default=None
        Maximum number of inner (FISTA) steps, each one forward map and one adjoint.
        None means ``settings.max_iter``, or fewer on large programs on a CPU: as many
        as fit in ``settings.work_cap`` floating-point operations (see
        :func:`default_max_iter`).
    tol : float, default=1e-6
        Relative duality gap and relative cone violation at which to stop (floored at
        1e-3 in float32).
    U0, b0 : ndarray, optional
        Warm start (blocks and intercept).
    verbose : int, default=0
        1: a progress bar (objective, gap, violation, penalty); 2: one printed line per
        outer iteration instead.
    max_time : float, optional
        Time budget in seconds; the best iterate is returned when it is exceeded.
    device : None, str or torch.device, optional
        None runs on NumPy; ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or a ``torch.device`` runs
        the same algorithm on torch tensors (torch must be installed).
    settings : FirstOrderSettings, optional
        Tuning of the method (:mod:`skconvexrelu.solvers.settings`); None means the
        defaults.
    budget : bool, default=False
        ``max_iter`` is a budget of work rather than a limit: reaching it gives the
        status ``"budget"`` and no warning (the caller reports the gap reached).

    Returns
    -------
    SolveResult
        ``solver`` is ``"native:al-fista"`` (``"native:al-fista[torch:cuda:0]"`` with a
        torch device); ``res.device`` is the device (None for NumPy).
    """
    settings = FirstOrderSettings() if settings is None else settings
    be = get_backend(device)
    return run_first_order(
        program,
        loss,
        Y,
        w,
        beta,
        fit_intercept,
        max_iter,
        tol,
        U0,
        b0,
        verbose,
        max_time,
        be,
        settings,
        budget,
    )


def run_first_order(
    program,
    loss,
    Y,
    w,
    beta,
    fit_intercept,
    max_iter,
    tol,
    U0,
    b0,
    verbose,
    max_time,
    be,
    settings,
    budget,
    al=None,
):
    """:func:`solve_first_order` on the backend ``be`` with its settings resolved;
    ``al`` replaces the in-memory data passes (see :func:`_setup`)."""
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    tune_allocator()
    name = ALGO if be.device is None else f"{ALGO}[torch:{be.device}]"
    f32 = working_dtype(program, settings) == np.float32
    tol_eff = max(float(tol), 1e-3) if f32 else float(tol)
    if max_iter is None:
        max_iter = default_max_iter(program, be.device, settings)
    limits = _Limits(tol_eff, tol_eff, int(max_iter), max_time, t_start)
    run = _setup(program, loss, Y, w, float(beta), fit_intercept, U0, b0, be, settings, al)
    slack = 1e-5 if f32 else 1e-12  # rounding allowance of the backtracking test
    bar = tqdm(total=limits.max_iter, disable=not verbose or verbose > 1, desc=name)
    status, pr = _outer_loop(run, limits, settings, fit_intercept, slack, bar, verbose)
    bar.close()

    status = _final_status(status, pr, budget, limits, settings, program)
    return _result(program, loss, float(beta), fit_intercept, run, pr, status, name)


def _result(program, loss, beta, fit_intercept, run, pr, status, name):
    """The :class:`SolveResult` of the best iterate, its objective recomputed by the
    program in the program's precision."""
    V_out, b_out, _, crit_out = pr.best
    op, lm = run.al.op, run.lm
    dtype = np.dtype(program.dtype)
    U_out = op.to_blocks(V_out).astype(dtype, copy=False)
    intercept = np.asarray(b_out if fit_intercept else np.zeros(op.o), dtype=dtype)
    obj = float(program.objective(U_out, intercept, loss, lm.Y, lm.w, beta))
    device = op.be.device
    return SolveResult(
        U=U_out,
        intercept=intercept,
        objective=obj,
        n_iter=pr.n_iter,
        status=status,
        stop_criterion=float(crit_out),
        history=pr.history,
        solver=name,
        device=None if device is None else str(device),
    )
