"""The loss protocol: every test runs for every loss class of :data:`LOSS_CLASSES`."""

import numpy as np
import pytest

from skconvexrelu._backend import get_backend
from skconvexrelu._losses import (
    LOSS_CLASSES,
    HingeLoss,
    LogisticLoss,
    Loss,
    LossModel,
    SoftmaxLoss,
    SquaredLoss,
    constant_model,
    make_loss,
)


def _targets(loss, n, o, rng):
    if loss.targets == "real":
        return rng.normal(size=(n, o))
    if loss.targets == "signs":
        return rng.choice([-1.0, 1.0], size=(n, o))
    if loss.targets == "one_hot":
        return np.eye(o)[rng.integers(0, o, size=n)]
    raise AssertionError(f"no test targets for {loss!r} (targets={loss.targets!r})")


def _n_outputs(cls):
    return (3,) if cls.targets == "one_hot" else (1, 2)


CASES = [(cls(), o) for cls in LOSS_CLASSES for o in _n_outputs(cls)]
IDS = [f"{type(loss).__name__}-{o}" for loss, o in CASES]


def _problem(loss, o, seed, n=14, zero_weights=False):
    """``(Y, w, F)``; for a non-smooth loss ``F`` stays 0.1 away from the kinks."""
    rng = np.random.default_rng(seed)
    Y = _targets(loss, n, o, rng)
    w = rng.uniform(0.5, 1.5, size=n)
    if zero_weights:
        w[::4] = 0.0
    w /= w.sum()
    F = rng.normal(size=(n, o))
    if not loss.smooth:
        F += 0.1 * np.sign(1 - Y * F + 1e-9)
    return Y, w, F


def test_every_loss_class_is_registered():
    assert Loss not in LOSS_CLASSES
    for cls in (SquaredLoss, HingeLoss, LogisticLoss, SoftmaxLoss):
        assert cls in LOSS_CLASSES
    for name, o in (("squared", 1), ("hinge", 2), ("cross_entropy", 1), ("cross_entropy", 3)):
        assert type(make_loss(name, o)) in LOSS_CLASSES


def test_make_loss():
    assert isinstance(make_loss("cross_entropy", 1), LogisticLoss)
    assert isinstance(make_loss("cross_entropy", 4), SoftmaxLoss)
    with pytest.raises(ValueError, match="Unknown loss 'absolute'"):
        make_loss("absolute")


# ------------------------------------------------------------------ values, dual
@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_gradient_matches_finite_differences(loss, o):
    Y, w, F = _problem(loss, o, 0)
    G = loss.gradient(F, Y, w)
    eps = 1e-6
    for idx in np.ndindex(F.shape):
        E = np.zeros_like(F)
        E[idx] = eps
        fd = (loss.value(F + E, Y, w) - loss.value(F - E, Y, w)) / (2 * eps)
        assert fd == pytest.approx(G[idx], rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_dual_is_a_lower_bound_tight_at_the_gradient(loss, o):
    # weak duality (Fenchel-Young): L(F) >= -<V, F> + dual(V), equality at V = -grad L(F)
    Y, w, F = _problem(loss, o, 1)
    V = -loss.gradient(F, Y, w)
    assert loss.in_dual_domain(V, Y, w)
    value = loss.value(F, Y, w)
    assert -np.sum(V * F) + loss.dual(V, Y, w) == pytest.approx(value, rel=1e-10)
    rng = np.random.default_rng(2)
    for _ in range(5):
        F2 = 2 * rng.normal(size=F.shape)
        assert -np.sum(V * F2) + loss.dual(V, Y, w) <= loss.value(F2, Y, w) + 1e-12
        # and at other dual points of the domain
        V2 = loss.center(-loss.gradient(F2, Y, w), Y, w)
        assert -np.sum(V2 * F) + loss.dual(V2, Y, w) <= value + 1e-12


@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_dual_with_zero_weights(loss, o):
    # a sample of zero weight adds nothing to the loss; its conjugate is the indicator of
    # {0}: the dual is that of the other samples where V is zero there, -inf elsewhere
    Y, w, F = _problem(loss, o, 3, n=16, zero_weights=True)
    pos = w > 0
    V = -loss.gradient(F, Y, w)
    assert np.all(V[~pos] == 0)
    dual = loss.dual(V, Y, w)
    assert dual == pytest.approx(loss.dual(V[pos], Y[pos], w[pos]), rel=1e-12)
    assert -np.sum(V * F) + dual == pytest.approx(loss.value(F, Y, w), rel=1e-10)
    V2 = V.copy()
    V2[0] = 1e-3
    assert loss.dual(V2, Y, w) == -np.inf
    assert not loss.in_dual_domain(V2, Y, w)


@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_domain_check_agrees_with_the_dual(loss, o):
    Y, w, F = _problem(loss, o, 4)
    V = -loss.gradient(F, Y, w)
    rng = np.random.default_rng(4)
    for scale in (0.5, 1.0, 3.0, -1.0):
        V2 = scale * V + 0.01 * scale * rng.normal(size=V.shape) * w[:, None]
        inside = loss.in_dual_domain(V2, Y, w)
        assert inside == np.isfinite(loss.dual(V2, Y, w))
    assert loss.in_dual_domain(V, Y, w)


@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_backend_value_grad_matches(loss, o):
    Y, w, F = _problem(loss, o, 5)
    W = np.repeat(w[:, None], o, axis=1)
    backends = [get_backend(None)]
    try:
        backends.append(get_backend("cpu"))
    except ImportError:
        pass
    for be in backends:
        val, G = loss.value_grad(*(be.asarray(a, np.float64) for a in (F, Y, W)), be)
        assert val == pytest.approx(loss.value(F, Y, w), rel=1e-12)
        np.testing.assert_allclose(be.to_numpy(G), loss.gradient(F, Y, w), rtol=1e-12)


@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_torch_expression_matches(loss, o):
    torch = pytest.importorskip("torch")
    Y, w, F = _problem(loss, o, 6)
    Ft = torch.tensor(F, requires_grad=True)
    value = loss.torch(Ft, torch.tensor(Y), torch.tensor(w))
    assert value.item() == pytest.approx(loss.value(F, Y, w), rel=1e-12)
    value.backward()
    np.testing.assert_allclose(Ft.grad.numpy(), loss.gradient(F, Y, w), rtol=1e-10)


@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_cvxpy_expression_matches(loss, o):
    cp = pytest.importorskip("cvxpy")
    Y, w, F = _problem(loss, o, 7)
    assert float(loss.cvxpy(cp.Constant(F), Y, w).value) == pytest.approx(
        loss.value(F, Y, w), rel=1e-9
    )


# ----------------------------------------------------------------------- traits
@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_traits(loss, o):
    Y, w, F = _problem(loss, o, 8)
    assert loss.smooth == (loss.curvature is not None)
    lm = LossModel(loss, Y, w)
    mu = 0.0 if loss.smooth else 1e-2
    _, D1, _ = lm.derivatives(F, mu)
    _, D2, _ = lm.derivatives(F + np.random.default_rng(8).normal(size=F.shape), mu)
    assert np.array_equal(D1, D2) == loss.constant_curvature
    shifted = loss.value(F + 0.7, Y, w)
    assert (shifted == pytest.approx(loss.value(F, Y, w), rel=1e-12)) == loss.shift_invariant


@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_curvature_bounds_the_hessian(loss, o):
    if not loss.smooth:
        pytest.skip("no curvature bound for a non-smooth loss")
    Y, w, F = _problem(loss, o, 9)
    lm = LossModel(loss, Y, w)
    rng = np.random.default_rng(9)
    for scale in (0.0, 1.0, 5.0):
        _, Dd, Pm = lm.derivatives(scale * F, 0.0)
        for _ in range(10):
            v = rng.normal(size=F.shape)
            vHv = np.sum(v * lm.hess_apply(v, Dd, Pm))
            assert 0 <= vHv <= loss.curvature * np.sum(w[:, None] * v * v) * (1 + 1e-12)


# ------------------------------------------------------- center, constant model
@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_center_sums_to_zero_in_the_domain(loss, o):
    Y, w, F = _problem(loss, o, 10)
    r = -loss.gradient(F, Y, w)
    before = r.copy()
    c = loss.center(r, Y, w)
    np.testing.assert_array_equal(r, before)  # the input is left alone
    np.testing.assert_allclose(c.sum(axis=0), 0.0, atol=1e-14)
    assert loss.in_dual_domain(c, Y, w)
    # a point that already sums to zero stays where it is
    _, R = loss.constant_model(Y, w)
    np.testing.assert_allclose(loss.center(-R, Y, w), -R, atol=1e-14)


@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_constant_model_is_optimal(loss, o):
    Y, w, _ = _problem(loss, o, 11, n=30)
    b, R = constant_model(loss, Y, w)
    b2, R2 = loss.constant_model(Y, w)
    np.testing.assert_array_equal(b, b2)
    np.testing.assert_array_equal(R, R2)
    np.testing.assert_allclose(R.sum(axis=0), 0.0, atol=1e-12)
    F = np.broadcast_to(b, Y.shape)
    assert -np.sum(-R * F) + loss.dual(-R, Y, w) == pytest.approx(
        loss.value(F, Y, w), rel=1e-9
    )  # R is a (sub)gradient at b
    base = loss.value(F, Y, w)
    rng = np.random.default_rng(11)
    for _ in range(20):
        b3 = b + 0.1 * rng.normal(size=o)
        assert loss.value(np.broadcast_to(b3, Y.shape), Y, w) >= base - 1e-12


@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_constant_model_without_intercept(loss, o):
    Y, w, _ = _problem(loss, o, 12)
    b, R = constant_model(loss, Y, w, fit_intercept=False)
    np.testing.assert_array_equal(b, np.zeros(o))
    np.testing.assert_array_equal(R, loss.gradient(np.zeros(Y.shape), Y, w))


# ------------------------------------------------------- interior-point pieces
def _smoothing(loss):
    return 0.0 if loss.smooth else 1e-2


@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_derivatives_are_minus_the_gradient(loss, o):
    # smooth losses: exactly; the barrier-smoothed hinge: as mu -> 0, away from the kink
    Y, w, F = _problem(loss, o, 13, zero_weights=True)
    lm = LossModel(loss, Y, w)
    with np.errstate(divide="ignore"):  # the branch np.where does not take
        r, Dd, Pm = lm.derivatives(F, 0.0 if loss.smooth else 1e-10)
    np.testing.assert_allclose(r, -loss.gradient(F, Y, w), rtol=1e-6, atol=1e-7 * w.max())
    assert r.shape == Dd.shape == F.shape
    assert np.all(Dd >= 0)
    assert np.all(Dd[w == 0] == 0) and np.all(r[w == 0] == 0)


@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_curvature_pieces_match_finite_differences(loss, o):
    Y, w, F = _problem(loss, o, 14)
    lm = LossModel(loss, Y, w)
    mu = _smoothing(loss)
    r, Dd, Pm = lm.derivatives(F, mu)
    eps = 1e-6

    def hess_fd(Fv):  # the Hessian of L_mu applied to Fv: -dr/dF . Fv
        return -(lm.derivatives(F + eps * Fv, mu)[0] - lm.derivatives(F - eps * Fv, mu)[0]) / (
            2 * eps
        )

    rng = np.random.default_rng(14)
    Fv = rng.normal(size=F.shape)
    np.testing.assert_allclose(lm.hess_apply(Fv, Dd, Pm), hess_fd(Fv), rtol=1e-5, atol=1e-10)
    # Dd is the Hessian's diagonal
    for k in range(o):
        E = np.zeros_like(F)
        E[:, k] = 1.0
        np.testing.assert_allclose(Dd[:, k], hess_fd(E)[:, k], rtol=1e-5, atol=1e-10)
    # the intercept block sum_i H_i, and the per-sample blocks when outputs are coupled
    ones = [np.broadcast_to(np.eye(o)[k], F.shape) for k in range(o)]
    Hbb = np.stack([hess_fd(E).sum(0) for E in ones], axis=1)
    np.testing.assert_allclose(lm.hbb(Dd, Pm), Hbb, rtol=1e-5, atol=1e-10)
    blocks = lm.full_curvature(Pm)
    if blocks is not None:
        np.testing.assert_allclose(blocks.sum(0), Hbb, rtol=1e-5, atol=1e-10)
        np.testing.assert_allclose(
            np.einsum("nab,nb->na", blocks, Fv), lm.hess_apply(Fv, Dd, Pm), atol=1e-14
        )


@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_polish_intercept_and_dual_point(loss, o):
    Y, w, F0 = _problem(loss, o, 15)
    lm = LossModel(loss, Y, w)
    b0 = np.full(o, 0.3)
    b = lm.polish_intercept(F0, b0)
    if loss.smooth:
        # the polished intercept is optimal: the gradient sums to zero
        np.testing.assert_allclose(loss.gradient(F0 + b, Y, w).sum(0), 0.0, atol=1e-12)
        assert loss.value(F0 + b, Y, w) <= loss.value(F0 + b0, Y, w)
    else:
        np.testing.assert_array_equal(b, b0)  # left to the dual point's balance
    mu = _smoothing(loss)
    r = lm.dual_point(F0 + b, mu, fit_intercept=True)
    assert r.dtype == np.float64
    np.testing.assert_allclose(r.sum(0), 0.0, atol=1e-12)
    assert loss.in_dual_domain(r, Y, w)
    # without an intercept: the derivative as it is
    np.testing.assert_array_equal(
        lm.dual_point(F0, mu, fit_intercept=False), lm.derivatives(F0, mu)[0]
    )


@pytest.mark.parametrize("loss, o", CASES, ids=IDS)
def test_balance(loss, o):
    Y, w, F = _problem(loss, o, 16)
    lm = LossModel(loss, Y, w)
    r = lm.derivatives(F, _smoothing(loss))[0]
    before = r.copy()
    out = lm.balance(r, fit_intercept=True)
    np.testing.assert_array_equal(r, before)  # a copy is balanced
    np.testing.assert_array_equal(lm.balance(r, fit_intercept=False), r)
    if loss.smooth:
        np.testing.assert_array_equal(out, r)  # the polish balances smooth losses
    else:
        np.testing.assert_allclose(out.sum(0), 0.0, atol=1e-14)
        assert loss.in_dual_domain(out, Y, w)


def test_hinge_smoothing_stays_inside_the_hinge_dual_box():
    loss = HingeLoss()
    Y, w, F = _problem(loss, 2, 17, zero_weights=True)
    lm = LossModel(loss, Y, w)
    for mu in (1e-6, 1e-2, 1.0):
        r, Dd, _ = lm.derivatives(F, mu)
        alpha = r * Y
        assert np.all(alpha >= 0) and np.all(alpha <= lm.W)
        assert np.all(Dd[w > 0] > 0)


def test_softmax_loss_is_stable_at_extreme_scores():
    """Value, gradient and derivatives of the softmax loss equal scipy's log-sum-exp
    formulas, also where ``exp`` of the scores overflows or underflows."""
    from scipy.special import logsumexp, softmax

    rng = np.random.default_rng(0)
    F = rng.normal(size=(40, 4)) * np.array([1.0, 30.0, 800.0, 1e-3])[:, None].repeat(10, 0)
    Y = np.eye(4)[rng.integers(0, 4, 40)]
    w = np.full(40, 1 / 40)
    loss = SoftmaxLoss()
    expected = w @ (logsumexp(F, axis=1) - np.sum(Y * F, axis=1))
    assert loss.value(F, Y, w) == pytest.approx(expected, rel=1e-13)
    P = softmax(F, axis=1)
    np.testing.assert_allclose(loss.gradient(F, Y, w), w[:, None] * (P - Y), atol=1e-15)
    r, _, Pm = loss.derivatives(F, Y, w[:, None], 0.0)
    np.testing.assert_allclose(Pm, P, atol=1e-15)
    assert np.all(np.isfinite(r))
