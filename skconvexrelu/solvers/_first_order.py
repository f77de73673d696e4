"""A matrix-free first-order solver: augmented Lagrangian with accelerated inner steps.

Algorithm (``solver="native:al-fista"``)
----------------------------------------
The program of the design notes (section 2) is solved in the form::

    min_{U, b}  L(J U + b) + beta * sum_j ||u_j||    s.t.  h(U) = C G U >= 0

where ``J`` is the forward map, ``G`` stacks the first-layer (``A1 * X~ u_j >= 0``) and
second-layer (``A2 * g >= 0``) cone rows and ``C`` scales the rows of sample ``i`` by
``c_i = mean_k ||x~_k|| / ||x~_i||`` (every row of one sample gets the same weight). It is
the method of multipliers (augmented Lagrangian) on the cone rows: with multipliers
``lambda >= 0`` and penalty ``rho_n = rho / n`` the outer loop minimizes (inexactly)::

    L(J U + b) + (1 / (2 rho_n)) ||max(0, lambda - rho_n h(U))||^2 + beta * sum_j ||u_j||

then sets ``lambda <- max(0, lambda - rho_n h(U))``. The penalty is fixed: ``rho`` is 10
times the loss's curvature bound (squared 10, logistic 2.5, softmax 5; 3 for the hinge),
which measured best on small programs (residual balancing and growing the penalty when
the violation stalls were both slower). The inner problem is smooth plus the group norm;
it is solved by FISTA: proximal gradient steps (group soft-thresholding of the columns
``u_j``; the intercept takes a plain gradient step), backtracking on the Lipschitz
constant (first estimated by power iteration, lowered by 10% at each multiplier update)
and O'Donoghue-Candes adaptive restart. An inner solve ends after 10 to 100 steps, once
the stationarity of its last step, ``L max_j ||step_j|| / beta``, is below a threshold
that halves at every outer iteration; FISTA's momentum is kept across multiplier updates
(restarting it there made the method several times slower). Every inner step costs one
forward map ``X~ @ (d~, 2 o P m)`` and one adjoint ``X~^T @ (n, 2 o P m)``: the
extrapolated point's images ``X~ Y`` are linear combinations of images already computed,
so backtracking needs no extra product unless a step is rejected. The samples are
processed in chunks (about 2**18 entries of ``X~ U`` at a time on CPU) so that the
temporaries stay in cache. The ``n x (2 P m d~)`` feature matrix is never formed; the
working memory is four arrays of shape ``(n, 2 o P m)`` (images of the current and
previous iterate, of the candidate, and the multipliers) plus the data.

The hinge loss is not smooth: it gets its own multipliers ``nu`` for the split
``F = J U + b`` (method of multipliers again), so the inner problem sees its Moreau
envelope (closed form per sample, curvature ``rho_h w_i``) and ``-nu`` converges to the
hinge's dual variables. The other losses (squared, logistic, softmax) are used as they
are.

The same code runs on NumPy arrays or, with ``device=...``, on torch tensors (CPU or
GPU) through :mod:`skconvexrelu.solvers._backend`; float32 programs are computed in
float32 (the certificate's final reductions are in float64).

Stopping rule
-------------
After every outer iteration two measures are computed at the current point ``(U, b)``:

1. the cone violation ``viol = max(max(0, -G U)) / max|X~ U|`` (unscaled rows);
2. a certified relative duality gap ``(P - D) / |P|``: ``r = -grad L(J U + b)`` (the
   intercept is first polished so that ``sum_i r_i = 0``; for the hinge ``r`` is the
   envelope's gradient, one class's multipliers rescaled so that ``sum_i r_i = 0``), the
   multiplier estimate ``lambda^+ = max(0, lambda - rho_n h(U))`` and
   ``gamma = max(1, max_j ||(J^T r + G^T C lambda^+)_j|| / beta)``; then ``(r, lambda^+) /
   gamma`` is dual feasible and ``D = loss.dual(r / gamma)`` is a lower bound on the
   optimum (weak duality). ``P`` is the objective at ``(U, b)``.

``stop_criterion = max(gap, viol / feas_tol * tol)`` with ``feas_tol = tol``; the solver
stops (``status="optimal"``) when it is at most ``tol`` (floored at ``1e-3`` in float32),
i.e. when the point violates the cones by at most ``tol`` relative to the largest
first-layer pre-activation and its objective exceeds the optimum by at most
``tol * |P|`` (``D`` is a lower bound whatever the point; an infeasible point can also be
below the optimum, by an amount of first order in ``viol``). The returned point is the
best iterate by that criterion. ``max_iter`` counts inner (FISTA) steps, i.e. forward +
adjoint pairs; ``max_time`` bounds the wall clock. When the criterion has not improved
by 10% over 30 outer iterations and 10000 inner steps the solver stops with
``status="stalled"``. Every early stop warns with a ``ConvergenceWarning``.

Cost: the small teacher programs of the tests (n = 50, d~ = 5, width 3) need 3,000 to
15,000 inner steps for ``tol = 1e-6``. At tiny ``beta`` the certificate needs every
column's dual residual well below ``beta``, which a first-order method reaches slowly;
see ``benchmarks/bench_first_order.py`` for large programs.

Many samples in many dimensions (``benchmarks/bench_wide_cones.py``): at 60,000 x 785 each
sampled neuron's cone is a needle (about 1e-4 radians wide) and the program's optimum is
close to the best rescaling of the sampled sub-networks. An early-stopped point then sits
outside the cones: the ``sigma = +1`` and ``sigma = -1`` copies of a column stay nearly
parallel and large while their difference, which the outputs see, points elsewhere, so
3-4% of the signs differ from ``D1`` although the violation relative to ``max |X~ U|`` is
only 5e-2. The rebuilt network is then better than the program's optimum, and the
estimators report its own objective (see ``_fit._finish``).
"""

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._losses import HingeLoss, LogisticLoss, SoftmaxLoss, SquaredLoss
from ._allocator import tune_allocator
from ._backend import get_backend
from ._base import SolveResult
from ._native_losses import LossModel

ALGO = "native:al-fista"
#: default number of inner (FISTA) steps, i.e. forward + adjoint pairs ...
DEFAULT_MAX_ITER = 20000
#: ... unless that much work exceeds this many floating-point operations: each step costs
#: 4 n d~ (o 2 P m) of them. 1e13 (265 steps at the Fashion-MNIST shape) took 217 s on 2
#: cores on one day and 262 s on another; 7.5e12 (199 steps) leaves a margin under five
#: minutes on a slower machine
DEFAULT_WORK = 7.5e12


def default_max_iter(program, device=None):
    """``max_iter=None``: 20000 steps, fewer when they would exceed :data:`DEFAULT_WORK`.

    The work cap is meant for CPUs; on an accelerator (a torch device other than the CPU)
    the default is 20000 steps whatever the size (an H200 runs the Fashion-MNIST-shaped
    program's 199 capped steps in about a second, and 20000 in about a minute).
    """
    if device is not None and getattr(device, "type", "cpu") != "cpu":
        return DEFAULT_MAX_ITER
    n, d = program.Xt.shape
    o, _, P, _, m = program.shape
    per_step = 4.0 * n * d * o * 2 * P * m
    return int(max(100, min(DEFAULT_MAX_ITER, DEFAULT_WORK // per_step)))


#: penalty rho relative to the loss curvature bound (the cone rows are weighted like the
#: loss, by 1/n): rho = RHO0 * curvature (squared 10, logistic 2.5, softmax 5), hinge 3
RHO0 = 10.0
RHO_HINGE_PENALTY = 3.0
#: hinge: curvature of its Moreau envelope relative to the sample weight
RHO_HINGE = 1.0
#: inner (FISTA) steps per multiplier update: at least, at most
INNER_MIN = 10
INNER_MAX = 100
#: inner stopping: stationarity (relative to beta) below INNER_TOL0, halving at every
#: outer iteration down to tol / 10
INNER_TOL0 = 1.0
INNER_DECAY = 0.5
#: stop ("stalled") after this many outer iterations and inner steps without a 10%
#: improvement of the criterion
STALL_OUTER = 30
STALL_ITERS = 10000
#: elements of one chunk of samples (rows x columns) on CPU: temporaries stay in cache
CHUNK_ELEMENTS = 2**18


class _Operator:
    """The data, masks and chunks of samples on one array backend.

    Variables are kept as ``V`` of shape ``(d~, K)``, ``K = o 2 P m`` columns in the
    order ``(o, sigma, c, j)``; first-layer images ``Z = X~ V`` as ``(n, K)``.
    """

    def __init__(self, program, be, dtype):
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
        on_gpu = be.name == "torch" and be.device.type != "cpu"
        rows = n if on_gpu else max(64, CHUNK_ELEMENTS // max(self.K, 1))
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


class _SmoothLoss:
    """The loss on the backend, by chunks of samples: value and gradient in ``F``.

    For the hinge loss, the Moreau envelope of the method of multipliers (see the module
    docstring), evaluated at ``F + nu / (rho_h w)``.
    """

    def __init__(self, loss, Y, w, be, dtype, rho_h=RHO_HINGE):
        self.loss = loss
        self.be = be
        self.Y = be.asarray(Y, dtype)
        W = np.repeat(np.asarray(w, dtype=np.float64)[:, None], Y.shape[1], axis=1)
        self.W = be.asarray(W, dtype)
        self.hinge = isinstance(loss, HingeLoss)
        self.rho_h = rho_h
        if self.hinge:
            self.Wpos = be.asarray(np.where(W > 0, W, 1.0), dtype)
            self.mask = be.asarray((W > 0).astype(np.float64), dtype)
        if isinstance(loss, SquaredLoss):
            self.curv = 1.0
        elif isinstance(loss, LogisticLoss):
            self.curv = 0.25
        elif isinstance(loss, SoftmaxLoss):
            self.curv = 0.5
        elif self.hinge:
            self.curv = rho_h
        else:  # pragma: no cover - every loss of the package is handled above
            raise ValueError(f"Unsupported loss {loss!r}")

    def value_grad(self, F, sl, nu=None):
        """``(value, gradient)`` of the (enveloped) loss of the samples ``sl`` at ``F``."""
        be, Y, W = self.be, self.Y[sl], self.W[sl]
        if isinstance(self.loss, SquaredLoss):
            R = F - Y
            G = W * R
            return 0.5 * be.vdot(G, R), G
        if isinstance(self.loss, LogisticLoss):
            YF = Y * F
            return -be.vdot(W, be.log_expit(YF)), -W * Y * be.expit(-YF)
        if isinstance(self.loss, SoftmaxLoss):
            lse = be.logsumexp(F, axis=1)
            val = be.vdot(W[:, :1], lse) - be.vdot(W, Y * F)
            return val, W * be.exp(F - lse) - W * Y
        rho = self.rho_h
        t = Y * (F + nu[sl] / (rho * self.Wpos[sl]))
        # z = argmin_z max(0, 1 - z) + (rho / 2) (z - t)^2, per sample and output
        z = be.where(t >= 1.0, t, be.where(t <= 1.0 - 1.0 / rho, t + 1.0 / rho, t * 0 + 1.0))
        dz = z - t
        val = be.vdot(W, be.pos(1.0 - z)) + 0.5 * rho * be.vdot(W, dz * dz)
        return val, -rho * W * Y * dz * self.mask[sl]


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
):
    """Solve the convex program with the matrix-free augmented-Lagrangian FISTA method.

    See the module docstring for the algorithm and the stopping rule.

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
        None means 20000, or fewer on large programs: as many as fit in
        :data:`DEFAULT_WORK` floating-point operations (three to four minutes on two
        cores; e.g. 199 steps at n = 60,000, d~ = 785, width 5, 20 configurations); always
        20000 on a GPU (see :func:`default_max_iter`).
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

    Returns
    -------
    SolveResult
        ``solver`` is ``"native:al-fista"`` (``"native:al-fista[torch:cuda:0]"`` with a
        torch device); ``res.device`` is the device (None for NumPy).
    """
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    tune_allocator()
    be = get_backend(device)
    name = ALGO if be.name == "numpy" else f"{ALGO}[torch:{be.device}]"
    dtype = np.dtype(program.dtype)
    f32 = dtype == np.float32
    tol_eff = max(float(tol), 1e-3) if f32 else float(tol)
    feas_tol = tol_eff
    max_iter = default_max_iter(program, be.device) if max_iter is None else int(max_iter)
    beta = float(beta)

    op = _Operator(program, be, dtype)
    n, o, K, chunks = op.n, op.o, op.K, op.chunks
    X = op.X
    Y = np.asarray(Y, dtype=np.float64).reshape(n, -1)
    w = np.asarray(w, dtype=np.float64)
    sl_loss = _SmoothLoss(loss, Y, w, be, dtype)
    hinge = sl_loss.hinge
    rho_unit = 1.0 / n  # the cone rows are weighted like the loss (weights 1/n)

    def bvec(b):
        return be.asarray(np.asarray(b, dtype=np.float64)[None, :], dtype)

    # ------------------------------------------------------------ chunked passes
    def forward_into(V, Zout):
        for sl in chunks:
            be.matmul_into(X[sl], V, Zout[sl])
        return Zout

    def piece(Zc, sl, bb, rho_n, grad):
        """AL smooth part of the samples ``sl``: value and the cotangent of ``Z``."""
        Zb = op.block(Zc)
        g, F = op.layers(Zb, sl)
        val, RF = sl_loss.value_grad(F + bb, sl, nu)
        # q = max(0, lambda - rho_n h), computed in place
        q1 = op.M1[sl] * Zb
        q1 *= -rho_n
        q1 += lam1[sl]
        q1 = be.pos_(q1)
        q2 = be.pos_(lam2[sl] - rho_n * (op.M2[sl] * g))
        val += (be.vdot(q1, q1) + be.vdot(q2, q2)) / (2.0 * rho_n)
        if not grad:
            return val, None, None
        Rg = op.DS[sl] * RF[:, :, None, None]
        Rg -= op.M2[sl] * q2
        RZ = op.S1[sl] * Rg[..., None]
        q1 *= op.M1[sl]
        RZ -= q1
        return val, RZ.reshape(RZ.shape[0], K), be.sum(RF, axis=0)

    def value_at(Z, b, rho_n):
        bb = bvec(b)
        return sum(piece(Z[sl], sl, bb, rho_n, False)[0] for sl in chunks)

    def grad_at(Z, Zp, mom, b, rho_n):
        """Value and gradient ``(V, b)`` at the point with images ``Z + mom (Z - Zp)``."""
        bb = bvec(b)
        val, GV, gb = 0.0, None, 0.0
        for sl in chunks:
            if mom == 0:
                Zc = Z[sl]
            else:
                Zc = Z[sl] - Zp[sl]
                Zc *= mom
                Zc += Z[sl]
            v, RZ, rf = piece(Zc, sl, bb, rho_n, True)
            val += v
            gb = gb + rf
            part = X[sl].T @ RZ
            GV = part if GV is None else GV + part
        return val, GV, be.to_numpy(gb).astype(np.float64)

    def outputs(Z):
        """``(F, violation, max|Z|)`` (F without intercept, numpy float64)."""
        F = np.empty((n, o))
        v, zmax = 0.0, 0.0
        for sl in chunks:
            Zb = op.block(Z[sl])
            g, Fc = op.layers(Zb, sl)
            F[sl] = be.to_numpy(Fc)
            v = max(v, be.amax(be.pos(-op.A1[sl] * Zb)), be.amax(be.pos(-op.A2[sl] * g)))
            zmax = max(zmax, be.amax(be.abs(Zb)))
        return F, v / max(zmax, 1e-300), zmax

    def update_multipliers(Z, b, rho_n):
        bb = bvec(b)
        for sl in chunks:
            Zb = op.block(Z[sl])
            g, F = op.layers(Zb, sl)
            lam1[sl] = be.pos(lam1[sl] - rho_n * (op.M1[sl] * Zb))
            lam2[sl] = be.pos(lam2[sl] - rho_n * (op.M2[sl] * g))
            if hinge:
                nu[sl] = sl_loss.value_grad(F + bb, sl, nu)[1]

    def estimate_norms(n_power=5):
        """Largest eigenvalues of ``J^T W J`` and ``G^T C^2 G / n`` (power iteration)."""
        Q = op.to_internal(
            np.moveaxis(np.random.default_rng(0).standard_normal((d, o, 2, op.P, op.m)), 0, 3)
        )
        Q2 = be.copy(Q)
        ests = [1.0, 1.0]
        for _ in range(n_power):
            Q = Q * (1.0 / max(np.sqrt(be.vdot(Q, Q)), 1e-300))
            Q2 = Q2 * (1.0 / max(np.sqrt(be.vdot(Q2, Q2)), 1e-300))
            A, A2 = 0.0, 0.0
            for sl in chunks:
                Zb = op.block(X[sl] @ Q)
                g, F = op.layers(Zb, sl)
                A = A + X[sl].T @ op.cotangent(sl, sl_loss.W[sl] * F)
                Zb = op.block(X[sl] @ Q2)
                g, F = op.layers(Zb, sl)
                R1, R2 = op.M1[sl] * Zb * rho_unit, op.M2[sl] * g * rho_unit
                A2 = A2 + X[sl].T @ op.cotangent(sl, F * 0, R1, R2)
            ests = [be.vdot(Q, A), be.vdot(Q2, A2)]
            Q, Q2 = A, A2
        return [max(float(e), 1e-300) * 1.1 for e in ests]

    def prox(W, step):
        cn = op.colnorms(W)
        scale = be.pos(1.0 - (beta * step) / be.where(cn > 0, cn, cn * 0 + 1.0))
        return W * scale[None, :]

    # ------------------------------------------------------------ initial point
    d = op.d
    if U0 is None:
        V = be.zeros((d, K), dtype)
    else:
        V = op.to_internal(np.asarray(U0, dtype=dtype).reshape(program.shape))
    b = np.zeros(o)
    if fit_intercept and b0 is not None:
        b = np.array(b0, dtype=np.float64).reshape(o)
    Z = forward_into(V, be.zeros((n, K), dtype))
    lam1 = be.zeros((n, o, 2, op.P, op.m), dtype)
    lam2 = be.zeros((n, o, 2, op.P), dtype)
    nu = be.zeros((n, o), dtype) if hinge else None
    F0, _, _ = outputs(Z)
    lm = LossModel(loss, Y, w)  # intercept polish and hinge balance, shared with ipm
    if fit_intercept and b0 is None:
        b = lm.polish_intercept(F0, b)
    Lj, Lg = estimate_norms()
    if fit_intercept:
        Lj = max(Lj, 1.0)  # the intercept direction: sum_i w_i = 1
    rho = RHO_HINGE_PENALTY if hinge else RHO0 * sl_loss.curv
    Lip = sl_loss.curv * Lj + rho * Lg

    def certificate(V, Z, b, rho_n):
        """(objective, lower bound, gap, violation, polished intercept, gamma)."""
        F, viol, _ = outputs(Z)
        bp = lm.polish_intercept(F, b) if fit_intercept else np.zeros(o)
        cn = be.to_numpy(op.colnorms(V)).astype(np.float64)
        pobj = loss.value(F + bp, Y, w) + beta * float(cn.sum())
        if hinge:
            r = np.empty((n, o))
            bb = bvec(b)
            for sl in chunks:
                Fc = be.asarray(F[sl], dtype)
                r[sl] = -be.to_numpy(sl_loss.value_grad(Fc + bb, sl, nu)[1])
            r = lm.balance(r, fit_intercept)
        else:
            r = -loss.gradient(F + bp, Y, w)
        rb = be.asarray(r, dtype)
        Vd = None
        for sl in chunks:
            Zb = op.block(Z[sl])
            g, _ = op.layers(Zb, sl)
            l1 = be.pos(lam1[sl] - rho_n * (op.M1[sl] * Zb))
            l2 = be.pos(lam2[sl] - rho_n * (op.M2[sl] * g))
            part = X[sl].T @ op.cotangent(sl, rb[sl], l1, l2)
            Vd = part if Vd is None else Vd + part
        cmax = float(np.max(be.to_numpy(op.colnorms(Vd)).astype(np.float64), initial=0.0))
        gamma = max(1.0, cmax / beta) if beta > 0 else (np.inf if cmax > 0 else 1.0)
        dobj = loss.dual(r / gamma, Y, w) if np.isfinite(gamma) else -np.inf
        if fit_intercept and hinge:
            dobj -= float(np.sum(r / gamma, axis=0) @ bp)
        gap = (pobj - dobj) / max(abs(pobj), 1e-12)
        return pobj, dobj, gap, viol, bp, gamma

    # ------------------------------------------------------------ main loop
    history, best = [], None
    status, n_iter, crit = "max_iter", 0, np.inf
    best_mark, mark_outer, mark_iter = np.inf, 0, 0
    slack = 1e-5 if f32 else 1e-12  # rounding allowance of the backtracking test
    inner_tol = INNER_TOL0
    Zn = be.zeros((n, K), dtype)
    Zp = be.zeros((n, K), dtype)
    bar = tqdm(total=max_iter, disable=not verbose or verbose > 1, desc=name)
    outer = 0
    while True:
        rho_n = rho * rho_unit
        pobj, dobj, gap, viol, bp, gamma = certificate(V, Z, b, rho_n)
        crit = max(gap, viol / feas_tol * tol_eff)
        history.append(pobj)
        if np.isfinite(pobj) and (best is None or crit <= best[3]):
            best = (be.copy(V), bp.copy(), pobj, crit)
        if crit < 0.9 * best_mark:
            best_mark, mark_outer, mark_iter = crit, outer, n_iter
        bar.set_postfix(
            obj=f"{pobj:.6g}", gap=f"{gap:.2e}", viol=f"{viol:.1e}", rho=f"{rho:.1e}"
        )
        if verbose > 1:
            print(
                f"outer {outer} it {n_iter}: obj {pobj:.8g} gap {gap:.2e} viol {viol:.2e} "
                f"gamma-1 {gamma - 1:.2e} rho {rho:.1e} L {Lip:.2e} "
                f"t {time.perf_counter() - t_start:.1f}s",
                flush=True,
            )
        if crit <= tol_eff:
            status = "optimal"
            break
        if n_iter >= max_iter:
            status = "max_iter"
            break
        if max_time is not None and time.perf_counter() - t_start > max_time:
            status = "max_time"
            break
        if outer - mark_outer > STALL_OUTER and n_iter - mark_iter > STALL_ITERS:
            status = "stalled"
            break
        if fit_intercept and not hinge:
            b = bp  # the polished intercept is optimal for the current outputs

        # ---------------------------------------------------- inner FISTA
        if outer == 0:  # momentum is kept across multiplier updates
            Vp, bprev = V, b
            Zp, Z = Z, Zp
            Z[...] = Zp  # Zp holds the images of V as well: no momentum at first
            tk = 1.0
        k = 0
        n_in = min(INNER_MAX, max_iter - n_iter)
        while k < n_in:
            tk1 = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * tk * tk))
            mom = (tk - 1.0) / tk1
            Vy = V + mom * (V - Vp) if mom > 0 else V
            by = b + mom * (b - bprev) if mom > 0 else b
            hy, GV, gb = grad_at(Z, Zp, mom, by, rho_n)
            if not fit_intercept:
                gb = np.zeros(o)
            while True:
                Vn = prox(Vy - GV * (1.0 / Lip), 1.0 / Lip)
                bn = by - gb / Lip
                forward_into(Vn, Zn)
                hn = value_at(Zn, bn, rho_n)
                D = Vn - Vy
                db = bn - by
                dd = be.vdot(D, D) + float(db @ db)
                model = hy + be.vdot(GV, D) + float(gb @ db) + 0.5 * Lip * dd
                n_iter += 1
                k += 1
                if hn <= model + slack * abs(hy) or Lip > 1e30:
                    break
                Lip *= 2.0
            # adaptive restart (gradient scheme)
            if be.vdot(Vy - Vn, Vn - V) + float((by - bn) @ (bn - b)) > 0:
                tk1 = 1.0
            Vp, bprev, V, b = V, b, Vn, bn
            Zp, Z, Zn = Z, Zn, Zp
            tk = tk1
            stat = Lip * be.amax(op.colnorms(D)) / beta if beta > 0 else np.sqrt(dd)
            if k >= INNER_MIN and stat <= inner_tol:
                break
            if max_time is not None and time.perf_counter() - t_start > max_time:
                break
        bar.update(k)

        # ---------------------------------------------------- multipliers, penalty
        update_multipliers(Z, b, rho_n)
        Lip = max(0.9 * Lip, 0.1 * (sl_loss.curv * Lj + rho * Lg))
        inner_tol = max(INNER_DECAY * inner_tol, 0.1 * tol_eff)
        outer += 1
    bar.close()

    V_out, b_out, _, crit_out = best
    if status != "optimal":
        if status == "stalled":
            msg = (
                f"first-order solver stopped after {n_iter} iterations (stalled: no 10% "
                f"progress in {STALL_OUTER} outer iterations and {STALL_ITERS} steps) with "
                f"stopping criterion {crit_out:.2e} > tol={tol_eff:g}; the best iterate is "
                "returned. Increase tol; max_iter is not the limit here"
            )
        elif status == "max_time":
            msg = (
                f"first-order solver stopped after max_time={max_time} s ({n_iter} "
                f"iterations) with stopping criterion {crit_out:.2e} > tol={tol_eff:g}; "
                "increase max_time or tol"
            )
        else:
            msg = (
                f"first-order solver stopped after max_iter={max_iter} iterations with "
                f"stopping criterion {crit_out:.2e} > tol={tol_eff:g}; increase max_iter "
                "or tol"
            )
        warnings.warn(msg, ConvergenceWarning, stacklevel=2)
    U_out = op.to_blocks(V_out).astype(dtype, copy=False)
    intercept = np.asarray(b_out if fit_intercept else np.zeros(o), dtype=dtype)
    obj = float(program.objective(U_out, intercept, loss, Y, w, beta))
    res = SolveResult(
        U=U_out,
        intercept=intercept,
        objective=obj,
        n_iter=n_iter,
        status=status,
        stop_criterion=float(crit_out),
        history=history,
        solver=name,
    )
    res.device = None if be.name == "numpy" else str(be.device)
    return res
