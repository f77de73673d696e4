"""The convex program (``skconvexrelu._program``): its map, penalty, cones and objective."""

import numpy as np
import pytest

from skconvexrelu._arrangements import sample_configurations
from skconvexrelu._losses import make_loss
from skconvexrelu._program import ConvexProgram


def _data(n=40, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return np.hstack([X, np.ones((n, 1))])


def _program(n_outputs=1, dtype=np.float64):
    Xt = _data()
    conf = sample_configurations(Xt, 4, 6, random_state=0)
    return ConvexProgram(Xt, conf, n_outputs, dtype=dtype)


@pytest.mark.parametrize("n_outputs", [1, 3])
def test_adjoint_matches_forward(n_outputs):
    prog = _program(n_outputs)
    assert prog.shape == (n_outputs, 2, 6, 4, 4)
    rng = np.random.default_rng(1)
    U, R = rng.normal(size=prog.shape), rng.normal(size=(prog.n_samples, n_outputs))
    assert np.isclose(np.sum(prog.forward(U) * R), np.sum(U * prog.adjoint(R)), rtol=1e-12)


def test_forward_is_the_sum_of_its_layers():
    prog = _program(2)
    U = np.random.default_rng(2).normal(size=prog.shape)
    F = prog.outputs(prog.second_layer(prog.first_layer(U)))
    np.testing.assert_array_equal(prog.forward(U), F)
    # F[:, o] = sum_c D2_c (g_{o,+,c} - g_{o,-,c}), with g the masked column sums
    Z = np.einsum("nd,ospdm->nospm", prog.Xt, U)
    g = np.einsum("nospm,npm->nosp", Z, prog.S1)
    ref = np.einsum("nop,np->no", g[:, :, 0] - g[:, :, 1], prog.D2)
    np.testing.assert_allclose(F, ref, rtol=1e-12, atol=1e-12)


def test_penalty_and_objective():
    prog = _program()
    assert prog.zeros().shape == prog.shape and not prog.zeros().any()
    rng = np.random.default_rng(3)
    U = rng.normal(size=prog.shape)
    norms = prog.group_norms(U)
    np.testing.assert_allclose(norms, np.linalg.norm(U, axis=3), rtol=1e-14)
    assert prog.penalty(U, 0.5) == pytest.approx(0.5 * norms.sum(), rel=1e-14)
    loss = make_loss("squared")
    Y, w = rng.normal(size=(prog.n_samples, 1)), np.full(prog.n_samples, 1 / prog.n_samples)
    b = np.array([0.4])
    expected = loss.value(prog.forward(U) + b, Y, w) + prog.penalty(U, 0.1)
    assert prog.objective(U, b, loss, Y, w, 0.1) == expected


def test_block_violation_by_chunks():
    rng = np.random.default_rng(1)
    Xt = _data(n=37)
    program = ConvexProgram(Xt, sample_configurations(Xt, 2, 4, random_state=0), 2)
    U = rng.standard_normal(program.shape)
    Z = program.first_layer(U)
    v1 = np.maximum(0, -program.A1[:, None, None] * Z).max(axis=(0, 4))
    v2 = np.maximum(0, -program.A2[:, None, None] * program.second_layer(Z)).max(axis=0)
    expected = np.maximum(v1, v2)
    assert expected.shape == (2, 2, 4) and expected.max() > 0
    for chunk in (5, 37, 8192):
        np.testing.assert_allclose(program.block_violation(U, chunk=chunk), expected)
    assert program.cone_violation(U) == expected.max()
    assert not program.block_violation(np.zeros(program.shape)).any()
    assert program.cone_violation(np.zeros(program.shape)) == 0.0


def test_sample_subset_is_the_program_on_those_rows():
    prog = _program(2)
    rows = np.array([0, 5, 7, 39])
    sub = prog.sample_subset(rows)
    assert sub.n_samples == 4 and sub.shape == prog.shape and sub.dtype == prog.dtype
    U = np.random.default_rng(4).normal(size=prog.shape)
    np.testing.assert_allclose(sub.forward(U), prog.forward(U)[rows], rtol=1e-12)


def test_float32_program_keeps_float32():
    prog = _program(dtype=np.float32)
    U = np.random.default_rng(5).normal(size=prog.shape).astype(np.float32)
    assert prog.Xt.dtype == prog.S1.dtype == np.float32
    assert prog.forward(U).dtype == np.float32
    assert prog.adjoint(np.ones((prog.n_samples, 1))).dtype == np.float32
