"""Loss functions (datafits) shared by every solver.

Each loss acts on a matrix of network outputs ``F`` of shape ``(n_samples, n_outputs)``
and an encoded target ``Y`` of the same shape, with normalized sample weights ``w``
(non-negative, summing to one). Its value is ``L(F) = sum_i w_i * loss(F_i, Y_i)``, which
is the ``(1/n) sum_i loss_i`` of the design when all weights are equal.

Every loss is a subclass of :class:`Loss` and provides one protocol:

- ``value(F, Y, w)``: the weighted loss;
- ``gradient(F, Y, w)``: its gradient with respect to ``F`` (a subgradient for the hinge);
- ``dual(V, Y, w)``: ``-L*(-V)``, minus the Fenchel conjugate at ``-V``; for any ``V``
  and ``F``, ``L(F) >= -<V, F> + dual(V)`` (weak duality, used by certificates);
  ``in_dual_domain(V, Y, w)`` says whether it is finite;
- ``cvxpy(F, Y, w)`` and ``torch(F, Y, w)``: the same loss as a cvxpy expression and as
  a differentiable torch expression;
- ``value_grad(F, Y, W, be)``: value and gradient on the arrays of an array backend
  (:mod:`skconvexrelu._backend`), ``W`` the weights repeated per output;
- ``center(r, Y, w)``: a dual point whose columns sum to zero (the dual of a program with
  a fitted intercept requires it) and that stays in the conjugate's domain;
- ``constant_model(Y, w, fit_intercept)``: the best constant output and a gradient there;
- the pieces of the interior-point method (:class:`LossModel`): ``derivatives`` (with a
  barrier-smoothed hinge), ``hess_apply``, ``full_curvature``, ``hbb``,
  ``polish_intercept`` and ``balance``.

Traits:

- ``curvature``: the Lipschitz constant of the per-sample gradient (an upper bound on the
  second derivative of the per-sample loss; ``None`` for the non-smooth hinge);
- ``smooth``: False for losses without a gradient everywhere (hinge);
- ``constant_curvature``: True when the Hessian does not depend on ``F`` (squared);
- ``shift_invariant``: True when adding the same constant to every output of a sample
  leaves the loss unchanged (softmax);
- ``targets``: the encoding of ``Y`` the loss expects: ``"real"``, ``"signs"`` (-1/+1)
  or ``"one_hot"``.

A new loss is one subclass; it joins :data:`LOSS_CLASSES`, over which the tests of the
protocol (finite-difference gradient, conjugate) run.
"""

import numpy as np
from scipy.special import expit, log_expit, xlogy

__all__ = [
    "LOSS_CLASSES",
    "HingeLoss",
    "LogisticLoss",
    "Loss",
    "LossModel",
    "SoftmaxLoss",
    "SquaredLoss",
    "constant_model",
    "make_loss",
]

#: every concrete loss class, in the order of definition
LOSS_CLASSES = []


class Loss:
    """Base class of the losses. Subclasses implement the protocol of the module."""

    name = None
    curvature = None
    smooth = True
    constant_curvature = False
    shift_invariant = False
    targets = "real"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        LOSS_CLASSES.append(cls)

    # ------------------------------------------------------------------ values
    def value(self, F, Y, w):
        raise NotImplementedError

    def gradient(self, F, Y, w):
        raise NotImplementedError

    def value_grad(self, F, Y, W, be):
        """``(value, gradient)`` on backend arrays; ``W`` is ``w`` repeated per output."""
        raise NotImplementedError

    def cvxpy(self, F, Y, w):
        raise NotImplementedError

    def torch(self, F, Y, w):
        """The loss of torch tensors as a differentiable torch scalar."""
        raise NotImplementedError

    # -------------------------------------------------------------------- dual
    def dual(self, V, Y, w):
        """``-L*(-V)``; ``-inf`` outside the domain (:meth:`in_dual_domain`)."""
        rows = self._weighted_rows(V, Y, w)
        if rows is None or not self._in_domain(*rows):
            return -np.inf
        return self._dual_value(*rows)

    def in_dual_domain(self, V, Y, w):
        """Whether ``dual(V)`` is finite (``-V`` is in the domain of the conjugate)."""
        rows = self._weighted_rows(V, Y, w)
        return rows is not None and bool(self._in_domain(*rows))

    def _in_domain(self, V, Y, w):
        """Domain check on the samples of positive weight."""
        return True

    def _dual_value(self, V, Y, w):
        """``-L*(-V)`` on the samples of positive weight, ``V`` in the domain."""
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

    def center(self, r, Y, w):
        """``r`` (a dual point) changed so that ``sum_i r_i = 0``, staying in the domain
        of the conjugate. At an exact optimum with a fitted intercept ``r`` already sums
        to zero; this removes a solver's round-off."""
        raise NotImplementedError

    # --------------------------------------------------------- constant model
    def constant_model(self, Y, w, fit_intercept=True):
        """The best constant output ``b`` and a gradient ``R`` of the loss there.

        ``R`` is a (sub)gradient of ``L`` at ``F = b`` with ``R.sum(axis=0) == 0`` when
        ``b`` is fitted, which certifies that ``b`` is optimal. Without an intercept
        ``b = 0``.
        """
        b = np.zeros(Y.shape[1])
        if not fit_intercept:
            return b, self.gradient(np.zeros_like(Y, dtype=float), Y, w)
        b = self._best_constant(Y, w)
        F = np.broadcast_to(b, Y.shape)
        return b, self.gradient(F, Y, w)

    def _best_constant(self, Y, w):
        """The minimizer ``b`` of ``L(b)`` over constant outputs."""
        raise NotImplementedError

    # ------------------------------------------------- interior-point pieces
    def derivatives(self, F, Y, W, mu):
        """``r = -dL_mu/dF`` (n, o), the diagonal curvature ``Dd`` (n, o) and the
        softmax probabilities (None for other losses); ``mu`` is the barrier parameter
        of a non-smooth loss's smoothing (ignored by smooth losses)."""
        raise NotImplementedError

    def hess_apply(self, Fv, Dd, Pm, W):
        """The loss Hessian applied to ``Fv`` (n, o)."""
        return Dd * Fv

    def full_curvature(self, Pm, w):
        """Per-sample ``o x o`` curvature blocks when outputs are coupled, else None."""
        return None

    def hbb(self, Dd, Pm, w):
        """The intercept block ``sum_i D_i`` (o, o)."""
        return np.diag(Dd.sum(0))

    def polish_intercept(self, F0, b, Y, w, W, n_steps=30):
        """The optimal intercept for fixed outputs ``F0``: damped Newton steps."""
        b = np.array(b, dtype=np.float64)
        val = self.value(F0 + b, Y, w)
        for _ in range(n_steps):
            r, Dd, Pm = self.derivatives(F0 + b, Y, W, 0.0)
            gr = -r.sum(0)
            if np.max(np.abs(gr)) < 1e-15:
                break
            H = self.hbb(Dd, Pm, w) + 1e-14 * np.eye(len(b))
            step = -np.linalg.lstsq(H, gr, rcond=None)[0]
            t = 1.0
            while t > 1e-10:
                nb = b + t * step
                nv = self.value(F0 + nb, Y, w)
                if nv <= val + 1e-4 * t * float(gr @ step):
                    break
                t *= 0.5
            else:
                break
            b, val = nb, nv
        return b

    def balance(self, r, Y):
        """``r`` with ``sum_i r_i = 0`` when the intercept's optimality is not exact in
        ``r`` (non-smooth losses); smooth losses reach it by the intercept polish and
        return ``r`` unchanged. May change ``r`` in place."""
        return r

    def __repr__(self):
        return f"{type(self).__name__}()"


def _shrink_heavier_side(V):
    """Scale down, per column, the entries of the sign with the larger total so that the
    column sums to zero (entries ``w_i a_i y_i`` with ``a_i`` in [0, 1] stay there)."""
    for o in range(V.shape[1]):
        pos, neg = V[:, o] > 0, V[:, o] < 0
        P, N = V[pos, o].sum(), -V[neg, o].sum()
        if P > N:
            V[pos, o] *= N / P
        elif N > P:
            V[neg, o] *= P / N
    return V


def _in_unit_box(V, Y, w):
    """``0 <= V Y / w <= 1`` (up to round-off): the domain of the margin losses."""
    A = V * Y / w[:, None]
    return not (np.any(A < -1e-12) or np.any(A > 1.0 + 1e-12))


class SquaredLoss(Loss):
    """``0.5 * ||f - y||^2``, summed over outputs."""

    name = "squared"
    curvature = 1.0
    constant_curvature = True
    targets = "real"

    def value(self, F, Y, w):
        R = F - Y
        return 0.5 * float(w @ np.sum(R * R, axis=1))

    def gradient(self, F, Y, w):
        return w[:, None] * (F - Y)

    def value_grad(self, F, Y, W, be):
        R = F - Y
        G = W * R
        return 0.5 * be.vdot(G, R), G

    def _dual_value(self, V, Y, w):
        # L*(S) = sum_i w_i (0.5 ||S_i / w_i||^2 + <S_i / w_i, Y_i>)
        return float(np.sum(V * Y) - 0.5 * np.sum(np.sum(V * V, axis=1) / w))

    def cvxpy(self, F, Y, w):
        import cvxpy as cp

        return 0.5 * cp.sum(
            cp.multiply(np.repeat(w[:, None], Y.shape[1], 1), cp.square(F - Y))
        )

    def torch(self, F, Y, w):
        return 0.5 * (w * ((F - Y) ** 2).sum(1)).sum()

    def center(self, r, Y, w):
        return r - w[:, None] * (r.sum(axis=0) / w.sum())

    def _best_constant(self, Y, w):
        return w @ Y

    def derivatives(self, F, Y, W, mu):
        return W * (Y - F), W.copy(), None

    def polish_intercept(self, F0, b, Y, w, W, n_steps=30):
        """Closed form: the weighted mean residual."""
        return (W * (Y - F0)).sum(0) / np.maximum(W.sum(0), 1e-300)


class HingeLoss(Loss):
    """``max(0, 1 - y f)`` for ``y`` in {-1, +1}, summed over outputs (one-vs-rest).

    Not smooth: the interior-point method replaces ``w max(0, h)``, ``h = 1 - y f``, by
    its barrier smoothing ``min_xi w xi - mu log(xi) - mu log(xi - h)`` (closed form),
    whose derivative ``alpha = mu / (xi - h)`` lies in ``(0, w)``: it is the hinge's dual
    variable.
    """

    name = "hinge"
    curvature = None
    smooth = False
    targets = "signs"

    def value(self, F, Y, w):
        return float(w @ np.sum(np.maximum(0.0, 1.0 - Y * F), axis=1))

    def gradient(self, F, Y, w):
        # a subgradient
        return -w[:, None] * Y * (Y * F < 1.0)

    def value_grad(self, F, Y, W, be):
        YF = Y * F
        return be.vdot(W, be.pos(1.0 - YF)), be.where(YF < 1.0, -W * Y, W * 0.0)

    def _in_domain(self, V, Y, w):
        return _in_unit_box(V, Y, w)

    def _dual_value(self, V, Y, w):
        # -L*(-V) = sum_i <V_i, Y_i> when 0 <= V_i Y_i / w_i <= 1, else -inf
        return float(np.sum(V * Y))

    def cvxpy(self, F, Y, w):
        import cvxpy as cp

        W = np.repeat(w[:, None], Y.shape[1], 1)
        return cp.sum(cp.multiply(W, cp.pos(1.0 - cp.multiply(Y, F))))

    def torch(self, F, Y, w):
        import torch

        return (w * torch.relu(1.0 - Y * F).sum(1)).sum()

    def center(self, r, Y, w):
        return _shrink_heavier_side(np.array(r, dtype=np.float64))

    def constant_model(self, Y, w, fit_intercept=True):
        # the majority label of each output, with the majority's multipliers scaled so
        # that both labels weigh the same (a subgradient at the kink)
        if not fit_intercept:
            return super().constant_model(Y, w, fit_intercept)
        n, o = Y.shape
        b = np.zeros(o)
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

    def derivatives(self, F, Y, W, mu):
        pos = W > 0
        Ws = np.where(pos, W, 1.0)
        wh = Ws * (1.0 - Y * F)
        sq = np.sqrt(wh * wh + 4.0 * mu * mu)
        e = np.where(wh > 0, 4.0 * mu * mu / (sq + np.abs(wh)), sq - wh)  # sq - wh
        xi_minus_h = (2.0 * mu + e) / (2.0 * Ws)
        alpha = mu / xi_minus_h
        one_minus = np.where(wh > 0, 2.0 * mu * mu / (sq * (sq + wh)), 0.5 * (1.0 - wh / sq))
        curv = mu * one_minus / xi_minus_h**2
        alpha = np.where(pos, np.minimum(alpha, W), 0.0)
        curv = np.where(pos, curv, 0.0)
        return Y * alpha, curv, None

    def polish_intercept(self, F0, b, Y, w, W, n_steps=30):
        """Unchanged: the hinge intercept's optimality is handled by :meth:`balance`."""
        return b

    def balance(self, r, Y):
        # alpha in [0, w]: scale down the side with the larger total so sum_i r_i = 0
        for k in range(r.shape[1]):
            pos = Y[:, k] > 0
            sp, sn = r[pos, k].sum(), -r[~pos, k].sum()
            if sp > sn and sp > 0:
                r[pos, k] *= sn / sp
            elif sn > sp and sn > 0:
                r[~pos, k] *= sp / sn
        return r


class LogisticLoss(Loss):
    """Binary cross-entropy ``log(1 + exp(-y f))`` for ``y`` in {-1, +1}, one output."""

    name = "cross_entropy"
    curvature = 0.25
    targets = "signs"

    def value(self, F, Y, w):
        return float(-w @ np.sum(log_expit(Y * F), axis=1))

    def gradient(self, F, Y, w):
        return -w[:, None] * Y * expit(-Y * F)

    def value_grad(self, F, Y, W, be):
        YF = Y * F
        return -be.vdot(W, be.log_expit(YF)), -W * Y * be.expit(-YF)

    def _in_domain(self, V, Y, w):
        return _in_unit_box(V, Y, w)

    def _dual_value(self, V, Y, w):
        # with a = V Y / w in [0, 1]: -L*(-V) = -sum_i w_i (a log a + (1-a) log(1-a))
        A = np.clip(V * Y / w[:, None], 0.0, 1.0)
        return float(-w @ np.sum(xlogy(A, A) + xlogy(1.0 - A, 1.0 - A), axis=1))

    def cvxpy(self, F, Y, w):
        import cvxpy as cp

        W = np.repeat(w[:, None], Y.shape[1], 1)
        return cp.sum(cp.multiply(W, cp.logistic(-cp.multiply(Y, F))))

    def torch(self, F, Y, w):
        import torch

        return -(w * torch.nn.functional.logsigmoid(Y * F).sum(1)).sum()

    def center(self, r, Y, w):
        return _shrink_heavier_side(np.array(r, dtype=np.float64))

    def _best_constant(self, Y, w):
        p = np.clip(w @ (Y > 0), 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))

    def derivatives(self, F, Y, W, mu):
        p = expit(-Y * F)
        return W * Y * p, W * p * (1.0 - p), None


def _logsumexp(F):
    """``log(sum(exp(F), axis=1))`` as an ``(n, 1)`` column, shifted by the row maximum;
    plain NumPy: scipy's version costs more in argument handling than in arithmetic on
    the small arrays of each step."""
    top = F.max(axis=1, keepdims=True)
    return top + np.log(np.exp(F - top).sum(axis=1, keepdims=True))


class SoftmaxLoss(Loss):
    """Multinomial cross-entropy ``logsumexp(f) - f_y``; ``Y`` is one-hot."""

    name = "cross_entropy"
    curvature = 0.5
    shift_invariant = True
    targets = "one_hot"

    def value(self, F, Y, w):
        return float(w @ (_logsumexp(F)[:, 0] - np.sum(Y * F, axis=1)))

    def gradient(self, F, Y, w):
        P = np.exp(F - _logsumexp(F))
        return w[:, None] * (P - Y)

    def value_grad(self, F, Y, W, be):
        lse = be.logsumexp(F, axis=1)
        val = be.vdot(W[:, :1], lse) - be.vdot(W, Y * F)
        return val, W * be.exp(F - lse) - W * Y

    def _in_domain(self, V, Y, w):
        Q = Y - V / w[:, None]
        return not (np.any(Q < -1e-12) or np.any(np.abs(Q.sum(axis=1) - 1.0) > 1e-9))

    def _dual_value(self, V, Y, w):
        # with Q = Y - V / w in the simplex: -L*(-V) = -sum_i w_i sum_k Q_ik log Q_ik
        Q = np.clip(Y - V / w[:, None], 0.0, 1.0)
        return float(-w @ np.sum(xlogy(Q, Q), axis=1))

    def cvxpy(self, F, Y, w):
        import cvxpy as cp

        return w @ (cp.log_sum_exp(F, axis=1) - cp.sum(cp.multiply(Y, F), axis=1))

    def torch(self, F, Y, w):
        import torch

        return (w * (torch.logsumexp(F, 1) - (Y * F).sum(1))).sum()

    def center(self, r, Y, w):
        # r_i = w_i (Y_i - Q_i) with Q_i in the simplex; make sum_i w_i Q_i = sum_i w_i Y_i
        Q = Y - r / w[:, None]
        p = w @ Y
        Q = Q + (p - w @ Q)  # right average, rows still sum to one, maybe negative
        low = Q.min()
        if low < 0:
            lam = -low / (p.min() - low) if p.min() > 0 else 1.0
            Q = (1 - lam) * Q + lam * p
        return w[:, None] * (Y - np.clip(Q, 0.0, None))

    def _best_constant(self, Y, w):
        p = np.clip(w @ Y, 1e-300, None)
        return np.log(p) - np.log(p).mean()

    def derivatives(self, F, Y, W, mu):
        Pm = np.exp(F - _logsumexp(F))
        return W * (Y - Pm), W * Pm * (1.0 - Pm), Pm

    def hess_apply(self, Fv, Dd, Pm, W):
        return W * (Pm * Fv - Pm * np.sum(Pm * Fv, axis=1, keepdims=True))

    def full_curvature(self, Pm, w):
        if Pm is None:
            return None
        return w[:, None, None] * (
            np.einsum("na,ab->nab", Pm, np.eye(Pm.shape[1])) - Pm[:, :, None] * Pm[:, None, :]
        )

    def hbb(self, Dd, Pm, w):
        return np.diag(w @ Pm) - np.einsum("n,na,nb->ab", w, Pm, Pm)


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

    This is the solution when every block of the convex program is zero
    (:meth:`Loss.constant_model`).

    Returns
    -------
    b : ndarray of shape (n_outputs,)
    R : ndarray of shape (n, n_outputs)
    """
    return loss.constant_model(Y, w, fit_intercept)


class LossModel:
    """The loss as the interior-point method sees it: the loss with its target ``Y``,
    weights ``w`` and the weights repeated per output ``W``.

    Smooth losses are used as they are; a non-smooth loss (hinge) is replaced by its
    barrier smoothing with parameter ``mu`` (:meth:`HingeLoss.derivatives`).
    """

    def __init__(self, loss, Y, w):
        self.loss = loss
        self.Y = Y
        self.w = w
        self.W = np.repeat(w[:, None], Y.shape[1], axis=1)

    def derivatives(self, F, mu):
        """``r = -dL_mu/dF`` (n, o), the diagonal curvature ``Dd`` (n, o), and the softmax
        probabilities ``Pm`` (None for other losses)."""
        return self.loss.derivatives(F, self.Y, self.W, mu)

    def hess_apply(self, Fv, Dd, Pm):
        """The loss Hessian applied to ``Fv`` (n, o)."""
        return self.loss.hess_apply(Fv, Dd, Pm, self.W)

    def full_curvature(self, Pm):
        """Per-sample ``o x o`` curvature blocks of coupled outputs (None otherwise)."""
        return self.loss.full_curvature(Pm, self.w)

    def hbb(self, Dd, Pm):
        """The intercept block ``sum_i D_i`` (o, o)."""
        return self.loss.hbb(Dd, Pm, self.w)

    def polish_intercept(self, F0, b, n_steps=30):
        """The optimal intercept for fixed outputs ``F0`` (Newton; closed form for squared).

        A non-smooth loss's intercept is returned unchanged (its optimality is handled by
        :meth:`dual_point`)."""
        return self.loss.polish_intercept(F0, b, self.Y, self.w, self.W, n_steps)

    def dual_point(self, F, mu, fit_intercept):
        """A point ``r`` in the domain of ``loss.dual`` with ``sum_i r_i = 0`` when an
        intercept is fitted (up to the precision of the intercept polish)."""
        return self.balance(self.derivatives(F, mu)[0], fit_intercept)

    def balance(self, r, fit_intercept):
        """A float64 copy of ``r``; for a non-smooth loss with an intercept, one class's
        multipliers are scaled so that ``sum_i r_i = 0``."""
        r = np.array(r, dtype=np.float64)
        if fit_intercept:
            r = self.loss.balance(r, self.Y)
        return r
