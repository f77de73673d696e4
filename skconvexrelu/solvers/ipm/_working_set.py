"""Per-neuron working sets of cone constraints.

At the optimum only a handful of the ``n`` cone constraints of each column are active,
while the interior-point method pays for all of them at every iteration. On a working
set each column (and each block, for the second layer) keeps its own rows: the first
ones are the likeliest facets of its cone (:func:`initial_working_set`); the rows that
the current point violates, with the nearly active ones, join (:func:`grow_working_set`)
until no sample's constraint is violated. A working set is a pair ``(idx1, idx2)`` of
row indices of shapes ``(R1, o, 2, P, m)`` and ``(R2, o, 2, P)``, padded with -1.
"""

import numpy as np

from ._operator import WorkingSetOperator

__all__ = [
    "extend_pairs",
    "grow_working_set",
    "initial_working_set",
    "row_masks",
    "working_set_operators",
]


def _unit_rows(X):
    """The rows of ``X`` scaled to unit length (zero rows left as they are)."""
    xn = np.maximum(np.linalg.norm(X, axis=1), 1e-300)
    return X / xn[:, None]


def _first_layer_rows(program, Xh, r1):
    """Per column, the ``r1`` rows whose normals make the widest angle with their mean."""
    n = Xh.shape[0]
    _, _, P, _, m = program.shape
    A1 = np.asarray(program.A1, dtype=np.float64).reshape(n, P * m)
    axis1 = Xh.T @ A1  # (d, P m): sum of the unit rows a_i / ||a_i|| of each column
    axis1 /= np.maximum(np.linalg.norm(axis1, axis=0), 1e-300)
    score1 = A1 * (Xh @ axis1)  # cos(a_i, axis)
    return np.argpartition(score1, r1 - 1, axis=0)[:r1].reshape(r1, P, m)


def _second_layer_rows(program, Xh, r2):
    """Per block, the ``r2`` rows chosen by the same rule for ``a_i = A2_i (S1_ij x~_i)_j``."""
    S1 = np.asarray(program.S1, dtype=np.float64)  # (n, P, m)
    A2 = np.asarray(program.A2, dtype=np.float64)  # (n, P)
    sn = np.maximum(np.linalg.norm(S1, axis=2), 1e-300)  # ||a_i|| / ||x_i||
    coef = (A2 / sn)[:, :, None] * S1  # a_i / ||a_i|| = coef_ij x_i / ||x_i||
    axis2 = np.einsum("nd,npm->pmd", Xh, coef)  # (P, m, d)
    axis2 /= np.maximum(np.linalg.norm(axis2, axis=(1, 2), keepdims=True), 1e-300)
    score2 = np.einsum("npm,nd,pmd->np", coef, Xh, axis2)
    score2[~np.any(program.conf.D1, axis=2)] = np.inf  # rows with g = 0 identically
    return np.argpartition(score2, r2 - 1, axis=0)[:r2]  # (r2, P)


def initial_working_set(program, settings):
    """First working set: the constraints most likely to be facets of each cone.

    A column's first-layer constraints ``a_i^T u >= 0`` (``a_i = A1_ij x~_i``) define a
    polyhedral cone whose facets are the extreme rays of the cone spanned by the
    ``a_i``; the rows whose normalized ``a_i`` make the widest angle with their mean
    direction are the likeliest extreme rays. The same rule picks each block's
    second-layer rows. ``settings``: a
    :class:`~skconvexrelu.solvers.settings.WorkingSetSettings`.
    """
    X = np.asarray(program.Xt, dtype=np.float64)
    n, d = X.shape
    o, _, P, _, m = program.shape
    rows = settings.first_rows_small if n < settings.small_n else settings.first_rows
    r1 = min(n, rows * d)
    r2 = min(n, settings.second_rows * m * d)
    Xh = _unit_rows(X)
    idx1 = _first_layer_rows(program, Xh, r1)
    idx2 = _second_layer_rows(program, Xh, r2)
    idx1 = np.ascontiguousarray(np.broadcast_to(idx1[:, None, None], (r1, o, 2, P, m)))
    idx2 = np.ascontiguousarray(np.broadcast_to(idx2[:, None, None], (r2, o, 2, P)))
    return idx1, idx2


def _violations(program, U, chunk):
    """Every sample's violation of every column's and block's constraints, ``(n, K1)`` and
    ``(n, K2)``, and ``max |X~ u_j|``, by chunks of samples."""
    n = program.n_samples
    K1 = int(np.prod(U.shape[:3] + U.shape[4:]))
    K2 = int(np.prod(U.shape[:3]))
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
    return v1, v2, zmax


def grow_working_set(program, ws, U, feas_tol, settings, chunk=8192, fraction=1.0):
    """Add to each column (block) its most violated constraints outside the working set.

    At most ``fraction`` times ``add_first * d~`` rows join each column and
    ``add_second * m d~`` each block (at least one); the nearly active rows (slack below
    ``settings.near``) join with the violated ones, ahead of the next rounds.

    Returns the new working set, the number of violated constraints outside the old one
    and the largest violation (relative to ``max |X~ u_j|``).
    """
    U = np.asarray(U, dtype=program.dtype).reshape(program.shape)
    v1, v2, zmax = _violations(program, U, chunk)
    d, m = U.shape[3], U.shape[4]
    out, total, worst = [], 0, 0.0
    for v, idx, add in (
        (v1, ws[0], max(1, int(fraction * settings.add_first * d))),
        (v2, ws[1], max(1, int(fraction * settings.add_second * d * m))),
    ):
        v /= max(zmax, 1e-300)
        flat = idx.reshape(idx.shape[0], -1)
        cols = np.broadcast_to(np.arange(flat.shape[1]), flat.shape)
        keep = flat >= 0
        v[flat[keep], cols[keep]] = -np.inf  # already in the working set
        total += int(np.count_nonzero(v > feas_tol))
        worst = max(worst, float(v.max(initial=0.0)))
        near = v > -settings.near
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
    rows of every column; a dense ``near`` (early on, when the columns are still small)
    partitions.
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


def working_set_operators(program, working_set):
    """The working set's constraint operator in the program's precision and its float64
    twin (the certificate's; the same object for float64 programs)."""
    opk = WorkingSetOperator(program, *working_set)
    if opk.dtype == np.float64:
        return opk, opk
    return opk, WorkingSetOperator(program, *working_set, np.float64)


def row_masks(opk):
    """Masks of the kept first- and second-layer constraint rows; the first-layer one is
    1.0 when every row is kept (all ones unless X~ has zero rows or a working set pads)."""
    return (opk.M1f if not opk.M1.all() else 1.0), opk.M2f


def extend_pairs(s, lam, Gs, r_old, M, mu, floor):
    """Slacks and multipliers of the rows that joined a working set (rows ``r_old:`` of
    ``Gs``): slacks mirror their violation, at least ``floor``; multipliers start on the
    central path (``s lambda = mu``)."""
    Mn = np.broadcast_to(M, Gs.shape)[r_old:]
    sn = np.maximum(np.abs(Gs[r_old:]), floor) * Mn + (1 - Mn)
    ln = mu / sn * Mn
    return np.concatenate([s, sn]), np.concatenate([lam, ln])
