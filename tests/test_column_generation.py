"""Seeding from a trained network, column generation and the certificate."""

import numpy as np
import pytest

from skconvexrelu import ConvexThreeLayerClassifier, ConvexThreeLayerRegressor
from skconvexrelu._arrangements import drop_useless
from skconvexrelu._column_generation import find_violations, search_subnetworks, select_new
from skconvexrelu._losses import LogisticLoss, SoftmaxLoss, SquaredLoss
from skconvexrelu._nonconvex import objective, train_adam
from skconvexrelu._program import ConvexProgram
from skconvexrelu._seeding import blocks_from_network, train_seed_network
from skconvexrelu.datasets import load_uci


def _teacher(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = np.maximum(np.maximum(X @ rng.normal(size=(d, 3)), 0) @ rng.normal(size=3), 0)
    return X, y - y.mean()


@pytest.mark.parametrize(
    "loss,Y_kind",
    [(SquaredLoss(), "real"), (LogisticLoss(), "pm1"), (SoftmaxLoss(), "onehot")],
)
def test_trained_network_is_a_feasible_point_no_better_than_its_blocks(loss, Y_kind):
    X, y = _teacher()
    n = len(y)
    Xt = np.hstack([X, np.ones((n, 1))])
    Y = {
        "real": y[:, None],
        "pm1": np.where(y > 0, 1.0, -1.0)[:, None],
        "onehot": np.eye(3)[np.argsort(np.argsort(y)) * 3 // n],
    }[Y_kind]
    w = np.full(n, 1.0 / n)
    net, net_obj, conf = train_seed_network(Xt, Y, w, loss, 1e-2, 3, True, 0, n_steps=200)
    program = ConvexProgram(Xt, drop_useless(conf), Y.shape[1])
    U, b = blocks_from_network(net, program)
    assert program.cone_violation(U) <= 1e-12
    np.testing.assert_allclose(program.forward(U) + b, _net_forward(net, Xt), atol=1e-10)
    assert program.objective(U, b, loss, Y, w, 1e-2) <= net_obj + 1e-12


def _net_forward(net, Xt):
    from skconvexrelu._nonconvex import forward

    return forward(net, Xt)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seeded_fit_is_never_worse_than_the_seed_network(seed):
    X, y = _teacher(seed=seed)
    reg = ConvexThreeLayerRegressor(
        beta=1e-3, width=3, n_arrangements=3, arrangements="nonconvex", random_state=seed
    ).fit(X, y)
    assert reg.nonconvex_objective_ is not None
    assert reg.objective_ <= reg.nonconvex_objective_ + 1e-12
    # and the random-only fit has no seed objective
    plain = ConvexThreeLayerRegressor(
        beta=1e-3, width=3, n_arrangements=3, arrangements="random", random_state=seed
    )
    assert plain.fit(X, y).nonconvex_objective_ is None


def test_seeded_classifier_is_never_worse_than_the_seed_network():
    X, y = _teacher(n=50)
    labels = np.argsort(np.argsort(y)) * 3 // len(y)  # three equal groups by rank
    clf = ConvexThreeLayerClassifier(
        beta=1e-3, width=3, n_arrangements=3, arrangements="nonconvex", random_state=0
    ).fit(X, labels)
    assert clf.objective_ <= clf.nonconvex_objective_ + 1e-12


def test_column_generation_lowers_the_objective_and_certifies_it():
    data = load_uci("balloons")
    X, y = data.data, data.target.astype(float)
    beta = 0.1 / len(y)
    reg = ConvexThreeLayerRegressor(
        arrangements="random",
        beta=beta,
        width=7,
        n_arrangements=10,
        column_generation=6,
        random_state=0,
    ).fit(X, y)
    path = reg.objective_path_
    assert len(path) >= 2
    assert np.all(np.diff(path) <= 1e-7 * path[0])
    assert reg.objective_ == pytest.approx(path[-1], rel=1e-6)
    cert = reg.certificate_
    assert cert["lower_bound"] <= reg.objective_ + 1e-9
    assert cert["gap"] == pytest.approx(reg.objective_ - cert["lower_bound"])
    assert cert["gap"] >= -1e-9
    assert abs(cert["restricted_gap"]) <= 1e-4 * reg.objective_
    # the bound is a real lower bound: no network trained by Adam goes below it
    n = len(y)
    Xt = np.hstack([X, np.ones((n, 1))])
    for seed in range(3):
        net, _ = train_adam(
            Xt,
            y[:, None],
            np.full(n, 1 / n),
            SquaredLoss(),
            beta,
            10,
            7,
            1500,
            random_state=seed,
        )
        assert objective(net, Xt, y[:, None], np.full(n, 1 / n), SquaredLoss(), beta) >= (
            cert["lower_bound"] - 1e-9
        )


def test_certificate_closes_when_every_configuration_is_present():
    # n = 5, d = 2 (the paper's Figure 4 setting): a large random sample plus column
    # generation leaves no violated configuration, so the gap is at solver precision
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 2))
    y = rng.normal(size=5)
    reg = ConvexThreeLayerRegressor(
        arrangements="random",
        beta=0.002 / 5,
        width=3,
        n_arrangements=60,
        column_generation=5,
        random_state=0,
    ).fit(X, y)
    cert = reg.certificate_
    assert cert["max_violation"] <= 1.01
    assert cert["relative_gap"] <= 1e-2


def test_search_ascends_from_its_starting_points():
    X, y = _teacher(n=30)
    Xt = np.hstack([X, np.ones((30, 1))])
    v = y / 30
    rng = np.random.default_rng(0)
    _, _, start_values = search_subnetworks(Xt, v, 3, n_starts=16, n_steps=0, random_state=rng)
    rng = np.random.default_rng(0)
    W1, w2, values = search_subnetworks(Xt, v, 3, n_starts=16, n_steps=60, random_state=rng)
    assert values.max() > start_values.max()
    assert np.all(values >= start_values - 1e-12)
    np.testing.assert_allclose(np.linalg.norm(W1, axis=(1, 2)), 1.0)
    np.testing.assert_allclose(np.linalg.norm(w2, axis=1), 1.0)
    # values are what they claim to be
    h = np.maximum(np.maximum(Xt @ W1[0], 0) @ w2[0], 0)
    assert values[0] == pytest.approx(abs(v @ h))


def test_find_violations_sorts_the_configurations_by_value():
    X, y = _teacher(n=30)
    Xt = np.hstack([X, np.ones((30, 1))])
    V = np.stack([y, np.sin(X[:, 0])], 1) / 30  # two outputs
    found = find_violations(Xt, V, 3, np.random.default_rng(0), n_starts=8, n_steps=20)
    # one configuration per start and output, best first
    assert found.configurations.n_configurations == len(found.values) == 16
    assert np.all(np.diff(found.values) <= 0)
    assert found.max_value == found.values[0]


def test_select_new_keeps_violated_unknown_configurations_up_to_k():
    X, y = _teacher(n=30)
    Xt = np.hstack([X, np.ones((30, 1))])
    found = find_violations(Xt, y[:, None] / 30, 3, np.random.default_rng(0), 8, 20)
    keys = found.configurations.keys()
    beta = 0.5 * found.values[0]
    violated = [p for p in range(len(keys)) if found.values[p] > beta]
    known = found.configurations.subset(violated[:1])
    new = select_new(known, found, beta, k=100)
    new_keys = new.keys()
    distinct_violated = {keys[p] for p in violated}
    assert new.n_configurations == len(distinct_violated) - 1
    assert keys[violated[0]] not in new_keys  # already in the program
    assert len(set(new_keys)) == len(new_keys)  # no duplicates
    assert set(new_keys) <= distinct_violated  # only violated ones
    assert select_new(known, found, beta, k=1).n_configurations <= 1
    assert select_new(known, found, 2 * found.values[0], k=100).n_configurations == 0


def test_max_arrangements_caps_the_growth():
    X, y = _teacher()
    reg = ConvexThreeLayerRegressor(
        beta=1e-3,
        arrangements="random",
        width=3,
        n_arrangements=5,
        column_generation=5,
        max_arrangements=8,
        random_state=0,
    ).fit(X, y)
    assert reg.n_arrangements_ <= 8


def test_warm_start_reuses_configurations():
    X, y = _teacher()
    reg = ConvexThreeLayerRegressor(
        beta=1e-2,
        arrangements="random",
        width=3,
        n_arrangements=5,
        column_generation=2,
        warm_start=True,
        random_state=0,
    ).fit(X, y)
    grown = reg.n_arrangements_
    reg.set_params(beta=5e-3, column_generation=0).fit(X, y)
    assert reg.n_arrangements_ == grown
    cold = ConvexThreeLayerRegressor(
        beta=5e-3, width=3, n_arrangements=5, arrangements="random", random_state=0
    )
    assert cold.fit(X, y).n_arrangements_ == 5
    # more configurations, same beta: the warm fit is at least as good
    assert reg.objective_ <= cold.objective_ + 1e-7
