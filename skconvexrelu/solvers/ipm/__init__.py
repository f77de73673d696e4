"""The native solver: a structured primal-dual interior-point method.

Algorithm (``solver="ipm"``, reported as ``native:ipm-pcg``)
------------------------------------------------------------
The convex program (:mod:`skconvexrelu._program`) is solved in the form::

    min_{U, b}  L(J U + b) + beta * sum_j ||u_j||    s.t.  G U >= 0

where ``J`` is the forward map and ``G`` stacks the first-layer (``A1 * X~ u_j >= 0``)
and second-layer (``A2 * g >= 0``) cone constraints. It is an infeasible-start
primal-dual path-following method (:mod:`._run`):

- the linear cone constraints get slacks ``s >= 0`` and multipliers ``lambda >= 0`` with
  ``s * lambda -> mu`` (Newton on the perturbed KKT system);
- each group norm is replaced by its barrier smoothing
  ``psi_mu(u) = min_t beta t - mu log(t^2 - ||u||^2)`` (closed form): the primal barrier
  treatment of its second-order cone, exact as ``mu -> 0``;
- the hinge loss gets epigraph variables ``xi >= 0``, ``xi >= 1 - y f`` with their own
  slacks and multipliers (eliminated per sample in closed form);
- Mehrotra predictor-corrector steps plus Gondzio centrality correctors, a common primal
  and dual step with fraction to the boundary 0.99-0.995.

The Newton system (:mod:`._newton`) is solved matrix-free by preconditioned conjugate
gradients: each product costs one ``X~ @ (d~, K)`` and one ``X~^T @ (n, K)`` product
(``K = 2 P m`` columns per output), so the ``n x (2 P m d~)`` feature matrix is never
formed. The preconditioner (:mod:`._preconditioner`) is the exact inverse of the Newton
matrix: the barrier and group-norm terms are block diagonal over the blocks
``(o, sigma, c)`` and the loss term enters by the Woodbury identity through a capacitance
matrix in sample space (``n x n``) or variable space (``P m d~`` square), whichever costs
less. Late in a run the inverse loses accuracy along the radial directions of the
columns in use; the preconditioner then gets a coarse space on those directions and,
where that is not enough, the Newton matrix is factored directly
(:class:`~skconvexrelu.solvers.settings.IPMSettings`).

Working sets of constraints (:mod:`._working_set`, :mod:`._solve`)
------------------------------------------------------------------
At the optimum only a handful of the ``n`` cone constraints of each column are active.
From ``WorkingSetSettings.min_n`` samples on, each column (block) keeps its own working
set of constraints (slacks and multipliers of shape ``(R, ...)`` instead of ``(n, ...)``)
while the loss keeps every sample. The set grows inside the run (the constraints the
iterate violates join every few iterations, their multipliers on the central path, no
barrier restart), or by rounds for the largest programs: solve on the working set (a
relaxation: its optimum is a lower bound), check every constraint of every sample at the
solution (one pass over the data), add each column's most violated and nearly active
rows, and stop when none is violated beyond ``feas_tol``. The first working set holds the
likeliest facets of each cone or, for large ``n``, comes from a pilot solve on a random
part of the samples. The returned point is feasible for every sample, and its
certificate holds for the full program (multipliers of the constraints outside the
working set are zero). ``solver_`` then reads ``native:ipm-pcg+working-set``.

Very wide blocks are not covered: the blocks are dense ``m d~`` squares, so for
image-sized inputs the working memory exceeds what a workstation has and the solver
raises ``MemoryError`` up front (:func:`estimate_memory`); :func:`ipm_iteration_flops`
estimates the cost of one iteration, and ``solver="native"`` uses the first-order method
(:mod:`skconvexrelu.solvers.first_order`) when it is too high.

Stopping rule
-------------
Two measures are computed at every iterate; the solver stops (``status="optimal"``) when
the cone violation ``max(-G U, 0) / max|X~ U|`` is at most ``feas_tol`` (``1e-10`` in
float64, ``1e-6`` in float32) and the smaller of the two is at most ``tol``:

1. a certified relative duality gap ``(P - D) / |P|`` (:mod:`skconvexrelu._certificate`),
   with ``D`` the best of the lower bounds computed so far. With ``r = -grad L(F + b)``
   (for the hinge, its multipliers balanced so that ``sum_i r_i = 0``; for the other
   losses the intercept is polished so that ``sum_i r_i = 0``) and the current cone
   multipliers ``lambda >= 0`` (re-chosen column by column by non-negative least squares
   near the end), dividing ``(r, lambda)`` by
   ``gamma = max(1, max_j ||(J^T r + G^T lambda)_j|| / beta)`` makes the pair dual
   feasible, so ``D = loss.dual(r / gamma)`` is a lower bound on the optimum;
2. a KKT residual: ``max(N mu / |P|, ||grad_U L_mu - G^T lambda|| / (beta sqrt(#columns)),
   |sum_i r_i| / sum_i |r_i|)``: complementarity, stationarity and intercept
   stationarity, as conic interior-point solvers measure them.

``stop_criterion`` is ``max(min(gap, KKT residual), violation / feas_tol * tol)`` at the
returned point, the best iterate by that criterion. The zero network (always feasible,
with the best constant intercept) is returned, with ``status="optimal"``, as soon as the
best lower bound certifies it to ``tol``. In float32 the products with the data run in
float32 (slacks, multipliers and the certificate in float64) and ``tol`` is floored at
``1e-3``. The run stops with ``status="stalled"`` (and a ``ConvergenceWarning``) when the
criterion stops improving once the barrier parameter is negligible, or after
``cg_fail_patience`` iterations whose Newton solves ran CG to its cap without a better
iterate; with ``status="numerical_error"`` when the barrier parameter grows by four
orders of magnitude or a factorization fails (``solver="auto"`` then falls back to cvxpy
on programs small enough).
"""

from ._cost import estimate_memory, ipm_iteration_flops, n_correctors
from ._preconditioner import capacitance_costs
from ._run import ALGO, InteriorPointRun, WarmStart, solve_ipm
from ._solve import ALGO_WS, pilot_working_set, solve_native
from ._working_set import grow_working_set, initial_working_set

__all__ = [
    "ALGO",
    "ALGO_WS",
    "InteriorPointRun",
    "WarmStart",
    "capacitance_costs",
    "estimate_memory",
    "grow_working_set",
    "initial_working_set",
    "ipm_iteration_flops",
    "n_correctors",
    "pilot_working_set",
    "solve_ipm",
    "solve_native",
]
