"""The program's data on one array backend, processed by chunks of samples."""

import numpy as np

from ..._operator import SIGMA, ProgramOperator


def working_dtype(program, settings):
    """The precision of the method's arrays: ``settings.dtype`` when given, else the
    program's."""
    return np.dtype(program.dtype if settings.dtype is None else settings.dtype)


def kept_signs(U0, settings):
    """The output sign kept for each output and configuration (``(o, P)``, 0 for +1 and
    1 for -1) with ``settings.signs="start"``: that of the block of the starting point
    ``U0`` with the larger norm (+1 where both are zero). None (both signs) otherwise."""
    if settings.signs != "start" or U0 is None:
        return None
    norms = np.sqrt(np.einsum("osPdm,osPdm->osP", U0, U0, dtype=np.float64))
    return (norms[:, 1] > norms[:, 0]).astype(np.intp)


def kept_index(signs):
    """The index ``(o, sigma, c)`` into the program's blocks of the blocks that ``signs``
    keeps (one per output and configuration)."""
    o, c = np.indices(signs.shape)
    return o, signs, c


def row_norms(Xt):
    """``||x~_i||`` of every row (1 for a zero row), in float64."""
    nx = np.sqrt(np.einsum("nd,nd->n", Xt, Xt, dtype=np.float64))
    return np.where(nx > 0, nx, 1.0)


class ChunkedOperator(ProgramOperator):
    """The program's map (:class:`~skconvexrelu._operator.ProgramOperator`) on one array
    backend, by chunks of samples, with the row scaling of the penalty.

    Variables are kept as ``V`` of shape ``(d~, K)``, ``K = o 2 P m`` columns in the
    order ``(o, sigma, c, j)``; first-layer images ``Z = X~ V`` as ``(n, K)``. The cone
    rows of sample ``i`` are scaled by ``c_i = mean_k ||x~_k|| / ||x~_i||`` (``M1``,
    ``M2``); ``A1``, ``A2`` are the unscaled rows.

    Parameters
    ----------
    program : ConvexProgram
    be : backend (:mod:`skconvexrelu._backend`)
    dtype : numpy dtype
    chunk_elements : int
        Entries of ``X~ U`` per chunk of samples on a CPU; an accelerator takes every
        sample at once.
    mean_norm : float, optional
        ``mean_k ||x~_k||`` over all the samples of the program when ``program`` holds
        only some of them (a block of rows of a larger one); default: over its own.
    signs : ndarray of shape (o, P), optional
        Keep one output sign per output and configuration: the block ``sigma =
        signs[o, c]`` (0 for +1, 1 for -1); the other block of the pair is held at zero.
        The layout is then ``(o, 1, P, m)`` (``K = o P m``, half the columns); the
        variables are still read from and written to the program's shape
        (:meth:`to_internal`, :meth:`to_blocks`). Default: both signs.
    """

    def __init__(self, program, be, dtype, chunk_elements, mean_norm=None, signs=None):
        super().__init__(program, dtype, be)
        self.signs = None if signs is None else np.asarray(signs, dtype=np.intp)
        if self.signs is not None:
            self.S = 1
            self.K = self.o * self.P * self.m
            # sigma of each kept block, (o, 1, P), and its index in the program's blocks
            self.sig_kept = self._put(SIGMA[self.signs][:, None, :])
            self.kept = kept_index(self.signs)
        nx = row_norms(program.Xt)
        mean_norm = nx.mean() if mean_norm is None else mean_norm
        c = mean_norm / nx  # row scaling of the cone constraints of each sample
        n, P, m = self.n, self.P, self.m
        A1 = np.asarray(program.A1, dtype=np.float64)
        A2 = np.asarray(program.A2, dtype=np.float64)
        # the program's masks in the (rows, o, 2, P, m) layout of a chunk
        self.A1b = self.A1.reshape(n, 1, 1, P, m)
        self.A2b = self.A2.reshape(n, 1, 1, P)
        self.M1 = be.asarray((c[:, None, None] * A1).reshape(n, 1, 1, P, m), dtype)
        self.M2 = be.asarray((c[:, None] * A2).reshape(n, 1, 1, P), dtype)
        rows = n if be.accelerator else max(64, chunk_elements // max(self.K, 1))
        self.chunks = [slice(i, min(i + rows, n)) for i in range(0, n, rows)]

    # layout ------------------------------------------------------------------
    def to_internal(self, U):
        """``V`` (``(d~, K)``, on the backend) of the blocks ``U`` in the program's
        shape ``(o, 2, P, d~, m)``: the kept sign's blocks only with ``signs``."""
        U = np.asarray(U)
        if self.signs is not None:
            U = U[self.kept][:, None]  # (o, 1, P, d~, m)
        V = np.moveaxis(U, 3, 0).reshape(self.d, self.K)
        return self.be.asarray(V, self.dtype)

    def to_blocks(self, V):
        """The blocks in the program's shape (NumPy) of ``V``; zero where a sign is not
        kept."""
        V = self.be.to_numpy(V).reshape(self.d, self.o, self.S, self.P, self.m)
        U = np.ascontiguousarray(np.moveaxis(V, 0, 3))
        if self.signs is None:
            return U
        full = np.zeros((self.o, 2, self.P, self.d, self.m), dtype=U.dtype)
        full[self.kept] = U[:, 0]
        return full

    def block(self, Zc):
        return Zc.reshape(Zc.shape[0], self.o, self.S, self.P, self.m)

    def outputs(self, g, rows=slice(None)):
        if self.signs is None:
            return super().outputs(g, rows)
        return self.be.einsum("nosp,np,osp->no", g, self.D2[rows], self.sig_kept)

    def output_weights(self, rows=slice(None)):
        if self.signs is None:
            return super().output_weights(rows)
        return self.sig_kept[None] * self.D2[rows][:, None, None, :]

    def image_buffer(self):
        """An array for the images ``X~ V`` of one point, ``(n, K)``."""
        return self.be.zeros((self.n, self.K), self.dtype)

    # maps --------------------------------------------------------------------
    def from_images(self, Zc, sl):
        """``(g, F)`` of the chunk ``sl`` with images ``Zc`` (in blocks): second-layer
        pre-activations and outputs (no intercept)."""
        g = self.second_layer(Zc, sl)
        return g, self.outputs(g, sl)

    def chunk_cotangent(self, sl, RF, R1=None, R2=None):
        """``(rows, K)`` cotangent of ``Z`` for ``RF`` on the outputs and ``R1, R2`` on
        the scaled cone rows of the chunk ``sl``."""
        y1 = None if R1 is None else self.M1[sl] * R1
        y2 = None if R2 is None else self.M2[sl] * R2
        RZ = self.cotangent(y1, y2, RF, signed=True, rows=sl)
        return RZ.reshape(RZ.shape[0], self.K)

    def column_norms(self, V):
        """``||v_j||`` of every column of ``V`` (``(d~, K)``, on the backend)."""
        return self.be.sqrt(self.be.sum(V * V, axis=0))

    def forward_into(self, V, Zout):
        """``Zout = X~ V``, chunk by chunk."""
        for sl in self.chunks:
            self.be.matmul_into(self.X[sl], V, Zout[sl])
        return Zout

    def outputs_and_violation(self, Z):
        """``(F, violation, max|Z|)`` (F without intercept, numpy float64); the violation
        is the largest negative cone row (unscaled) relative to ``max |Z|``."""
        be = self.be
        F = np.empty((self.n, self.o))
        v, zmax = 0.0, 0.0
        for sl in self.chunks:
            Zb = self.block(Z[sl])
            g, Fc = self.from_images(Zb, sl)
            F[sl] = be.to_numpy(Fc)
            v = max(v, be.amax(be.pos(-self.A1b[sl] * Zb)), be.amax(be.pos(-self.A2b[sl] * g)))
            zmax = max(zmax, be.amax(be.abs(Zb)))
        return F, v / max(zmax, 1e-300), zmax
