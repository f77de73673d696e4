"""The convex program on rows held in blocks: a Dask array, never gathered.

A configuration is stored by the sub-network that generates it (``Configurations.networks``,
see :func:`~skconvexrelu._arrangements.configurations_from_networks`), so the program of
any block of rows can be built again where the block lives: its patterns ``D1``, ``D2``
are those of the generating networks on its rows. :class:`BlockwiseProgram` has the
interface of :class:`~skconvexrelu._program.ConvexProgram` that the first-order method
and the end of a fit use (shape, objective, outputs, cone violation); every data pass is
one task per block of rows, whose results are added or concatenated on the client.
Inside a task the block is cut into slices of at most ``DaskSettings.block_elements``
entries of ``X~ U`` so that its temporaries stay small whatever the chunk size.

Dask is an optional dependency, imported here only.
"""

from dataclasses import dataclass

import numpy as np

from ._arrangements import configurations_from_networks
from ._program import ConvexProgram


def is_dask_collection(a):
    """Whether ``a`` is a Dask array or data frame (without importing dask)."""
    return type(a).__module__.split(".")[0] == "dask" and hasattr(a, "dask")


def as_dask_rows(a, name):
    """``a`` as a Dask array with known chunk sizes along the rows and one chunk across
    the columns; a clear error for anything else."""
    import dask.array as da

    if hasattr(a, "to_dask_array"):  # a Dask data frame or series
        a = a.to_dask_array(lengths=True)
    if not isinstance(a, da.Array):
        a = da.from_array(np.asarray(a))
    if any(np.isnan(c) for c in a.chunks[0]):
        a = a.compute_chunk_sizes()
    if a.ndim == 2 and len(a.chunks[1]) > 1:
        a = a.rechunk({1: -1})
    if a.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1- or 2-dimensional, got shape {a.shape}.")
    return a


def slices(n_rows, width, elements):
    """Slices of ``range(n_rows)`` of about ``elements / width`` rows (at least 64)."""
    step = max(64, int(elements) // max(int(width), 1))
    return [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]


@dataclass(frozen=True)
class BlockConfigurations:
    """The configurations of a blockwise program: their signs and generating networks
    (the patterns are computed per block)."""

    signs: np.ndarray
    networks: tuple

    @property
    def n_configurations(self):
        return self.signs.shape[0]

    @property
    def width(self):
        return self.signs.shape[1]


def block_program(Xt, conf, n_outputs, dtype):
    """The in-memory program of the rows ``Xt`` on the configurations ``conf``."""
    full = configurations_from_networks(np.asarray(Xt, dtype=np.float64), *conf.networks)
    return ConvexProgram(Xt, full, n_outputs, dtype=dtype)


def _active(Xb, conf, elements):
    """Which configurations' second ReLU is active on some row of the block."""
    out = np.zeros(conf.n_configurations, dtype=bool)
    for sl in slices(len(Xb), conf.signs.size, elements):
        Xs = Xb[sl].astype(np.float64)
        out |= configurations_from_networks(Xs, *conf.networks).D2.any(0)
    return out


def _per_slice(Xb, conf, n_outputs, dtype, elements, name, U, *args):
    """``program.name(U, *args)`` of the in-memory program of each slice of the block."""
    width = U.size // U.shape[3]
    return [
        getattr(block_program(Xb[sl], conf, n_outputs, dtype), name)(U, *args)
        for sl in slices(len(Xb), width, elements)
    ]


def _row_norm_sum(Xb):
    from .solvers.first_order._operator import row_norms

    return float(row_norms(Xb).sum())


class BlockwiseProgram:
    """The convex program on a Dask array of rows (see the module's docstring).

    Parameters
    ----------
    Xt : dask.array.Array of shape (n, d~)
        The data with its column of ones when a first-layer bias is fitted, in chunks
        of rows (one chunk across the columns).
    conf : Configurations or BlockConfigurations
        Configurations with their generating networks.
    n_outputs : int
    dtype : numpy dtype
    advice_rows : ndarray
        Rows in memory (a sample) to judge the data's conditioning from in warnings.
    block_elements : int
        Entries of ``X~ U`` per slice of a block in a task.
    """

    def __init__(self, Xt, conf, n_outputs, dtype, advice_rows, block_elements=2**19):
        if conf.networks is None:
            raise ValueError("A blockwise program needs the configurations' networks.")
        self.Xt = Xt
        self.conf = BlockConfigurations(np.asarray(conf.signs), tuple(conf.networks))
        self.n_outputs = int(n_outputs)
        self.dtype = np.dtype(dtype)
        self.advice_rows = advice_rows
        self.block_elements = int(block_elements)
        self.blocks = list(Xt.to_delayed().ravel())
        self.sizes = list(Xt.chunks[0])
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self._mean_norm = None

    # --------------------------------------------------------------- structure
    @property
    def n_samples(self):
        return int(self.Xt.shape[0])

    @property
    def n_features(self):
        return int(self.Xt.shape[1])

    @property
    def shape(self):
        P, m = self.conf.signs.shape
        return (self.n_outputs, 2, P, self.n_features, m)

    def zeros(self):
        return np.zeros(self.shape, dtype=self.dtype)

    def row_blocks(self, a):
        """The blocks of the in-memory rows ``a`` that go with the blocks of ``Xt``."""
        return [a[self.offsets[i] : self.offsets[i + 1]] for i in range(len(self.sizes))]

    # ---------------------------------------------------------- passes over rows
    def map(self, func, *args, per_block=()):
        """``[func(X_b, *per_block[b], *args) for every block b]``, computed by Dask."""
        import dask

        tasks = [
            dask.delayed(func, pure=True)(Xb, *(p[i] for p in per_block), *args)
            for i, Xb in enumerate(self.blocks)
        ]
        return list(dask.compute(*tasks))

    def mean_norm(self):
        """``mean_i ||x~_i||`` (the row scaling of the first-order method)."""
        if self._mean_norm is None:
            self._mean_norm = sum(self.map(_row_norm_sum)) / self.n_samples
        return self._mean_norm

    def _slices(self, name, U, *args):
        """``program.name(U, *args)`` of every slice of every block, in row order."""
        args = (self.conf, self.n_outputs, self.dtype, self.block_elements, name, U, *args)
        return [part for parts in self.map(_per_slice, *args) for part in parts]

    def forward(self, U):
        """``F(U)`` without intercept, ``(n, o)`` on the client."""
        return np.concatenate(self._slices("forward", U)).astype(np.float64, copy=False)

    def objective(self, U, b, loss, Y, w, beta):
        """The convex objective ``L(F(U) + b) + beta * sum ||u_j||``."""
        return loss.value(self.forward(U) + b, Y, w) + self.penalty(U, beta)

    def group_norms(self, U):
        return ConvexProgram.group_norms(U)

    def penalty(self, U, beta):
        return float(beta * self.group_norms(U).sum())

    def cone_violation(self, U):
        """The largest violation of the cone constraints (0 when feasible)."""
        return float(max(self._slices("cone_violation", U), default=0.0))

    def column_effect(self, U):
        """``max_i |x~_i . u_j|`` of every column, shape ``(o, 2, P, m)``."""
        return np.maximum.reduce(self._slices("column_effect", U))

    def block_violation(self, U):
        """The largest violation of each block's cone constraints, shape ``(o, 2, P)``."""
        return np.maximum.reduce(self._slices("block_violation", U))

    def round_off_outputs(self, U, small, blocks):
        """See :meth:`skconvexrelu._program.ConvexProgram.round_off_outputs` (on the
        client: ``n x len(blocks)`` numbers)."""
        return np.concatenate(self._slices("round_off_outputs", U, small, blocks))

    def active(self):
        """Which configurations' second ReLU is active on some row."""
        parts = self.map(_active, self.conf, self.block_elements)
        return np.logical_or.reduce(parts) if parts else np.zeros(0, dtype=bool)

    def with_configurations(self, conf):
        """The program on the same rows with the configurations ``conf``."""
        new = BlockwiseProgram(
            self.Xt, conf, self.n_outputs, self.dtype, self.advice_rows, self.block_elements
        )
        new._mean_norm = self._mean_norm
        return new

    def subset(self, index):
        """The program on the configurations ``index``."""
        index = np.asarray(index, dtype=int)
        nets = tuple(a[index] for a in self.conf.networks)
        return self.with_configurations(BlockConfigurations(self.conf.signs[index], nets))
