"""The seed network of ``arrangements="nonconvex"`` (skconvexrelu._seeding).

That the seed network is a feasible point of the convex program is checked in
test_column_generation.py; here, the seed run itself.
"""

import numpy as np

from skconvexrelu._losses import SquaredLoss
from skconvexrelu._nonconvex import objective, train_adam
from skconvexrelu._seeding import train_seed_network


def _data(n=30, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Xt = np.hstack([X, np.ones((n, 1))])
    return Xt, (np.abs(X[:, :1]) - 0.5), np.full(n, 1.0 / n)


def test_seed_run_is_a_short_adam_run_with_ten_subnetworks():
    Xt, Y, w = _data()
    loss, beta = SquaredLoss(), 1e-2
    net, value, conf = train_seed_network(Xt, Y, w, loss, beta, 3, True, 0, n_steps=50)
    assert net.n_subnetworks == 10 and net.width == 3
    assert conf.n_configurations == 10 and conf.D1.shape == (30, 10, 3)
    assert value == objective(net, Xt, Y, w, loss, beta)
    # the defaults are those of a plain train_adam call with 10 sub-networks
    same, _ = train_adam(
        Xt, Y, w, loss, beta, n_subnetworks=10, width=3, n_steps=50, random_state=0
    )
    np.testing.assert_array_equal(net.W1, same.W1)


def test_seed_run_passes_adam_options_through():
    Xt, Y, w = _data()
    net, _, _ = train_seed_network(
        Xt, Y, w, SquaredLoss(), 1e-2, 2, False, 0, n_subnetworks=4, n_steps=5
    )
    assert net.n_subnetworks == 4
    np.testing.assert_array_equal(net.b, 0.0)  # fit_intercept=False keeps b at zero
