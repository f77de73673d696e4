"""A matrix-free first-order solver: augmented Lagrangian with accelerated inner steps.

Algorithm (``solver="native:al-fista"``)
----------------------------------------
The convex program (:mod:`skconvexrelu._program`, ``doc/math.rst``) is solved in the
form::

    min_{U, b}  L(J U + b) + beta * sum_j ||u_j||    s.t.  h(U) = C G U >= 0

where ``J`` is the forward map, ``G`` stacks the first-layer (``A1 * X~ u_j >= 0``) and
second-layer (``A2 * g >= 0``) cone rows and ``C`` scales the rows of sample ``i`` by
``c_i = mean_k ||x~_k|| / ||x~_i||`` (every row of one sample gets the same weight). It is
the method of multipliers (augmented Lagrangian) on the cone rows: with multipliers
``lambda >= 0`` and penalty ``rho_n = rho / n`` the outer loop minimizes (inexactly)::

    L(J U + b) + (1 / (2 rho_n)) ||max(0, lambda - rho_n h(U))||^2 + beta * sum_j ||u_j||

then sets ``lambda <- max(0, lambda - rho_n h(U))``
(:class:`~._lagrangian.AugmentedLagrangian`). The penalty is fixed: ``rho`` is
``FirstOrderSettings.rho`` times the loss's curvature bound (``rho_nonsmooth`` for the
hinge); residual balancing and growing the penalty when the violation stalls were both
slower on small programs. The inner problem is smooth plus the group norm; it is solved
by FISTA (:mod:`~._fista`): proximal gradient steps (group soft-thresholding of the
columns ``u_j``; the intercept takes a plain gradient step), backtracking on the
Lipschitz constant (first estimated by power iteration, lowered by 10% at each
multiplier update) and O'Donoghue-Candes adaptive restart. An inner solve ends after
``inner_min`` to ``inner_max`` steps, once the stationarity of its last step,
``L max_j ||step_j|| / beta``, is below a threshold that starts at ``inner_tol0`` and is
multiplied by ``inner_decay`` at every outer iteration; FISTA's momentum is kept across
multiplier updates (restarting it there makes the method several times slower). Every
inner step costs one forward map ``X~ @ (d~, 2 o P m)`` and one adjoint
``X~^T @ (n, 2 o P m)``: the extrapolated point's images ``X~ Y`` are linear
combinations of images already computed, so backtracking needs no extra product unless a
step is rejected. The samples are processed in chunks (``chunk_elements`` entries of
``X~ U`` at a time on a CPU, :class:`~._operator.ChunkedOperator`) so that the
temporaries stay in cache. The ``n x (2 P m d~)`` feature matrix is never formed; the
working memory is four arrays of shape ``(n, 2 o P m)`` (images of the current and
previous iterate, of the candidate, and the multipliers) plus the data.

From a warm start, ``FirstOrderSettings(signs="start")`` keeps one output sign per
output and configuration, that of the larger block of the starting point (the budgeted
polish of the default fit does, ``SeedSettings.polish_signs``): the other block is held
at zero and every array above has ``o P m`` columns instead of ``2 o P m``. The
stopping measures stay those of the whole program: the blocks held at zero take zero
multipliers, so their dual columns are ``J^T r`` up to sign, and they enter the maximum
that scales the dual point.

A non-smooth loss (the hinge) gets its own multipliers ``nu`` for the split
``F = J U + b`` (method of multipliers again), so the inner problem sees its Moreau
envelope (closed form per sample, curvature ``rho_envelope * w_i``) and ``-nu`` converges
to the hinge's dual variables (:mod:`~._loss`). Smooth losses are used as they are.

The same code runs on NumPy arrays or, with ``device=...``, on torch tensors (CPU or
GPU) through :mod:`skconvexrelu._backend`; float32 programs are computed in
float32 (the certificate's final reductions are in float64).

Stopping rule
-------------
After every outer iteration two measures are computed at the current point ``(U, b)``
(:mod:`~._certificate`):

1. the cone violation ``viol = max(max(0, -G U)) / max|X~ U|`` (unscaled rows);
2. a certified relative duality gap ``(P - D) / |P|``: ``r = -grad L(J U + b)`` (the
   intercept is first polished so that ``sum_i r_i = 0``; for the hinge ``r`` is the
   envelope's gradient, one class's multipliers rescaled so that ``sum_i r_i = 0``), the
   multiplier estimate ``lambda^+ = max(0, lambda - rho_n h(U))`` and
   ``gamma = max(1, max_j ||(J^T r + G^T C lambda^+)_j|| / beta)``; then ``(r, lambda^+) /
   gamma`` is dual feasible and ``D = loss.dual(r / gamma)`` is a lower bound on the
   optimum (weak duality, :mod:`skconvexrelu._certificate`). ``P`` is the objective at
   ``(U, b)``.

``stop_criterion = max(gap, viol / feas_tol * tol)`` with ``feas_tol = tol``; the solver
stops (``status="optimal"``) when it is at most ``tol`` (floored at ``1e-3`` in float32),
i.e. when the point violates the cones by at most ``tol`` relative to the largest
first-layer pre-activation and its objective exceeds the optimum by at most
``tol * |P|`` (``D`` is a lower bound whatever the point; an infeasible point can also be
below the optimum, by an amount of first order in ``viol``). The returned point is the
best iterate by that criterion. ``max_iter`` counts inner (FISTA) steps, i.e. forward +
adjoint pairs; ``max_time`` bounds the wall clock. When the criterion has not improved
by 10% over ``stall_outer`` outer iterations and ``stall_iters`` inner steps the solver
stops with ``status="stalled"``. Every early stop warns with a ``ConvergenceWarning``.

At tiny ``beta`` the certificate needs every column's dual residual well below ``beta``,
which a first-order method reaches slowly; ``benchmarks/bench_first_order.py`` measures
large programs.

With many samples in many dimensions (``benchmarks/bench_wide_cones.py``) each sampled
neuron's cone is a needle and the program's optimum is close to the best rescaling of the
sampled sub-networks. An early-stopped point then sits outside the cones: the
``sigma = +1`` and ``sigma = -1`` copies of a column stay nearly parallel and large while
their difference, which the outputs see, points elsewhere, so a few percent of the signs
differ from ``D1`` although the violation relative to ``max |X~ U|`` is small. The
rebuilt network is then better than the program's optimum, and the estimators report its
own objective (see ``_fit._finish``).
"""

from ._solver import ALGO, default_max_iter, solve_first_order

__all__ = ["ALGO", "default_max_iter", "solve_first_order"]
