"""The seed network of ``arrangements="nonconvex"`` and ``"trained"``
(skconvexrelu._seeding).

That the seed network is a feasible point of the convex program is checked in
test_column_generation.py; here, the seed run itself, the configurations
``arrangements="trained"`` solves on, and how a point that violates its cone constraints
is put on the configurations of its own network.
"""

import numpy as np
import pytest

from skconvexrelu import _seeding
from skconvexrelu._arrangements import Configurations, drop_useless
from skconvexrelu._losses import SquaredLoss, make_loss
from skconvexrelu._nonconvex import network_configurations, objective, train_adam
from skconvexrelu._program import ConvexProgram
from skconvexrelu._reconstruction import (
    network_forward,
    network_objective,
    reconstruct_network,
)
from skconvexrelu._seeding import (
    own_configurations,
    train_seed_network,
    trained_configurations,
)
from skconvexrelu.solvers.settings import SeedSettings


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


# ------------------------------------------------ the configurations of "trained"


def _outputs_data(n_outputs, n=40, seed=0):
    """``(Xt, Y, w, loss)`` with ``n_outputs`` classes (one regression output for 1)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    Xt = np.hstack([X, np.ones((n, 1))])
    if n_outputs == 1:
        return Xt, np.sin(X[:, :1]), np.full(n, 1.0 / n), SquaredLoss()
    Y = np.eye(n_outputs)[rng.integers(0, n_outputs, n)]
    return Xt, Y, np.full(n, 1.0 / n), make_loss("cross_entropy", n_outputs)


@pytest.mark.parametrize(
    "n_outputs, max_blocks, expected", [(1, 20, 5), (1, 3, 3), (10, 20, 2), (30, 20, 1)]
)
def test_trained_configurations_are_capped_by_outputs(n_outputs, max_blocks, expected):
    Xt, Y, w, loss = _outputs_data(n_outputs)
    settings = SeedSettings(n_steps=20, max_output_blocks=max_blocks)
    assert expected == max(1, min(5, max_blocks // n_outputs))
    net, obj, conf = trained_configurations(
        Xt, Y, w, loss, 1e-2, 3, True, np.random.RandomState(0), 5, settings
    )
    # at least one sub-network per output, n_arrangements of them otherwise
    assert net.n_subnetworks == max(5, n_outputs)
    assert obj == objective(net, Xt, Y, w, loss, 1e-2)
    assert conf.n_configurations == expected
    # the kept ones are those of the sub-networks with the largest output weights
    own = network_configurations(net, Xt)
    order = np.argsort(-np.abs(net.w3) * np.linalg.norm(net.w2, axis=1), kind="stable")
    ranked = drop_useless(own.subset(order)).keys()
    assert conf.keys() == ranked[:expected]


@pytest.mark.parametrize(
    "n, expected, decay",
    # full batches; 30 passes of 3 batches; fewer passes than the least steps (no
    # decay); the cap
    [(40, 30, False), (150, 3 * 30, True), (100, 100, False), (2_000, 100, True)],
)
def test_seed_steps_follow_passes_up_to_the_cap(monkeypatch, n, expected, decay):
    Xt, Y, w, loss = _outputs_data(1, n=n)
    seen = {}

    def spy(*args, n_steps, decay, **kwargs):
        seen["n_steps"], seen["decay"] = n_steps, decay
        return train_seed_network(*args, n_steps=2, **kwargs)

    monkeypatch.setattr(_seeding, "train_seed_network", spy)
    settings = SeedSettings(n_steps=20, n_epochs=30, batch_size=64, max_steps=100)
    if n == 100:  # two batches a pass, 30 passes: fewer than n_steps=100
        settings = SeedSettings(n_steps=100, n_epochs=30, batch_size=64, max_steps=100)
    trained_configurations(
        Xt, Y, w, loss, 1e-2, 3, True, np.random.RandomState(0), 5, settings
    )
    assert seen["n_steps"] == expected
    assert seen["decay"] is decay


def test_random_configurations_fill_up_a_collapsed_seed(monkeypatch):
    """A seed network whose sub-networks share one configuration gives that one and
    random ones up to ``n_arrangements``."""
    Xt, Y, w, loss = _outputs_data(1)

    def collapsed(Xt, *args, **kwargs):
        net, _, _ = train_seed_network(Xt, *args, **kwargs)
        for name in ("W1", "w2", "w3"):
            getattr(net, name)[:] = getattr(net, name)[:1]  # every copy is the first
        return net, objective(net, Xt, Y, w, loss, 1e-2), network_configurations(net, Xt)

    monkeypatch.setattr(_seeding, "train_seed_network", collapsed)
    settings = SeedSettings(n_steps=20)
    net, _, conf = trained_configurations(
        Xt, Y, w, loss, 1e-2, 3, True, np.random.RandomState(0), 5, settings
    )
    own = drop_useless(network_configurations(net, Xt))
    assert own.n_configurations == 1
    assert conf.n_configurations == 5
    keys = conf.keys()
    assert keys[0] == own.keys()[0]
    assert len(set(keys)) == 5  # the random ones are new


# ---------------------------------------------- a point on its own configurations


def _program_with_a_dead_block(n=30, P=4, m=3, n_outputs=2, seed=0):
    """A program on random configurations and a point ``U`` that violates its cones,
    with one zero block and one block whose second ReLU is never active (signs all
    -1, columns positive on every sample); returns the program, ``U`` and those two
    blocks."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    Xt = np.hstack([X, np.ones((n, 1))])
    signs = np.where(rng.normal(size=(P, m)) >= 0, 1, -1).astype(np.int8)
    signs[0] = -1
    conf = Configurations(rng.random((n, P, m)) < 0.5, signs, rng.random((n, P)) < 0.5)
    program = ConvexProgram(Xt, conf, n_outputs)
    U = rng.normal(size=program.shape)
    U[:, :, 0] = 0.0  # configuration 0 only carries the dead block
    zero, dead = (0, 1, 2), (1, 0, 0)
    U[zero] = 0.0
    U[dead] = 0.1 * rng.normal(size=U[dead].shape)
    U[dead][-1] = 10.0  # a large positive bias: X~ u_j > 0 on every sample
    return program, U, zero, dead


def test_own_configurations_make_a_violating_point_feasible():
    program, U, zero, dead = _program_with_a_dead_block()
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(program.n_samples, program.n_outputs))
    w, b, beta, loss = np.full(len(Y), 1 / len(Y)), Y.mean(0), 0.1, SquaredLoss()
    assert program.cone_violation(U) > 1.0
    # the blocks' second-layer pre-activations: every other non-zero block is live
    Z = np.maximum(np.einsum("nd,osPdm->osPnm", program.Xt, U), 0.0)
    g = np.einsum("osPnm,Pm->osPn", Z, program.conf.signs)
    nonzero = np.abs(U).sum(axis=(3, 4)) > 0
    alive = nonzero & (g.max(axis=3) >= 0)
    assert not nonzero[zero] and nonzero[dead] and not alive[dead]
    assert alive.sum() == nonzero.sum() - 1 >= 10
    new, V = own_configurations(program, U)
    assert new.cone_violation(V) <= 1e-12
    # one configuration per live non-zero block: the zero and the dead block are gone
    assert new.conf.n_configurations == V.shape[2] == alive.sum()
    assert new.conf.D2.any(axis=0).all()
    assert np.all((np.abs(V).sum(axis=(3, 4)) > 0).sum(axis=(0, 1)) == 1)
    # its objective is that of the network rebuilt from U (the dead block outputs
    # zero, so the network without it computes the same and costs less)
    live = U.copy()
    live[dead] = 0.0
    X = program.Xt[:, :-1]
    full = reconstruct_network(U, b, program.conf.signs, True)
    coefs, intercepts = reconstruct_network(live, b, program.conf.signs, True)
    np.testing.assert_allclose(
        network_forward(*full, X), network_forward(coefs, intercepts, X), atol=1e-12
    )
    np.testing.assert_allclose(
        new.forward(V) + b, network_forward(coefs, intercepts, X), rtol=1e-10, atol=1e-12
    )
    expected = network_objective(coefs, intercepts, X, Y, w, loss, beta)
    assert new.objective(V, b, loss, Y, w, beta) == pytest.approx(expected, rel=1e-10)
    assert new.penalty(V, beta) == pytest.approx(program.penalty(live, beta), rel=1e-12)


def test_own_configurations_of_a_zero_point_are_empty():
    program, U, _, _ = _program_with_a_dead_block()
    new, V = own_configurations(program, np.zeros_like(U))
    assert new.conf.n_configurations == 0 and V.shape[2] == 0
