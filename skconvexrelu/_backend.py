"""A small array-backend shim: the handful of operations the program's operator
(:mod:`skconvexrelu._operator`) and the first-order solver need.

:class:`NumpyBackend` runs on NumPy arrays, :class:`TorchBackend` on torch tensors (CPU or
GPU). The code is written once against this interface; torch is imported only when a
torch backend is requested (it is an optional dependency, extra ``torch``).
"""

import re

import numpy as np
from scipy.special import expit, log_expit

_DEVICE_RE = re.compile(r"^(cpu|cuda|mps|xpu)(:\d+)?$")


class NumpyBackend:
    """NumPy arrays."""

    name = "numpy"
    device = None
    #: whether arrays live on an accelerator (a device other than the CPU)
    accelerator = False

    def asarray(self, a, dtype):
        return np.ascontiguousarray(a, dtype=dtype)

    def to_numpy(self, a):
        return np.asarray(a)

    def zeros(self, shape, dtype):
        return np.zeros(shape, dtype=dtype)

    @staticmethod
    def sum(a, axis=None, keepdims=False):
        return a.sum(axis=axis, keepdims=keepdims)

    @staticmethod
    def pos(a):
        """``max(a, 0)``"""
        return np.maximum(a, 0.0)

    @staticmethod
    def pos_(a):
        """``max(a, 0)`` in place."""
        return np.maximum(a, 0.0, out=a)

    @staticmethod
    def minimum(a, b):
        return np.minimum(a, b)

    @staticmethod
    def where(c, a, b):
        return np.where(c, a, b)

    @staticmethod
    def sqrt(a):
        return np.sqrt(a)

    @staticmethod
    def expit(a):
        return expit(a)

    @staticmethod
    def log_expit(a):
        return log_expit(a)

    @staticmethod
    def logsumexp(a, axis):
        top = a.max(axis=axis, keepdims=True)
        return top + np.log(np.exp(a - top).sum(axis=axis, keepdims=True))

    @staticmethod
    def scalar(a):
        return float(a)

    @staticmethod
    def vdot(a, b):
        # BLAS's dot product: five times faster than a product and a sum (without a
        # temporary), on one thread or two, in single and double precision
        return float(np.dot(a.ravel(), b.ravel()))

    @staticmethod
    def amax(a):
        return float(a.max(initial=0.0)) if a.size else 0.0

    @staticmethod
    def copy(a):
        return a.copy()

    @staticmethod
    def matmul_into(A, B, out):
        return np.matmul(A, B, out=out)

    @staticmethod
    def abs(a):
        return np.abs(a)

    @staticmethod
    def exp(a):
        return np.exp(a)

    @staticmethod
    def einsum(spec, *arrays):
        # plain loops: the "optimized" batched-matmul route is several times slower for
        # the program's small contractions
        return np.einsum(spec, *arrays)

    @staticmethod
    def moveaxis(a, source, destination):
        return np.moveaxis(a, source, destination)


class TorchBackend:
    """torch tensors on one device."""

    name = "torch"

    def __init__(self, device):
        import torch

        self.torch = torch
        self.device = device
        self.accelerator = device.type != "cpu"

    def _dtype(self, dtype):
        return self.torch.float32 if np.dtype(dtype) == np.float32 else self.torch.float64

    def asarray(self, a, dtype):
        if isinstance(a, self.torch.Tensor):
            return a.to(device=self.device, dtype=self._dtype(dtype)).contiguous()
        a = np.ascontiguousarray(a, dtype=dtype)
        return self.torch.from_numpy(a).to(self.device)

    def to_numpy(self, a):
        return a.detach().cpu().numpy()

    def zeros(self, shape, dtype):
        return self.torch.zeros(shape, dtype=self._dtype(dtype), device=self.device)

    def sum(self, a, axis=None, keepdims=False):
        if axis is None:
            return a.sum()
        return a.sum(dim=axis, keepdim=keepdims)

    def pos(self, a):
        return self.torch.clamp_min(a, 0.0)

    @staticmethod
    def pos_(a):
        return a.clamp_min_(0.0)

    def minimum(self, a, b):
        if not isinstance(b, self.torch.Tensor):
            return self.torch.clamp_max(a, b)
        return self.torch.minimum(a, b)

    def where(self, c, a, b):
        return self.torch.where(c, a, b)

    def sqrt(self, a):
        return self.torch.sqrt(a)

    def expit(self, a):
        return self.torch.sigmoid(a)

    def log_expit(self, a):
        return self.torch.nn.functional.logsigmoid(a)

    def logsumexp(self, a, axis):
        return self.torch.logsumexp(a, dim=axis, keepdim=True)

    @staticmethod
    def scalar(a):
        return float(a)

    def vdot(self, a, b):
        return float((a * b).sum())

    @staticmethod
    def amax(a):
        return float(a.max()) if a.numel() else 0.0

    @staticmethod
    def copy(a):
        return a.clone()

    def matmul_into(self, A, B, out):
        return self.torch.matmul(A, B, out=out)

    def abs(self, a):
        return self.torch.abs(a)

    def exp(self, a):
        return self.torch.exp(a)

    def einsum(self, spec, *arrays):
        return self.torch.einsum(spec, *arrays)

    def moveaxis(self, a, source, destination):
        return self.torch.movedim(a, source, destination)


def get_backend(device=None):
    """The backend for ``device``: NumPy for ``None``, torch otherwise.

    Parameters
    ----------
    device : None, str or torch.device
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or a ``torch.device``.

    Raises
    ------
    ValueError
        For a device string that names no device, or a CUDA device when CUDA is not
        available.
    ImportError
        When a device is given but torch is not installed.
    """
    if device is None:
        return NumpyBackend()
    if isinstance(device, str):
        if not _DEVICE_RE.match(device.strip().lower()):
            raise ValueError(
                f"Unknown device {device!r}; expected None (NumPy), 'cpu', 'cuda', "
                "'cuda:<index>' or a torch.device."
            )
        device = device.strip().lower()
    try:
        import torch
    except ImportError as exc:
        if not isinstance(device, str):  # without torch nothing else names a device
            raise _not_a_device(device) from None
        raise ImportError(
            f"device={device!r} needs PyTorch, which is not installed; install it with "
            "`pip install torch` (or the extra `skconvexrelu[torch]`), or pass device=None "
            "to run on NumPy."
        ) from exc
    if not isinstance(device, (str, torch.device)):
        raise _not_a_device(device)
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available.")
    return TorchBackend(dev)


def _not_a_device(device):
    return ValueError(
        f"device must be None, a string such as 'cpu' or 'cuda', or a torch.device; "
        f"got {device!r}."
    )
