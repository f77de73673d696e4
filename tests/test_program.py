"""The building blocks: sampling, the linear map, the losses and the reconstruction."""

import numpy as np
import pytest

from skconvexrelu._arrangements import configurations_from_networks, sample_configurations
from skconvexrelu._losses import (
    HingeLoss,
    LogisticLoss,
    SoftmaxLoss,
    SquaredLoss,
    constant_model,
    make_loss,
)
from skconvexrelu._program import ConvexProgram
from skconvexrelu._reconstruction import network_forward, reconstruct_network


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


def test_sampled_network_is_feasible_for_its_configuration():
    Xt = _data()
    rng = np.random.default_rng(0)
    W1, w2 = rng.normal(size=(4, Xt.shape[1], 3)), rng.normal(size=(4, 3))
    conf = configurations_from_networks(Xt, W1, w2)
    Z = np.einsum("nd,kdm->nkm", Xt, W1)
    assert np.all((2 * conf.D1 - 1) * Z >= 0)
    g = np.einsum("nkm,km->nk", np.maximum(Z, 0), w2)
    assert np.all((2 * conf.D2 - 1) * g >= 0)


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_adjoint_matches_forward(n_outputs):
    Xt = _data()
    conf = sample_configurations(Xt, 4, 6, random_state=0)
    prog = ConvexProgram(Xt, conf, n_outputs)
    rng = np.random.default_rng(1)
    U, R = rng.normal(size=prog.shape), rng.normal(size=(Xt.shape[0], n_outputs))
    assert np.isclose(np.sum(prog.forward(U) * R), np.sum(U * prog.adjoint(R)), rtol=1e-12)


def _feasible_blocks(W1, w2, n_outputs, seed=0):
    """Blocks from the networks that define the configurations (hence feasible).

    Column j of block c is ``|w2_cj| * W1_c[:, j]``, so the block's ``g`` is the network's
    own second-layer pre-activation; any positive multiple stays feasible.
    """
    rng = np.random.default_rng(seed)
    scale = rng.uniform(0.5, 2.0, size=(n_outputs, 2, W1.shape[0], 1, 1))
    return scale * (W1 * np.abs(w2)[:, None, :])[None, None]


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_reconstructed_network_computes_the_convex_model(n_outputs):
    Xt = _data(n=50)
    rng = np.random.default_rng(3)
    W1, w2 = rng.normal(size=(5, Xt.shape[1], 3)), rng.normal(size=(5, 3))
    conf = configurations_from_networks(Xt, W1, w2)
    prog = ConvexProgram(Xt, conf, n_outputs)
    U = _feasible_blocks(W1, w2, n_outputs)
    U[0, 1, 2] = 0.0  # a zero block is dropped
    assert prog.cone_violation(U) == 0.0
    b = rng.normal(size=n_outputs)
    coefs, intercepts = reconstruct_network(U, b, conf.signs, fit_bias=True)
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


LOSSES = [
    (SquaredLoss(), "real", 2),
    (HingeLoss(), "pm1", 2),
    (LogisticLoss(), "pm1", 1),
    (SoftmaxLoss(), "onehot", 3),
]


def _targets(kind, n, o, rng):
    if kind == "real":
        return rng.normal(size=(n, o))
    if kind == "pm1":
        return rng.choice([-1.0, 1.0], size=(n, o))
    return np.eye(o)[rng.integers(0, o, size=n)]


@pytest.mark.parametrize("loss,kind,o", LOSSES, ids=lambda x: getattr(x, "name", x))
def test_loss_gradient_matches_finite_differences(loss, kind, o):
    rng = np.random.default_rng(0)
    n = 12
    Y = _targets(kind, n, o, rng)
    w = rng.uniform(0.5, 1.5, size=n)
    w /= w.sum()
    F = rng.normal(size=(n, o))
    if isinstance(loss, HingeLoss):  # stay away from the kink
        F += 0.1 * np.sign(1 - Y * F + 1e-9)
    G = loss.gradient(F, Y, w)
    eps = 1e-6
    for idx in np.ndindex(F.shape):
        E = np.zeros_like(F)
        E[idx] = eps
        fd = (loss.value(F + E, Y, w) - loss.value(F - E, Y, w)) / (2 * eps)
        assert fd == pytest.approx(G[idx], rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("loss,kind,o", LOSSES, ids=lambda x: getattr(x, "name", x))
def test_loss_dual_is_a_lower_bound_and_tight_at_the_gradient(loss, kind, o):
    # weak duality: L(F) >= -<V, F> + dual(V); equality at V = -grad L(F) (smooth losses)
    rng = np.random.default_rng(1)
    n = 15
    Y = _targets(kind, n, o, rng)
    w = np.full(n, 1.0 / n)
    F = rng.normal(size=(n, o))
    V = -loss.gradient(F, Y, w)
    lower = -np.sum(V * F) + loss.dual(V, Y, w)
    assert lower <= loss.value(F, Y, w) + 1e-12
    if not isinstance(loss, HingeLoss):
        assert lower == pytest.approx(loss.value(F, Y, w), rel=1e-10)
    F2 = rng.normal(size=(n, o))
    assert -np.sum(V * F2) + loss.dual(V, Y, w) <= loss.value(F2, Y, w) + 1e-12


@pytest.mark.parametrize("loss,kind,o", LOSSES, ids=lambda x: getattr(x, "name", x))
def test_loss_dual_with_zero_weights(loss, kind, o):
    # a sample of zero weight adds nothing to the loss; its conjugate is the indicator of
    # {0}: the dual is that of the other samples where V is zero there, -inf elsewhere
    rng = np.random.default_rng(3)
    n = 16
    Y = _targets(kind, n, o, rng)
    w = rng.uniform(0.5, 1.5, n)
    w[::4] = 0.0
    w /= w.sum()
    pos = w > 0
    F = rng.normal(size=(n, o))
    V = -loss.gradient(F, Y, w)
    assert np.all(V[~pos] == 0)
    dual = loss.dual(V, Y, w)
    assert np.isfinite(dual)
    assert dual == pytest.approx(loss.dual(V[pos], Y[pos], w[pos]), rel=1e-12)
    # weak duality still holds, tight at the gradient for the smooth losses
    lower = -np.sum(V * F) + dual
    assert lower <= loss.value(F, Y, w) + 1e-12
    if not isinstance(loss, HingeLoss):
        assert lower == pytest.approx(loss.value(F, Y, w), rel=1e-10)
    V2 = V.copy()
    V2[0] = 1e-3
    assert loss.dual(V2, Y, w) == -np.inf


@pytest.mark.parametrize("loss,kind,o", LOSSES, ids=lambda x: getattr(x, "name", x))
def test_constant_model_is_optimal(loss, kind, o):
    rng = np.random.default_rng(2)
    n = 30
    Y = _targets(kind, n, o, rng)
    w = np.full(n, 1.0 / n)
    b, R = constant_model(loss, Y, w)
    np.testing.assert_allclose(R.sum(axis=0), 0.0, atol=1e-12)
    base = loss.value(np.broadcast_to(b, Y.shape), Y, w)
    for _ in range(20):
        b2 = b + 0.1 * rng.normal(size=o)
        assert loss.value(np.broadcast_to(b2, Y.shape), Y, w) >= base - 1e-12


def test_make_loss_rejects_unknown_names():
    assert isinstance(make_loss("cross_entropy", 1), LogisticLoss)
    assert isinstance(make_loss("cross_entropy", 4), SoftmaxLoss)
    with pytest.raises(ValueError, match="Unknown loss 'l1'"):
        make_loss("l1")
