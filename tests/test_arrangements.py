"""Configurations ``(D1, s, D2)`` and how they are sampled (``skconvexrelu._arrangements``)."""

import numpy as np
import pytest

from skconvexrelu._arrangements import (
    Configurations,
    configurations_from_networks,
    drop_useless,
    sample_configurations,
)


def _data(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return np.hstack([X, np.ones((n, 1))])


def test_sampling_is_reproducible_deduplicated_and_active():
    Xt = _data()
    a = sample_configurations(Xt, width=3, n_arrangements=8, random_state=1)
    b = sample_configurations(Xt, width=3, n_arrangements=8, random_state=1)
    c = sample_configurations(Xt, width=3, n_arrangements=8, random_state=2)
    assert a.n_configurations == 8
    assert a.width == 3
    np.testing.assert_array_equal(a.D1, b.D1)
    np.testing.assert_array_equal(a.D2, b.D2)
    np.testing.assert_array_equal(a.signs, b.signs)
    assert not np.array_equal(a.D1, c.D1)
    assert len(set(a.keys())) == 8
    assert a.D2.any(axis=0).all()
    assert set(np.unique(a.signs)) <= {-1, 1}


def test_sampling_returns_what_the_data_admit():
    # two samples admit few distinct patterns: fewer configurations come back, no hang
    Xt = _data(n=2, d=1)
    conf = sample_configurations(Xt, width=1, n_arrangements=50, random_state=0)
    assert 1 <= conf.n_configurations < 50
    assert len(set(conf.keys())) == conf.n_configurations


def test_sampling_stops_after_max_draws():
    Xt = _data()
    conf = sample_configurations(Xt, width=3, n_arrangements=8, random_state=1, max_draws=3)
    assert 1 <= conf.n_configurations <= 3


@pytest.mark.parametrize("n, P", [(40, 8), (2, 50)])
def test_sampling_can_return_the_networks_behind_the_configurations(n, P):
    # the kept draws, in order: they rebuild the same configurations (also when
    # duplicates and inactive draws were skipped), and the result does not change
    Xt = _data(n=n, d=1 if n == 2 else 3)
    plain = sample_configurations(Xt, 3, P, random_state=4)
    conf, W1, w2 = sample_configurations(Xt, 3, P, random_state=4, return_networks=True)
    assert conf.keys() == plain.keys()
    assert W1.shape == (conf.n_configurations, Xt.shape[1], 3)
    assert w2.shape == (conf.n_configurations, 3)
    assert configurations_from_networks(Xt, W1, w2).keys() == conf.keys()


def test_concat_skips_known_configurations():
    Xt = _data()
    a = sample_configurations(Xt, 3, 5, random_state=0)
    b = sample_configurations(Xt, 3, 5, random_state=1)
    both = a.concat(b).concat(a)
    assert both.n_configurations == len(set(a.keys()) | set(b.keys()))
    assert both.keys()[:5] == a.keys()


def test_subset_and_stack_keep_the_order():
    Xt = _data()
    a = sample_configurations(Xt, 3, 5, random_state=0)
    keys = a.keys()
    assert a.subset([3, 1]).keys() == [keys[3], keys[1]]
    stacked = Configurations.stack([a, a.subset([0])])
    assert stacked.keys() == keys + keys[:1]  # duplicates kept


def test_drop_useless_drops_duplicates_and_inactive_configurations():
    Xt = _data()
    a = sample_configurations(Xt, 3, 4, random_state=0)
    dead = a.subset([2])
    dead.D2 = np.zeros_like(dead.D2)  # the second ReLU is never active
    conf = Configurations.stack([a, a.subset([1, 0]), dead])
    assert conf.n_configurations == 7
    assert drop_useless(conf).keys() == a.keys()


def test_sampled_network_is_feasible_for_its_configuration():
    Xt = _data()
    rng = np.random.default_rng(0)
    W1, w2 = rng.normal(size=(4, Xt.shape[1], 3)), rng.normal(size=(4, 3))
    conf = configurations_from_networks(Xt, W1, w2)
    Z = np.einsum("nd,kdm->nkm", Xt, W1)
    assert np.all((2 * conf.D1 - 1) * Z >= 0)
    g = np.einsum("nkm,km->nk", np.maximum(Z, 0), w2)
    assert np.all((2 * conf.D2 - 1) * g >= 0)
    np.testing.assert_array_equal(conf.signs, np.sign(w2))
