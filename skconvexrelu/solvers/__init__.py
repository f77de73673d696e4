"""Solvers for the convex program. Each follows one contract (:class:`SolveResult`).

Names accepted by the estimators' ``solver`` parameter:

- ``"cvxpy"``: the conic program through cvxpy (Clarabel, or MOSEK with a license);
- ``"ipm"``: the package's structured interior-point method (``native:ipm-pcg``,
  :mod:`skconvexrelu.solvers.ipm`): few, expensive iterations, exact to ``tol``;
  the method of choice for narrow inputs (blocks of ``width * (n_features + 1)`` up to a
  few hundred); on many samples it enforces the cone constraints through per-neuron
  working sets (``native:ipm-pcg+working-set``), so its time grows more slowly than
  ``n``;
- ``"al-fista"``: the package's matrix-free first-order method (``native:al-fista``,
  :mod:`skconvexrelu.solvers.first_order`): cheap iterations linear in ``n``, a few
  arrays of the size of the first layer in memory, for wide inputs; the only one that
  runs on torch tensors (``device``);
- ``"native"``: ``"ipm"`` when one of its iterations is affordable
  (:func:`ipm_is_affordable`), otherwise ``"al-fista"``; always ``"al-fista"`` when a
  ``device`` is given;
- ``"auto"``: ``"native"`` for curved smooth losses (cross-entropy) and for programs
  above ``SolverChoiceSettings.native_size`` samples x variables, ``"cvxpy"``
  otherwise.

The thresholds of these choices are the fields of
:class:`~skconvexrelu.solvers.settings.SolverChoiceSettings`.
"""

from ._base import SolveResult
from ._cvxpy import KNOWN_SOLVERS, SolverError, mosek_license_available, solve_cvxpy
from .settings import SolverChoiceSettings

SOLVERS = ("auto", "cvxpy", "native", "ipm", "al-fista")
NATIVE_SOLVERS = ("ipm", "al-fista")


def _load_native():
    """The interior-point solve function, or None when it cannot be imported."""
    try:
        from .ipm import solve_native
    except ImportError:  # pragma: no cover - the native solver ships with the package
        return None
    return solve_native


def _load_first_order():
    """The first-order solve function, or None when it cannot be imported."""
    try:
        from .first_order import solve_first_order
    except ImportError:  # pragma: no cover - the native solver ships with the package
        return None
    return solve_first_order


def _choice(settings):
    return SolverChoiceSettings() if settings is None else settings


def ipm_is_affordable(program, settings=None, ipm_settings=None):
    """Whether one interior-point iteration fits in half the available memory and costs
    at most ``settings.ipm_max_flops`` (:class:`SolverChoiceSettings`); both estimates
    are those of the interior-point method run with ``ipm_settings``."""
    from .._validation import available_memory_bytes
    from .ipm import estimate_memory, ipm_iteration_flops

    avail = available_memory_bytes()
    if avail is not None and estimate_memory(program, settings=ipm_settings) > 0.5 * avail:
        return False
    flops = ipm_iteration_flops(program, settings=ipm_settings)
    return flops <= _choice(settings).ipm_max_flops


def program_size(program):
    """Samples x variables (``2 o P m d~``): the size measure of :func:`cvxpy_sized`."""
    n_var = 2 * program.n_outputs * program.conf.n_configurations * program.conf.width
    return program.n_samples * n_var * program.n_features


def cvxpy_sized(program, settings=None):
    """Whether ``program`` has at most ``settings.native_size`` samples x variables
    (:class:`SolverChoiceSettings`)."""
    return program_size(program) <= _choice(settings).native_size


def _curved(loss):
    """Whether ``loss`` is smooth with a curvature that varies (cross-entropy): such
    programs go to the native solvers at every size, where cvxpy needs exponential cones
    and often ends inaccurate (``benchmarks/bench_auto_choice.py``)."""
    if loss is None:
        return False
    return bool(getattr(loss, "smooth", False)) and not getattr(
        loss, "constant_curvature", True
    )


def resolve_solver(solver, program, device=None, loss=None, settings=None, ipm_settings=None):
    """The solver to run for ``solver``: ``"cvxpy"``, ``"ipm"`` or ``"al-fista"``.

    Parameters
    ----------
    solver : str
        One of :data:`SOLVERS`.
    program : ConvexProgram
    device : str, torch.device or None
        A torch device selects the first-order method.
    loss : Loss or None
        Matters only to ``"auto"`` (curved smooth losses go native at every size).
    settings : SolverChoiceSettings or None
        The thresholds of the choice (None: the defaults).
    ipm_settings : IPMSettings or None
        The settings the interior-point method would run with (its cost estimates
        depend on them).
    """
    settings = _choice(settings)
    if solver == "auto":
        native_ok = _load_native() is not None or _load_first_order() is not None
        small = cvxpy_sized(program, settings)
        if device is None and (not native_ok or (small and not _curved(loss))):
            return "cvxpy"
        solver = "native"
    if solver == "native":
        if (
            device is not None
            or _load_native() is None
            or not ipm_is_affordable(program, settings, ipm_settings)
        ):
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


# the native solvers ship with the package: imported with it, so that the first fit in
# a process does not pay for importing them (about 30 ms)
from . import first_order, ipm  # noqa: E402, F401

__all__ = [
    "KNOWN_SOLVERS",
    "NATIVE_SOLVERS",
    "SOLVERS",
    "SolveResult",
    "SolverChoiceSettings",
    "SolverError",
    "cvxpy_sized",
    "get_solver",
    "ipm_is_affordable",
    "mosek_license_available",
    "program_size",
    "resolve_solver",
    "solve_cvxpy",
]
