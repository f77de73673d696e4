"""The array backends (``skconvexrelu._backend``): NumPy, and torch on a device."""

import builtins

import numpy as np
import pytest

from skconvexrelu._backend import NumpyBackend, TorchBackend, get_backend


@pytest.fixture(name="no_torch")
def no_torch_fixture(monkeypatch):
    """Make ``import torch`` fail, as on an installation without torch."""
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)


# ------------------------------------------------------------------ get_backend
def test_none_is_numpy():
    be = get_backend(None)
    assert isinstance(be, NumpyBackend)
    assert be.name == "numpy" and be.device is None
    assert be.accelerator is False


@pytest.mark.parametrize("device", ["cpu", " CPU ", "cpu:0"])
def test_device_strings(device):
    torch = pytest.importorskip("torch")
    be = get_backend(device)
    assert isinstance(be, TorchBackend)
    assert be.name == "torch"
    assert be.device == torch.device(device.strip().lower())
    assert be.accelerator is False


def test_torch_device_objects():
    torch = pytest.importorskip("torch")
    be = get_backend(torch.device("cpu"))
    assert be.device == torch.device("cpu") and be.accelerator is False


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "", "cpu:", "tpu:0"])
def test_unknown_device_strings_raise(device):
    with pytest.raises(ValueError, match="Unknown device"):
        get_backend(device)


@pytest.mark.parametrize("device", [3, 1.5, object()])
def test_non_devices_raise(device):
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match="device must be None"):
        get_backend(device)


def test_cuda_without_cuda_raises():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available"):
        get_backend("cuda")


@pytest.mark.usefixtures("no_torch")
def test_missing_torch_raises_import_error():
    with pytest.raises(ImportError, match="pip install torch"):
        get_backend("cpu")
    # a bad string is still a bad string, and None still NumPy
    with pytest.raises(ValueError, match="Unknown device"):
        get_backend("gpu")
    assert isinstance(get_backend(None), NumpyBackend)


@pytest.mark.usefixtures("no_torch")
def test_a_non_device_is_a_value_error_without_torch():
    with pytest.raises(ValueError, match="device must be None"):
        get_backend(3)


# ---------------------------------------------------------- the operations agree
def _backends():
    out = [get_backend(None)]
    try:
        out.append(get_backend("cpu"))
    except ImportError:
        pass
    return out


BACKENDS = _backends()
IDS = [be.name for be in BACKENDS]


def _arrays(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=(3, 5))


@pytest.mark.parametrize("be", BACKENDS, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_asarray_zeros_and_precision(be, dtype):
    a, *_ = _arrays()
    t = be.asarray(a, dtype)
    back = be.to_numpy(t)
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, a.astype(dtype))
    z = be.to_numpy(be.zeros((2, 3), dtype))
    assert z.dtype == dtype and z.shape == (2, 3) and not z.any()
    # converting an array of the backend again changes only the precision
    other = np.float32 if dtype == np.float64 else np.float64
    assert be.to_numpy(be.asarray(t, other)).dtype == other


def _elementwise(be, a, b):
    return {
        "pos": be.pos(a),
        "minimum": be.minimum(a, b),
        "minimum_scalar": be.minimum(a, 0.25),
        "where": be.where(a > b, a, b),
        "sqrt": be.sqrt(be.abs(a)),
        "abs": be.abs(a),
        "exp": be.exp(a),
        "expit": be.expit(a),
        "log_expit": be.log_expit(a),
        "logsumexp": be.logsumexp(a, 1),
        "sum": be.sum(a),
        "sum_axis": be.sum(a, axis=0),
        "sum_keepdims": be.sum(a, axis=1, keepdims=True),
    }


@pytest.mark.parametrize("be", BACKENDS, ids=IDS)
def test_operations_agree_with_numpy(be):
    a, b, c = _arrays()
    ta, tb, tc = (be.asarray(x, np.float64) for x in (a, b, c))
    got = _elementwise(be, ta, tb)
    expected = _elementwise(NumpyBackend(), a, b)
    assert set(got) == set(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(
            be.to_numpy(got[key]), value, rtol=1e-13, atol=1e-15, err_msg=key
        )
    np.testing.assert_allclose(expected["logsumexp"][:, 0], np.log(np.exp(a).sum(1)))
    assert be.vdot(ta, tb) == pytest.approx(float(np.sum(a * b)), rel=1e-13)
    assert be.scalar(be.sum(ta)) == pytest.approx(float(a.sum()), rel=1e-13)
    assert be.amax(ta) == pytest.approx(max(float(a.max()), 0.0))
    assert be.amax(be.zeros((0,), np.float64)) == 0.0
    out = be.zeros((4, 5), np.float64)
    be.matmul_into(ta, tc, out)
    np.testing.assert_allclose(be.to_numpy(out), a @ c, rtol=1e-13)


@pytest.mark.parametrize("be", BACKENDS, ids=IDS)
def test_in_place_and_copies(be):
    a, *_ = _arrays()
    t = be.asarray(a.copy(), np.float64)
    c = be.copy(t)
    be.pos_(t)
    np.testing.assert_array_equal(be.to_numpy(t), np.maximum(a, 0))
    np.testing.assert_array_equal(be.to_numpy(c), a)  # the copy is its own array


@pytest.mark.parametrize("be", BACKENDS, ids=IDS)
def test_einsum_and_moveaxis(be):
    rng = np.random.default_rng(1)
    Z, S, D = (
        rng.normal(size=(6, 2, 2, 3, 4)),
        rng.normal(size=(6, 3, 4)),
        rng.normal(size=(6, 3)),
    )
    sig = np.array([1.0, -1.0])
    tZ, tS, tD, tsig = (be.asarray(x, np.float64) for x in (Z, S, D, sig))
    g = be.einsum("nospm,npm->nosp", tZ, tS)
    np.testing.assert_allclose(be.to_numpy(g), np.einsum("nospm,npm->nosp", Z, S), rtol=1e-13)
    F = be.einsum("nosp,np,s->no", g, tD, tsig)
    expected = np.einsum("nosp,np,s->no", np.einsum("nospm,npm->nosp", Z, S), D, sig)
    np.testing.assert_allclose(be.to_numpy(F), expected, rtol=1e-12)
    moved = be.moveaxis(tZ, 3, 0)
    assert tuple(moved.shape) == (3, 6, 2, 2, 4)
    np.testing.assert_array_equal(be.to_numpy(moved), np.moveaxis(Z, 3, 0))
    np.testing.assert_array_equal(be.to_numpy(be.moveaxis(moved, 0, 3)), Z)
