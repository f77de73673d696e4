"""Tests of the non-convex model, its gradient and its projected-Adam trainer."""

import numpy as np
import pytest

from skconvexrelu._losses import HingeLoss, LogisticLoss, SoftmaxLoss, SquaredLoss
from skconvexrelu._nonconvex import (
    NonConvexNetwork,
    forward,
    init_network,
    network_configurations,
    objective,
    objective_and_gradient,
    to_mlp_layout,
    train_adam,
)

PARAMS = ("W1", "w2", "w3", "b")


def _targets(loss, n, n_outputs, rng):
    if isinstance(loss, SquaredLoss):
        return rng.normal(size=(n, n_outputs))
    if isinstance(loss, SoftmaxLoss):
        return np.eye(n_outputs)[rng.integers(n_outputs, size=n)]
    return rng.choice([-1.0, 1.0], size=(n, n_outputs))


def _problem(loss, n_outputs, fit_intercept, seed, n=15, d_tilde=4, m=3, K=4):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d_tilde - 1 if fit_intercept else d_tilde))
    Xt = np.hstack([X, np.ones((n, 1))]) if fit_intercept else X
    Y = _targets(loss, n, n_outputs, rng)
    w = rng.uniform(0.5, 1.5, size=n)
    w /= w.sum()
    net = init_network(K, d_tilde, m, n_outputs, random_state=seed)
    net.b = rng.normal(size=n_outputs) if fit_intercept else np.zeros(n_outputs)
    return Xt, Y, w, net


def _margin(net, Xt, Y, loss):
    """Distance of the point to the nearest kink (ReLUs, and the hinge)."""
    Z = np.einsum("nd,kdm->nkm", Xt, net.W1)
    G = np.einsum("nkm,km->nk", np.maximum(Z, 0), net.w2)
    m = min(np.abs(Z).min(), np.abs(G[G != 0]).min() if np.any(G != 0) else np.inf)
    if isinstance(loss, HingeLoss):
        m = min(m, np.abs(1.0 - Y * forward(net, Xt)).min())
    return m


@pytest.mark.parametrize(
    "loss, n_outputs",
    [
        (SquaredLoss(), 1),
        (SquaredLoss(), 2),
        (HingeLoss(), 1),
        (HingeLoss(), 2),
        (LogisticLoss(), 1),
        (SoftmaxLoss(), 3),
    ],
)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gradient_matches_finite_differences(loss, n_outputs, fit_intercept):
    _check_gradient(loss, n_outputs, fit_intercept, K=4)


@pytest.mark.parametrize("loss, n_outputs", [(SquaredLoss(), 1), (SoftmaxLoss(), 3)])
def test_gradient_of_many_subnetworks_matches_finite_differences(loss, n_outputs):
    """Beyond ``_BLOCK_DIAGONAL_MAX`` sub-networks the second layer is summed block by
    block instead of one product with a block-diagonal matrix: the same gradient."""
    from skconvexrelu._nonconvex import _BLOCK_DIAGONAL_MAX

    _check_gradient(loss, n_outputs, True, K=_BLOCK_DIAGONAL_MAX + 2)


def _check_gradient(loss, n_outputs, fit_intercept, K):
    beta, eps = 0.3, 1e-6
    for seed in range(50):  # a random point away from every kink
        Xt, Y, w, net = _problem(loss, n_outputs, fit_intercept, seed, K=K)
        if _margin(net, Xt, Y, loss) > 1e-4:
            break
    else:  # pragma: no cover
        pytest.fail("no kink-free point found")
    value, grad = objective_and_gradient(net, Xt, Y, w, loss, beta)
    assert value == pytest.approx(objective(net, Xt, Y, w, loss, beta), rel=1e-12)
    for name in PARAMS:
        if name == "b" and not fit_intercept:
            continue
        param = getattr(net, name)
        numeric = np.zeros_like(param)
        for i in np.ndindex(param.shape):
            old = param[i]
            param[i] = old + eps
            up = objective(net, Xt, Y, w, loss, beta)
            param[i] = old - eps
            down = objective(net, Xt, Y, w, loss, beta)
            param[i] = old
            numeric[i] = (up - down) / (2 * eps)
        analytic = getattr(grad, name)
        assert analytic.shape == param.shape
        err = np.linalg.norm(analytic - numeric) / max(np.linalg.norm(numeric), 1e-12)
        assert err < 1e-5, (name, err)


def _teacher(n=60, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Xt = np.hstack([X, np.ones((n, 1))])
    teacher = init_network(3, d + 1, 4, 1, random_state=seed + 100)
    teacher.w3 = np.abs(teacher.w3) + 1.0
    teacher.w2 = np.abs(teacher.w2)
    Y = forward(teacher, Xt) * 5.0
    Y = Y - Y.mean()
    w = np.full(n, 1.0 / n)
    return Xt, Y, w


@pytest.mark.parametrize("batch_size", [None, 20])
def test_adam_decreases_objective_and_returns_best(batch_size):
    Xt, Y, w = _teacher()
    loss, beta = SquaredLoss(), 1e-4
    net, hist = train_adam(
        Xt,
        Y,
        w,
        loss,
        beta,
        n_subnetworks=6,
        width=5,
        n_steps=600,
        learning_rate=2e-2,
        batch_size=batch_size,
        random_state=0,
        record_every=7,
    )
    obj = hist["objective"]
    assert hist["step"][0] == 0 and hist["step"][-1] == 600
    assert len(hist["time"]) == len(obj) == len(hist["step"])
    assert np.all(np.diff(hist["time"]) >= 0)
    initial = objective(
        init_network(6, Xt.shape[1], 5, 1, random_state=0), Xt, Y, w, loss, beta
    )
    assert obj[0] == pytest.approx(initial, rel=1e-12)
    final = objective(net, Xt, Y, w, loss, beta)
    assert final == pytest.approx(obj.min(), rel=1e-12, abs=1e-15)
    assert final <= obj[0]
    assert final < 0.2 * obj[0]  # a substantial decrease
    norms = np.linalg.norm(net.W1, axis=(1, 2))
    assert np.all(norms <= 1 + 1e-12)


def test_constraint_holds_with_large_steps_and_init():
    Xt, Y, w = _teacher(seed=1)
    init = init_network(4, Xt.shape[1], 3, 1, random_state=3)
    init.W1 *= 5.0  # infeasible start: must be projected
    net, hist = train_adam(
        Xt,
        Y,
        w,
        SquaredLoss(),
        1e-3,
        n_steps=50,
        learning_rate=0.5,
        init=init,
        random_state=0,
    )
    assert net.W1.shape == (4, Xt.shape[1], 3)
    norms = np.linalg.norm(net.W1, axis=(1, 2))
    assert np.all(norms <= 1 + 1e-12)
    assert np.any(norms > 0.999)  # the projection is active, not a shrink to zero
    assert np.all(init.W1 == 5.0 * init_network(4, Xt.shape[1], 3, 1, 3).W1)  # init intact


def test_no_intercept_keeps_b_zero_and_max_time():
    Xt, Y, w = _teacher(seed=2)
    Y = Y + 3.0  # an offset that an intercept would fit
    net, _ = train_adam(
        Xt, Y, w, SquaredLoss(), 1e-3, n_steps=100, fit_intercept=False, random_state=0
    )
    assert np.all(net.b == 0)
    init = init_network(10, Xt.shape[1], 7, 1, random_state=0)
    init.b = np.array([2.0])
    net, _ = train_adam(
        Xt, Y, w, SquaredLoss(), 1e-3, n_steps=5, fit_intercept=False, init=init
    )
    assert np.all(net.b == 0) and init.b[0] == 2.0
    net_b, _ = train_adam(Xt, Y, w, SquaredLoss(), 1e-3, n_steps=100, random_state=0)
    assert np.abs(net_b.b).max() > 0.1
    _, hist = train_adam(
        Xt, Y, w, SquaredLoss(), 1e-3, n_steps=10**7, max_time=0.2, random_state=0
    )
    assert hist["step"][-1] < 10**7 and hist["time"][-1] < 5.0


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_mlp_layout_matches_forward_and_penalty(fit_intercept):
    rng = np.random.default_rng(4)
    n, d, K, m, C = 20, 3, 5, 4, 2
    X = rng.normal(size=(n, d))
    Xt = np.hstack([X, np.ones((n, 1))]) if fit_intercept else X
    net = init_network(K, Xt.shape[1], m, C, random_state=5)
    net.b = rng.normal(size=C)
    coefs, intercepts = to_mlp_layout(net, fit_intercept)
    assert [c.shape for c in coefs] == [(d, K * m), (K * m, K), (K, C)]
    assert [b.shape for b in intercepts] == [(K * m,), (K,), (C,)]
    if not fit_intercept:
        assert np.all(intercepts[0] == 0)
    H = np.maximum(X @ coefs[0] + intercepts[0], 0)
    H = np.maximum(H @ coefs[1] + intercepts[1], 0)
    F = H @ coefs[2] + intercepts[2]
    np.testing.assert_allclose(F, forward(net, Xt), rtol=1e-12, atol=1e-12)
    beta = 0.7
    penalty = 0.5 * beta * (np.sum(coefs[1] ** 2) + np.sum(coefs[2] ** 2))
    expected = 0.5 * beta * (np.sum(net.w2**2) + np.sum(net.w3**2))
    assert penalty == pytest.approx(expected, rel=1e-12)
    # each sub-network feeds exactly one output, k % C
    assert np.all(np.count_nonzero(coefs[2], axis=1) == 1)
    np.testing.assert_array_equal(np.argmax(np.abs(coefs[2]), axis=1), net.outputs_index())


def test_deterministic_given_random_state():
    Xt, Y, w = _teacher(seed=3)
    kwargs = dict(n_subnetworks=4, width=3, n_steps=60, batch_size=16)
    a, ha = train_adam(Xt, Y, w, SquaredLoss(), 1e-3, random_state=7, **kwargs)
    b, hb = train_adam(Xt, Y, w, SquaredLoss(), 1e-3, random_state=7, **kwargs)
    c, _ = train_adam(Xt, Y, w, SquaredLoss(), 1e-3, random_state=8, **kwargs)
    for name in PARAMS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(ha["objective"], hb["objective"])
    assert not np.allclose(a.W1, c.W1)


def test_network_configurations_make_network_feasible():
    rng = np.random.default_rng(6)
    Xt = np.hstack([rng.normal(size=(30, 4)), np.ones((30, 1))])
    Y = rng.normal(size=(30, 1))
    net, _ = train_adam(
        Xt,
        Y,
        np.full(30, 1 / 30),
        SquaredLoss(),
        1e-3,
        n_subnetworks=5,
        width=3,
        n_steps=50,
        random_state=0,
    )
    conf = network_configurations(net, Xt)
    assert conf.D1.shape == (30, 5, 3) and conf.signs.shape == (5, 3)
    assert conf.D2.shape == (30, 5)
    for k in range(net.n_subnetworks):
        Z = Xt @ net.W1[k]
        assert np.all((2.0 * conf.D1[:, k, :] - 1) * Z >= 0)
        g = np.maximum(Z, 0) @ net.w2[k]
        assert np.all((2.0 * conf.D2[:, k] - 1) * g >= 0)
        assert np.all(conf.signs[k] * net.w2[k] >= 0)
        # both patterns are non-trivial, so the checks above can fail
    assert conf.D1.any() and not conf.D1.all()


def test_network_dataclass_helpers():
    net = NonConvexNetwork(
        np.zeros((5, 2, 3)), np.zeros((5, 3)), np.arange(5.0), np.zeros(2), 2
    )
    np.testing.assert_array_equal(net.outputs_index(), [0, 1, 0, 1, 0])
    copy = net.copy()
    copy.w3[0] = 10.0
    assert net.w3[0] == 0.0
    net0 = init_network(3, 4, 5, 1, random_state=0)
    np.testing.assert_allclose(np.linalg.norm(net0.W1, axis=(1, 2)), 1.0)


def test_torch_backend_matches_numpy():
    pytest.importorskip("torch")
    Xt, Y, w = _teacher(seed=4)
    kwargs = dict(n_subnetworks=4, width=3, n_steps=40, random_state=0)
    a, ha = train_adam(Xt, Y, w, SquaredLoss(), 1e-3, **kwargs)
    b, hb = train_adam(Xt, Y, w, SquaredLoss(), 1e-3, backend="torch", **kwargs)
    np.testing.assert_allclose(ha["objective"], hb["objective"], rtol=1e-8)
    np.testing.assert_allclose(a.W1, b.W1, rtol=1e-6, atol=1e-10)


def test_unknown_backend_raises():
    Xt, Y, w = _teacher()
    with pytest.raises(ValueError, match="backend must be"):
        train_adam(Xt, Y, w, SquaredLoss(), 1e-3, n_steps=1, backend="jax")


def test_minibatch_weights_are_renormalized():
    from skconvexrelu._nonconvex import _NumpyEngine

    Xt, Y, w = _teacher(seed=5)
    w = np.linspace(1.0, 2.0, len(w))
    w /= w.sum()
    engine = _NumpyEngine(Xt, Y, w, SquaredLoss(), 0.1, 1)
    idx = np.array([3, 7, 11])
    Xb, Yb, wb = engine.batch(idx)
    np.testing.assert_allclose(wb, w[idx] / w[idx].sum())
    np.testing.assert_array_equal(Xb, Xt[idx])
    np.testing.assert_array_equal(Yb, Y[idx])
    Xf, _, wf = engine.batch(None)
    assert Xf is Xt and wf is w


def test_batches_cover_each_row_once_per_epoch():
    from skconvexrelu._nonconvex import _Batches

    batches = _Batches(10, 3, np.random.RandomState(0))
    assert not batches.full
    epoch = [batches.next() for _ in range(3)]  # 9 rows; the 10th waits for the next one
    rows = np.concatenate(epoch)
    assert len(rows) == len(set(rows.tolist())) == 9
    fresh = batches.next()  # 9 + 3 > 10: a new permutation starts
    assert len(fresh) == 3 and batches.pos == 3
    assert _Batches(10, None, None).full and _Batches(10, 10, None).full


def test_adam_first_step_moves_by_the_learning_rate_and_projects():
    from skconvexrelu._nonconvex import _Adam

    rng = np.random.default_rng(0)
    params = [
        rng.normal(size=(2, 3, 4)) * 0.1,
        rng.normal(size=(2, 4)),
        np.ones(2),
        np.zeros(1),
    ]
    grads = [rng.normal(size=p.shape) for p in params]
    before = [p.copy() for p in params]
    _Adam(params, fit_intercept=False, learning_rate=0.01, betas=(0.9, 0.999), eps=0.0).update(
        params, grads, 1
    )
    # the bias-corrected first step is -lr * sign(grad) for every trained parameter
    np.testing.assert_allclose(params[1] - before[1], -0.01 * np.sign(grads[1]), rtol=1e-12)
    np.testing.assert_allclose(params[2] - before[2], -0.01 * np.sign(grads[2]), rtol=1e-12)
    np.testing.assert_array_equal(params[3], before[3])  # the intercept is not trained
    assert np.all(np.linalg.norm(params[0], axis=(1, 2)) <= 1.0 + 1e-12)


def test_cosine_decay_of_the_step_size():
    from skconvexrelu._nonconvex import _Adam

    params = [np.zeros((1, 2, 2)), np.zeros((1, 2)), np.zeros(1), np.zeros(1)]
    adam = _Adam(params, True, 0.1, (0.9, 0.999), 1e-8, decay_steps=100)
    assert adam.rate(0) == pytest.approx(0.1)
    assert adam.rate(50) == pytest.approx(0.1 * (0.01 + 0.99 * 0.5))
    assert adam.rate(100) == pytest.approx(0.001)
    assert adam.rate(500) == pytest.approx(0.001)  # stays at the floor
    rates = [adam.rate(k) for k in range(101)]
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))
    assert _Adam(params, True, 0.1, (0.9, 0.999), 1e-8).rate(100) == 0.1  # no decay


@pytest.mark.parametrize("seed", [0, 1])
def test_decayed_minibatch_adam_ends_lower_than_constant_steps(seed):
    """Noisy targets and small batches: constant steps keep bouncing, decayed ones
    settle lower."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(600, 4))
    Xt = np.hstack([X, np.ones((600, 1))])
    y = (np.maximum(X @ rng.normal(size=4), 0.0) + 0.5 * rng.normal(size=600))[:, None]
    w = np.full(600, 1 / 600)
    last = {
        decay: train_adam(
            Xt,
            y,
            w,
            SquaredLoss(),
            1e-3,
            n_subnetworks=4,
            width=3,
            n_steps=600,
            learning_rate=0.1,
            batch_size=8,
            random_state=0,
            record_every=600,
            decay=decay,
        )[1]["objective"][-1]
        for decay in (False, True)
    }
    assert last[True] < 0.95 * last[False]


@pytest.mark.parametrize("batch_size", [None, 7])
def test_history_records_every_k_steps_and_the_last(batch_size):
    Xt, Y, w = _teacher(n=20)
    _, hist = train_adam(
        Xt, Y, w, SquaredLoss(), 1e-3, n_steps=10, record_every=4, batch_size=batch_size
    )
    np.testing.assert_array_equal(hist["step"], [0, 4, 8, 10])
    assert len(hist["time"]) == len(hist["objective"]) == 4
