# ruff: noqa: B023  (the closures below are only called within the iteration that defines them)
"""The native solver: a structured primal-dual interior-point method.

Algorithm (``solver="native:ipm-pcg"``)
---------------------------------------
The program of the design notes (section 2) is solved in the form::

    min_{U, b}  L(J U + b) + beta * sum_j ||u_j||    s.t.  G U >= 0

where ``J`` is the forward map and ``G`` stacks the first-layer (``A1 * X~ u_j >= 0``) and
second-layer (``A2 * g >= 0``) cone constraints. It is an infeasible-start primal-dual
path-following method:

- the linear cone constraints get slacks ``s >= 0`` and multipliers ``lambda >= 0`` with
  ``s * lambda -> mu`` (Newton on the perturbed KKT system);
- each group norm is replaced by its barrier smoothing
  ``psi_mu(u) = min_t beta t - mu log(t^2 - ||u||^2)`` (closed form): the primal barrier
  treatment of its second-order cone, exact as ``mu -> 0``;
- the hinge loss gets epigraph variables ``xi >= 0``, ``xi >= 1 - y f`` with their own
  slacks and multipliers (primal-dual, eliminated per sample in closed form);
- Mehrotra predictor-corrector steps (centering ``sigma = (mu_aff / mu)^3``) plus one to
  three Gondzio centrality correctors (three where the preconditioner costs many solves:
  :func:`n_correctors`), a common primal and dual step with fraction to the
  boundary 0.99-0.995; the primal residual ``G U - s`` shrinks by ``(1 - step)`` at each
  step and vanishes after a full step.

The Newton system ``(J^T D J + G^T (lambda/s) G + H_psi) dU = rhs`` (the intercept is
eliminated exactly through its ``o x o`` Schur complement) is solved matrix-free by
preconditioned conjugate gradients: each product costs one ``X~ @ (d~, K)`` and one
``X~^T @ (n, K)`` product (``K = 2 P m`` columns per output), so the
``n x (2 P m d~)`` feature matrix is never formed. The preconditioner
(:class:`~skconvexrelu.solvers._native_ops.Preconditioner`) is the exact inverse of the
Newton matrix (for the softmax, with one capacitance coupling the outputs): the
barrier and group-norm terms are block diagonal over the blocks ``(o, sigma, c)``
(``m d~`` square, formed in ``O(n m^2 d~^2)`` with symmetric packing) and the loss
term enters by the Woodbury identity through a capacitance matrix in sample space
(``n x n``, small ``n``) or in variable space (``P m d~`` square, formed in
``O(n (P m d~)^2)`` by chunks of samples: linear in ``n``), whichever costs less by
:func:`~skconvexrelu.solvers._native_ops.capacitance_costs` (which counts a Cholesky flop
as four product flops, as measured here). The eliminated intercept makes the loss term
``J^T D^(1/2) (I - q q^T) D^(1/2) J`` (``q = D^(1/2) 1``, normalized), so the
preconditioner works with the projected rows and stays exact; the earlier form, a
rank-one downdate inverted afterwards, lost its accuracy once the hinge loss's curvature
spread over many orders of magnitude (hinge, n = 400: 4,212 CG steps and 15 s before,
1,740 steps and 9 s after). CG then takes one to a few steps, so an iteration costs
about one preconditioner build plus three to five cheap solves (predictor, Mehrotra
corrector and one to three Gondzio centrality correctors). Late in a run the inverse
loses its accuracy in floating point along the radial directions of the columns in use
(their own curvature falls to 1e-15 while the loss term's does not, and the Woodbury
formula subtracts two huge terms there); from the first iteration whose solves need more
than ``DEFLATE_AFTER_CG`` CG steps each, the preconditioner gets a coarse space on those
directions (:meth:`~skconvexrelu.solvers._native_ops.Preconditioner.deflate`: the exact
Newton matrix there, a balancing two-level preconditioner), which halves to quarters the
late CG steps (hinge loss, 1,600 samples: 2,001 steps and 24 s before, 480 and 13 s
after). Where that is not enough (solves needing ``DENSE_AFTER_CG`` CG steps each, or CG
at its cap) and one output's Newton matrix is at most ``DENSE_MAX`` wide (``2 P m d~``),
the last iterations factor that matrix directly instead
(:meth:`~skconvexrelu.solvers._native_ops.Preconditioner.densify`, ``res.n_direct`` such
iterations) and solve to ``DENSE_CG_RTOL``: the hinge loss from 6,000 samples on stopped
"stalled" at a gap of about 1e-5 before (6,000 samples: 106 s), and is "optimal" with it
(69 s; 16,000 samples in 198 s).

Working set of constraints (from ``WORKING_SET_MIN_N`` samples on)
-------------------------------------------------------------------
At the optimum only a handful of the ``n`` cone constraints of each column are active
(measured at n = 1,600, d~ = 11: about 7 per column of the first layer and 10 per block of
the second, against 1,600 each), while the interior-point method pays for all of them at
every iteration. From ``WORKING_SET_MIN_N`` samples on, each column (block) keeps its own
working set of constraints (:class:`~skconvexrelu.solvers._native_ops.WorkingSetOperator`:
slacks and multipliers of shape ``(R, ...)`` instead of ``(n, ...)``), the loss keeps
every sample (the squared loss through its Gram matrix,
:class:`~skconvexrelu.solvers._native_ops.LossGram`, formed once for all rounds; the
certificate's ``J^T r``, one pass over the data, also gives the KKT residual and the
Newton right-hand side of the same iterate, whose residuals differ from ``r`` by multiples
of ``w``; the other losses' products with the loss Hessian go through the variable-space
preconditioner's Gram matrices of the current curvature when it has them), and rounds
alternate:

1. solve the program restricted to the working set (a relaxation: its optimum is a lower
   bound), starting from the previous round's solution with slacks of at least
   ``WARM_SLACK`` times its worst violation of the new constraints (the barrier restarts:
   keeping the old slacks and multipliers, which sit at the boundary, took four to seven
   times as many iterations), to a gap of ``WS_ROUND_TOL`` (``tol`` in the last round);
2. check every constraint of every sample at the solution (one pass over the data); add
   to each column (block) its most violated ones and, ahead of the next rounds, those
   with a slack below ``WS_NEAR`` (at most ``WS_ADD_FIRST * d~`` and
   ``WS_ADD_SECOND * m d~`` per round);
3. stop when none is violated beyond ``feas_tol``, after a last round at ``tol``.

Up to ``GROW_MAX_N`` samples for the squared loss (``GROW_MAX_N_HINGE`` for the hinge,
at every size for the cross-entropy: ``GROW_MAX_N_CROSS_ENTROPY``) the set grows inside
the interior-point run instead: every
``GROW_EVERY`` iterations the constraints that the current iterate violates join (with
the nearly active ones, a quarter of a round's quota), their slacks mirroring their
violation (at least ``GROW_SLACK max |X~ u|``) and their multipliers on the central path
(``s lambda = mu``); the infeasible-start method then drives their residuals to zero
with the others, the barrier is not restarted, and one run usually ends with no
constraint violated (rounds remain the fallback: for a run left infeasible, and for
one whose certificate stalls above ``tol``, from its point). The restarts were most of
the cost: at n = 1,600 (squared loss) the rounds took 64 iterations in six rounds, one
run with growth 29, and a run started from the final working set 28.

The first working set keeps, per column, the ``WS_FIRST_ROWS * d~`` constraints whose
normals make the widest angle with their mean direction (the likeliest facets of the
column's cone; ``WS_FIRST_ROWS_SMALL * d~`` below ``WS_SMALL_N`` samples, where a smaller
start leaves a smaller final set: n = 400 about 20% faster), and per block
``WS_SECOND_ROWS * m d~`` chosen the same way. From
``PILOT_MIN_N`` samples on it comes from a pilot instead (:func:`pilot_working_set`):
the program on a random ``PILOT_FRACTION`` of the samples is solved to ``PILOT_TOL``,
and its final working set, mapped to the full data, plus the constraints its solution
violates on the full data start the full run. Rows joining a run keep its steps short
(0.1 to 0.3 for 70 iterations at 8,000 samples, where 170 rows per column joined five
at a time); with most of them known up front the run takes about as many iterations as
on a small program (cross-entropy, 8,000 samples: 80 iterations and 68.5 s without,
a 4.8 s pilot and 31 iterations, 34.5 s in all, with). The returned
point is feasible for every sample, and its certificate holds for the full program
(multipliers of the constraints outside the working set are zero). Measured (teacher
data, d = 10, width 10, P = 20, squared loss): n = 400 in 1.7 to 1.9 s (2.4 s with the
large first sets, 3.2 s on the full program), 1,600 in 5.3 to 6.4 s (13 s by rounds, 42 s
on the full program); through the estimator 1,000 in 4.8 s, 4,000 in 14 s, 8,000 in
26 s, 16,000 in 41 s, 32,000 in 56 s, 64,000 in 106 s (the passes over all n samples
per iteration and the 2,200-square capacitance factorization dominate there); the
cross-entropy 3.7 s at 1,000 samples, 40 s at 8,000, 126 s at 32,000, 304 s at 64,000
(its Gram matrix of the loss curvature is formed at every iteration, by float32 products
while the gap is above ``GRAM_FLOAT32_GAP``; after a pilot, the rows its point violates
join up front by ``PILOT_ADD_FRACTION`` quotas and the others join the run by
``PILOT_GROW_FRACTION`` of a round's quota); the hinge loss 8.1 s at 1,000, 190 s at
16,000. ``solver_`` reads ``native:ipm-pcg+working-set``.

Not covered: very wide blocks. The blocks are dense ``m d~`` squares, so for image-sized
inputs (``d~ = 785``, ``m = 5``: 3925-square blocks) the working memory exceeds what a
workstation has and :func:`solve_native` raises ``MemoryError`` up front (see
:func:`estimate_memory`); :func:`ipm_iteration_flops` estimates the cost of one
iteration, and ``solver="native"`` uses the first-order method
(:mod:`skconvexrelu.solvers._first_order`) when it is too high.

Stopping rule
-------------
Two measures are computed at every iterate; the solver stops (``status="optimal"``) when
the cone violation ``max(-G U, 0) / max|X~ U|`` is at most ``feas_tol`` (``1e-10`` in
float64, ``1e-6`` in float32) and the smaller of the two is at most ``tol``:

1. a certified relative duality gap ``(P - D) / |P|``, with ``D`` the best of the lower
   bounds computed so far (each is a valid bound on the same program's optimum). With
   ``r = -grad L(F + b)`` (for
   the hinge, its multipliers ``nu y`` balanced so that ``sum_i r_i = 0``; for the other
   losses the intercept is polished so that ``sum_i r_i = 0``) and the current cone
   multipliers ``lambda >= 0`` (those of the first layer re-chosen column by column by
   non-negative least squares near the end), every column must satisfy
   ``||(J^T r + G^T lambda)_j|| <= beta``; dividing ``(r, lambda)`` by
   ``gamma = max(1, max_j ||(J^T r + G^T lambda)_j|| / beta)`` makes the pair dual
   feasible, so ``D = loss.dual(r / gamma)`` is a lower bound on the optimum of the
   program (weak duality, design notes section 4) and ``P - D`` bounds the
   suboptimality of the returned point;
2. a KKT residual: ``max(N mu / |P|, ||grad_U L_mu - G^T lambda|| / (beta sqrt(#columns)),
   |sum_i r_i| / sum_i |r_i|)``: complementarity gap, stationarity (relative to the
   penalty weight) and intercept stationarity, as conic interior-point solvers measure
   them.

``stop_criterion`` is ``max(min(gap, KKT residual), violation / feas_tol * tol)`` at the
returned point, which is the best iterate by that criterion (its objective is computed at
that point). The zero network (always feasible, with the best constant intercept) is
returned instead, with ``status="optimal"``, as soon as the best lower bound certifies it
to ``tol``: near the smallest ``beta`` whose optimum is zero the iterates shrink towards
zero while their violation relative to ``max |X~ u|`` does not. In float32 the products
with the data run in float32 (the slacks and multipliers are kept in float64 and the
certificate is evaluated in float64) and the tolerance is floored at ``1e-3``; if the
criterion stops improving once the barrier parameter is negligible (for 6 iterations once
the complementarity is below 1% of ``tol``, when Newton systems are at their worst
conditioning), the solver stops (``status="stalled"``) with a ConvergenceWarning; so it
does after ``CG_FAIL_PATIENCE`` iterations in a row without a better iterate in each of
which a Newton solve ran conjugate gradients to their cap (systems too ill-conditioned
for double precision). If the barrier parameter grows by four orders of magnitude
(near-singular Newton systems giving wrong directions, as on tiny uncentered data where a
sub-network's bias duplicates the output intercept) or a factorization fails, it stops
with ``status="numerical_error"`` and returns its best iterate; ``solver="auto"`` then
solves the program with cvxpy instead.
"""

import os
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._losses import constant_model
from ._allocator import tune_allocator
from ._base import SolveResult
from ._native_linalg import _cg, _improve_dual, _max_step
from ._native_losses import LossModel
from ._native_ops import (
    DENSE_MAX,
    LossGram,
    Operator,
    Preconditioner,
    WorkingSetOperator,
    capacitance_costs,
)

ALGO = "native:ipm-pcg"
ALGO_WS = "native:ipm-pcg+working-set"
#: smallest centering parameter of the Mehrotra corrector
SIGMA_MIN = 1e-3
#: at most this many Gondzio centrality correctors per iteration (see n_correctors)
MAX_CORRECTORS = 3
#: ... and this many when the preconditioner costs only a few Newton solves
FEW_CORRECTORS = 1
#: correctors pay when the preconditioner costs many solves (Gondzio's rule): the full
#: program's blocks cost ``(m d~)^3`` each against ``n m d~`` per solve, so the full set
#: of correctors from ``(m d~)^2 >= CORRECTOR_RATIO * n`` on
CORRECTOR_RATIO = 60
#: keep the smoothing of the norms (and its preconditioner) between predictor and correctors
CORRECTOR_SAME_SMOOTHING = True
#: squared loss on working sets: the certificate's J^T r also serves the KKT residual and
#: the Newton right-hand side (one pass over the data instead of three per iteration)
REUSE_JTR = True
#: the cross-entropy's variable-space Gram matrix of the loss curvature (formed at every
#: iteration: ``n (P m d~)^2`` flops, most of an iteration from about 10,000 samples on) is
#: formed by float32 products while the certified gap is above GRAM_FLOAT32_GAP: twice as
#: fast, and it only has to give the preconditioner and the Newton directions (the
#: residuals, the certificate and the last iterations stay in float64). 16,000 samples:
#: 94.0 s (39 iterations) -> 73.8 s (37). Not for the hinge loss, whose curvature spans
#: many orders of magnitude: 8,000 samples ended "numerical_error" with it
GRAM_FLOAT32 = True
GRAM_FLOAT32_GAP = 1e-4
#: working sets, other losses: when the preconditioner formed the variable-space Gram
#: matrices of the current loss curvature, CG's loss products use them (no data pass)
PREC_LOSS_PRODUCTS = True
#: conjugate-gradient steps per Newton solve (an inexact direction is still usable)
CG_MAXITER = 200
#: add the preconditioner's coarse space (the exact Newton matrix on the radial directions
#: of the columns in use, :meth:`Preconditioner.deflate`) after the first iteration
#: whose Newton solves needed more than this many conjugate-gradient steps each on
#: average, for the rest of the run (hinge loss, 1,600 samples: 2,001 CG steps in 37
#: iterations without, 480 in 36 with it; cross-entropy 508 in 29 against 254 in 28;
#: waiting for two such iterations in a row left the cross-entropy at 521)
DEFLATE_AFTER_CG = 5
#: stop ("stalled") after this many iterations in a row whose Newton solves ran CG to its
#: cap without a better iterate: the Newton systems are then too ill-conditioned for
#: double precision (hinge loss at 4,000 samples: second-layer curvatures ``l / s`` of
#: 1e12 next to radial group-norm curvatures of 1e-15) and the directions are noise
CG_FAIL_PATIENCE = 5
#: once the coarse space is in use, factor the Newton matrix directly
#: (:meth:`Preconditioner.densify`, where it is small enough) from the first iteration whose
#: solves needed more than this many CG steps each on average or ran CG to its cap. The
#: coarse space alone left the hinge loss "stalled" from 6,000 samples on (a gap of 8e-6:
#: CG at its cap, then directions that wrecked the multipliers); the direct factorization
#: costs about 0.7 s per iteration at 4,400 variables, so it waits for the last few
#: iterations (measured at 25: hinge 6,000 samples 106 s "stalled" -> 69 s "optimal", two
#: direct iterations at 8,000, six at 16,000; none at 1,600 or 4,000 or for the
#: cross-entropy at 8,000, whose runs are unchanged)
DENSE_AFTER_CG = 25
#: conjugate-gradient tolerance with the direct factorization: late in a run the
#: stationarity of the group norms, which the certificate needs, is a tiny part of the
#: right-hand side (dominated by the barrier terms), and a tolerance relative to it of
#: 1e-7 left the dual point's column norms above beta by 2e-5
DENSE_CG_RTOL = 1e-12
#: from this many samples on, the cone constraints are enforced through a working set
#: (measured with the growth inside the run, full program vs working set, seconds: n = 400
#: squared 3.25 vs 2.40, hinge 7.8 vs 4.9, cross-entropy 3.6 vs 2.8; n = 200 squared 1.8
#: vs 1.9, hinge 2.7 vs 4.6, cross-entropy 1.8 vs 1.7; n = 100 the full program is faster
#: for all three. With the fifth session's rounds it was 800)
WORKING_SET_MIN_N = 400
#: rows per column (times d~) and per block (times m d~) in the first working set
WS_FIRST_ROWS = 4
WS_SECOND_ROWS = 1
#: below this many samples the first working set keeps WS_FIRST_ROWS_SMALL * d~ rows per
#: column instead: the rows that join in the run then leave a smaller final set (n = 400,
#: squared loss: 66 instead of 113 rows per column) and the run takes fewer iterations.
#: Measured (teacher data, d = 10, width 10, P = 20; median seconds over 8 random states,
#: 4 d~ vs d~ rows): n = 400 squared 2.16 vs 1.79, hinge 3.57 vs 3.10, cross-entropy 2.28
#: vs 1.87; n = 600 squared 3.25 vs 2.36, hinge 5.30 vs 4.90, cross-entropy 3.08 vs 3.24;
#: n = 700 squared 3.19 vs 3.10 (4 states); from 800 on d~ rows are slower (squared 800:
#: 3.34 vs 3.87, 1,000: 3.53 vs 5.52, 1,600: 7.1 vs 10.5 s); with d = 20 at n = 400 within
#: the noise (11.8 vs 12.1 s, 3 states)
WS_SMALL_N = 700
WS_FIRST_ROWS_SMALL = 1
#: at most this many rows per column (times d~) and per block (times m d~) join per round
WS_ADD_FIRST = 2
WS_ADD_SECOND = 1
#: at most this many working-set rounds (each an interior-point solve, warm started)
MAX_ROUNDS = 20
#: constraints with a slack below this (relative to max |X~ u_j|) join with the violated
WS_NEAR = 1e-3
#: relative gap at which the rounds before the last stop (measured at n = 1,600, squared /
#: hinge / cross-entropy: 1e-1 took 64 / 132 / 106 iterations in all, 1e-2 took 76 / 142 /
#: 119: the next round restarts the barrier anyway)
WS_ROUND_TOL = 1e-1
#: a warm start's slacks are at least this fraction of its worst violation (clipped to
#: [1e-3, 1e-1] of max |X~ u|)
WARM_SLACK = 0.05
#: up to GROW_MAX_N samples the working set grows inside one interior-point run instead of
#: by rounds that restart the barrier: every GROW_EVERY iterations the constraints the
#: iterate violates join (GROW_FRACTION of a round's quota per column and block), their
#: slacks at least GROW_SLACK max |X~ u| and their multipliers on the central path.
#: Measured (teacher data, d = 10, width 10, P = 20; rounds -> growth in the run, seconds):
#: squared n = 400 3.3 (full program) -> 2.4, 800 7.6 -> 4.7, 1,600 12.7 -> 5.5, 2,000
#: 19.7 -> 7.9, 4,000 19.5 -> 12.8, 6,000 28.8 -> 21.9, but 8,000 27.3 -> 33.0 and
#: 16,000 40.8 -> 58.9 (many small additions keep the steps short there); hinge 800
#: 34.3 -> 10.4, 1,600 48.9 -> 22.7; cross-entropy 800 9.5 -> 4.4, 1,600 27.6 -> 9.3.
#: Larger quotas, growing at every iteration or every third, restarting the barrier on
#: large violations, or no growth once the complementarity gap is below 1e-3 of the
#: objective (a second round then followed) were slower.
GROW_IN_RUN = True
GROW_MAX_N = 6000
#: the hinge loss's Newton systems break down late on large programs (see the benchmarks
#: README); before the preconditioner's coarse space (DEFLATE_AFTER_CG) that happened
#: with growth inside the run from 2,000 rows on. With it (seconds, rounds -> growth):
#: 3,000 rows optimal in 23.3 s, 4,000 91.6 "stalled" at 3.3e-6 -> 31.5 optimal; at
#: 6,000 growth still breaks down (162 s, "stalled" far from the optimum, against 125 s
#: and 4.5e-6 by rounds). Fifteenth session, with the pilot's first working sets and the
#: direct factorization of the last iterations (rounds -> growth, teacher data, seconds
#: on a day when 8,000 squared-loss rows took 25 s): 6,000 rows 88.0 -> 66.8, 8,000
#: 111.4 -> 78.3 (seed 1: 170.2 -> 146.1, its grown run "stalled" just above tol and one
#: round from its point finished it), 12,000 193.2 -> 106.5, but 16,000 239.8 -> 258.9
GROW_MAX_N_HINGE = 12000
#: the cross-entropy grows inside the run at every size: by rounds its first, loose
#: working set let the outputs run off on nearly separable data (loss curvatures down to
#: 1e-50, steps of 0.01) and 16,000 samples ended "numerical_error" with a useless point
#: after 437 s; growing in the run, "optimal" in 232 s (122 iterations)
GROW_MAX_N_CROSS_ENTROPY = None
GROW_EVERY = 2
GROW_SLACK = 1e-3
GROW_FRACTION = 0.25
#: from PILOT_MIN_N samples on, the first working set comes from a pilot solve on a random
#: PILOT_FRACTION of the samples (its final working set, mapped to the full data, plus the
#: constraints its solution violates there; the pilot itself may have a pilot). The rows
#: that join during a run keep its steps short; with most of them known up front the run
#: takes about as many iterations as on a small program. Measured (cross-entropy, teacher
#: data, 8,000 samples): 80 iterations and 68.5 s without, a 1,000-sample pilot 4.5 s plus
#: 31 iterations and 26.4 s with (pilots on a quarter or half of the samples gave 31 and 29
#: iterations after 10 s and 22 s; starting the full run from the pilot's point, 40)
PILOT_MIN_N = 6000
PILOT_FRACTION = 0.125
PILOT_TOL = 1e-3
#: after a pilot, the constraints the iterate violates join with this fraction of a
#: round's quota (GROW_FRACTION without one: there larger quotas were slower).
#: Cross-entropy through the classifier, quarter -> half: 16,000 samples 109 s -> 92 s,
#: 32,000 289 s -> 208 s, 64,000 583 s -> 491 s, 8,000 even (36 s -> 38 s); before the
#: direct factorization of the last iterations (DENSE_AFTER_CG) 64,000 "stalled" with it
PILOT_GROW_FRACTION = 0.5
#: the constraints the pilot's point violates on the full data join the first working set
#: with this many times a round's quota per column (block). For the cross-entropy, whose
#: run grows its working set at every size, 12 (through the classifier: 32,000 samples
#: 150.6 s / 50 iterations -> 127.2 s / 38, 64,000 430 s / 72 -> 305 s / 49; 3 and 6 at
#: 32,000: 137.7 s and 131.7 s); the others keep one quota (their large programs go by
#: rounds: hinge, 8,000 samples, 85 s -> 112 s with 12; squared 16,000 35.5 s -> 38.1 s,
#: 64,000 89.5 s -> 79.0 s, one run each)
PILOT_ADD_FRACTION = {"cross_entropy": 12.0}


def n_correctors(program, working_set=False):
    """Most Gondzio correctors per iteration: :data:`MAX_CORRECTORS` on working sets
    (the capacitance matrix dominates an iteration) and when the blocks are large next to
    ``n`` (``(m d~)^2 >= CORRECTOR_RATIO * n``), otherwise :data:`FEW_CORRECTORS`.

    Measured (teacher data, P = 20, width 10, seconds and iterations with 1 / 3
    correctors): d = 10, n = 400 squared 3.17 s, 49 it. / 3.58 s, 44 it.; hinge 7.79 /
    8.21; cross-entropy 3.72 / 4.44; n = 700 squared 5.67 / 6.44; n = 100 even (1.05 /
    1.09); d = 20, n = 400 squared 14.9 / 14.0; d = 30, n = 300 squared 14.8 / 14.5,
    cross-entropy 16.0 / 14.5; working sets at n = 1,600 squared 15.8 s, 86 it. /
    12.7 s, 64 it.
    """
    md = program.conf.width * program.n_features
    if working_set or md * md >= CORRECTOR_RATIO * program.n_samples:
        return MAX_CORRECTORS
    return min(FEW_CORRECTORS, MAX_CORRECTORS)


def _available_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return None


def estimate_memory(program, n_constraints=None):
    """Bytes of working memory the native solver needs for ``program`` (an estimate).

    About 30 float64 arrays of the size of the first layer (``n x o 2 P m``) for the
    slacks, multipliers, directions and products, the block factors (``o 2 P`` squares of
    side ``m d~``), the packed data products and the exact capacitance matrix (``n x n``
    or ``P m d~`` square, whichever the preconditioner uses) and, where it is at most
    ``DENSE_MAX`` wide, the direct factorization of the late iterations (``2 P m d~``
    square per output, plus one being formed). With working sets of
    ``n_constraints`` rows per column, the 30 arrays have that many rows and about 8
    arrays keep all ``n`` rows (the outputs, the loss and the violation check).
    """
    n, d = program.Xt.shape
    o, _, P, _, m = program.shape
    K = o * 2 * P * m
    md = m * d
    k_dim = P * md
    T = d * (d + 1) // 2
    chunk = min(n, 2048)
    if n_constraints is None and n >= WORKING_SET_MIN_N:
        n_constraints = 3 * (WS_FIRST_ROWS + WS_ADD_FIRST) * d
    if n_constraints is None:
        state = 30 * n * K * 8
    else:
        state = 30 * min(n, n_constraints) * K * 8 + 8 * n * K * 8
    blocks = 5 * o * 2 * P * md * md * 8
    packed = chunk * (T + o * 2 * P * m * (m + 1) // 2 + K) * 8
    cap = 0
    for constant in (False, True):  # the mode depends on the loss: count the larger
        cost_s, cost_v = capacitance_costs(n, P, md, constant)
        if cost_s <= cost_v:
            cap = max(cap, 2 * n * n * 8 + 4 * n * k_dim * 8)
        else:
            cap = max(cap, 4 * k_dim * k_dim * 8 + chunk * k_dim * 8)
    side = 2 * k_dim
    direct = (o + 1) * side * side * 8 if side <= DENSE_MAX else 0
    return int(state + blocks + packed + o * cap + direct + 2 * n * d * 8)


def ipm_iteration_flops(program):
    """Floating-point operations of one interior-point iteration (an estimate).

    The preconditioner's block Gram matrices (``n d~^2 (o 2 P m^2)``), the block
    factorizations (``o 2 P (m d~)^3``), the capacitance matrix (the cheaper of
    ``n^2 P m d~ + n^3 / 3`` and ``(P m d~)^3 / 3 + 4 P^2 (m d~)^3`` per output) and
    about 60 products with the data (``n d~ o 2 P m`` each) for the directions. From
    ``WORKING_SET_MIN_N`` samples on, the constraint terms count per-column working sets
    of about three rounds' growth and about 8 products use all ``n``.
    """
    n, d = program.Xt.shape
    o, _, P, _, m = program.shape
    md = m * d
    k_dim = P * md
    T = d * (d + 1) // 2
    Q = m * (m + 1) // 2
    K = o * 2 * P * m
    if n >= WORKING_SET_MIN_N:  # per-column working sets: rows estimated from their sizes
        r1 = min(n, 3 * (WS_FIRST_ROWS + WS_ADD_FIRST) * d)
        r2 = min(n, 3 * (WS_SECOND_ROWS + WS_ADD_SECOND) * md)
        blocks = 2.0 * (r1 * K * d * d + r2 * o * 2 * P * md * md) + 2.0 * o * 2 * P * md**3
        cap = o * (k_dim**3 / 3 + 4.0 * P * P * md**3)
        products = 60.0 * 2 * (r1 * K * d + r2 * o * 2 * P * md) + 8.0 * 2 * n * d * K
        return float(blocks + cap + products)
    blocks = 2.0 * n * T * o * 2 * P * (Q + m) + 2.0 * o * 2 * P * md**3
    cap = o * min(n * n * k_dim + n**3 / 3, k_dim**3 / 3 + 4.0 * P * P * md**3)
    products = 60.0 * 2 * n * d * K
    return float(blocks + cap + products)


def _solve_ipm(
    program,
    loss,
    Y,
    w,
    beta,
    fit_intercept=True,
    max_iter=200,
    tol=1e-6,
    U0=None,
    b0=None,
    verbose=0,
    max_time=None,
    working_set=None,
    loss_gram=None,
    grow=False,
    grow_fraction=GROW_FRACTION,
):
    """Solve the convex program with the structured interior-point method.

    ``working_set`` (``(idx1, idx2)``, see :class:`WorkingSetOperator`) keeps only those
    cone constraints (the loss keeps every sample); ``loss_gram``, a
    :class:`LossGram` of the same program and weights, saves forming it again (the
    working-set rounds share one); see :func:`solve_native` for the other parameters.
    """
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    dtype = np.dtype(program.dtype)
    f32 = dtype == np.float32
    tol_eff = max(float(tol), 1e-3) if f32 else float(tol)
    feas_tol = 1e-6 if f32 else 1e-10
    need = estimate_memory(program, None if working_set is None else len(working_set[0]))
    avail = _available_memory()
    if avail is not None and need > avail:
        raise MemoryError(
            f"The native solver needs about {need / 2**30:.1f} GiB of working memory for this "
            f"program (n={program.n_samples}, shape {program.shape}) but only "
            f"{avail / 2**30:.1f} GiB is available (its dense blocks are m*d~ = "
            f"{program.shape[3] * program.shape[4]} wide); use fewer features (e.g. a PCA "
            "projection), a smaller width, fewer configurations or a smaller sample."
        )

    # op: the loss on every sample; opk: the cone constraints (of the working set)
    op = Operator(program)
    # the certificate is computed in float64 whatever the working precision
    opc = op if dtype == np.float64 else Operator(program, np.float64)
    opk, opkc = (op, opc) if working_set is None else _ws_operators(program, working_set)

    def outputs(V):
        return op.F(op.g(op.Z(V)))

    def apply64(V):
        """Cone slacks and outputs (computed in the working precision) as float64."""
        if opk is op:
            return tuple(a.astype(np.float64, copy=False) for a in op.apply(V))
        t1_, t2_, _ = opk.apply(V)
        return tuple(a.astype(np.float64, copy=False) for a in (t1_, t2_, outputs(V)))

    def adjoint_c(y1, y2, r):
        """``G^T (y1, y2) + J^T r`` in float64 (certificate and KKT residual)."""
        if opkc is opc:
            return opc.adjoint(y1, y2, r)
        return opkc.adjoint(y1, y2) + opc.adjoint(R=r)

    Y = np.asarray(Y, dtype=np.float64).reshape(op.n, -1)
    w = np.asarray(w, dtype=np.float64)
    lm = LossModel(loss, Y, w)
    beta = float(beta)
    o = op.o
    N = opk.n_cone_rows + 1.0
    M1, M2 = _row_masks(opk)
    # on a working set, the squared loss's Hessian is applied through its Gram matrix
    gram = None
    if opk is not op and lm.kind == "squared":
        gram = LossGram(op, w) if loss_gram is None else loss_gram
    # squared loss on a working set, float64: the certificate's J^T r (one pass over all
    # n samples) also serves the KKT residual and the Newton right-hand side of the same
    # iterate, whose residuals differ from it by multiples of w (J^T w is kept)
    reuse_jtr = REUSE_JTR and gram is not None and dtype == np.float64
    jtr = {}

    # ------------------------------------------------------------ initial point
    U = program.zeros() if U0 is None else np.array(U0, dtype=dtype).reshape(program.shape)
    if fit_intercept:
        b = np.zeros(o) if b0 is None else np.array(b0, dtype=np.float64).reshape(o)
    else:
        b = np.zeros(o)
    Gs1, Gs2, F = apply64(U)
    if fit_intercept and b0 is None:
        b = lm.polish_intercept(F.astype(np.float64), b)
    Rres = Y - (F + b) if lm.kind == "squared" else Y
    yscale = float(np.sqrt(np.sum(w[:, None] * Rres**2) / max(o, 1))) or 1.0
    warm = getattr(program, "_native_warm", None)
    warm = (
        warm
        if (
            U0 is not None
            and warm is not None
            and warm[0].shape == U.shape
            and np.array_equal(warm[0], U)
            and warm[1].shape == Gs1.shape
            and (working_set is None) == (warm[6] is None)
            and (
                working_set is None
                or all(
                    np.array_equal(a, b_) for a, b_ in zip(warm[6], working_set, strict=True)
                )
            )
        )
        else None
    )
    if warm is not None:
        s1, s2, l1, l2 = (a.copy() for a in warm[1:5])
    else:
        zs = float(np.max(np.abs(Gs1))) if U0 is not None else 0.0
        theta = max(yscale, zs * 0.1, 1e-8)
        lam0 = yscale / op.n
        if U0 is not None and zs > 0:
            # warm primal start: begin closer to the path, but leave the slacks room in
            # proportion to how far the start violates the (new) constraints; with a
            # fixed 1e-3 the round after the first working set (violations up to 1.8x
            # max |X~ u|) crawled at step lengths 0.001-0.1 for 25 iterations
            viol = max(float(-Gs1.min(initial=0.0)), float(-Gs2.min(initial=0.0))) / zs
            theta = max(min(max(WARM_SLACK * viol, 1e-3), 0.1) * zs, 1e-8)
        s1 = np.maximum(Gs1, theta) * M1 + (1 - M1)
        s2 = np.maximum(Gs2, theta) * M2 + (1 - M2)
        l1 = lam0 * theta / s1 * M1
        l2 = lam0 * theta / s2 * M2

    # hinge: epigraph variables xi >= 0, sb = xi - 1 + y f >= 0 with multipliers na, nb
    hinge = lm.kind == "hinge"
    if hinge:
        Wm = lm.W
        MH = (Wm > 0).astype(np.float64)
        h0 = 1.0 - Y * (F.astype(np.float64) + b)
        xi = (np.maximum(h0, 0.0) + 1.0) * MH + (1 - MH)
        sb = (xi - h0) * MH + (1 - MH)
        na = 0.5 * Wm
        nb = 0.5 * Wm
        if warm is not None and warm[5] is not None and warm[5][0].shape == Wm.shape:
            xi, sb, na, nb = (a.copy() for a in warm[5])
        N += 2.0 * MH.sum()

    def complementarity():
        tot = np.sum(s1 * l1 * M1) + np.sum(s2 * l2 * M2)
        if hinge:
            tot += np.sum((xi * na + sb * nb) * MH)
        return float(tot / N)

    history, best, best_it = [], None, 0
    stall_iters = 8 if f32 else 15
    max_iter = 200 if max_iter is None else int(max_iter)
    status, n_iter, crit = "max_iter", 0, np.inf
    tau = 0.99
    cg_rtol = 1e-5
    max_correctors = n_correctors(program, working_set is not None)
    pcache = {"constant": lm.kind == "squared"}
    if gram is not None:
        # formed when the preconditioner's capacitance is in variable space (see LossGram)
        pcache["M"] = lambda: (
            np.maximum(lm.W.astype(np.float64), 0.0),
            [gram.M] * o,
            list(gram.mvec),
        )

    # conjugate-gradient steps are cheap on small programs; on large ones an ill-conditioned
    # late Newton system is not worth hundreds of them
    # (a working set's Newton system has the working set's size, whatever n)
    def cg_cap():
        return CG_MAXITER if opk.n * o * 2 * op.P * op.m <= 1_000_000 else CG_MAXITER // 4

    cg_maxiter = cg_cap()
    total_cg = 0
    capped, capped_run = False, 0  # a solve of this iteration hit cg_maxiter; in a row
    # the preconditioner's coarse space, from the first iteration whose solves needed more
    # than DEFLATE_AFTER_CG conjugate-gradient steps each on average
    deflating, cg_last, solves_last = False, 0, 1
    # ... and the Newton matrix factored directly from the first iteration after that
    # whose solves needed DENSE_AFTER_CG steps each or ran CG to its cap
    direct, n_direct = False, 0
    bar = tqdm(total=max_iter, disable=not verbose or verbose > 1, desc=ALGO)

    best_dual = [-np.inf]

    def certificate(U, F, b, late=False):
        """(objective, lower bound, relative gap, polished intercept)."""
        F64 = F if opc is op else opc.F(opc.g(opc.Z(U.astype(np.float64))))
        bp = lm.polish_intercept(F64, b) if fit_intercept else b
        pobj = lm.loss.value(F64 + bp, Y, w) + program.penalty(U, beta)
        if hinge:
            r = lm.balance(Y * np.clip(nb, 0.0, Wm), fit_intercept)
        else:
            r = lm.dual_point(F64 + bp, 0.0, fit_intercept)
        if reuse_jtr:
            jtr["cert"] = (opc.adjoint(R=r), bp)
            V = opkc.adjoint(l1 * M1, l2 * M2) + jtr["cert"][0]
        else:
            V = adjoint_c(l1 * M1, l2 * M2, r)
        cnv = opc.colnorms(V)

        def bound(gamma=None):
            if gamma is None:
                cn = cnv.max(initial=0.0)
                gamma = max(1.0, float(cn) / beta) if beta > 0 else (np.inf if cn > 0 else 1)
            dobj = lm.loss.dual(r / gamma, Y, w) if np.isfinite(gamma) else -np.inf
            if fit_intercept and hinge:
                dobj -= float(np.sum(r / gamma, axis=0) @ bp)
            return float(dobj)

        if beta > 0 and np.any(cnv > beta) and (cnv.max() < 1.01 * beta or late):
            _improve_dual(opkc, V, cnv, l1 * M1, beta)
        dobj = bound()
        target = pobj - tol_eff * abs(pobj)
        if late and beta > 0 and max(dobj, best_dual[0]) < target <= bound(1.0):
            # only the columns above beta keep the gap above tol: re-choose the multipliers
            # of all of them, one small NNLS each (separable hinge data with a tiny beta:
            # the gap stalled at 1e-2 with 80 to 140 such columns; 5e-7 after)
            _improve_dual(opkc, V, cnv, l1 * M1, beta, max_columns=None)
            dobj = max(dobj, bound())
        # any earlier dual point is still a valid lower bound on the same program's optimum
        best_dual[0] = max(best_dual[0], dobj)
        gap = (pobj - best_dual[0]) / max(abs(pobj), 1e-12)
        return pobj, dobj, gap, bp

    def kkt_residual(U, F, b, pobj):
        """max(relative complementarity, relative dual residual, intercept residual)."""
        Fb = F.astype(np.float64) + b
        if hinge:
            r = Y * nb
        else:
            r = lm.derivatives(Fb, mu)[0]
        if reuse_jtr and "cert" in jtr:
            # r differs from the certificate's only by the intercept: w (b_cert - b)
            jtr_c, bc = jtr.pop("cert")
            jtr["kkt"] = jtr_c + gram.jtw * (np.asarray(bc) - b)[:, None, None, None, None]
            V = opkc.adjoint(l1 * M1, l2 * M2) + jtr["kkt"]
        else:
            V = adjoint_c(l1 * M1, l2 * M2, r)
        if beta > 0:
            _, ht, _ = op.psi(U, mu, beta)
            V -= ht[..., None, :] * U
        n_cols = V.size / V.shape[3]
        scale = beta * np.sqrt(n_cols) if beta > 0 else max(float(np.abs(V).max()), 1.0)
        dual = float(np.sqrt(np.vdot(V, V))) / scale
        inter = 0.0
        if fit_intercept:
            inter = float(np.abs(r.sum(0)).max() / max(np.abs(r).sum(), 1e-300))
        comp = (N - 1.0) * mu / max(abs(pobj), 1e-300)
        return max(comp, dual, inter)

    mu = complementarity()
    mu_floor = 1e-14 * mu
    # the zero network is always feasible: where the dual bound certifies it (beta at or
    # above the smallest beta whose optimum is zero, which the estimators' shortcut only
    # bounds from above), it is returned, since the iterates' cone violation relative to
    # max |X~ u| does not shrink as they go to zero (iris, 3 classes, cross-entropy at
    # beta = 1: "stalled" with a gap of 2e-7 and a relative violation of 3e-2)
    zero_b = constant_model(lm.loss, Y, w, fit_intercept)[0]
    zero_obj = float(lm.loss.value(np.broadcast_to(zero_b, Y.shape), Y, w))
    mu_min = mu
    n_grown = 0
    for it in range(max_iter + 1):
        # ---------------------------------------------------------- grow the working set
        if grow and it > 0 and it % GROW_EVERY == 0:
            # the constraints the iterate violates join; their slacks mirror the violation
            # and their multipliers start on the central path, so the infeasible-start
            # method drives their residuals to zero with the others (no restart)
            grown, n_new, _ = grow_working_set(
                program, working_set, U, feas_tol, fraction=grow_fraction
            )
            if n_new:
                n_grown += 1
                r1, r2 = working_set[0].shape[0], working_set[1].shape[0]
                working_set = grown
                opk, opkc = _ws_operators(program, working_set)
                M1, M2 = _row_masks(opk)
                # the outputs F do not change: only the slacks of the grown set
                Gs1, Gs2 = (a.astype(np.float64, copy=False) for a in opk.apply(U)[:2])
                zs = max(float(np.max(np.abs(Gs1), initial=0.0)), 1e-300)
                floor_s = GROW_SLACK * zs
                s1, l1 = _extend_pairs(s1, l1, Gs1, r1, M1, mu, floor_s)
                s2, l2 = _extend_pairs(s2, l2, Gs2, r2, M2, mu, floor_s)
                N = opk.n_cone_rows + 1.0 + (2.0 * MH.sum() if hinge else 0.0)
                cg_maxiter = cg_cap()
                mu = complementarity()
                best, best_it = None, it
        # ---------------------------------------------------------- check
        zmax = max(float(np.max(np.abs(Gs1), initial=0.0)), 1e-300)
        viol = (
            max(
                float(np.max(-Gs1 * M1, initial=0.0)),
                float(np.max(-Gs2 * M2, initial=0.0)),
                0.0,
            )
            / zmax
        )
        pobj, dobj, gap, bp = certificate(
            U, F, b, late=bool(history) and mu * N <= 1e-4 * abs(history[-1])
        )
        kkt = kkt_residual(U, F, b, pobj)
        crit = max(min(gap, kkt), viol / feas_tol * tol_eff)
        history.append(pobj)
        if viol <= feas_tol and np.isfinite(pobj) and (best is None or crit <= best[3]):
            if best is None or crit < 0.9 * best[3]:
                best_it = it
            best = (
                U.copy(),
                bp.copy(),
                pobj,
                crit,
                (s1.copy(), s2.copy(), l1.copy(), l2.copy()),
            )
        bar.set_postfix(
            obj=f"{pobj:.6g}", gap=f"{gap:.2e}", viol=f"{viol:.1e}", mu=f"{mu:.1e}"
        )
        zero_gap = (zero_obj - best_dual[0]) / max(abs(zero_obj), 1e-12)
        if crit > tol_eff and zero_gap <= tol_eff:
            duals = (s1.copy(), s2.copy(), l1.copy(), l2.copy())
            best = (np.zeros_like(U), np.array(zero_b, dtype=float), zero_obj, zero_gap, duals)
            crit = zero_gap
        if crit <= tol_eff:
            status = "optimal"
            break
        if it == max_iter:
            break
        if not np.isfinite(crit) and it > 0 and not np.isfinite(mu):
            status = "numerical_error"
            break
        # once complementarity is negligible next to tol, only the dual certificate can
        # still improve; Newton systems are then at their worst conditioning, so stop soon
        endgame = mu * N <= 1e-2 * tol_eff * abs(pobj)
        patience = 6 if endgame else stall_iters
        if best is not None and it - best_it > patience and mu * N <= 1e-4 * abs(pobj):
            status = "stalled"
            break
        capped_run, capped = (capped_run + 1 if capped else 0), False
        if min(capped_run, it - best_it) >= CG_FAIL_PATIENCE:
            status = "stalled"
            break
        if max_time is not None and time.perf_counter() - t_start > max_time:
            status = "max_time"
            break
        n_iter = it + 1
        bar.update(1)

        # ---------------------------------------------------------- Newton system
        Fb = F.astype(np.float64) + b
        rp1 = (Gs1 - s1) * M1
        rp2 = (Gs2 - s2) * M2
        c1 = l1 / s1 * M1
        c2 = l2 / s2 * M2
        if hinge:
            rpb = (xi - 1.0 + Y * Fb - sb) * MH
            rxi = (Wm - na - nb) * MH
            ca = na / xi * MH
            cb = nb / sb * MH
            kap = np.where(MH > 0, ca * cb / np.where(MH > 0, ca + cb, 1.0), 0.0)

        def smooth_terms(mu_s):
            """Loss curvature, smoothed-norm pieces and the Hessian product at mu_s."""
            if hinge:
                r, Dd, Pm = None, kap, None
            else:
                r, Dd, Pm = lm.derivatives(Fb, mu_s)
            if beta > 0:
                _, ht, hr = op.psi(U, mu_s, beta)
            else:
                ht = hr = np.full(U.shape[:3] + U.shape[4:], 1e-12)
            # rcond 1e-12: the softmax's intercept block is singular along (1, ..., 1); its
            # eigenvalue there, round-off of 1e-17, was inverted at NumPy's default 1e-15
            # and made the Newton matrix indefinite (standardized iris, beta = 1e-4: CG
            # broke down from the ninth iteration, "stalled" twice the optimum)
            Hbb_pinv = (
                np.linalg.pinv(lm.hbb(Dd, Pm), rcond=1e-12, hermitian=True)
                if fit_intercept
                else None
            )
            ht_d, hr_d = ht.astype(np.float64), hr.astype(np.float64)

            def loss_hess(Fv):
                HF = lm.hess_apply(Fv, Dd, Pm)
                if fit_intercept:
                    HF = HF - lm.hess_apply(
                        np.broadcast_to(Hbb_pinv @ HF.sum(0), Fv.shape), Dd, Pm
                    )
                return HF.astype(dtype)

            def matvec(V):
                # G^T C G v: the signs of the constraint rows cancel (A * A = 1)
                if opk is op:
                    Zv = op.Z(V)
                    gv = op.g(Zv)
                    HF = loss_hess(op.F(gv).astype(np.float64))
                    out = op.adjoint(c1 * Zv, c2 * gv, HF, signed=True)
                else:
                    Zv, gv = opk.cons(V)
                    out = opk.adjoint(c1 * Zv, c2 * gv, signed=True)
                    if gram is not None:
                        out += gram.hess(V, fit_intercept).astype(dtype)
                    elif later.get("prec") is not None:
                        # the preconditioner's Gram matrices are this loss term exactly
                        out += later["prec"].loss_hess(V).astype(dtype)
                    else:
                        out += op.adjoint(R=loss_hess(outputs(V).astype(np.float64)))
                out += op.psi_hess_apply(V, U, ht_d, hr_d)
                return out

            # set once the preconditioner of these terms exists (see matvec)
            later = {}
            return dict(
                r=r,
                Hbb_pinv=Hbb_pinv,
                Dd=Dd,
                Pm=Pm,
                matvec=matvec,
                ht=ht_d,
                hr=hr_d,
                later=later,
            )

        def direction(t1, t2, ta, tb, sm, prec):
            nonlocal total_cg, capped
            y1 = (t1 - l1 * rp1) / s1 * M1
            y2 = (t2 - l2 * rp2) / s2 * M2
            if hinge:
                e = (ta / xi - na + tb / sb - nb - cb * rpb - rxi) * MH
                ecoef = np.where(MH > 0, e / np.where(MH > 0, ca + cb, 1.0), 0.0)
                r = Y * (tb / sb - cb * rpb - cb * ecoef) * MH
            else:
                r = sm["r"]
            rb = r.sum(0)
            R = r
            if fit_intercept:
                R = r - lm.hess_apply(
                    np.broadcast_to(sm["Hbb_pinv"] @ rb, Fb.shape), sm["Dd"], sm["Pm"]
                )
            if opk is op:
                rhs = op.adjoint(y1.astype(dtype), y2.astype(dtype), R.astype(dtype))
            else:
                if hinge or "JtR" not in sm:  # the loss part is the same in every solve
                    if reuse_jtr and "kkt" in jtr:
                        # R = r - w c with r the KKT residual's: J^T R = J^T r - c J^T w
                        c = sm["Hbb_pinv"] @ rb if fit_intercept else np.zeros(o)
                        sm["JtR"] = jtr.pop("kkt") - gram.jtw * c[:, None, None, None, None]
                    else:
                        sm["JtR"] = op.adjoint(R=R.astype(dtype))
                rhs = opk.adjoint(y1.astype(dtype), y2.astype(dtype)) + sm["JtR"]
            rhs -= (sm["ht"][..., None, :] * U).astype(dtype)
            rtol = cg_rtol if prec.dense is None else min(cg_rtol, DENSE_CG_RTOL)
            dU, ncg = _cg(sm["matvec"], prec, rhs, rtol, cg_maxiter)
            total_cg += ncg
            capped |= ncg >= cg_maxiter
            if gram is not None:  # no per-sample outputs needed: the intercept's row only
                dGs1, dGs2 = (a.astype(np.float64) for a in opk.apply(dU)[:2])
                dFsum = gram.wsum(dU)
            else:
                dGs1, dGs2, dF = apply64(dU)
                dF = dF.astype(np.float64)
                dFsum = lm.hess_apply(dF, sm["Dd"], sm["Pm"]).sum(0)
            if fit_intercept:
                db = sm["Hbb_pinv"] @ (rb - dFsum)
            else:
                db = np.zeros(o)
            ds1 = (dGs1 + rp1) * M1
            ds2 = (dGs2 + rp2) * M2
            dl1 = (t1 - l1 * s1 - l1 * ds1) / s1 * M1
            dl2 = (t2 - l2 * s2 - l2 * ds2) / s2 * M2
            ap = min(_max_step(s1, ds1), _max_step(s2, ds2))
            ad = min(_max_step(l1 + (1 - M1), dl1), _max_step(l2 + (1 - M2), dl2))
            hd = None
            if hinge:
                dFt = dF + db
                dxi = (
                    ecoef
                    - np.where(MH > 0, cb / np.where(MH > 0, ca + cb, 1.0), 0.0) * Y * dFt
                ) * MH
                dna = (ta - na * xi - na * dxi) / xi * MH
                dsb = (dxi + Y * dFt + rpb) * MH
                dnb = (tb - nb * sb - nb * dsb) / sb * MH
                ap = min(ap, _max_step(xi, dxi), _max_step(sb, dsb))
                ad = min(ad, _max_step(na + (1 - MH), dna), _max_step(nb + (1 - MH), dnb))
                hd = (dxi, dsb, dna, dnb)
            return dU, db, ds1, ds2, dl1, dl2, ap, ad, hd

        sm = smooth_terms(mu)
        # the cross-entropy's loss Gram matrix in float32 products while the gap is large
        pcache["gram32"] = (
            GRAM_FLOAT32 and lm.kind in ("logistic", "softmax") and gap > GRAM_FLOAT32_GAP
        )
        try:
            prec = Preconditioner(
                op,
                c1,
                c2,
                sm["Dd"],
                sm["ht"],
                sm["hr"],
                U,
                center=fit_intercept,
                cache=pcache,
                Dfull=lm.full_curvature(sm["Pm"]),
                opk=opk,
            )
        except np.linalg.LinAlgError:  # the Newton matrix lost positive definiteness
            status = "numerical_error"
            break
        # (not for a run whose gap is already below tol: it waits for feasibility only,
        # usually one more iteration)
        deflating = deflating or (cg_last > DEFLATE_AFTER_CG * solves_last and gap > tol_eff)
        direct = direct or (
            deflating and (capped_run > 0 or cg_last > DENSE_AFTER_CG * solves_last)
        )
        if deflating:
            try:
                # the Newton matrix factored directly once the coarse space did not suffice
                # (where it is small enough), else the coarse space
                if direct and prec.densify():
                    n_direct += 1
                else:
                    prec.deflate(U)
            except np.linalg.LinAlgError:  # coarse stays None: the plain preconditioner
                pass
        cg_start = total_cg
        if (
            PREC_LOSS_PRODUCTS
            and opk is not op
            and gram is None
            and prec.loss_grams is not None
        ):
            # working sets, loss curvature of this iterate: CG's loss products through the
            # preconditioner's variable-space Gram matrices instead of passes over the data
            sm["later"]["prec"] = prec

        # predictor (affine scaling) then Mehrotra corrector
        _, _, ds1, ds2, dl1, dl2, ap, ad, hd = direction(0.0, 0.0, 0.0, 0.0, sm, prec)
        tot = np.sum((s1 + ap * ds1) * (l1 + ad * dl1) * M1) + np.sum(
            (s2 + ap * ds2) * (l2 + ad * dl2) * M2
        )
        ta = tb = 0.0
        if hinge:
            dxi, dsb, dna, dnb = hd
            tot += np.sum(
                ((xi + ap * dxi) * (na + ad * dna) + (sb + ap * dsb) * (nb + ad * dnb)) * MH
            )
        mu_aff = float(tot / N)
        floor = max(mu_floor, 1e-3 * tol_eff * abs(pobj) / N)
        sig = min(1.0, max(SIGMA_MIN, (mu_aff / mu) ** 3, floor / mu))
        if hinge:
            ta = (sig * mu - dxi * dna) * MH
            tb = (sig * mu - dsb * dnb) * MH
        cg0 = total_cg
        sm_c = sm if CORRECTOR_SAME_SMOOTHING else smooth_terms(sig * mu)
        t1 = (sig * mu - ds1 * dl1) * M1
        t2 = (sig * mu - ds2 * dl2) * M2
        res = direction(t1, t2, ta, tb, sm_c, prec)
        alpha = min(res[6], res[7])
        # Gondzio's multiple centrality correctors: solves are cheap next to the
        # preconditioner, so push the complementarity products back into a box
        n_corr = 0
        while alpha < 0.95 and n_corr < max_correctors:
            at = min(1.0, 1.5 * alpha + 0.1)
            lo, hi = 0.1 * sig * mu, 10.0 * sig * mu

            def push(x, dx, lam, dlam, mask):
                v = (x + at * dx) * (lam + at * dlam)
                return (np.clip(v, lo, hi) - v).clip(-hi, None) * mask

            _, _, e1, e2, f1, f2, _, _, hdn = res
            n1 = t1 + push(s1, e1, l1, f1, M1)
            n2 = t2 + push(s2, e2, l2, f2, M2)
            na_t, nb_t = ta, tb
            if hinge:
                gx, gs, gna, gnb = hdn
                na_t = ta + push(xi, gx, na, gna, MH)
                nb_t = tb + push(sb, gs, nb, gnb, MH)
            trial = direction(n1, n2, na_t, nb_t, sm_c, prec)
            n_corr += 1
            a_new = min(trial[6], trial[7])
            if a_new < 1.01 * alpha:
                break
            res, alpha, t1, t2, ta, tb = trial, a_new, n1, n2, na_t, nb_t
        dU, db, ds1, ds2, dl1, dl2, ap, ad, hd = res
        cg_last, solves_last = total_cg - cg_start, 2 + n_corr
        ap = ad = tau * min(ap, ad)
        U = (U + ap * dU).astype(dtype)
        b = b + ap * db
        s1 = s1 + ap * ds1
        s2 = s2 + ap * ds2
        l1 = l1 + ad * dl1
        l2 = l2 + ad * dl2
        if hinge:
            dxi, dsb, dna, dnb = hd
            xi, sb, na, nb = xi + ap * dxi, sb + ap * dsb, na + ad * dna, nb + ad * dnb
        Gs1, Gs2, F = apply64(U)
        mu = complementarity()
        mu_min = min(mu_min, mu)
        # a convex program's iterates do not need the barrier parameter to grow by orders
        # of magnitude: that happens only when near-singular Newton systems give wrong
        # directions (e.g. degenerate data whose sub-networks can act as the intercept)
        if not np.isfinite(mu) or not np.all(np.isfinite(F)) or mu > 1e4 * mu_min:
            status = "numerical_error"
            break
        tau = 0.995 if min(ap, ad) > 0.8 else 0.99
        cg_rtol = min(1e-6, max(1e-10, 1e-2 * gap))
        if verbose > 1:
            print(
                f"it {it}: obj {pobj:.8g} gap {gap:.2e} kkt {kkt:.2e} viol {viol:.1e} "
                f"mu {mu:.2e} sig {sig:.1e} ap {ap:.3f} cg {total_cg} "
                f"corr {total_cg - cg0} gz {n_corr} prec "
                + ("direct" if prec.dense else "coarse" if prec.coarse else "woodbury"),
                flush=True,
            )
    bar.close()

    feasible = best is not None
    if best is None:
        # no feasible iterate (rows that joined during the run can keep a residual when
        # the Newton systems break down): the last one, flagged for the caller
        best = (U, b, history[-1], crit, (s1, s2, l1, l2))
    U_out, b_out, obj, crit_out, duals = best
    program._native_warm = (
        (U_out.copy(),)
        + tuple(a.copy() for a in duals)
        + ((xi.copy(), sb.copy(), na.copy(), nb.copy()) if hinge else None,)
        + (None if working_set is None else tuple(a.copy() for a in working_set),)
    )
    if status != "optimal":
        if status == "numerical_error":
            msg = (
                f"native solver stopped after {n_iter} iterations (numerical_error: its "
                "Newton systems became too ill-conditioned to give usable directions) with "
                f"stopping criterion {crit_out:.2e} > tol={tol_eff:g}; the best iterate is "
                "returned. Standardize the features (StandardScaler), use a larger beta, or "
                "use solver='cvxpy'"
            )
        elif status == "stalled":
            msg = (
                f"native solver stopped after {n_iter} iterations ({status}: no progress in "
                f"working precision {dtype.name}) with stopping criterion {crit_out:.2e} > "
                f"tol={tol_eff:g}; the best iterate is returned. Increase tol"
                + (", or use float64 data" if dtype == np.float32 else "")
                + "; max_iter is not the limit here"
            )
        elif status == "max_time":
            msg = (
                f"native solver stopped after max_time={max_time} s ({n_iter} iterations) "
                f"with stopping criterion {crit_out:.2e} > tol={tol_eff:g}; increase "
                "max_time or tol"
            )
        else:
            msg = (
                f"native solver stopped after max_iter={max_iter} iterations with stopping "
                f"criterion {crit_out:.2e} > tol={tol_eff:g}; increase max_iter or tol"
            )
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
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
        solver=ALGO,
    )
    res.n_cg = total_cg
    res.n_direct = n_direct
    res.working_set = working_set
    res.n_grown = n_grown
    res.feasible = feasible
    return res


def _ws_operators(program, working_set):
    """The working set's constraint operator in the program's precision and its float64
    twin (the certificate's; the same object for float64 programs)."""
    opk = WorkingSetOperator(program, *working_set)
    if opk.dtype == np.float64:
        return opk, opk
    return opk, WorkingSetOperator(program, *working_set, np.float64)


def _row_masks(opk):
    """Masks of the kept first- and second-layer constraint rows; the first-layer one is
    1.0 when every row is kept (all ones unless X~ has zero rows or a working set pads)."""
    return (opk.M1f if not opk.M1.all() else 1.0), opk.M2f


def _extend_pairs(s, lam, Gs, r_old, M, mu, floor):
    """Slacks and multipliers of the rows that joined the working set (after row
    ``r_old``): slacks of at least ``floor`` (a violated row's slack mirrors its
    violation), multipliers on the central path ``s lam = mu``."""
    Mn = np.broadcast_to(M, Gs.shape)[r_old:]
    sn = np.maximum(np.abs(Gs[r_old:]), floor) * Mn + (1 - Mn)
    ln = mu / sn * Mn
    return np.concatenate([s, sn]), np.concatenate([lam, ln])


def solve_native(
    program,
    loss,
    Y,
    w,
    beta,
    fit_intercept=True,
    max_iter=200,
    tol=1e-6,
    U0=None,
    b0=None,
    verbose=0,
    max_time=None,
    working_set="auto",
):
    """Solve the convex program with the structured interior-point method.

    See the module docstring for the algorithm, the working sets of constraints and the
    stopping rule.

    Parameters
    ----------
    program : ConvexProgram
    loss : Loss
    Y : ndarray of shape (n, n_outputs)
    w : ndarray of shape (n,)
        Normalized sample weights (summing to one).
    beta : float
    fit_intercept : bool, default=True
    max_iter : int or None, default=200
        Maximum number of interior-point (Newton) iterations (None means 200); with a
        working set, of each round.
    tol : float, default=1e-6
        Relative duality gap at which to stop (floored at 1e-3 in float32).
    U0, b0 : ndarray, optional
        Warm start. When ``U0`` is the solution this solver last returned for the same
        program, its dual variables are reused too.
    verbose : int, default=0
        1: a progress bar with the objective, the certified gap, the cone violation and
        the barrier parameter; 2: one printed line per iteration instead.
    max_time : float, optional
        Time budget in seconds; the best iterate is returned when it is exceeded.
    working_set : bool or "auto", default="auto"
        Enforce the cone constraints through per-neuron working sets (grown until no
        sample's constraint is violated); "auto": from ``WORKING_SET_MIN_N`` samples on.
        The result then has ``working_set_rows`` (rows per column and per block).

    Returns
    -------
    SolveResult
    """
    tune_allocator()
    n = program.n_samples
    if working_set == "auto":
        working_set = n >= WORKING_SET_MIN_N
    max_iter = 200 if max_iter is None else int(max_iter)
    kwargs = dict(fit_intercept=fit_intercept, tol=tol, verbose=verbose)
    if not working_set:
        return _solve_ipm(
            program,
            loss,
            Y,
            w,
            beta,
            max_iter=max_iter,
            U0=U0,
            b0=b0,
            max_time=max_time,
            **kwargs,
        )
    t_start = time.perf_counter()
    feas_tol = 1e-6 if np.dtype(program.dtype) == np.float32 else 1e-10
    ws = getattr(program, "_native_working_set", None)
    pilot_iter, grow_fraction = 0, GROW_FRACTION
    if ws is None and n >= PILOT_MIN_N:
        ws, pilot_iter = pilot_working_set(
            program, loss, Y, w, beta, fit_intercept, tol, feas_tol, max_time, verbose
        )
        if ws is not None:
            grow_fraction = PILOT_GROW_FRACTION
    if ws is None:
        ws = initial_working_set(program)
    U, b = U0, b0
    if U is not None:  # the constraints a warm start violates join at once
        ws = grow_working_set(program, ws, U, feas_tol)[0]
    total_iter, total_cg, total_direct, history = 0, 0, 0, []
    kwargs.pop("tol")
    # the squared loss's Gram matrix is the same in every round: formed once (measured:
    # 16,000 rows, eight rounds, 7.9 s of a 54 s fit went into forming it again)
    gram = None
    if loss.name == "squared":
        gram = LossGram(Operator(program), np.asarray(w, dtype=np.float64))
    round_tol = max(float(tol), WS_ROUND_TOL)  # only the last round needs the full accuracy
    cap = {"hinge": GROW_MAX_N_HINGE, "cross_entropy": GROW_MAX_N_CROSS_ENTROPY}.get(
        loss.name, GROW_MAX_N
    )
    grow = GROW_IN_RUN and (cap is None or n <= cap)
    loose = float(tol) if grow else round_tol  # a growing run is meant to be the last
    for round_ in range(MAX_ROUNDS):
        left = (
            None if max_time is None else max(0.0, max_time - (time.perf_counter() - t_start))
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = _solve_ipm(
                program,
                loss,
                Y,
                w,
                beta,
                max_iter=max_iter,
                tol=loose,
                U0=U,
                b0=b,
                max_time=left,
                working_set=ws,
                loss_gram=gram,
                grow=grow,
                grow_fraction=grow_fraction,
                **kwargs,
            )
        ws = res.working_set
        total_iter += res.n_iter
        total_cg += getattr(res, "n_cg", 0)
        total_direct += res.n_direct
        history += res.history
        U, b = res.U, res.intercept
        grown, n_new, worst = grow_working_set(program, ws, U, feas_tol)
        if verbose > 1:
            print(
                f"working set round {round_}: {ws[0].shape[0]} + {ws[1].shape[0]} rows per "
                f"column and block, {res.n_iter} iterations ({res.status}, grown "
                f"{res.n_grown} times); {n_new} "
                f"constraints violated outside it (worst {worst:.1e})",
                flush=True,
            )
        # a relaxation with too few constraints can be ill-conditioned: grow and go on
        if res.status == "max_time" or (res.status == "numerical_error" and n_new == 0):
            break
        if grow and not res.feasible and res.status != "max_iter":
            # the rows that joined during the run kept a residual (the Newton systems broke
            # down first): go on by rounds, which restart the barrier with room for every
            # slack
            grow, loose, ws = False, round_tol, grown
            continue
        if grow and res.status == "stalled" and n_new == 0:
            # feasible, but its certificate stopped short of tol (the late Newton systems
            # of a grown hinge run): one round from its point restarts the barrier
            grow, loose, ws = False, float(tol), grown
            continue
        if n_new == 0:
            if loose <= tol:
                break
            loose = float(tol)  # feasible at the loose tolerance: one more round at tol
        ws = grown
    for item in caught:  # the last round's warnings are the fit's
        warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    program._native_working_set = ws
    res.n_iter, res.n_cg, res.history = total_iter, total_cg, history
    res.n_direct = total_direct
    res.working_set_rows = (ws[0].shape[0], ws[1].shape[0])
    res.n_rounds = round_ + 1
    res.n_pilot_iter = pilot_iter
    res.solver = ALGO_WS
    if n_new:
        if res.status == "optimal":
            res.status = "max_iter"
        warnings.warn(
            f"native solver stopped after {total_iter} iterations with {n_new} cone "
            f"constraints outside its working set violated (by {worst:.1e} relative); "
            "increase max_iter or max_time",
            ConvergenceWarning,
            stacklevel=2,
        )
    return res


def pilot_working_set(
    program, loss, Y, w, beta, fit_intercept, tol, feas_tol, max_time=None, verbose=0
):
    """First working set from a pilot solve on a random part of the samples.

    The program restricted to ``PILOT_FRACTION`` of the samples (the same configurations,
    the weights renormalized; its cones are the full program's with fewer constraints) is
    solved to ``PILOT_TOL``; its final working set, mapped to the full data, plus the
    constraints its solution violates on the full data (the quota of one round per column
    and block; ``PILOT_ADD_FRACTION`` quotas for the cross-entropy) start the full solve.
    The pilot's point itself is not used (a run started there took more iterations).
    Returns the working set (None when the pilot fails or its samples carry no weight:
    the caller then starts from :func:`initial_working_set`) and the pilot's number of
    iterations.
    """
    n = program.n_samples
    w = np.asarray(w, dtype=np.float64)
    # a fixed seed: the fit does not depend on it, its iteration count should not vary
    rows = np.sort(np.random.default_rng(0).choice(n, int(PILOT_FRACTION * n), replace=False))
    wsum = float(w[rows].sum())
    if not wsum > 0:
        return None, 0
    sub = program.sample_subset(rows)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = solve_native(
            sub,
            loss,
            np.asarray(Y)[rows],
            w[rows] / wsum,
            beta,
            fit_intercept=fit_intercept,
            tol=max(float(tol), PILOT_TOL),
            max_time=None if max_time is None else 0.25 * max_time,
            verbose=0,
        )
    if res.status == "numerical_error" or not np.all(np.isfinite(res.U)):
        return None, res.n_iter
    if res.working_set is None:  # a pilot small enough for the full program
        ws = initial_working_set(program)
    else:
        ws = tuple(np.where(a >= 0, rows[np.maximum(a, 0)], -1) for a in res.working_set)
    ws, n_new, worst = grow_working_set(
        program, ws, res.U, feas_tol, fraction=PILOT_ADD_FRACTION.get(loss.name, 1.0)
    )
    if verbose > 1:
        print(
            f"pilot on {rows.size} samples: {res.n_iter} iterations ({res.status}), "
            f"{time.perf_counter() - t0:.1f} s; its point violates {n_new} constraints "
            f"of the full data (worst {worst:.1e}); first working set "
            f"{ws[0].shape[0]} + {ws[1].shape[0]} rows per column and block",
            flush=True,
        )
    return ws, res.n_iter


def initial_working_set(program):
    """First working set: the constraints most likely to be facets of each cone.

    A column's first-layer constraints ``a_i^T u >= 0`` (``a_i = A1_ij x~_i``) define a
    polyhedral cone whose facets are the extreme rays of the cone spanned by the
    ``a_i``; the rows whose normalized ``a_i`` make the widest angle with their mean
    direction are the likeliest extreme rays. The same rule picks each block's
    second-layer rows (``a_i = A2_i (S1_ij x~_i)_j``).
    """
    X = np.asarray(program.Xt, dtype=np.float64)
    n, d = X.shape
    o, _, P, _, m = program.shape
    r1 = min(n, (WS_FIRST_ROWS_SMALL if n < WS_SMALL_N else WS_FIRST_ROWS) * d)
    r2 = min(n, WS_SECOND_ROWS * m * d)
    xn = np.maximum(np.linalg.norm(X, axis=1), 1e-300)
    Xh = X / xn[:, None]
    A1 = np.asarray(program.A1, dtype=np.float64).reshape(n, P * m)
    axis1 = Xh.T @ A1  # (d, P m): sum of the unit rows a_i / ||a_i|| of each column
    axis1 /= np.maximum(np.linalg.norm(axis1, axis=0), 1e-300)
    score1 = A1 * (Xh @ axis1)  # cos(a_i, axis)
    idx1 = np.argpartition(score1, r1 - 1, axis=0)[:r1].reshape(r1, P, m)
    S1 = np.asarray(program.S1, dtype=np.float64)  # (n, P, m)
    A2 = np.asarray(program.A2, dtype=np.float64)  # (n, P)
    sn = np.maximum(np.linalg.norm(S1, axis=2), 1e-300)  # ||a_i|| / ||x_i||
    coef = (A2 / sn)[:, :, None] * S1  # a_i / ||a_i|| = coef_ij x_i / ||x_i||
    axis2 = np.einsum("nd,npm->pmd", Xh, coef)  # (P, m, d)
    axis2 /= np.maximum(np.linalg.norm(axis2, axis=(1, 2), keepdims=True), 1e-300)
    score2 = np.einsum("npm,nd,pmd->np", coef, Xh, axis2)
    score2[~np.any(program.conf.D1, axis=2)] = np.inf  # rows with g = 0 identically
    idx2 = np.argpartition(score2, r2 - 1, axis=0)[:r2]  # (r2, P)
    idx1 = np.ascontiguousarray(np.broadcast_to(idx1[:, None, None], (r1, o, 2, P, m)))
    idx2 = np.ascontiguousarray(np.broadcast_to(idx2[:, None, None], (r2, o, 2, P)))
    return idx1, idx2


def grow_working_set(program, ws, U, feas_tol, chunk=8192, fraction=1.0):
    """Add to each column (block) its most violated constraints outside the working set.

    At most ``fraction`` times ``WS_ADD_FIRST * d~`` rows join each column and
    ``WS_ADD_SECOND * m d~`` each block (at least one).

    Returns the new working set, the number of violated constraints outside the old one
    and the largest violation (relative to ``max |X~ u_j|``).
    """
    idx1, idx2 = ws
    n = program.n_samples
    U = np.asarray(U, dtype=program.dtype).reshape(program.shape)
    K1 = int(np.prod(idx1.shape[1:]))
    K2 = int(np.prod(idx2.shape[1:]))
    v1 = np.empty((n, K1))
    v2 = np.empty((n, K2))
    Umat = np.moveaxis(U, 3, 0).reshape(U.shape[3], -1)
    zmax = 0.0
    for a in range(0, n, chunk):
        sl = slice(a, min(n, a + chunk))
        Z = (program.Xt[sl] @ Umat).reshape((-1,) + U.shape[:3] + U.shape[4:])
        g = np.einsum("nospm,npm->nosp", Z, program.S1[sl])
        v1[sl] = (-program.A1[sl][:, None, None] * Z).reshape(-1, K1)
        v2[sl] = (-program.A2[sl][:, None, None] * g).reshape(-1, K2)
        zmax = max(zmax, float(np.abs(Z).max(initial=0.0)))
    out, total, worst = [], 0, 0.0
    for v, idx, add in (
        (v1, idx1, max(1, int(fraction * WS_ADD_FIRST * U.shape[3]))),
        (v2, idx2, max(1, int(fraction * WS_ADD_SECOND * U.shape[3] * U.shape[4]))),
    ):
        v /= max(zmax, 1e-300)
        flat = idx.reshape(idx.shape[0], -1)
        cols = np.broadcast_to(np.arange(flat.shape[1]), flat.shape)
        keep = flat >= 0
        v[flat[keep], cols[keep]] = -np.inf  # already in the working set
        total += int(np.count_nonzero(v > feas_tol))
        worst = max(worst, float(v.max(initial=0.0)))
        # the violated constraints and, ahead of the next rounds, the nearly active ones
        # (measured: 1,600 samples 30 s instead of 39 s, 16,000 84 s instead of 95 s,
        # with rounds stopped at a gap of 1e-3)
        near = v > -WS_NEAR
        a = int(min(add, near.sum(0).max(initial=0)))
        if a == 0:
            out.append(idx)
            continue
        new = _top_near(v, near, a)
        out.append(np.concatenate([flat, new]).reshape((-1,) + idx.shape[1:]))
    if total == 0:
        return ws, 0, worst
    return tuple(out), total, worst


def _top_near(v, near, a):
    """Per column of ``v`` (n, K), the rows of its ``a`` largest entries among those where
    ``near`` (``v`` above a threshold) holds, as an ``(a, K)`` array padded with -1.

    Usually few entries are near: sorting those is cheaper than partitioning all ``n``
    rows of every column (16,000 samples: 48 ms a call); a dense ``near`` (early on, when
    the columns are still small) partitions.
    """
    rows, cols = np.nonzero(near)
    if rows.size > 0.05 * near.size:
        top = np.argpartition(-v, a - 1, axis=0)[:a]
        return np.where(np.take_along_axis(near, top, axis=0), top, -1)
    order = np.lexsort((-v[rows, cols], cols))  # by column, then the largest first
    rows, cols = rows[order], cols[order]
    rank = np.arange(cols.size) - np.searchsorted(cols, cols)
    keep = rank < a
    out = np.full((a, v.shape[1]), -1, dtype=np.intp)
    out[rank[keep], cols[keep]] = rows[keep]
    return out
