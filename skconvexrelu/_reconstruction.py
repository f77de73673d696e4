"""From a solution of the convex program to an ordinary ReLU network (Proposition 1).

For each block ``(o, sigma, c)`` with ``S = sum_j ||u_j|| > 0`` one sub-network is made::

    W1[:, j] = u_j / sqrt(||u_j|| S)    w2[j] = s_cj sqrt(||u_j||)    w3 = sigma sqrt(S)

so that ``||W1||_F = 1``, ``(beta/2)(||w2||^2 + w3^2) = beta S`` and, since the cone
constraints hold, the sub-network computes exactly the block's term of the convex model.
The network is returned in scikit-learn's MLP layout (``coefs_``, ``intercepts_``).
"""

import numpy as np


def reconstruct_network(U, intercept, signs, fit_bias):
    """Build the network of Proposition 1 from the blocks ``U``.

    Parameters
    ----------
    U : ndarray of shape (n_outputs, 2, P, d~, m)
    intercept : ndarray of shape (n_outputs,)
    signs : ndarray of shape (P, m)
        Second-layer signs ``s_c`` of each configuration.
    fit_bias : bool
        Whether the last row of each block is a first-layer bias.

    Returns
    -------
    coefs : list of three ndarrays
        ``W1`` (d, K*m), ``W2`` (K*m, K) block-diagonal, ``W3`` (K, n_outputs).
    intercepts : list of three ndarrays
        ``b1`` (K*m), ``b2`` (K) zeros, ``b3`` (n_outputs).
    """
    n_out, _, P, d_tilde, m = U.shape
    norms = np.sqrt(np.einsum("...dm,...dm->...m", U, U))  # (o, 2, P, m)
    S = norms.sum(axis=-1)
    blocks = np.argwhere(S > 0)  # rows (o, s, c)
    K = len(blocks)
    dtype = U.dtype
    W1 = np.zeros((d_tilde, K * m), dtype=dtype)
    W2 = np.zeros((K * m, K), dtype=dtype)
    W3 = np.zeros((K, n_out), dtype=dtype)
    for k, (o, s, c) in enumerate(blocks):
        nj, Sk = norms[o, s, c], S[o, s, c]
        cols = slice(k * m, (k + 1) * m)
        scale = np.zeros(m, dtype=dtype)
        nz = nj > 0
        scale[nz] = 1.0 / np.sqrt(nj[nz] * Sk)
        W1[:, cols] = U[o, s, c] * scale
        W2[cols, k] = signs[c] * np.sqrt(nj)
        W3[k, o] = (1.0 if s == 0 else -1.0) * np.sqrt(Sk)
    if fit_bias:
        coefs = [W1[:-1], W2, W3]
        b1 = W1[-1].copy()
    else:
        coefs = [W1, W2, W3]
        b1 = np.zeros(K * m, dtype=dtype)
    intercepts = [b1, np.zeros(K, dtype=dtype), np.asarray(intercept, dtype=dtype).copy()]
    return coefs, intercepts


def network_forward(coefs, intercepts, X):
    """Output of the network: ``relu(relu(X W1 + b1) W2 + b2) W3 + b3``."""
    H = np.maximum(X @ coefs[0] + intercepts[0], 0.0)
    H = np.maximum(H @ coefs[1] + intercepts[1], 0.0)
    return H @ coefs[2] + intercepts[2]


def network_penalty(coefs, beta):
    """``(beta/2) (||W2||_F^2 + ||W3||_F^2)``, the weight decay of the design."""
    return 0.5 * beta * float(np.sum(coefs[1] ** 2) + np.sum(coefs[2] ** 2))


def network_objective(coefs, intercepts, X, Y, w, loss, beta):
    """The training objective of the non-convex network (doc/math.rst, "The network")."""
    F = network_forward(coefs, intercepts, X)
    return loss.value(F, Y, w) + network_penalty(coefs, beta)


def drop_round_off(program, U, intercept, loss, Y, w, beta, budget=1e-7):
    """``U`` without the round-off columns whose removal costs nothing.

    A column is round-off when its effect on the outputs, ``max_i |Xt u_j|``, is below
    1e-7 of the targets' scale (or 1e-6 of the largest column's effect). Interior-point
    solutions carry many of them; each block's round-off columns are dropped, the
    blocks with the smallest effects first, as long as

    - the block's cone constraints hold as well as they did (dropping some columns of a
      block that stays changes its second-layer pre-activation, which can break them),
      and
    - the objective rises by at most ``budget`` (relative) in all. Together the round-off
      columns can matter: with the hinge loss, the samples on the margin can make
      dropping all of them cost more than the solver's tolerance, while on the smooth
      losses dropping them lowers the objective. The fit passes a tenth of its ``tol``,
      so the network stays within about ``1.1 tol`` of the optimum the solver
      certified.

    ``program`` is a :class:`~skconvexrelu._program.ConvexProgram` or a
    :class:`~skconvexrelu._dask.BlockwiseProgram` (the passes over the data are its
    methods). The cost is a pass over the data for the columns' effects and, when some
    column is round-off, passes for the outputs and the candidate blocks, and one
    evaluation of the loss per candidate block.
    """
    effect = program.column_effect(U)  # max_i |Xt u_j|, (o, 2, P, m)
    limit = max(1e-6 * effect.max(initial=0.0), 1e-7 * max(1.0, float(np.abs(Y).max())))
    small = effect <= limit
    # blocks that are exactly zero have nothing to drop (a point rebuilt on its own
    # configurations has many: one configuration per non-zero block, for every output)
    candidate = small.any(axis=-1) & (effect > 0).any(axis=-1)  # (o, 2, P)
    partial = candidate & ~small.all(axis=-1)
    if partial.any():
        dropped = np.where(small[:, :, :, None, :], 0.0, U)
        worse = program.block_violation(dropped) > program.block_violation(U)
        candidate &= ~(partial & worse)
    if not candidate.any():
        return U
    F = program.forward(U) + intercept
    blocks = np.argwhere(candidate)
    # the outputs each candidate block's round-off columns account for: (n, blocks)
    dF = program.round_off_outputs(U, small, blocks)
    norms = program.group_norms(U)
    penalty = float(beta * norms.sum())
    start = loss.value(F, Y, w) + penalty
    ceiling = start + budget * abs(start)
    keep = np.ones(small.shape[:-1], dtype=bool)
    largest = [effect[o, s, c][small[o, s, c]].max() for o, s, c in blocks]
    for k in np.argsort(largest, kind="stable"):
        o, s, c = blocks[k]
        trial = F.copy()
        trial[:, o] -= dF[:, k]
        trial_penalty = penalty - float(beta * norms[o, s, c][small[o, s, c]].sum())
        if loss.value(trial, Y, w) + trial_penalty <= ceiling:
            F, penalty = trial, trial_penalty
            keep[o, s, c] = False
    drop = small & ~keep[..., None]
    return np.where(drop[:, :, :, None, :], 0.0, U)
