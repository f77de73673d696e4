"""Solvers for the convex program. Each follows one contract (:class:`SolveResult`)."""

from ._base import SolveResult
from ._cvxpy import KNOWN_SOLVERS, SolverError, mosek_license_available, solve_cvxpy

#: Above this many (samples x variables) ``solver="auto"`` uses the native solver
#: (measured: at n = 100, d = 10, width 10, 20 configurations, 440,000, the native
#: solver is already 2x faster than Clarabel, 18x at n = 400; below, on tiny programs,
#: Clarabel is faster and more robust).
AUTO_NATIVE_SIZE = 1_000_000

SOLVERS = ("auto", "cvxpy", "native")


def _load_native():
    try:
        from ._native import solve_native
    except ImportError:  # pragma: no cover - the native solver ships with the package
        return None
    return solve_native


def resolve_solver(solver, program):
    """The name of the solver to run for ``solver`` (``"auto"`` decides by size)."""
    if solver != "auto":
        return solver
    n_var = 2 * program.n_outputs * program.conf.n_configurations * program.conf.width
    n_var *= program.n_features
    if _load_native() is not None and program.n_samples * n_var > AUTO_NATIVE_SIZE:
        return "native"
    return "cvxpy"


def get_solver(name):
    """The solve function for a resolved solver name."""
    if name == "cvxpy":
        return solve_cvxpy
    if name == "native":
        solve = _load_native()
        if solve is None:
            raise ValueError("The native solver is not available in this installation.")
        return solve
    raise ValueError(f"Unknown solver {name!r}; expected one of {SOLVERS}.")


__all__ = [
    "KNOWN_SOLVERS",
    "SOLVERS",
    "SolveResult",
    "SolverError",
    "get_solver",
    "mosek_license_available",
    "resolve_solver",
    "solve_cvxpy",
]
