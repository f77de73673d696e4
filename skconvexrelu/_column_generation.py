"""Growing the set of configurations: the search for violated dual constraints.

At a solution of the program over the current configurations, the dual point is
``V = -grad L(F)`` (:func:`skconvexrelu._certificate.dual_point`). A configuration
``c`` whose dual constraint

    max over feasible u:  |<V_o, sigma D2_c sum_j s_cj D1_cj Xt u_j>| / sum_j ||u_j||  <=  beta

is violated would lower the objective if added. In the network's own parameters the left
side is the largest ``|<V_o, relu(relu(Xt W1) w2)>|`` over one sub-network with
``||W1||_F <= 1`` and ``||w2|| <= 1`` whose patterns are ``c`` (the paper's eq. (6)), so the
search for violated configurations is a search over single sub-networks, done here by
projected gradient ascent from many starts at once.

If the largest value found is ``gamma * beta`` with ``gamma > 1``, then ``V / gamma``
satisfies every dual constraint that the search examined, and weak duality gives the
lower bound ``dual(V / gamma)`` on the optimum of the program over those configurations
(:func:`skconvexrelu._certificate.search_certificate`).
"""

from dataclasses import dataclass

import numpy as np

from ._arrangements import Configurations, configurations_from_networks


def _unit(A, axes):
    norm = np.sqrt(np.sum(A * A, axis=axes, keepdims=True))
    return A / np.maximum(norm, 1e-300)


def search_subnetworks(
    Xt, v, width, n_starts=64, n_steps=100, step_size=0.1, random_state=None, init=None
):
    """Largest ``|<v, relu(relu(Xt W1) w2)>|`` over unit-norm sub-networks.

    Projected gradient ascent on ``||W1||_F = 1``, ``||w2|| = 1`` (the objective is
    positively homogeneous, so maximizers lie on the spheres); each start ascends
    ``<v, h>`` or ``-<v, h>``, whichever is positive there, so values never decrease.

    Parameters
    ----------
    Xt : ndarray of shape (n, d~)
    v : ndarray of shape (n,)
        The dual point of one output.
    width : int
    n_starts, n_steps : int
    step_size : float
        Step on the sphere, relative to the norm of the variables.
    random_state : numpy Generator or RandomState
    init : tuple (W1, w2) of arrays (k, d~, m), (k, m), optional
        Extra starting points (e.g. the current sub-networks).

    Returns
    -------
    W1 : ndarray of shape (S, d~, m)
    w2 : ndarray of shape (S, m)
    values : ndarray of shape (S,)
        ``|<v, relu(relu(Xt W1) w2)>|`` at each returned sub-network.
    """
    rng = random_state
    d = Xt.shape[1]
    W1 = rng.standard_normal((n_starts, d, width))
    w2 = rng.standard_normal((n_starts, width))
    if init is not None and len(init[0]):
        W1 = np.concatenate([W1, init[0]])
        w2 = np.concatenate([w2, init[1]])
    W1, w2 = _unit(W1, (1, 2)), _unit(w2, (1,))
    # ascend |<v, h>| in the direction it already has at each start
    sign = None
    best = np.full(W1.shape[0], -np.inf)
    best_W1, best_w2 = W1.copy(), w2.copy()
    for step in range(n_steps + 1):
        Z = np.einsum("nd,sdm->snm", Xt, W1)
        H = np.maximum(Z, 0.0)
        a = np.einsum("snm,sm->sn", H, w2)
        value = np.maximum(a, 0.0) @ v
        if sign is None:
            sign = np.where(value >= 0, 1.0, -1.0)
        # keep the best point of each start: the values returned never decrease
        better = sign * value > best
        best[better] = (sign * value)[better]
        best_W1[better], best_w2[better] = W1[better], w2[better]
        if step == n_steps:
            break
        delta = sign[:, None] * v[None, :] * (a > 0)  # d(sign <v, relu(a)>)/da
        g2 = np.einsum("snm,sn->sm", H, delta)
        dZ = delta[:, :, None] * w2[:, None, :] * (Z > 0)
        g1 = np.einsum("nd,snm->sdm", Xt, dZ)
        eta = step_size * (1.0 - step / n_steps) + 1e-3
        W1 = _unit(W1 + eta * _unit(g1, (1, 2)), (1, 2))
        w2 = _unit(w2 + eta * _unit(g2, (1,)), (1,))
    return best_W1, best_w2, best


@dataclass
class SearchResult:
    """Configurations found by :func:`find_violations`, best first, with their values."""

    configurations: object
    values: np.ndarray
    max_value: float


def find_violations(Xt, V, width, random_state, n_starts=64, n_steps=100, init=None):
    """Search every output's dual constraint; return configurations sorted by violation."""
    confs, values = [], []
    for o in range(V.shape[1]):
        W1, w2, val = search_subnetworks(
            Xt, V[:, o], width, n_starts, n_steps, random_state=random_state, init=init
        )
        confs.append(configurations_from_networks(Xt, W1, w2))
        values.append(val)
    conf = Configurations.stack(confs)
    values = np.concatenate(values)
    order = np.argsort(-values, kind="stable")
    conf = conf.subset(order)
    return SearchResult(conf, values[order], float(values.max(initial=0.0)))


def select_new(current, found, beta, k):
    """Up to ``k`` configurations of ``found`` that are violated and not in ``current``."""
    known = set(current.keys())
    keep = []
    for p, key in enumerate(found.configurations.keys()):
        if found.values[p] <= beta or len(keep) >= k:
            break
        if key not in known and found.configurations.D2[:, p].any():
            known.add(key)
            keep.append(p)
    return found.configurations.subset(keep)
