"""The program's one linear map (``skconvexrelu._operator.ProgramOperator``)."""

import numpy as np
import pytest

from skconvexrelu._arrangements import sample_configurations
from skconvexrelu._backend import get_backend
from skconvexrelu._operator import SIGMA, ProgramOperator
from skconvexrelu._program import ConvexProgram

N_OUTPUTS = [1, 3]


def _operator(n_outputs=2, n=37, dtype=np.float64, backend=None):
    rng = np.random.default_rng(0)
    Xt = np.hstack([rng.normal(size=(n, 3)), np.ones((n, 1))])
    conf = sample_configurations(Xt, 3, 5, random_state=0)
    program = ConvexProgram(Xt, conf, n_outputs)
    return ProgramOperator(program, dtype=dtype, backend=backend)


def _random(op, seed=1):
    """A point ``U`` and a cotangent ``(y1, y2, R)`` of matching shapes."""
    rng = np.random.default_rng(seed)
    U = rng.normal(size=(op.o, 2, op.P, op.d, op.m))
    y1 = rng.normal(size=(op.n, op.o, 2, op.P, op.m))
    y2 = rng.normal(size=(op.n, op.o, 2, op.P))
    R = rng.normal(size=(op.n, op.o))
    return U, y1, y2, R


def _reference_layers(op, U):
    """``(Z, g, F)`` by explicit sums over the formulas of the module docstring."""
    X, S1, D2 = op.program.Xt, op.program.S1, op.program.D2
    Z = np.einsum("nd,ospdm->nospm", X, U)
    g = np.einsum("nospm,npm->nosp", Z, S1)
    F = np.einsum("nosp,np,s->no", g, D2, SIGMA)
    return Z, g, F


# ------------------------------------------------------------------------- the map
@pytest.mark.parametrize("n_outputs", N_OUTPUTS)
def test_layers_follow_the_formulas(n_outputs):
    op = _operator(n_outputs)
    U, *_ = _random(op)
    Z, g, F = _reference_layers(op, U)
    np.testing.assert_allclose(op.first_layer(U), Z, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(op.second_layer(Z), g, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(op.outputs(g), F, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(op.forward(U), F, rtol=1e-12, atol=1e-12)
    Z2, g2 = op.layers(U)
    np.testing.assert_array_equal(Z2, op.first_layer(U))
    np.testing.assert_array_equal(g2, op.second_layer(Z2))
    s1, s2, F2 = op.cone_rows(U)
    np.testing.assert_array_equal(s1, op.A1[:, None, None] * Z2)
    np.testing.assert_array_equal(s2, op.A2[:, None, None] * g2)
    np.testing.assert_array_equal(F2, op.forward(U))


@pytest.mark.parametrize("n_outputs", N_OUTPUTS)
@pytest.mark.parametrize("signed", [False, True])
def test_adjoint_is_the_adjoint_of_the_map_and_the_cone_rows(n_outputs, signed):
    # signed=False: the adjoint of U -> (A1 Z, A2 g, F); signed=True: of U -> (Z, g, F)
    op = _operator(n_outputs)
    U, y1, y2, R = _random(op)
    s1, s2, F = op.cone_rows(U)
    if signed:
        s1, s2 = op.layers(U)
    for parts in [(y1, None, None), (None, y2, None), (None, None, R), (y1, y2, R)]:
        a1, a2, aR = parts
        lhs = sum(
            np.vdot(a, b) for a, b in zip(parts, (s1, s2, F), strict=True) if a is not None
        )
        G = op.adjoint(a1, a2, aR, signed=signed)
        assert G.shape == U.shape
        assert np.vdot(U, G) == pytest.approx(lhs, rel=1e-11)
    np.testing.assert_array_equal(op.adjoint(R=R), op.program.adjoint(R))


def test_cotangent_gives_the_adjoint_through_one_product():
    op = _operator()
    U, y1, y2, R = _random(op)
    WZ = op.cotangent(y1, y2, R)
    assert WZ.shape == (op.n, op.o, 2, op.P, op.m)
    G = np.einsum("nd,nospm->ospdm", op.program.Xt, WZ)
    np.testing.assert_allclose(op.adjoint(y1, y2, R), G, rtol=1e-12, atol=1e-12)
    # the cotangent of Z: <Z, WZ> = <A1 Z, y1> + <A2 g, y2> + <F, R>
    s1, s2, F = op.cone_rows(U)
    Z = op.first_layer(U)
    lhs = np.vdot(s1, y1) + np.vdot(s2, y2) + np.vdot(F, R)
    assert np.vdot(Z, WZ) == pytest.approx(lhs, rel=1e-11)
    # signed=True takes the row weights as they are
    np.testing.assert_array_equal(
        op.cotangent(op.A1[:, None, None] * y1, op.A2[:, None, None] * y2, R, signed=True),
        WZ,
    )
    assert not op.cotangent().any()


@pytest.mark.parametrize("rows", [slice(0, 11), slice(11, 37), slice(30, 100)])
def test_rows_give_the_rows_of_the_full_map(rows):
    op = _operator()
    U, y1, y2, R = _random(op)
    Z = op.first_layer(U)
    np.testing.assert_allclose(op.first_layer(U, rows), Z[rows], rtol=1e-13, atol=1e-13)
    g = op.second_layer(Z)
    np.testing.assert_allclose(op.second_layer(Z[rows], rows), g[rows], rtol=1e-13)
    np.testing.assert_allclose(op.outputs(g[rows], rows), op.outputs(g)[rows], rtol=1e-13)
    np.testing.assert_allclose(op.forward(U, rows), op.forward(U)[rows], rtol=1e-13)
    Zr, gr = op.layers(U, rows)
    np.testing.assert_allclose(gr, g[rows], rtol=1e-13)
    # the adjoint on a slice is the full adjoint with the other rows' weights at zero
    mask = np.zeros(op.n, dtype=bool)
    mask[rows] = True
    full = op.adjoint(*(a * mask.reshape(-1, *[1] * (a.ndim - 1)) for a in (y1, y2, R)))
    part = op.adjoint(y1[rows], y2[rows], R[rows], rows=rows)
    np.testing.assert_allclose(part, full, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        op.cotangent(y1[rows], y2[rows], R[rows], rows=rows),
        op.cotangent(y1, y2, R)[rows],
        rtol=1e-13,
    )


# ------------------------------------------------------------------ norms, cones
def test_colnorms():
    U = np.random.default_rng(2).normal(size=(2, 2, 3, 4, 5))
    np.testing.assert_allclose(ProgramOperator.colnorms(U), np.linalg.norm(U, axis=3))


@pytest.mark.parametrize("chunk", [1, 7, 8192])
def test_block_violation_is_the_worst_row_of_each_block(chunk):
    op = _operator()
    U, *_ = _random(op)
    s1, s2, _ = op.cone_rows(U)
    worst = np.maximum((-s1).max(axis=(0, 4)), (-s2).max(axis=0))
    expected = np.maximum(worst, 0.0)
    assert expected.shape == (op.o, 2, op.P) and expected.max() > 0
    np.testing.assert_allclose(op.block_violation(U, chunk=chunk), expected, rtol=1e-14)
    # a feasible point: U = 0, and blocks of zeros in a random point
    assert not op.block_violation(np.zeros_like(U)).any()
    U[0, 1] = 0.0
    assert not op.block_violation(U, chunk=chunk)[0, 1].any()


# ------------------------------------------------------------ precision, backends
def test_float32_operator_keeps_float32():
    op = _operator(dtype=np.float32)
    op64 = _operator()
    assert op.X.dtype == op.S1.dtype == op.A2.dtype == np.float32
    assert op64.X is op64.program.Xt  # no copy in the program's precision
    U, y1, y2, R = (a.astype(np.float32) for a in _random(op))
    assert op.forward(U).dtype == np.float32
    assert all(a.dtype == np.float32 for a in op.cone_rows(U))
    G = op.adjoint(y1, y2, R)
    assert G.dtype == np.float32
    np.testing.assert_allclose(G, op64.adjoint(y1, y2, R), rtol=1e-4, atol=1e-4 * abs(G).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_torch_backend_gives_the_numpy_numbers(dtype):
    torch = pytest.importorskip("torch")
    be = get_backend("cpu")
    op_np = _operator(dtype=dtype)
    op_t = _operator(dtype=dtype, backend=be)
    U, y1, y2, R = (a.astype(dtype) for a in _random(op_np))
    Ut, y1t, y2t, Rt = (be.asarray(a, dtype) for a in (U, y1, y2, R))
    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    rtol = 1e-5 if dtype == np.float32 else 1e-12

    def same(t, a):
        assert isinstance(t, torch.Tensor) and t.dtype == tdtype
        np.testing.assert_allclose(be.to_numpy(t), a, rtol=rtol, atol=rtol * np.abs(a).max())

    same(op_t.forward(Ut), op_np.forward(U))
    for t, a in zip(op_t.cone_rows(Ut), op_np.cone_rows(U), strict=True):
        same(t, a)
    for signed in (False, True):
        same(
            op_t.adjoint(y1t, y2t, Rt, signed=signed), op_np.adjoint(y1, y2, R, signed=signed)
        )
    same(op_t.cotangent(y1t, None, Rt), op_np.cotangent(y1, None, R))
    rows = slice(5, 20)
    same(op_t.forward(Ut, rows), op_np.forward(U, rows))
    same(op_t.adjoint(R=Rt[rows], rows=rows), op_np.adjoint(R=R[rows], rows=rows))


# -------------------------------------------------------------- the conic model
@pytest.mark.parametrize("n_outputs", N_OUTPUTS)
def test_cvxpy_layers_evaluate_to_the_map(n_outputs):
    cp = pytest.importorskip("cvxpy")
    op = _operator(n_outputs)
    U, *_ = _random(op)
    Z, g = op.layers(U)
    F = np.zeros((op.n, op.o))
    for o in range(op.o):
        for s in range(2):
            V = cp.Variable((op.d, op.P * op.m))
            Zv, gv, fv = op.cvxpy_layers(V)
            # the block's columns in the order (c, j)
            V.value = np.moveaxis(U[o, s], 1, 0).reshape(op.d, op.P * op.m)
            np.testing.assert_allclose(Zv.value, Z[:, o, s].reshape(op.n, -1), rtol=1e-12)
            np.testing.assert_allclose(gv.value, g[:, o, s], rtol=1e-12, atol=1e-12)
            F[:, o] += SIGMA[s] * fv.value
    np.testing.assert_allclose(F, op.forward(U), rtol=1e-12, atol=1e-12)
