"""Checks that turn bad input and resource limits into clear errors and warnings.

The estimators call these helpers during ``fit``; each raises (or warns) with a message
that names what is wrong and what to do about it, so that nothing fails silently:

- :func:`check_feature_scale` warns (:class:`BadScalingWarning`) when the features are
  so badly scaled that the solvers lose accuracy;
- :func:`densify` turns a sparse ``X`` (a one-hot encoder's output) into the dense array
  the solvers work on, with a clear error when it does not fit in memory;
- :func:`check_targets_finite` refuses NaN or infinite targets;
- :func:`estimate_cvxpy_size` / :func:`check_cvxpy_size` predict the size and memory of
  the cvxpy + Clarabel program and refuse programs that cannot be solved on this machine;
- :func:`available_memory_bytes` says how much memory is free;
- :func:`check_fit_result` refuses a non-finite solution, or a rebuilt network whose
  objective differs from the convex optimum (a wrong result is never returned).
"""

import os
import warnings

import numpy as np
import scipy.sparse as sp

# --------------------------------------------------------------------- feature scale

#: Warn when the largest column scale exceeds the smallest non-zero one by this factor.
SCALE_RATIO_THRESHOLD = 1e4
#: Warn when the largest column scale is above this value ...
SCALE_HIGH_THRESHOLD = 1e4
#: ... or below this one (every feature is tiny).
SCALE_LOW_THRESHOLD = 1e-4
#: Columns whose scale is below this fraction of the largest one are treated as constant:
#: ``StandardScaler`` maps a constant (or constant up to round-off) column to the
#: round-off left by subtracting its mean, values of 1e-16 to 1e-9, which carry nothing
#: the solvers can use and cannot spoil their accuracy.
SCALE_NEGLIGIBLE = 1e-8
#: Features count as standardized (:func:`features_standardized`) when every
#: non-constant column has a mean within this distance of 0 and a standard deviation
#: within this factor of 1 (loose enough for a fold of data standardized as a whole).
STANDARDIZED_MEAN_ATOL = 0.5
STANDARDIZED_STD_FACTOR = 2.0


class BadScalingWarning(UserWarning):
    """The features are badly scaled: standardize them (``StandardScaler``)."""


def _column_scales(X):
    """Root mean square of every column (it measures both offset and spread)."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] == 0:
        return np.zeros(0)
    Xf = X.astype(np.float64, copy=False)
    # divide first so that squaring 1e200-sized values does not overflow
    top = np.abs(Xf).max(axis=0)
    safe = np.where(top > 0, top, 1.0)
    rms = top * np.sqrt(np.mean((Xf / safe) ** 2, axis=0))
    return rms


def check_feature_scale(X):
    """Warn with :class:`BadScalingWarning` when the features of ``X`` are badly scaled.

    The scale of a column is its root mean square ``sqrt(mean(x**2))``: it is what the
    solvers see (the first-layer bias is a column of ones, so a large offset hurts as
    much as a large spread). The features are badly scaled when

    - the largest column scale is more than ``SCALE_RATIO_THRESHOLD`` (1e4) times the
      smallest non-zero one, or
    - the largest column scale is above ``SCALE_HIGH_THRESHOLD`` (1e4), or
    - the largest column scale is below ``SCALE_LOW_THRESHOLD`` (1e-4) but not zero.

    All-zero columns are ignored, and so are columns whose scale is below
    ``SCALE_NEGLIGIBLE`` (1e-8) times the largest: ``StandardScaler`` turns a constant
    column into such round-off, and standardized data must not warn. At bad scales the
    conic and interior-point solvers work with badly conditioned systems and may stop
    inaccurately or fail; the unit-norm constraint on the first layer also makes huge
    features act very differently from small ones. Standardizing the features
    (``StandardScaler``) fixes all of these.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Validated, finite data.
    """
    problems = scaling_problems(X)
    if problems:
        warnings.warn(
            "The features are badly scaled (root mean square of each column): "
            + "; ".join(problems)
            + ". The solver may lose accuracy or fail. Standardize the features, e.g. "
            "make_pipeline(StandardScaler(), estimator) with "
            "sklearn.preprocessing.StandardScaler.",
            BadScalingWarning,
            stacklevel=3,
        )


def scaling_problems(X):
    """The reasons why the features of ``X`` are badly scaled (see
    :func:`check_feature_scale`), an empty list when they are not."""
    scales = _column_scales(X)
    nonzero = scales[scales > 0]
    if nonzero.size == 0:
        return []
    nonzero = nonzero[nonzero >= SCALE_NEGLIGIBLE * nonzero.max()]
    lo, hi = float(nonzero.min()), float(nonzero.max())
    problems = []
    if hi > SCALE_HIGH_THRESHOLD:
        problems.append(
            f"the largest feature scale {hi:.3g} is above {SCALE_HIGH_THRESHOLD:g}"
        )
    elif hi < SCALE_LOW_THRESHOLD:
        problems.append(f"the largest feature scale {hi:.3g} is below {SCALE_LOW_THRESHOLD:g}")
    if hi > SCALE_RATIO_THRESHOLD * lo:
        problems.append(
            f"feature scales range from {lo:.3g} to {hi:.3g} (ratio {hi / lo:.3g} > "
            f"{SCALE_RATIO_THRESHOLD:g})"
        )
    return problems


def features_standardized(X):
    """Whether the columns of ``X`` look standardized (as ``StandardScaler`` leaves them).

    Every column that is not constant (its scale at least ``SCALE_NEGLIGIBLE`` times the
    largest column's, see :func:`check_feature_scale`; this skips a bias column of ones
    and the round-off of standardized constant columns) must have a mean within
    ``STANDARDIZED_MEAN_ATOL`` of 0 and a standard deviation within a factor
    ``STANDARDIZED_STD_FACTOR`` of 1. Warnings use it so that they never advise
    standardizing data that already is.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.size == 0:
        return True
    Xf = X.astype(np.float64, copy=False)
    std = Xf.std(axis=0)
    if not np.all(np.isfinite(std)):
        return False
    varying = (std > 0) & (std >= SCALE_NEGLIGIBLE * float(std.max()))
    mean, std = Xf.mean(axis=0)[varying], std[varying]
    return bool(
        np.all(np.abs(mean) <= STANDARDIZED_MEAN_ATOL)
        and np.all(std <= STANDARDIZED_STD_FACTOR)
        and np.all(std >= 1.0 / STANDARDIZED_STD_FACTOR)
    )


def conditioning_advice(Xt, dtype):
    """The one action most likely to help a solver that stalled or whose linear systems
    became too ill-conditioned, for the program's features ``Xt`` (a bias column of ones
    may be included: constant columns are skipped) in precision ``dtype``.

    float32 data first (it leaves too few digits), then unstandardized features, and
    for standardized float64 data a larger ``beta`` (stronger regularization makes the
    program better conditioned).
    """
    if np.dtype(dtype) == np.float32:
        return (
            "fit float64 data (X.astype(numpy.float64)): float32 leaves too few digits "
            "to go further"
        )
    if not features_standardized(Xt):
        return (
            "standardize the features (make_pipeline(StandardScaler(), estimator)): "
            "badly scaled columns make the solver's linear systems ill-conditioned"
        )
    return (
        "use a larger beta (e.g. 10 times larger): stronger regularization makes the "
        "program better conditioned (the features are already standardized)"
    )


# ------------------------------------------------------------------ input checks


def densify(X):
    """``X`` as a dense array (unchanged when it already is one).

    The program's operator and the seed network work on dense rows; a sparse ``X`` (a
    one-hot encoder's output in a pipeline) is converted. When the dense array does not
    fit in memory, a ``MemoryError`` says how large it would be and what to do.
    """
    if not sp.issparse(X):
        return X
    n, d = X.shape
    gib = n * d * X.dtype.itemsize / 2**30
    try:
        return X.toarray()
    except MemoryError as exc:
        raise MemoryError(
            f"The sparse X of {n} x {d} is made dense ({gib:.3g} GiB) for the solvers and "
            "that does not fit in memory: use fewer features (e.g. fewer one-hot "
            "categories, OneHotEncoder(max_categories=...)) or fewer rows (a subsample "
            "to fit, batches to predict)."
        ) from exc


def check_targets_finite(y):
    """Raise ``ValueError`` when numeric targets contain NaN or infinity.

    Non-numeric targets (class labels) are left to the classifier's label checks.
    """
    y = np.asarray(y)
    if y.dtype.kind not in "biufc":
        return
    finite = np.isfinite(y)
    if not np.all(finite):
        bad = int(np.size(finite) - np.count_nonzero(finite))
        kind = "NaN" if np.any(np.isnan(y)) else "infinity"
        raise ValueError(
            f"The targets y contain {kind} ({bad} non-finite value(s) out of {y.size}); "
            "remove or impute them before fitting."
        )


def is_constant_targets(Y, rtol=1e-12):
    """Whether every column of ``Y`` is constant (the zero network is then optimal).

    With a fitted output intercept the best network for constant regression targets is
    the zero network plus that constant; callers may use this to skip the solver.
    """
    Y = np.asarray(Y, dtype=np.float64)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.shape[0] == 0:
        return True
    spread = np.ptp(Y, axis=0)
    scale = np.maximum(np.abs(Y).max(axis=0), 1.0)
    return bool(np.all(spread <= rtol * scale))


# ------------------------------------------------------------- size and memory

#: Cost of cvxpy + Clarabel in bytes per non-zero of the constraint matrix: peak memory
#: of a solve over the non-zeros, calibrated on programs of 0.2 to 14 million non-zeros
#: (slightly over the cost of the large ones).
BYTES_PER_NONZERO = 220
#: Fixed memory cost of one cvxpy solve (canonicalization, solver set-up).
BYTES_OVERHEAD = 50 * 2**20
#: ``check_cvxpy_size`` refuses programs with more inequality constraints than this:
#: Clarabel's time grows faster than linearly in the number of constraints, and past
#: about a million a solve takes well over ten minutes.
MAX_CVXPY_CONSTRAINTS = 1_000_000
#: ``check_cvxpy_size`` refuses programs whose estimated memory exceeds this fraction of
#: the available memory.
MAX_MEMORY_FRACTION = 0.8


def estimate_cvxpy_size(n_samples, n_features_tilde, width, n_configurations, n_outputs=1):
    """Size and memory of the cvxpy program for these dimensions.

    Parameters
    ----------
    n_samples : int
        ``n``.
    n_features_tilde : int
        ``d~``, the number of features including the bias column when one is fitted.
    width : int
        ``m``.
    n_configurations : int
        ``P``, the number of configurations actually used.
    n_outputs : int, default=1

    Returns
    -------
    dict
        ``n_variables`` (``2 o P m d~`` plus ``o`` intercepts), ``n_constraints``
        (``2 o P n (m + 1)`` linear inequalities, see :ref:`math`), ``n_nonzeros`` (of
        the constraint matrix: ``4 o P n m d~``; each first-layer row has ``d~`` entries,
        each second-layer row ``m d~``) and ``estimated_bytes`` (peak extra memory of
        cvxpy + Clarabel, ``BYTES_OVERHEAD + BYTES_PER_NONZERO * n_nonzeros``).
    """
    n, d, m, P, o = (
        int(v) for v in (n_samples, n_features_tilde, width, n_configurations, n_outputs)
    )
    n_variables = 2 * o * P * m * d + o
    n_constraints = 2 * o * P * n * (m + 1)
    n_nonzeros = 4 * o * P * n * m * d
    estimated_bytes = BYTES_OVERHEAD + BYTES_PER_NONZERO * n_nonzeros
    return {
        "n_variables": n_variables,
        "n_constraints": n_constraints,
        "n_nonzeros": n_nonzeros,
        "estimated_bytes": int(estimated_bytes),
    }


def _format_bytes(b):
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= size:
            return f"{b / size:.1f} {unit}"
    return f"{int(b)} bytes"


def check_cvxpy_size(
    n_samples,
    n_features_tilde,
    width,
    n_configurations,
    n_outputs=1,
    available_bytes="auto",
    max_constraints=None,
):
    """Raise ``ValueError`` when the cvxpy program is too large to solve here.

    The limits are :data:`MAX_CVXPY_CONSTRAINTS` inequality constraints and
    :data:`MAX_MEMORY_FRACTION` of the available memory (see
    :func:`estimate_cvxpy_size`); the message names the size and suggests
    ``solver="native"`` or fewer ``n_arrangements``.

    Parameters
    ----------
    n_samples, n_features_tilde, width, n_configurations, n_outputs : int
        As in :func:`estimate_cvxpy_size`.
    available_bytes : int, None or "auto", default="auto"
        Memory available; ``"auto"`` asks :func:`available_memory_bytes`; None skips the
        memory check.
    max_constraints : int or None, default=None
        Constraint limit; None uses :data:`MAX_CVXPY_CONSTRAINTS`.

    Returns
    -------
    dict
        The estimate, when the program is accepted.
    """
    size = estimate_cvxpy_size(n_samples, n_features_tilde, width, n_configurations, n_outputs)
    limit = MAX_CVXPY_CONSTRAINTS if max_constraints is None else int(max_constraints)
    if available_bytes == "auto":
        available_bytes = available_memory_bytes()
    describe = (
        f"n_samples={int(n_samples)}, {int(n_features_tilde)} features with the bias, "
        f"width={int(width)}, {int(n_configurations)} configurations, "
        f"{int(n_outputs)} output(s): {size['n_variables']:,} variables, "
        f"{size['n_constraints']:,} constraints, about "
        f"{_format_bytes(size['estimated_bytes'])} of memory for cvxpy + Clarabel"
    )
    advice = (
        'Use solver="native" (or solver="auto"), which handles large programs, or fewer '
        "n_arrangements / a smaller width."
    )
    if size["n_constraints"] > limit:
        raise ValueError(
            f"The convex program is too large for solver='cvxpy' ({describe}; the limit "
            f"is {limit:,} constraints). {advice}"
        )
    if available_bytes is not None and (
        size["estimated_bytes"] > MAX_MEMORY_FRACTION * float(available_bytes)
    ):
        raise ValueError(
            f"The convex program needs more memory than is available for solver='cvxpy' "
            f"({describe}; available: {_format_bytes(float(available_bytes))}). {advice}"
        )
    return size


def _cgroup_available():
    """Memory left under a cgroup (v2 or v1) limit, or None when there is none."""
    candidates = [
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ]
    for limit_path, usage_path in candidates:
        try:
            with open(limit_path) as f:
                raw = f.read().strip()
            if raw == "max":
                continue
            limit = int(raw)
            if limit >= 2**60:  # v1 reports "no limit" as a huge number
                continue
            with open(usage_path) as f:
                usage = int(f.read().strip())
            return max(limit - usage, 0)
        except (OSError, ValueError):
            continue
    return None


def _proc_kib(path, key):
    """The value in bytes of the ``key`` line (in kB) of a ``/proc`` file, or None."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _address_space_used():
    """Virtual memory size of this process in bytes (what ``RLIMIT_AS`` limits), or
    None when it cannot be told."""
    used = _proc_kib("/proc/self/status", "VmSize:")
    if used is not None:
        return used
    try:
        import psutil

        return int(psutil.Process().memory_info().vms)
    except Exception:  # ImportError, or psutil failing on this platform
        return None


def _rlimit_available():
    """Address space left under the ``RLIMIT_AS`` soft limit (``ulimit -v``, as batch
    schedulers set it), or None when there is no such limit."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, AttributeError, ValueError, OSError):  # not a Unix system
        return None
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    used = _address_space_used()
    return int(soft) if used is None else max(int(soft) - used, 0)


def _system_available():
    """Memory the operating system reports as available, or None."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # ImportError, or psutil failing on this platform
        pass
    avail = _proc_kib("/proc/meminfo", "MemAvailable:")
    if avail is not None:
        return avail
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def available_memory_bytes():
    """Memory available to this process in bytes, or None when it cannot be told.

    The smallest of the limits found: what the system reports as available
    (``psutil.virtual_memory().available`` when psutil is installed, else
    ``MemAvailable`` of ``/proc/meminfo`` on Linux, else ``os.sysconf``), the room left
    under a cgroup memory limit (containers), and the address space left under the
    ``RLIMIT_AS`` soft limit. The solvers use it to refuse programs that cannot fit.
    """
    found = [
        limit
        for limit in (_system_available(), _cgroup_available(), _rlimit_available())
        if limit is not None
    ]
    return min(found) if found else None


# ---------------------------------------------------------------- fit results


def check_fit_result(
    coefs, intercepts, objective, network_objective=None, rtol=1e-5, atol=1e-9, solver=""
):
    """Refuse a solution that is not finite or whose network does not match the optimum.

    Parameters
    ----------
    coefs, intercepts : list of ndarray
        The rebuilt network.
    objective : float
        The convex objective at the solution (``objective_``).
    network_objective : float or None
        The objective recomputed from the network
        (:func:`skconvexrelu._reconstruction.network_objective`); when given it must
        equal ``objective`` to ``rtol`` (relative) or ``atol`` (absolute).
    solver : str
        Name of what ran, for the message.

    Raises
    ------
    skconvexrelu.solvers.SolverError
        A ``ValueError`` subclass, naming what is wrong and what to try.
    """
    from .solvers import SolverError

    advice = (
        "Standardize the features (StandardScaler), scale the targets, use a larger beta, "
        "or try the other solver."
    )
    who = f" ({solver})" if solver else ""
    for name, arrays in (("coefs_", coefs), ("intercepts_", intercepts)):
        for i, a in enumerate(arrays):
            if not np.all(np.isfinite(a)):
                raise SolverError(
                    f"The solver{who} returned non-finite weights ({name}[{i}] contains "
                    f"NaN or infinity). {advice}"
                )
    if not np.isfinite(objective):
        raise SolverError(
            f"The solver{who} returned a non-finite objective {objective}. {advice}"
        )
    if network_objective is not None:
        if not np.isfinite(network_objective) or abs(network_objective - objective) > max(
            atol, rtol * abs(objective)
        ):
            raise SolverError(
                f"The rebuilt network's objective {network_objective!r} differs from the "
                f"convex objective {objective!r}{who} by more than rtol={rtol:g}: the "
                f"solution violates the cone constraints. {advice}"
            )
