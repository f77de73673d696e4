"""Up-front estimates of the interior-point method's memory and work per iteration, and
the number of centrality correctors that pays off."""

from ._preconditioner import capacitance_costs

__all__ = ["estimate_memory", "ipm_iteration_flops", "n_correctors"]


def _sizes(program):
    """``(n, d~, o, P, m)`` of ``program``."""
    n, d = program.Xt.shape
    o, _, P, _, m = program.shape
    return n, d, o, P, m


def n_correctors(program, working_set, settings):
    """Most Gondzio correctors per iteration.

    ``settings.max_correctors`` on working sets (the capacitance matrix dominates an
    iteration, so extra solves are cheap) and when the blocks are large next to ``n``
    (``(m d~)^2 >= corrector_ratio * n``), otherwise ``settings.few_correctors``.
    """
    md = program.conf.width * program.n_features
    if working_set or md * md >= settings.corrector_ratio * program.n_samples:
        return settings.max_correctors
    return min(settings.few_correctors, settings.max_correctors)


def estimate_memory(program, n_constraints=None, settings=None):
    """Bytes of working memory the interior-point method needs for ``program`` (an
    estimate).

    About 30 float64 arrays of the size of the first layer (``n x o 2 P m``) for the
    slacks, multipliers, directions and products, the block factors (``o 2 P`` squares of
    side ``m d~``), the packed data products and the exact capacitance matrix (``n x n``
    or ``P m d~`` square, whichever the preconditioner uses) and, where it is at most
    ``dense_max`` wide, the direct factorization of the late iterations (``2 P m d~``
    square per output, plus one being formed). With working sets of ``n_constraints``
    rows per column, the 30 arrays have that many rows and about 8 arrays keep all ``n``
    rows (the outputs, the loss and the violation check).

    ``settings``: an :class:`~skconvexrelu.solvers.settings.IPMSettings` (None: defaults).
    """
    from ..settings import IPMSettings

    settings = IPMSettings() if settings is None else settings
    ws, pre = settings.working_set, settings.preconditioner
    n, d, o, P, m = _sizes(program)
    K = o * 2 * P * m
    md = m * d
    k_dim = P * md
    T = d * (d + 1) // 2
    chunk = min(n, 2048)
    if n_constraints is None and n >= ws.min_n:
        n_constraints = 3 * (ws.first_rows + ws.add_first) * d
    if n_constraints is None:
        state = 30 * n * K * 8
    else:
        state = 30 * min(n, n_constraints) * K * 8 + 8 * n * K * 8
    blocks = 5 * o * 2 * P * md * md * 8
    packed = chunk * (T + o * 2 * P * m * (m + 1) // 2 + K) * 8
    cap = 0
    for constant in (False, True):  # the mode depends on the loss: count the larger
        cost_s, cost_v = capacitance_costs(n, P, md, constant, cholesky_cost=pre.cholesky_cost)
        if cost_s <= cost_v:
            cap = max(cap, 2 * n * n * 8 + 4 * n * k_dim * 8)
        else:
            cap = max(cap, 4 * k_dim * k_dim * 8 + chunk * k_dim * 8)
    side = 2 * k_dim
    direct = (o + 1) * side * side * 8 if side <= pre.dense_max else 0
    return int(state + blocks + packed + o * cap + direct + 2 * n * d * 8)


def ipm_iteration_flops(program, settings=None):
    """Floating-point operations of one interior-point iteration (an estimate).

    The preconditioner's block Gram matrices (``n d~^2 (o 2 P m^2)``), the block
    factorizations (``o 2 P (m d~)^3``), the capacitance matrix (the cheaper of
    ``n^2 P m d~ + n^3 / 3`` and ``(P m d~)^3 / 3 + 4 P^2 (m d~)^3`` per output) and
    about 60 products with the data (``n d~ o 2 P m`` each) for the directions. On
    working sets the constraint terms count per-column sets of about three rounds'
    growth, and about 8 products use all ``n`` samples.
    """
    from ..settings import IPMSettings

    ws = (IPMSettings() if settings is None else settings).working_set
    n, d, o, P, m = _sizes(program)
    md = m * d
    k_dim = P * md
    T = d * (d + 1) // 2
    Q = m * (m + 1) // 2
    K = o * 2 * P * m
    if n >= ws.min_n:  # per-column working sets: rows estimated from their sizes
        r1 = min(n, 3 * (ws.first_rows + ws.add_first) * d)
        r2 = min(n, 3 * (ws.second_rows + ws.add_second) * md)
        blocks = 2.0 * (r1 * K * d * d + r2 * o * 2 * P * md * md) + 2.0 * o * 2 * P * md**3
        cap = o * (k_dim**3 / 3 + 4.0 * P * P * md**3)
        products = 60.0 * 2 * (r1 * K * d + r2 * o * 2 * P * md) + 8.0 * 2 * n * d * K
        return float(blocks + cap + products)
    blocks = 2.0 * n * T * o * 2 * P * (Q + m) + 2.0 * o * 2 * P * md**3
    cap = o * min(n * n * k_dim + n**3 / 3, k_dim**3 / 3 + 4.0 * P * P * md**3)
    products = 60.0 * 2 * n * d * K
    return float(blocks + cap + products)
