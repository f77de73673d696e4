"""The first-order method on rows held in blocks (a Dask array), step for step the
in-memory one.

The iterations of :mod:`~._solver` and :mod:`~._fista` run on the client unchanged: they
see the data only through the passes of the augmented Lagrangian (value, gradient,
multiplier update, norm estimate and the certificate's passes). Here each pass is one
task per block of rows, running the in-memory
:class:`~._lagrangian.AugmentedLagrangian` on that block's program
(:func:`skconvexrelu._dask.block_program`), with the partial sums added on the client:
gradients are ``(d~, K)`` arrays and values scalars, so nothing of the size of ``X``
travels. Two things differ from the in-memory method:

- a point is represented by its variables ``V`` rather than by its images ``X~ V``
  (which would be ``n x K`` numbers): each task computes the images of its rows again,
  one extra product per pass;
- the multipliers of the cone rows (``n x K`` numbers, zero wherever a constraint has
  not been violated) stay on the workers, one sparse matrix per block, updated by a
  task and kept there (``dask.persist``).

The targets, the weights and the outputs ``F`` (``n x n_outputs`` numbers each) are
held on the client, as in the in-memory method.
"""

import dask
import numpy as np
import scipy.sparse as sp

from ..._backend import NumpyBackend
from ..._dask import block_program, slices
from ._lagrangian import AugmentedLagrangian
from ._loss import BackendLoss
from ._operator import ChunkedOperator, kept_index, kept_signs, working_dtype


class _Blocks:
    """What every task needs besides its rows: the program's structure and the loss."""

    def __init__(self, program, loss, beta, settings, signs):
        self.conf = program.conf
        self.o = program.n_outputs
        self.signs = signs
        self.dtype = working_dtype(program, settings)
        self.loss = loss
        self.beta = beta
        self.settings = settings
        self.mean_norm = program.mean_norm()
        self.elements = program.block_elements
        self.K = int(np.prod(program.shape)) // program.n_features

    def lagrangians(self, Xb, Yb, wb, state):
        """``(rows, al)`` for each slice of the block: the in-memory augmented Lagrangian
        of its rows, with the block's multipliers ``state`` (None: zero)."""
        be = NumpyBackend()
        s = self.settings
        for sl in slices(len(Xb), self.K, self.elements):
            prog = block_program(Xb[sl], self.conf, self.o, self.dtype)
            op = ChunkedOperator(
                prog, be, self.dtype, s.chunk_elements, self.mean_norm, self.signs
            )
            bloss = BackendLoss(self.loss, Yb[sl], wb[sl], be, self.dtype, s.rho_envelope)
            al = AugmentedLagrangian(op, bloss, self.beta)
            if state is not None:
                _unpack(state, sl, al)
            yield sl, al


def _unpack(state, sl, al):
    """Put the block's stored multipliers of the rows ``sl`` into ``al``."""
    lam1, lam2, nu = state
    al.lam1[...] = lam1[sl].toarray().reshape(al.lam1.shape)
    al.lam2[...] = lam2[sl].toarray().reshape(al.lam2.shape)
    if nu is not None:
        al.nu[...] = nu[sl]


def _pack(al, dtype):
    """The multipliers of one slice's augmented Lagrangian, sparse (most cone rows are
    inactive)."""
    rows = len(al.lam1)
    lam1 = sp.csr_matrix(al.lam1.reshape(rows, -1), dtype=dtype)
    lam2 = sp.csr_matrix(al.lam2.reshape(rows, -1), dtype=dtype)
    return lam1, lam2, None if al.nu is None else al.nu.astype(dtype)


def _stacked(parts):
    """One block's multipliers from those of its slices."""
    lam1 = sp.vstack([p[0] for p in parts], format="csr")
    lam2 = sp.vstack([p[1] for p in parts], format="csr")
    nu = None if parts[0][2] is None else np.concatenate([p[2] for p in parts])
    return lam1, lam2, nu


def _images(al, V):
    return al.op.forward_into(V, al.op.image_buffer())


# ------------------------------------------------------------------ block tasks
def _task_value(Xb, Yb, wb, state, spec, V, b, rho_n):
    return sum(
        al.value_at(_images(al, V), b, rho_n) for _, al in spec.lagrangians(Xb, Yb, wb, state)
    )


def _task_grad(Xb, Yb, wb, state, spec, V, b, rho_n):
    total = [0.0, 0.0, 0.0]
    for _, al in spec.lagrangians(Xb, Yb, wb, state):
        Z = _images(al, V)
        for i, part in enumerate(al.grad_at(Z, Z, 0.0, b, rho_n)):
            total[i] = total[i] + part
    return tuple(total)


def _task_update(Xb, Yb, wb, state, spec, V, b, rho_n):
    parts = []
    for _, al in spec.lagrangians(Xb, Yb, wb, state):
        al.update_multipliers(_images(al, V), b, rho_n)
        parts.append(_pack(al, spec.dtype))  # the slice's dense arrays go here
    return _stacked(parts)


def _task_norms(Xb, Yb, wb, state, spec, Q, Q2, rho_unit):
    total = [0.0, 0.0]
    for _, al in spec.lagrangians(Xb, Yb, wb, state):
        for i, part in enumerate(al.norm_products(Q, Q2, rho_unit)):
            total[i] = total[i] + part
    return tuple(total)


def _task_outputs(Xb, Yb, wb, state, spec, V):
    F, v, zmax = [np.zeros((0, spec.o))], 0.0, 0.0
    for _, al in spec.lagrangians(Xb, Yb, wb, state):
        Fs, vs, zs = al.outputs_and_violation(_images(al, V))
        F.append(Fs)
        v, zmax = max(v, vs * max(zs, 1e-300)), max(zmax, zs)
    return np.concatenate(F), v, zmax


def _task_envelope(Xb, Yb, wb, state, Fb, spec, b):
    r = [np.zeros((0, spec.o))]
    for sl, al in spec.lagrangians(Xb, Yb, wb, state):
        r.append(al.envelope_gradient(Fb[sl], b))
    return np.concatenate(r)


def _task_dual(Xb, Yb, wb, state, rb, spec, V, rho_n):
    total = [0.0, 0.0]
    for sl, al in spec.lagrangians(Xb, Yb, wb, state):
        for i, part in enumerate(al.dual_products(_images(al, V), rb[sl], rho_n)):
            total[i] = total[i] + part
    return tuple(total)


def _on_workers(parts):
    """The in-memory arrays ``parts`` where the tasks run: scattered to the workers when
    the scheduler is a ``distributed`` client's, else in the graph."""
    try:
        from distributed import get_client

        client = get_client()
    except (ImportError, ValueError):  # no distributed, or no client
        client = None
    if client is None or dask.base.get_scheduler() != client.get:
        return [dask.delayed(p) for p in parts]
    return client.scatter(list(parts))


class _Images:
    """The client's view of the operator: points are their variables ``V``
    (``(d~, K)``), which stand for their images (see the module's docstring)."""

    to_internal = ChunkedOperator.to_internal
    to_blocks = ChunkedOperator.to_blocks
    column_norms = ChunkedOperator.column_norms

    def __init__(self, program, dtype, signs):
        self.be = NumpyBackend()
        self.dtype = dtype
        self.o, _, self.P, self.d, self.m = program.shape
        self.n = program.n_samples
        self.signs = signs
        self.kept = None if signs is None else kept_index(signs)
        self.S = 2 if signs is None else 1
        self.K = self.o * self.S * self.P * self.m

    def image_buffer(self):
        return np.zeros((self.d, self.K), dtype=self.dtype)

    def forward_into(self, V, out):
        out[...] = V
        return out


class BlockwiseLagrangian(AugmentedLagrangian):
    """The augmented Lagrangian of a :class:`~skconvexrelu._dask.BlockwiseProgram`:
    the interface of :class:`~._lagrangian.AugmentedLagrangian`, each pass one task per
    block (see the module's docstring).

    Parameters
    ----------
    program : BlockwiseProgram
    loss : Loss
    Y : ndarray of shape (n, o)
    w : ndarray of shape (n,)
        Normalized weights.
    beta : float
    settings : FirstOrderSettings
    signs : ndarray of shape (o, P), optional
        One kept output sign per output and configuration (see
        :class:`~._operator.ChunkedOperator`).
    """

    def __init__(self, program, loss, Y, w, beta, settings, signs=None):
        self.program = program
        self.op = _Images(program, working_dtype(program, settings), signs)
        self.be = self.op.be
        self.beta = beta
        self.bloss = BackendLoss(loss, Y, w, self.be, self.op.dtype, settings.rho_envelope)
        self.spec = _Blocks(program, loss, beta, settings, signs)
        # on the workers once, not with every pass
        w = np.asarray(w, dtype=np.float64)
        self.rows = (_on_workers(program.row_blocks(Y)), _on_workers(program.row_blocks(w)))
        self.state = [None] * len(program.blocks)

    def _tasks(self, func, *args, extra=None):
        """One delayed task per block: ``func(X_b, Y_b, w_b, state_b, [extra_b], spec,
        *args)``."""
        out = []
        for i, Xb in enumerate(self.program.blocks):
            head = (Xb, self.rows[0][i], self.rows[1][i], self.state[i])
            if extra is not None:
                head = head + (extra[i],)
            out.append(dask.delayed(func, pure=True)(*head, self.spec, *args))
        return out

    def _sum(self, func, *args, extra=None):
        parts = dask.compute(*self._tasks(func, *args, extra=extra))
        total = parts[0]
        for p in parts[1:]:
            total = (
                tuple(a + c for a, c in zip(total, p, strict=True))
                if isinstance(p, tuple)
                else total + p
            )
        return total

    # the passes of AugmentedLagrangian ---------------------------------------
    def value_at(self, Z, b, rho_n):
        return float(self._sum(_task_value, Z, np.asarray(b, dtype=np.float64), rho_n))

    def grad_at(self, Z, Zp, mom, b, rho_n):
        Vy = Z if mom == 0 else Z + mom * (Z - Zp)
        val, GV, gb = self._sum(_task_grad, Vy, np.asarray(b, dtype=np.float64), rho_n)
        return float(val), GV, np.asarray(gb, dtype=np.float64)

    def update_multipliers(self, Z, b, rho_n):
        tasks = self._tasks(_task_update, Z.copy(), np.asarray(b, dtype=np.float64), rho_n)
        self.state = list(dask.persist(*tasks))

    def norm_products(self, Q, Q2, rho_unit):
        return self._sum(_task_norms, Q, Q2, rho_unit)

    def outputs_and_violation(self, Z):
        parts = dask.compute(*self._tasks(_task_outputs, Z.copy()))
        F = np.concatenate([p[0] for p in parts])
        v = max(p[1] for p in parts)
        zmax = max(p[2] for p in parts)
        return F, v / max(zmax, 1e-300), zmax

    def envelope_gradient(self, F, b):
        extra = _on_workers(self.program.row_blocks(np.asarray(F)))
        b = np.asarray(b, dtype=np.float64)
        return np.concatenate(dask.compute(*self._tasks(_task_envelope, b, extra=extra)))

    def dual_products(self, Z, r, rho_n):
        extra = _on_workers(self.program.row_blocks(np.asarray(r)))
        return self._sum(_task_dual, Z.copy(), rho_n, extra=extra)


def solve_first_order_blockwise(
    program,
    loss,
    Y,
    w,
    beta,
    fit_intercept=True,
    max_iter=None,
    tol=1e-6,
    U0=None,
    b0=None,
    verbose=0,
    max_time=None,
    settings=None,
    budget=False,
):
    """:func:`~._solver.solve_first_order` on a
    :class:`~skconvexrelu._dask.BlockwiseProgram`: the same iterations, stopping rule
    and result, with every data pass one Dask task per block of rows.

    ``Y`` (``(n, o)``) and the normalized weights ``w`` are in memory; the other
    parameters are those of :func:`~._solver.solve_first_order` (NumPy only: no
    ``device``).
    """
    from ..settings import FirstOrderSettings
    from ._solver import run_first_order

    settings = FirstOrderSettings() if settings is None else settings
    Y = np.asarray(Y, dtype=np.float64).reshape(program.n_samples, -1)
    signs = kept_signs(U0, settings)
    al = BlockwiseLagrangian(program, loss, Y, w, float(beta), settings, signs)
    return run_first_order(
        program,
        loss,
        Y,
        w,
        beta,
        fit_intercept,
        max_iter,
        tol,
        U0,
        b0,
        verbose,
        max_time,
        NumpyBackend(),
        settings,
        budget,
        al=al,
    )
