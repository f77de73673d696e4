"""The convex program: its linear map, group-lasso penalty and cone constraints.

Variables are stored as one array ``U`` of shape ``(n_outputs, 2, P, d~, m)``: for each
output ``o``, each output sign ``sigma`` (index 0 for +1, 1 for -1) and each
configuration ``c`` there is a ``d~ x m`` block whose columns are the ``u_j``.

With ``Z = Xt u_j`` for every column, the program (see :ref:`math`) is::

    g[o, sigma, c] = sum_j s_cj * D1_cj * Z[o, sigma, c, j]          (n,)
    F[:, o]        = sum_{sigma, c} sigma * D2_c * g[o, sigma, c] + b_o
    min  L(F) + beta * sum ||u_j||_2
    s.t. (2 D1_cj - 1) * Z[o, sigma, c, j] >= 0,   (2 D2_c - 1) * g[o, sigma, c] >= 0

The map ``U -> F`` is applied matrix-free by the program's one operator
(:class:`~skconvexrelu._operator.ProgramOperator`): one ``(n, d~) @ (d~, o*2*P*m)``
product, masks, and sums; its adjoint is the transposed product. The ``n x (2 P m d~)``
feature matrix is never formed.
"""

from functools import cached_property

import numpy as np

from ._operator import ProgramOperator


def _plus_minus(D, dtype):
    """``2 D - 1`` of the boolean array ``D`` in ``dtype``."""
    out = D.astype(dtype)
    out *= 2
    out -= 1
    return out


class ConvexProgram:
    """Data, configurations and the structure of one convex program.

    Parameters
    ----------
    Xt : ndarray of shape (n, d~)
        Data (with its column of ones when a first-layer bias is fitted).
    conf : Configurations
    n_outputs : int
    dtype : numpy dtype, default=float64
    """

    def __init__(self, Xt, conf, n_outputs=1, dtype=np.float64):
        self.Xt = np.ascontiguousarray(Xt, dtype=dtype)
        self.conf = conf
        self.n_outputs = int(n_outputs)
        self.dtype = dtype
        # built in place from the boolean patterns: no (n, P, m) temporaries wider
        # than the working precision
        self.S1 = conf.D1.astype(dtype)  # (n, P, m): s_cj D1_ncj
        self.S1 *= np.asarray(conf.signs, dtype=dtype)[None, :, :]
        self.A1 = _plus_minus(conf.D1, dtype)  # (n, P, m)
        self.D2 = conf.D2.astype(dtype)  # (n, P)
        self.A2 = _plus_minus(conf.D2, dtype)  # (n, P)

    @property
    def n_samples(self):
        return self.Xt.shape[0]

    @property
    def n_features(self):
        return self.Xt.shape[1]

    @property
    def advice_rows(self):
        """The rows advice on the data (conditioning, scaling) is judged from."""
        return self.Xt

    @property
    def shape(self):
        """Shape of the variable array ``U``."""
        P, m = self.conf.signs.shape
        return (self.n_outputs, 2, P, self.n_features, m)

    def zeros(self):
        return np.zeros(self.shape, dtype=self.dtype)

    def sample_subset(self, index):
        """The same program (configurations, outputs, precision) on the samples ``index``."""
        conf = self.conf
        sub = type(conf)(conf.D1[index], conf.signs, conf.D2[index])
        return ConvexProgram(self.Xt[index], sub, self.n_outputs, self.dtype)

    # ------------------------------------------------------------------ linear map
    @cached_property
    def operator(self):
        """The program's linear map (:class:`~skconvexrelu._operator.ProgramOperator`)."""
        return ProgramOperator(self)

    def first_layer(self, U):
        """``Z`` of shape ``(n, o, 2, P, m)``: every column ``Xt u_j``."""
        return self.operator.first_layer(U)

    def second_layer(self, Z):
        """``g`` of shape ``(n, o, 2, P)``: pre-activations of the second ReLU."""
        return self.operator.second_layer(Z)

    def outputs(self, g):
        """``F`` without intercept, shape ``(n, o)``."""
        return self.operator.outputs(g)

    def forward(self, U):
        """``F(U)`` without intercept, shape ``(n, o)``."""
        return self.operator.forward(U)

    def adjoint(self, R):
        """The adjoint of :meth:`forward` applied to ``R`` of shape ``(n, o)``."""
        return self.operator.adjoint(R=np.asarray(R, dtype=self.dtype))

    # ------------------------------------------------------------ penalty, cones
    @staticmethod
    def group_norms(U):
        """``||u_j||_2`` for every column, shape ``(o, 2, P, m)``."""
        return ProgramOperator.colnorms(U)

    def penalty(self, U, beta):
        return float(beta * self.group_norms(U).sum())

    def block_violation(self, U, chunk=8192):
        """The largest violation of each block's cone constraints, shape ``(o, 2, P)``
        (0 where feasible), by chunks of samples."""
        return self.operator.block_violation(U, chunk)

    def column_effect(self, U):
        """``max_i |x~_i . u_j|`` of every column, shape ``(o, 2, P, m)``."""
        return np.abs(self.first_layer(U)).max(axis=0, initial=0.0)

    def round_off_outputs(self, U, small, blocks):
        """The outputs the columns ``small`` (``(o, 2, P, m)`` booleans) of each block
        ``(o, sigma, c)`` in ``blocks`` account for, with the block's output sign:
        shape ``(n, len(blocks))``."""
        Z = self.first_layer(U)
        Z *= small
        g = self.second_layer(Z)  # (n, o, 2, P)
        out = np.empty((self.n_samples, len(blocks)), dtype=g.dtype)
        for k, (o, s, c) in enumerate(blocks):
            out[:, k] = g[:, o, s, c] * self.D2[:, c] * (1.0 if s == 0 else -1.0)
        return out

    def cone_violation(self, U):
        """The largest violation of the cone constraints (0 when feasible)."""
        return float(self.block_violation(U).max(initial=0.0))

    def objective(self, U, b, loss, Y, w, beta):
        """The convex objective ``L(F(U) + b) + beta * sum ||u_j||``."""
        F = self.forward(U) + b
        return loss.value(F, Y, w) + self.penalty(U, beta)


def beta_max(program, R):
    """A ``beta`` from which on the all-zero network is optimal.

    ``R`` is a gradient of the loss at the best constant model
    (:func:`skconvexrelu._losses.constant_model`). The zero solution is optimal as soon
    as ``beta >= max_{c, j} ||Xt^T (D2_c * D1_cj * R)||`` (the cone constraints can only
    help), so this value is exact for the program without cones and an upper bound with
    them.
    """
    R = np.asarray(R, dtype=program.dtype)
    # (n, o, P, m): D2_c * D1_cj * R_o; the sign s_cj does not change the norm.
    M = np.abs(program.S1)[:, None, :, :] * program.D2[:, None, :, None] * R[:, :, None, None]
    G = program.Xt.T @ M.reshape(program.n_samples, -1)
    return float(np.sqrt((G * G).sum(axis=0)).max(initial=0.0))
