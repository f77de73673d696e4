"""Hyperplane-arrangement configurations ``(D1, s, D2)`` and how to sample them.

A configuration fixes, for one sub-network of ``width`` first-layer neurons, which
samples activate each first-layer neuron (``D1``), the sign of each second-layer weight
(``s``) and which samples activate the second ReLU (``D2``). See the sections
"Configurations and the convex program" and "Sampling configurations" of doc/math.rst.

Shapes (``n`` samples, ``P`` configurations, ``m`` = width):

- ``D1``: ``(n, P, m)`` booleans;
- ``signs``: ``(P, m)`` in {-1, +1};
- ``D2``: ``(n, P)`` booleans.
"""

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state


@dataclass
class Configurations:
    """A set of ``P`` configurations for ``n`` samples and width ``m``.

    ``networks``, when known, is ``(W1 (P, d~, m), w2 (P, m))``: a sub-network whose
    activation patterns on the data are each configuration (see
    :func:`configurations_from_networks`). With it the patterns of any rows can be
    computed again, which is how a fit on a Dask array builds each block's program.
    """

    D1: np.ndarray
    signs: np.ndarray
    D2: np.ndarray
    networks: tuple | None = None

    @property
    def n_configurations(self):
        return self.signs.shape[0]

    @property
    def width(self):
        return self.signs.shape[1]

    def keys(self):
        """One hashable key per configuration (for deduplication)."""
        D1 = np.packbits(self.D1, axis=0)
        D2 = np.packbits(self.D2, axis=0)
        return [
            (D1[:, p, :].tobytes(), self.signs[p].tobytes(), D2[:, p].tobytes())
            for p in range(self.n_configurations)
        ]

    def subset(self, index):
        index = np.asarray(index, dtype=int)
        nets = None if self.networks is None else tuple(a[index] for a in self.networks)
        return Configurations(self.D1[:, index, :], self.signs[index], self.D2[:, index], nets)

    @staticmethod
    def stack(parts):
        """All configurations of ``parts`` in order, duplicates kept."""
        return Configurations(
            np.concatenate([c.D1 for c in parts], axis=1),
            np.concatenate([c.signs for c in parts], axis=0),
            np.concatenate([c.D2 for c in parts], axis=1),
            _joined_networks(parts),
        )

    def concat(self, other):
        """The configurations of ``self`` followed by the new ones of ``other``."""
        seen = set(self.keys())
        keep = []
        for p, key in enumerate(other.keys()):
            if key not in seen:
                seen.add(key)
                keep.append(p)
        return Configurations.stack([self, other.subset(keep)])


def _joined_networks(parts):
    """The generating networks of ``parts`` one after the other (None unless every part
    has them)."""
    if any(c.networks is None for c in parts):
        return None
    return tuple(np.concatenate([c.networks[i] for c in parts]) for i in range(2))


def configurations_from_networks(Xt, W1, w2):
    """The configurations of sub-networks with weights ``W1`` and ``w2``.

    Parameters
    ----------
    Xt : ndarray of shape (n, d~)
        The data, with its column of ones when a first-layer bias is used.
    W1 : ndarray of shape (K, d~, m)
        First-layer weights of ``K`` sub-networks (bias as the last row).
    w2 : ndarray of shape (K, m)
        Second-layer weights.

    Returns
    -------
    Configurations
        ``K`` configurations (not deduplicated): ``D1 = 1[Xt W1 >= 0]``,
        ``s = sign(w2)`` (0 counted as +1), ``D2 = 1[relu(Xt W1) w2 >= 0]``.
    """
    Z = np.einsum("nd,kdm->nkm", Xt, W1)
    D1 = Z >= 0
    signs = np.where(w2 >= 0, 1, -1).astype(np.int8)
    D2 = np.einsum("nkm,km->nk", np.maximum(Z, 0), w2) >= 0
    return Configurations(D1, signs, D2, (np.asarray(W1), np.asarray(w2)))


def _useful_indices(conf, seen):
    """Indices of the configurations whose second ReLU is active somewhere and whose key
    is not in ``seen`` (first occurrences; ``seen`` gains their keys)."""
    keep = []
    active = conf.D2.any(axis=0)
    for p, key in enumerate(conf.keys()):
        if active[p] and key not in seen:
            seen.add(key)
            keep.append(p)
    return keep


def drop_useless(conf):
    """Drop duplicated configurations and those whose second ReLU is never active."""
    return conf.subset(_useful_indices(conf, set()))


def sample_configurations(
    Xt, width, n_arrangements, random_state=None, max_draws=None, return_networks=False
):
    """Sample configurations from random networks (joint sampling).

    Each draw is a random sub-network ``U1 ~ N(0, I)`` of shape ``(d~, width)`` and
    ``u2 ~ N(0, I_width)``; its configuration is ``D1 = 1[Xt U1 >= 0]``,
    ``s = sign(u2)``, ``D2 = 1[relu(Xt U1) u2 >= 0]``. The sampled network is a feasible
    point of its own cone, so no sampled block is trivially zero. Duplicates and
    configurations with an all-zero ``D2`` are dropped, and draws continue (up to
    ``max_draws``, by default ``10 * n_arrangements``) until ``n_arrangements`` distinct
    configurations are found; fewer are returned when the data admit fewer.

    Parameters
    ----------
    Xt : ndarray of shape (n, d~)
    width : int
    n_arrangements : int
    random_state : int, RandomState instance or None
    max_draws : int or None
    return_networks : bool, default=False
        Also return the sampled networks of the kept configurations.

    Returns
    -------
    Configurations
    W1 : ndarray of shape (P, d~, width), only with ``return_networks``
        The first-layer weights of the network behind each configuration: column ``j``
        of ``W1[p]`` is a point inside the cone of neuron ``j`` of configuration ``p``.
    w2 : ndarray of shape (P, width), only with ``return_networks``
        Their second-layer weights (``sign(w2) = signs``).

    Examples
    --------
    >>> import numpy as np
    >>> from skconvexrelu._arrangements import sample_configurations
    >>> X = np.random.default_rng(0).normal(size=(30, 3))
    >>> conf = sample_configurations(X, width=4, n_arrangements=5, random_state=0)
    >>> conf.D1.shape, conf.signs.shape, conf.D2.shape
    ((30, 5, 4), (5, 4), (30, 5))
    """
    rng = check_random_state(random_state)
    d = Xt.shape[1]
    max_draws = 10 * n_arrangements if max_draws is None else max_draws
    parts, nets, seen, drawn = [], [], set(), 0
    while drawn < max_draws:
        batch = min(max(n_arrangements, 1), max_draws - drawn)
        W1 = rng.standard_normal((batch, d, width))
        w2 = rng.standard_normal((batch, width))
        drawn += batch
        new = configurations_from_networks(Xt, W1, w2)
        keep = _useful_indices(new, seen)
        parts.append(new.subset(keep))
        nets.append((W1[keep], w2[keep]))
        if len(seen) >= n_arrangements:
            break
    result = Configurations.stack(parts).subset(np.arange(min(len(seen), n_arrangements)))
    if not return_networks:
        return result
    P = result.n_configurations
    W1 = np.concatenate([a for a, _ in nets])[:P]
    w2 = np.concatenate([b for _, b in nets])[:P]
    return result, W1, w2
