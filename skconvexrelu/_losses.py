"""Loss functions (datafits) shared by every solver.

Each loss acts on a matrix of network outputs ``F`` of shape ``(n_samples, n_outputs)``
and an encoded target ``Y`` of the same shape, with normalized sample weights ``w``
(non-negative, summing to one). Its value is ``L(F) = sum_i w_i * loss(F_i, Y_i)``, which
is the ``(1/n) sum_i loss_i`` of the design when all weights are equal.

A loss provides:

- ``value(F, Y, w)``: the weighted loss;
- ``gradient(F, Y, w)``: its gradient with respect to ``F``;
- ``dual(V, Y, w)``: ``-L*(-V)``, minus the Fenchel conjugate at ``-V``; for any ``V``
  and ``F``, ``L(F) >= -<V, F> + dual(V)`` (weak duality, used by certificates);
- ``cvxpy(F, Y, w)``: the same loss as a cvxpy expression;
- ``curvature``: an upper bound on the second derivative of the per-sample loss
  (``None`` for the non-smooth hinge).
"""

import numpy as np
from scipy.special import expit, log_expit, logsumexp, xlogy


class Loss:
    """Base class. Subclasses set ``name`` and implement the methods below."""

    name = None
    curvature = None

    def value(self, F, Y, w):
        raise NotImplementedError

    def gradient(self, F, Y, w):
        raise NotImplementedError

    def dual(self, V, Y, w):
        raise NotImplementedError

    @staticmethod
    def _weighted_rows(V, Y, w):
        """``(V, Y, w)`` on the samples of positive weight, or None when ``V`` is not zero
        on a sample of zero weight (the conjugate of ``0 * l`` is the indicator of
        ``{0}``: the dual function is then ``-inf``)."""
        pos = w > 0
        if pos.all():
            return V, Y, w
        if np.any(V[~pos] != 0):
            return None
        return V[pos], Y[pos], w[pos]

    def cvxpy(self, F, Y, w):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"


class SquaredLoss(Loss):
    """``0.5 * ||f - y||^2``, summed over outputs."""

    name = "squared"
    curvature = 1.0

    def value(self, F, Y, w):
        R = F - Y
        return 0.5 * float(w @ np.sum(R * R, axis=1))

    def gradient(self, F, Y, w):
        return w[:, None] * (F - Y)

    def dual(self, V, Y, w):
        # L*(S) = sum_i w_i (0.5 ||S_i / w_i||^2 + <S_i / w_i, Y_i>)
        rows = self._weighted_rows(V, Y, w)
        if rows is None:
            return -np.inf
        V, Y, w = rows
        return float(np.sum(V * Y) - 0.5 * np.sum(np.sum(V * V, axis=1) / w))

    def cvxpy(self, F, Y, w):
        import cvxpy as cp

        return 0.5 * cp.sum(
            cp.multiply(np.repeat(w[:, None], Y.shape[1], 1), cp.square(F - Y))
        )


class HingeLoss(Loss):
    """``max(0, 1 - y f)`` for ``y`` in {-1, +1}, summed over outputs (one-vs-rest)."""

    name = "hinge"
    curvature = None

    def value(self, F, Y, w):
        return float(w @ np.sum(np.maximum(0.0, 1.0 - Y * F), axis=1))

    def gradient(self, F, Y, w):
        # a subgradient
        return -w[:, None] * Y * (Y * F < 1.0)

    def dual(self, V, Y, w):
        # -L*(-V) = sum_i <V_i, Y_i> when 0 <= V_i Y_i / w_i <= 1, else -inf
        rows = self._weighted_rows(V, Y, w)
        if rows is None:
            return -np.inf
        V, Y, w = rows
        A = V * Y / w[:, None]
        if np.any(A < -1e-12) or np.any(A > 1.0 + 1e-12):
            return -np.inf
        return float(np.sum(V * Y))

    def cvxpy(self, F, Y, w):
        import cvxpy as cp

        W = np.repeat(w[:, None], Y.shape[1], 1)
        return cp.sum(cp.multiply(W, cp.pos(1.0 - cp.multiply(Y, F))))


class LogisticLoss(Loss):
    """Binary cross-entropy ``log(1 + exp(-y f))`` for ``y`` in {-1, +1}, one output."""

    name = "cross_entropy"
    curvature = 0.25

    def value(self, F, Y, w):
        return float(-w @ np.sum(log_expit(Y * F), axis=1))

    def gradient(self, F, Y, w):
        return -w[:, None] * Y * expit(-Y * F)

    def dual(self, V, Y, w):
        # with a = V Y / w in [0, 1]: -L*(-V) = -sum_i w_i (a log a + (1-a) log(1-a))
        rows = self._weighted_rows(V, Y, w)
        if rows is None:
            return -np.inf
        V, Y, w = rows
        A = V * Y / w[:, None]
        if np.any(A < -1e-12) or np.any(A > 1.0 + 1e-12):
            return -np.inf
        A = np.clip(A, 0.0, 1.0)
        return float(-w @ np.sum(xlogy(A, A) + xlogy(1.0 - A, 1.0 - A), axis=1))

    def cvxpy(self, F, Y, w):
        import cvxpy as cp

        W = np.repeat(w[:, None], Y.shape[1], 1)
        return cp.sum(cp.multiply(W, cp.logistic(-cp.multiply(Y, F))))


class SoftmaxLoss(Loss):
    """Multinomial cross-entropy ``logsumexp(f) - f_y``; ``Y`` is one-hot."""

    name = "cross_entropy"
    curvature = 0.5

    def value(self, F, Y, w):
        return float(w @ (logsumexp(F, axis=1) - np.sum(Y * F, axis=1)))

    def gradient(self, F, Y, w):
        P = np.exp(F - logsumexp(F, axis=1, keepdims=True))
        return w[:, None] * (P - Y)

    def dual(self, V, Y, w):
        # with Q = Y - V / w in the simplex: -L*(-V) = -sum_i w_i sum_k Q_ik log Q_ik
        rows = self._weighted_rows(V, Y, w)
        if rows is None:
            return -np.inf
        V, Y, w = rows
        Q = Y - V / w[:, None]
        if np.any(Q < -1e-12) or np.any(np.abs(Q.sum(axis=1) - 1.0) > 1e-9):
            return -np.inf
        Q = np.clip(Q, 0.0, 1.0)
        return float(-w @ np.sum(xlogy(Q, Q), axis=1))

    def cvxpy(self, F, Y, w):
        import cvxpy as cp

        return w @ (cp.log_sum_exp(F, axis=1) - cp.sum(cp.multiply(Y, F), axis=1))


def make_loss(name, n_outputs=1):
    """The loss object for ``name`` (``"squared"``, ``"hinge"``, ``"cross_entropy"``).

    ``"cross_entropy"`` is the logistic loss for one output and the softmax loss for more.
    """
    if name == "squared":
        return SquaredLoss()
    if name == "hinge":
        return HingeLoss()
    if name == "cross_entropy":
        return LogisticLoss() if n_outputs == 1 else SoftmaxLoss()
    raise ValueError(
        f"Unknown loss {name!r}; expected one of 'squared', 'hinge', 'cross_entropy'."
    )


def constant_model(loss, Y, w, fit_intercept=True):
    """The best constant output ``b`` and a gradient ``R`` of the loss there.

    This is the solution when every block of the convex program is zero. ``R`` is a
    (sub)gradient of ``L`` at ``F = b`` with ``R.sum(axis=0) == 0`` when ``b`` is fitted,
    which certifies that ``b`` is optimal.

    Returns
    -------
    b : ndarray of shape (n_outputs,)
    R : ndarray of shape (n, n_outputs)
    """
    n, o = Y.shape
    b = np.zeros(o)
    if not fit_intercept:
        return b, loss.gradient(np.zeros_like(Y, dtype=float), Y, w)
    if isinstance(loss, SquaredLoss):
        b = w @ Y
    elif isinstance(loss, LogisticLoss):
        p = np.clip(w @ (Y > 0), 1e-12, 1 - 1e-12)
        b = np.log(p / (1 - p))
    elif isinstance(loss, SoftmaxLoss):
        p = np.clip(w @ Y, 1e-300, None)
        b = np.log(p) - np.log(p).mean()
    elif isinstance(loss, HingeLoss):
        R = np.empty((n, o))
        for k in range(o):
            pos = w @ (Y[:, k] > 0)
            major = 1.0 if pos >= 0.5 else -1.0
            b[k] = major
            is_major = Y[:, k] == major
            w_min = w[~is_major].sum()
            w_maj = w[is_major].sum()
            R[:, k] = -w * Y[:, k]
            R[is_major, k] *= w_min / w_maj if w_maj > 0 else 0.0
        return b, R
    F = np.broadcast_to(b, Y.shape)
    return b, loss.gradient(F, Y, w)
