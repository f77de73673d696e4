"""Solvers for the convex program. Each follows one contract (:class:`SolveResult`).

Names accepted by the estimators' ``solver`` parameter:

- ``"cvxpy"``: the conic program through cvxpy (Clarabel, or MOSEK with a license);
- ``"ipm"``: the package's structured interior-point method (``native:ipm-pcg``,
  :mod:`skconvexrelu.solvers._native`): few, expensive iterations, exact to ``tol``;
  the method of choice for narrow inputs (blocks of ``width * (n_features + 1)`` up to a
  few hundred); from 800 samples on it enforces the cone constraints through
  per-neuron working sets (``native:ipm-pcg+working-set``), so its time grows more
  slowly than ``n``;
- ``"al-fista"``: the package's matrix-free first-order method (``native:al-fista``,
  :mod:`skconvexrelu.solvers._first_order`): cheap iterations linear in ``n``, a few
  arrays of the size of the first layer in memory, for wide inputs; the only one that
  runs on torch tensors (``device``);
- ``"native"``: ``"ipm"`` when one of its iterations is affordable
  (:func:`ipm_is_affordable`), otherwise ``"al-fista"``; always ``"al-fista"`` when a
  ``device`` is given;
- ``"auto"``: ``"native"`` for the cross-entropy losses (:data:`AUTO_NATIVE_LOSSES`)
  and for programs above :data:`AUTO_NATIVE_SIZE` samples x variables, ``"cvxpy"``
  otherwise.
"""

from ._base import SolveResult
from ._cvxpy import KNOWN_SOLVERS, SolverError, mosek_license_available, solve_cvxpy

#: Above this many (samples x variables) ``solver="auto"`` uses the native solvers
#: (measured: at n = 100, d = 10, width 10, 20 configurations, 440,000, the native
#: interior-point method is already faster than Clarabel; below, on tiny programs,
#: Clarabel is faster and more robust).
AUTO_NATIVE_SIZE = 1_000_000

#: Losses for which ``solver="auto"`` uses the native solvers at every size: on the
#: bundled UCI sets and iris at ``beta`` 1e-4 to 1e-2, Clarabel's exponential cones ended
#: "optimal_inaccurate" (with a warning) on 9 of 18 programs, 3e-5 to 15% above the
#: optimum, while the native interior-point method certified the optimum of all 18, 1.2
#: to 75 times faster (``benchmarks/bench_auto_choice.py``).
AUTO_NATIVE_LOSSES = ("cross_entropy",)

#: Largest estimated cost of one interior-point iteration (floating-point operations)
#: for which ``solver="native"`` picks the interior-point method: about 2 s on 2 cores.
IPM_MAX_FLOPS = 1e11

SOLVERS = ("auto", "cvxpy", "native", "ipm", "al-fista")
NATIVE_SOLVERS = ("ipm", "al-fista")


def _load_native():
    try:
        from ._native import solve_native
    except ImportError:  # pragma: no cover - the native solver ships with the package
        return None
    return solve_native


def _load_first_order():
    try:
        from ._first_order import solve_first_order
    except ImportError:  # pragma: no cover - the native solver ships with the package
        return None
    return solve_first_order


def ipm_is_affordable(program):
    """Whether one interior-point iteration fits in memory and in :data:`IPM_MAX_FLOPS`."""
    from .._validation import available_memory_bytes
    from ._native import estimate_memory, ipm_iteration_flops

    avail = available_memory_bytes()
    if avail is not None and estimate_memory(program) > 0.5 * avail:
        return False
    return ipm_iteration_flops(program) <= IPM_MAX_FLOPS


def program_size(program):
    """Samples x variables (``2 o P m d~``): the size measure of :func:`cvxpy_sized`."""
    n_var = 2 * program.n_outputs * program.conf.n_configurations * program.conf.width
    return program.n_samples * n_var * program.n_features


def cvxpy_sized(program):
    """Whether ``program`` has at most :data:`AUTO_NATIVE_SIZE` samples x variables."""
    return program_size(program) <= AUTO_NATIVE_SIZE


def resolve_solver(solver, program, device=None, loss=None):
    """The solver to run for ``solver``: ``"cvxpy"``, ``"ipm"`` or ``"al-fista"``.

    ``loss`` (a loss object or its name) matters only to ``"auto"``.
    """
    if solver == "auto":
        native_ok = _load_native() is not None or _load_first_order() is not None
        small = cvxpy_sized(program)
        name = getattr(loss, "name", loss)
        if device is None and (not native_ok or (small and name not in AUTO_NATIVE_LOSSES)):
            return "cvxpy"
        solver = "native"
    if solver == "native":
        if device is not None or _load_native() is None or not ipm_is_affordable(program):
            return "al-fista"
        return "ipm"
    return solver


def get_solver(name):
    """The solve function for a resolved solver name."""
    if name == "cvxpy":
        return solve_cvxpy
    if name in ("ipm", "native"):
        solve = _load_native()
    elif name == "al-fista":
        solve = _load_first_order()
    else:
        raise ValueError(f"Unknown solver {name!r}; expected one of {SOLVERS}.")
    if solve is None:
        raise ValueError(f"The {name} solver is not available in this installation.")
    return solve


__all__ = [
    "AUTO_NATIVE_LOSSES",
    "AUTO_NATIVE_SIZE",
    "IPM_MAX_FLOPS",
    "KNOWN_SOLVERS",
    "NATIVE_SOLVERS",
    "SOLVERS",
    "SolveResult",
    "SolverError",
    "cvxpy_sized",
    "get_solver",
    "ipm_is_affordable",
    "mosek_license_available",
    "program_size",
    "resolve_solver",
    "solve_cvxpy",
]
