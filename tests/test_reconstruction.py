"""From the convex program's solution to a ReLU network (``skconvexrelu._reconstruction``)."""

import numpy as np
import pytest

from skconvexrelu._arrangements import configurations_from_networks
from skconvexrelu._losses import make_loss
from skconvexrelu._program import ConvexProgram
from skconvexrelu._reconstruction import (
    drop_round_off,
    network_forward,
    network_objective,
    network_penalty,
    reconstruct_network,
)


def _data(n=50, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return np.hstack([X, np.ones((n, 1))])


def _feasible_blocks(W1, w2, n_outputs, seed=0):
    """Blocks from the networks that define the configurations (hence feasible).

    Column j of block c is ``|w2_cj| * W1_c[:, j]``, so the block's ``g`` is the network's
    own second-layer pre-activation; any positive multiple stays feasible.
    """
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 2.0, size=(n_outputs, 2, W1.shape[0], 1, 1))
    return scale * (W1 * np.abs(w2)[:, None, :])[None, None]


def _feasible_program(n_outputs, n=50, P=5, seed=3, tiny_column=False):
    """``(program, U)``: a program and a feasible point of it, with no zero block.

    With ``tiny_column`` the network behind configuration 1 has a second-layer weight of
    1e-12 on its neuron 0, so column 0 of every block of configuration 1 is round-off.
    """
    Xt = _data(n=n)
    rng = np.random.default_rng(seed)
    W1, w2 = rng.normal(size=(P, Xt.shape[1], 3)), rng.normal(size=(P, 3))
    if tiny_column:
        w2[1, 0] *= 1e-12
    conf = configurations_from_networks(Xt, W1, w2)
    program = ConvexProgram(Xt, conf, n_outputs)
    return program, _feasible_blocks(W1, w2, n_outputs)


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_reconstructed_network_computes_the_convex_model(n_outputs):
    prog, U = _feasible_program(n_outputs)
    Xt = prog.Xt
    U[0, 1, 2] = 0.0  # a zero block is dropped
    assert prog.cone_violation(U) == 0.0
    b = np.random.default_rng(3).normal(size=n_outputs)
    coefs, intercepts = reconstruct_network(U, b, prog.conf.signs, fit_bias=True)
    F_net = network_forward(coefs, intercepts, Xt[:, :-1])
    np.testing.assert_allclose(F_net, prog.forward(U) + b, rtol=1e-10, atol=1e-10)
    K = coefs[2].shape[0]
    assert K == 2 * n_outputs * 5 - 1
    # unit-norm first layers, and the weight decay equals the group-lasso penalty
    for k in range(K):
        block = np.vstack([coefs[0][:, 3 * k : 3 * k + 3], intercepts[0][3 * k : 3 * k + 3]])
        assert np.linalg.norm(block) == pytest.approx(1.0)
    decay = 0.5 * (np.sum(coefs[1] ** 2) + np.sum(coefs[2] ** 2))
    assert decay == pytest.approx(prog.group_norms(U).sum())
    assert network_penalty(coefs, 0.3) == pytest.approx(prog.penalty(U, 0.3), rel=1e-12)


def test_network_without_bias_and_its_objective():
    prog, U = _feasible_program(1)
    Xt = prog.Xt
    coefs, intercepts = reconstruct_network(U, np.zeros(1), prog.conf.signs, fit_bias=False)
    assert coefs[0].shape[0] == Xt.shape[1]
    np.testing.assert_array_equal(intercepts[0], 0.0)
    np.testing.assert_allclose(
        network_forward(coefs, intercepts, Xt), prog.forward(U), rtol=1e-10
    )
    loss = make_loss("squared")
    rng = np.random.default_rng(0)
    Y, w = rng.normal(size=(len(Xt), 1)), np.full(len(Xt), 1.0 / len(Xt))
    obj = network_objective(coefs, intercepts, Xt, Y, w, loss, 0.1)
    assert obj == pytest.approx(prog.objective(U, 0.0, loss, Y, w, 0.1), rel=1e-10)


def _with_round_off(n_outputs=1):
    """A feasible point whose block (0, 1, 2) is round-off (1e-12 of its size)."""
    prog, U = _feasible_program(n_outputs)
    U[0, 1, 2] *= 1e-12
    rng = np.random.default_rng(1)
    Y = prog.forward(U) + 0.1 * rng.normal(size=(prog.n_samples, n_outputs))
    w = np.full(prog.n_samples, 1.0 / prog.n_samples)
    return prog, U, Y, w


def test_drop_round_off_drops_negligible_blocks_only():
    prog, U, Y, w = _with_round_off()
    loss, beta = make_loss("squared"), 1e-3
    out = drop_round_off(prog, U, np.zeros(1), loss, Y, w, beta)
    expected = U.copy()
    expected[0, 1, 2] = 0.0
    np.testing.assert_array_equal(out, expected)
    assert prog.cone_violation(out) == 0.0
    before = prog.objective(U, 0.0, loss, Y, w, beta)
    assert prog.objective(out, 0.0, loss, Y, w, beta) <= before * (1 + 1e-7)


def test_drop_round_off_keeps_a_feasible_point_without_round_off():
    prog, U = _feasible_program(2)
    Y = np.zeros((prog.n_samples, 2))
    w = np.full(prog.n_samples, 1.0 / prog.n_samples)
    assert drop_round_off(prog, U, np.zeros(2), make_loss("squared"), Y, w, 1e-3) is U


def test_drop_round_off_respects_the_budget():
    # a negative budget admits no change of the objective at all: nothing is dropped
    prog, U, Y, w = _with_round_off()
    out = drop_round_off(prog, U, np.zeros(1), make_loss("squared"), Y, w, 0.0, budget=-1.0)
    np.testing.assert_array_equal(out, U)


def test_drop_round_off_drops_single_columns_that_keep_the_cones():
    prog, U = _feasible_program(1, tiny_column=True)
    assert prog.cone_violation(U) == 0.0
    rng = np.random.default_rng(2)
    Y = prog.forward(U) + 0.1 * rng.normal(size=(prog.n_samples, 1))
    w = np.full(prog.n_samples, 1.0 / prog.n_samples)
    out = drop_round_off(prog, U, np.zeros(1), make_loss("squared"), Y, w, 1e-3)
    assert prog.cone_violation(out) == 0.0
    expected = U.copy()
    expected[:, :, 1, :, 0] = 0.0  # the blocks stay, without their round-off column
    np.testing.assert_array_equal(out, expected)
    assert np.all(prog.group_norms(out)[:, :, 1, 1:] > 0)
