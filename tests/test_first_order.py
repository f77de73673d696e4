"""Tests of the matrix-free first-order solver (augmented Lagrangian + FISTA)."""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from _programs import reference_solution, small_problem
from sklearn.exceptions import ConvergenceWarning

from skconvexrelu._backend import get_backend
from skconvexrelu.solvers.first_order import default_max_iter, solve_first_order
from skconvexrelu.solvers.settings import FirstOrderSettings, SeedSettings

DEFAULT_MAX_ITER = FirstOrderSettings().max_iter


def _relative_violation(program, U):
    Z = program.first_layer(U)
    return program.cone_violation(U) / max(np.abs(Z).max(), 1e-300)


# (case, max_iter): the squared and logistic cases reach tol=1e-6; the hinge and
# softmax ones are stopped earlier (they converge more slowly) but agree to 1e-4
CASES = [
    (dict(loss="squared"), None),
    (dict(loss="squared", n_outputs=2, weights=True), None),
    (dict(loss="cross_entropy", n=60), None),
    (dict(loss="hinge", n=60), 20000),
    (dict(loss="cross_entropy", n=60, n_outputs=3, P=4), 10000),
]


@pytest.mark.parametrize(
    "case, max_iter",
    CASES,
    ids=lambda c: "-".join(f"{v}" for v in c.values()) if isinstance(c, dict) else str(c),
)
def test_matches_cvxpy(case, max_iter):
    program, loss, Y, w, beta = small_problem(**case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = solve_first_order(program, loss, Y, w, beta, max_iter=max_iter)
    ref = reference_solution(program, loss, Y, w, beta)
    assert res.U.shape == program.shape
    assert res.objective == pytest.approx(ref.objective, rel=1e-4)
    # the reported objective is the objective of the returned point
    obj = program.objective(res.U, res.intercept, loss, Y, w, beta)
    assert obj == pytest.approx(res.objective, rel=1e-10)
    assert res.solver == "native:al-fista"
    assert res.device is None
    assert len(res.history) >= 1
    if max_iter is None:
        assert res.status == "optimal"
        assert res.stop_criterion <= 1e-6
        # the documented feasibility: violation at most tol relative to max |X~ U|
        assert _relative_violation(program, res.U) <= 1e-6


def test_no_intercept_and_no_bias_column():
    program, loss, Y, w, beta = small_problem("squared", bias=False, seed=3)
    res = solve_first_order(program, loss, Y, w, beta, fit_intercept=False)
    assert res.status == "optimal"
    assert np.all(res.intercept == 0)
    ref = reference_solution(program, loss, Y, w, beta, fit_intercept=False)
    assert res.objective == pytest.approx(ref.objective, rel=1e-4)
    assert _relative_violation(program, res.U) <= 1e-6


def test_loose_tolerance_stops_earlier():
    program, loss, Y, w, beta = small_problem("squared", seed=1)
    loose = solve_first_order(program, loss, Y, w, beta, tol=1e-2)
    tight = solve_first_order(program, loss, Y, w, beta, tol=1e-6)
    assert loose.status == tight.status == "optimal"
    assert loose.n_iter < tight.n_iter
    assert loose.stop_criterion <= 1e-2
    assert _relative_violation(program, loose.U) <= 1e-2
    assert abs(loose.objective - tight.objective) <= 2e-2 * tight.objective


def test_max_iter_warns():
    program, loss, Y, w, beta = small_problem("squared")
    with pytest.warns(ConvergenceWarning, match="max_iter=30") as rec:
        res = solve_first_order(program, loss, Y, w, beta, max_iter=30)
    assert "tol" in str(rec[0].message)
    assert res.status == "max_iter"
    assert res.n_iter == 30
    assert res.stop_criterion > 1e-6
    assert res.objective == pytest.approx(
        program.objective(res.U, res.intercept, loss, Y, w, beta), rel=1e-10
    )


def test_max_time_warns():
    program, loss, Y, w, beta = small_problem("squared")
    with pytest.warns(ConvergenceWarning, match="max_time"):
        res = solve_first_order(program, loss, Y, w, beta, max_time=0.0)
    assert res.status == "max_time"


def test_verbose_progress_bar(capsys):
    program, loss, Y, w, beta = small_problem("squared", n=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        solve_first_order(program, loss, Y, w, beta, max_iter=50)
        out = capsys.readouterr()
        assert out.out == "" and out.err == ""
        solve_first_order(program, loss, Y, w, beta, max_iter=50, verbose=1)
    err = capsys.readouterr().err
    assert "native:al-fista" in err and "50/50" in err


def test_float32_stays_float32():
    p64, loss, Y, w, beta = small_problem("squared", n=60)
    p32, *_ = small_problem("squared", n=60, dtype=np.float32)
    r64 = solve_first_order(p64, loss, Y, w, beta, tol=1e-3)
    r32 = solve_first_order(p32, loss, Y, w, beta)  # tol floored at 1e-3 in float32
    assert r32.U.dtype == np.float32
    assert r32.intercept.dtype == np.float32
    assert r32.status == "optimal"
    assert r32.stop_criterion <= 1e-3
    assert r32.objective == pytest.approx(r64.objective, rel=3e-3)


@pytest.mark.parametrize("loss_name", ["squared", "hinge", "cross_entropy"])
def test_torch_cpu_matches_numpy(loss_name):
    torch = pytest.importorskip("torch")
    program, loss, Y, w, beta = small_problem(loss_name, n=40, P=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        r_np = solve_first_order(program, loss, Y, w, beta, max_iter=150)
        r_t = solve_first_order(program, loss, Y, w, beta, max_iter=150, device="cpu")
        r_d = solve_first_order(
            program, loss, Y, w, beta, max_iter=150, device=torch.device("cpu")
        )
    assert r_t.solver == "native:al-fista[torch:cpu]"
    assert r_t.device == "cpu"
    assert isinstance(r_t.U, np.ndarray)
    assert r_t.n_iter == r_np.n_iter
    assert r_t.objective == pytest.approx(r_np.objective, rel=1e-8)
    assert r_d.objective == pytest.approx(r_np.objective, rel=1e-8)
    np.testing.assert_allclose(r_t.U, r_np.U, rtol=1e-6, atol=1e-8 * np.abs(r_np.U).max())


def test_torch_float32():
    pytest.importorskip("torch")
    program, loss, Y, w, beta = small_problem("squared", n=40, P=3, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = solve_first_order(program, loss, Y, w, beta, max_iter=200, device="cpu")
    assert res.U.dtype == np.float32
    assert res.intercept.dtype == np.float32


def test_bad_device_raises():
    # the device goes through get_backend (tests/test_backend.py has its cases)
    program, loss, Y, w, beta = small_problem("squared", n=20, P=2)
    with pytest.raises(ValueError, match="device"):
        solve_first_order(program, loss, Y, w, beta, device="gpu")


def test_default_max_iter_caps_work_on_cpu_only():
    # the Fashion-MNIST shape: 4 n d~ (2 P m) flops a step -> 199 steps under the work cap
    program = SimpleNamespace(Xt=np.broadcast_to(0.0, (60000, 785)), shape=(1, 2, 20, 785, 5))
    assert default_max_iter(program) == 199
    assert default_max_iter(program, SimpleNamespace(type="cpu")) == 199
    assert default_max_iter(program, SimpleNamespace(type="cuda")) == DEFAULT_MAX_ITER
    small = SimpleNamespace(Xt=np.broadcast_to(0.0, (100, 11)), shape=(1, 2, 20, 11, 10))
    assert default_max_iter(small) == DEFAULT_MAX_ITER


def test_default_max_iter_sees_the_device(monkeypatch):
    torch = pytest.importorskip("torch")
    from skconvexrelu.solvers.first_order import _solver

    seen = []

    def spy(program, device=None, settings=None):
        seen.append(device)
        return 5

    monkeypatch.setattr(_solver, "default_max_iter", spy)
    program, loss, Y, w, beta = small_problem("squared", n=20, P=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = solve_first_order(program, loss, Y, w, beta, device="cpu")
    assert seen == [torch.device("cpu")]
    assert res.n_iter == 5


@pytest.mark.parametrize("n, advice", [(300, "narrow"), (40, "Increase max_iter")])
def test_early_stop_advice_follows_the_samples_per_dimension(n, advice):
    # an early-stopped first-order fit leaves the cones; with many samples per input
    # dimension solving longer is the wrong advice (bench_wide_cones.py), so the warning
    # points to seeded configurations instead
    from skconvexrelu import ConvexThreeLayerRegressor

    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 3))
    y = np.maximum(X @ np.array([1.0, -2.0, 0.5]), 0.0) + 0.1 * rng.standard_normal(n)
    est = ConvexThreeLayerRegressor(
        width=3, n_arrangements=4, solver="al-fista", max_iter=30, random_state=0
    )
    with pytest.warns(ConvergenceWarning, match="differs from the convex objective") as rec:
        est.fit(X, y)
    messages = " ".join(str(r.message) for r in rec)
    assert advice in messages


def test_settings_set_the_default_steps_and_work_cap():
    small = SimpleNamespace(Xt=np.broadcast_to(0.0, (100, 11)), shape=(1, 2, 20, 11, 10))
    assert default_max_iter(small, settings=FirstOrderSettings(max_iter=321)) == 321
    # 4 * 100 * 11 * 2 * 20 * 10 flops a step: a cap of 500 steps' work, floored at 100
    per_step = 4.0 * 100 * 11 * 2 * 20 * 10
    capped = FirstOrderSettings(work_cap=500 * per_step)
    assert default_max_iter(small, settings=capped) == 500
    assert default_max_iter(small, settings=FirstOrderSettings(work_cap=1.0)) == 100
    gpu = SimpleNamespace(type="cuda")
    assert default_max_iter(small, gpu, FirstOrderSettings(max_iter=7, work_cap=1.0)) == 7


def test_settings_reach_the_solver():
    program, loss, Y, w, beta = small_problem("squared", n=40, P=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        base = solve_first_order(program, loss, Y, w, beta, max_iter=200)
        # inner solves of at most 5 steps: more multiplier updates, another path
        short = solve_first_order(
            program,
            loss,
            Y,
            w,
            beta,
            max_iter=200,
            settings=FirstOrderSettings(inner_min=1, inner_max=5),
        )
    assert len(short.history) > len(base.history)
    assert short.objective != base.objective
    # no patience at all: the first outer iteration without 10% progress stalls
    impatient = FirstOrderSettings(stall_outer=0, stall_iters=0)
    with pytest.warns(ConvergenceWarning, match="stalled"):
        res = solve_first_order(program, loss, Y, w, beta, settings=impatient)
    assert res.status == "stalled"
    assert res.n_iter < base.n_iter


@pytest.mark.parametrize("loss_name", ["squared", "hinge"])
def test_chunks_of_samples_do_not_change_the_result(loss_name):
    # 150 samples in chunks of 64 rows (the smallest chunk) against one chunk
    program, loss, Y, w, beta = small_problem(loss_name, n=150, P=3)
    kw = dict(max_iter=60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        one = solve_first_order(program, loss, Y, w, beta, **kw)
        many = solve_first_order(
            program, loss, Y, w, beta, settings=FirstOrderSettings(chunk_elements=1), **kw
        )
    assert many.n_iter == one.n_iter
    assert many.objective == pytest.approx(one.objective, rel=1e-9)
    np.testing.assert_allclose(many.U, one.U, rtol=1e-7, atol=1e-10 * np.abs(one.U).max())


def test_chunked_operator_splits_the_samples():
    from skconvexrelu.solvers.first_order._operator import ChunkedOperator

    program, *_ = small_problem("squared", n=150, P=3)
    be = get_backend(None)
    op = ChunkedOperator(program, be, np.float64, chunk_elements=1)
    assert [(c.start, c.stop) for c in op.chunks] == [(0, 64), (64, 128), (128, 150)]
    assert len(ChunkedOperator(program, be, np.float64, 2**18).chunks) == 1
    # forward map and outputs agree with the program's
    U = np.random.default_rng(0).standard_normal(program.shape)
    Z = op.forward_into(op.to_internal(U), be.zeros((op.n, op.K), np.float64))
    F, viol, zmax = op.outputs_and_violation(Z)
    np.testing.assert_allclose(F, program.forward(U), rtol=1e-12, atol=1e-12)
    assert zmax == pytest.approx(np.abs(program.first_layer(U)).max(), rel=1e-12)
    np.testing.assert_array_equal(op.to_blocks(op.to_internal(U)), U)


def test_hinge_envelope_is_the_moreau_envelope():
    # envelope(t) = min_z max(0, 1 - z) + (rho / 2) (z - t)^2 per sample (nu = 0), its
    # gradient is the finite difference of its value, and it lies below the hinge
    from skconvexrelu.solvers.first_order._loss import BackendLoss

    rng = np.random.default_rng(0)
    n, rho = 30, 2.0
    Y = rng.choice([-1.0, 1.0], size=(n, 1))
    w = rng.uniform(0.5, 1.5, n)
    w /= w.sum()
    F = 1.5 * rng.standard_normal((n, 1))
    program, loss, *_ = small_problem("hinge", n=n)
    bl = BackendLoss(loss, Y, w, get_backend(None), np.float64, rho_h=rho)
    assert bl.envelope and bl.curv == rho
    nu = np.zeros((n, 1))
    val, G = bl.value_grad(F, slice(None), nu)
    # brute force over z on a fine grid (the envelope scales each sample by w_i)
    z = np.linspace(-6, 6, 240001)
    t = (Y * F)[:, 0]
    env = np.min(np.maximum(0, 1 - z)[None] + 0.5 * rho * (z[None] - t[:, None]) ** 2, 1)
    assert val == pytest.approx(float(w @ env), rel=1e-6)
    assert val <= loss.value(F, Y, w) + 1e-15
    eps = 1e-6
    for i in range(n):
        E = np.zeros_like(F)
        E[i] = eps
        fd = (
            bl.value_grad(F + E, slice(None), nu)[0] - bl.value_grad(F - E, slice(None), nu)[0]
        ) / (2 * eps)
        assert fd == pytest.approx(G[i, 0], rel=1e-5, abs=1e-10)


def test_smooth_losses_go_through_unchanged():
    from skconvexrelu.solvers.first_order._loss import BackendLoss

    program, loss, Y, w, beta = small_problem("cross_entropy", n=30)
    bl = BackendLoss(loss, Y, w, get_backend(None), np.float64, rho_h=1.0)
    assert not bl.envelope and bl.curv == loss.curvature
    F = np.random.default_rng(1).standard_normal(Y.shape)
    val, G = bl.value_grad(F, slice(None))
    assert val == pytest.approx(loss.value(F, Y, w), rel=1e-13)
    np.testing.assert_allclose(G, loss.gradient(F, Y, w), rtol=1e-13)


def test_budget_ends_quietly_with_its_own_status():
    program, loss, Y, w, beta = small_problem("squared")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a budget is no convergence failure
        res = solve_first_order(program, loss, Y, w, beta, max_iter=30, budget=True)
    assert res.status == "budget"
    assert res.n_iter == 30
    assert res.stop_criterion > 1e-6
    # the latest iterate is returned, with the objective of the returned point
    assert res.objective == pytest.approx(res.history[-1], rel=1e-10)
    assert res.objective == pytest.approx(
        program.objective(res.U, res.intercept, loss, Y, w, beta), rel=1e-10
    )
    # the same run without a budget is an early stop, with its warning
    with pytest.warns(ConvergenceWarning, match="max_iter=30"):
        plain = solve_first_order(program, loss, Y, w, beta, max_iter=30, budget=False)
    assert plain.status == "max_iter"
    assert plain.n_iter == 30


def test_budget_that_is_not_reached_stays_optimal():
    program, loss, Y, w, beta = small_problem("squared")
    res = solve_first_order(program, loss, Y, w, beta, tol=1e-3, budget=True)
    assert res.status == "optimal"
    assert res.stop_criterion <= 1e-3


def test_budget_returns_the_latest_iterate_not_the_best_criterion():
    """From a seed network's (feasible) point a budget returns the latest iterate,
    which a caller rebuilds on its own configurations; without a budget the iterate of
    smallest stopping criterion is returned."""
    from skconvexrelu._losses import SquaredLoss
    from skconvexrelu._program import ConvexProgram
    from skconvexrelu._seeding import blocks_from_network, trained_configurations
    from skconvexrelu.solvers.settings import SeedSettings

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    Xt = np.hstack([X, np.ones((40, 1))])
    Y, w, loss, beta = np.sin(2 * X[:, :1]), np.full(40, 1 / 40), SquaredLoss(), 0.05
    state = np.random.RandomState(0)
    seed = SeedSettings(n_steps=200)
    net, _, conf = trained_configurations(Xt, Y, w, loss, beta, 3, True, state, 5, seed)
    program = ConvexProgram(Xt, conf, 1)
    U0, b0 = blocks_from_network(net, program)
    start = dict(max_iter=50, U0=U0, b0=b0)
    res = solve_first_order(program, loss, Y, w, beta, budget=True, **start)
    with pytest.warns(ConvergenceWarning):
        best = solve_first_order(program, loss, Y, w, beta, **start)
    assert res.status == "budget" and best.status == "max_iter"
    assert res.objective == pytest.approx(res.history[-1], rel=1e-10)
    assert best.stop_criterion <= res.stop_criterion


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_single_precision_run_of_a_double_precision_program(loss):
    """``FirstOrderSettings(dtype="float32")``: the same method on float32 copies of the
    data; the point comes back in the program's precision, its objective is the
    program's at that point, within the floored ``tol`` (1e-3) of cvxpy's optimum."""
    program, loss, Y, w, beta = small_problem(loss, n=60)
    res = solve_first_order(
        program, loss, Y, w, beta, settings=FirstOrderSettings(dtype="float32")
    )
    assert res.status == "optimal"
    assert res.stop_criterion <= 1e-3
    assert res.U.dtype == np.float64
    obj = program.objective(res.U, res.intercept, loss, Y, w, beta)
    assert obj == pytest.approx(res.objective, rel=1e-10)
    ref = reference_solution(program, loss, Y, w, beta)
    assert ref.objective <= res.objective * (1 + 1e-6)
    assert res.objective == pytest.approx(ref.objective, rel=2e-3)


@pytest.mark.parametrize(
    "make", [lambda: FirstOrderSettings(dtype="float16"), lambda: SeedSettings(polish_dtype=1)]
)
def test_precision_settings_are_checked(make):
    with pytest.raises(ValueError, match="must be None, 'float32' or 'float64'"):
        make()


def _kept_operator(program, U):
    """The operator keeping the sign of the larger block of ``U`` per output and
    configuration, and ``U`` with the other blocks zeroed."""
    from skconvexrelu.solvers.first_order._operator import ChunkedOperator, kept_signs

    signs = kept_signs(U, FirstOrderSettings(signs="start"))
    op = ChunkedOperator(program, get_backend(None), np.float64, 2**18, signs=signs)
    Ur = U.copy()
    o, c = np.indices(signs.shape)
    Ur[o, 1 - signs, c] = 0.0
    return op, Ur, signs


def test_kept_signs_operator_is_the_restriction_of_the_program():
    """With one sign kept per output and configuration the operator computes the
    program's outputs of the blocks it keeps, and its adjoint is the program's adjoint
    on those blocks' columns (outputs and both cone rows)."""
    from skconvexrelu.solvers.first_order._operator import ChunkedOperator

    program, _, _, _, _ = small_problem("squared", n=40, n_outputs=2, P=4)
    rng = np.random.default_rng(0)
    U = rng.standard_normal(program.shape)
    op, Ur, signs = _kept_operator(program, U)
    assert op.K == U[:, 0].size // op.d and op.S == 1
    V = op.to_internal(U)
    np.testing.assert_array_equal(op.to_blocks(V), Ur)
    Z = op.forward_into(V, op.image_buffer())
    _, F = op.from_images(op.block(Z), slice(None))
    np.testing.assert_allclose(F, program.forward(Ur), rtol=1e-12, atol=1e-12)

    full = ChunkedOperator(program, get_backend(None), np.float64, 2**18)
    n, o, P, m = op.n, op.o, op.P, op.m
    R = rng.standard_normal((n, o))
    y1, y2 = rng.standard_normal((n, o, 1, P, m)), rng.standard_normal((n, o, 1, P))
    y1f, y2f = np.zeros((n, o, 2, P, m)), np.zeros((n, o, 2, P))
    oo, cc = np.indices(signs.shape)
    y1f[:, oo, signs, cc], y2f[:, oo, signs, cc] = y1[:, :, 0], y2[:, :, 0]
    rows = slice(None)
    kept = op.to_blocks(op.X.T @ op.chunk_cotangent(rows, R, y1, y2))
    whole = full.to_blocks(full.X.T @ full.chunk_cotangent(rows, R, y1f, y2f))
    np.testing.assert_allclose(kept[oo, signs, cc], whole[oo, signs, cc], rtol=1e-12)
    assert np.all(kept[oo, 1 - signs, cc] == 0)


@pytest.mark.parametrize("loss", ["squared", "cross_entropy", "hinge"])
def test_kept_signs_certificate_bounds_the_whole_program(loss):
    """The lower bound of the certificate with one sign kept is a lower bound on the
    optimum of the whole program (cvxpy's), also where the kept blocks alone are far
    from it."""
    from skconvexrelu._losses import LossModel
    from skconvexrelu.solvers.first_order._certificate import certificate
    from skconvexrelu.solvers.first_order._lagrangian import AugmentedLagrangian
    from skconvexrelu.solvers.first_order._loss import BackendLoss

    program, lossf, Y, w, beta = small_problem(loss, n=60)
    ref = reference_solution(program, lossf, Y, w, beta)
    kept = solve_first_order(
        program, lossf, Y, w, beta, U0=ref.U, b0=ref.intercept, max_iter=300,
        budget=True, settings=FirstOrderSettings(signs="start"),
    )  # fmt: skip
    op, _, signs = _kept_operator(program, ref.U)
    o, c = np.indices(signs.shape)
    assert np.all(kept.U[o, 1 - signs, c] == 0)  # the other sign's blocks stay zero
    assert kept.objective > ref.objective * 1.05  # the kept blocks alone are far off
    be = op.be
    al = AugmentedLagrangian(op, BackendLoss(lossf, Y, w, be, np.float64, 1.0), beta)
    V = op.to_internal(kept.U)
    Z = op.forward_into(V, op.image_buffer())
    cert = certificate(al, LossModel(lossf, Y, w), V, Z, kept.intercept, 1.0 / op.n, True)
    assert cert.dobj <= ref.objective * (1 + 1e-9) + 1e-12
    assert cert.pobj >= ref.objective * (1 - 1e-6)


def test_sign_settings_are_checked():
    with pytest.raises(ValueError, match="signs must be 'both' or 'start'"):
        FirstOrderSettings(signs="one")
    with pytest.raises(ValueError, match="polish_signs must be 'both' or 'start'"):
        SeedSettings(polish_signs="plus")
