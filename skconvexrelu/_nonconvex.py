"""The non-convex three-layer ReLU model and its projected-Adam trainer.

The model (doc/math.rst, "The network") is ``K`` parallel sub-networks

    f(x) = sum_k relu(relu(x~ W1_k) w2_k) w3_k + b

where sub-network ``k`` feeds the single output ``k % n_outputs`` (so the architecture
matches the blocks of the convex program), trained on

    loss.value(F, Y, w) + (beta / 2) * sum_k (||w2_k||^2 + w3_k^2)
    s.t. ||W1_k||_F <= 1    (bias row included)

It serves as a baseline, as a source of configurations to seed the convex program
(:func:`network_configurations`) and as a way to express any such network in
scikit-learn's MLP layout (:func:`to_mlp_layout`).

>>> import numpy as np
>>> from skconvexrelu._losses import SquaredLoss
>>> from skconvexrelu._nonconvex import objective, train_adam
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(40, 3))
>>> Xt = np.hstack([X, np.ones((40, 1))])
>>> Y = np.abs(X[:, :1]) - 0.5
>>> w = np.full(40, 1 / 40)
>>> net, history = train_adam(Xt, Y, w, SquaredLoss(), beta=1e-3, n_steps=200,
...                           random_state=0)
>>> bool(np.isclose(objective(net, Xt, Y, w, SquaredLoss(), 1e-3),
...                 history["objective"].min()))
True
"""

import time
from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state

from ._arrangements import configurations_from_networks

_PARAMS = ("W1", "w2", "w3", "b")


@dataclass
class NonConvexNetwork:
    """Weights of ``K`` sub-networks of width ``m`` on ``d~`` input features.

    Attributes
    ----------
    W1 : ndarray of shape (K, d~, m)
        First-layer weights, bias as the last row when the data carry a column of ones.
    w2 : ndarray of shape (K, m)
        Second-layer weights.
    w3 : ndarray of shape (K,)
        Output weight of each sub-network.
    b : ndarray of shape (n_outputs,)
        Output intercept (unregularized).
    n_outputs : int
        Number of outputs; sub-network ``k`` feeds output ``k % n_outputs``.
    """

    W1: np.ndarray
    w2: np.ndarray
    w3: np.ndarray
    b: np.ndarray
    n_outputs: int

    @property
    def n_subnetworks(self):
        return self.W1.shape[0]

    @property
    def width(self):
        return self.W1.shape[2]

    def outputs_index(self):
        """The output fed by each sub-network, shape ``(K,)``."""
        return np.arange(self.n_subnetworks) % self.n_outputs

    def copy(self):
        return NonConvexNetwork(
            *(np.array(getattr(self, p), dtype=float) for p in _PARAMS), self.n_outputs
        )


def init_network(n_subnetworks, n_features_tilde, width, n_outputs, random_state=None):
    """A random network: each ``W1_k`` Gaussian scaled to unit Frobenius norm,
    ``w2, w3 ~ N(0, 1/width)`` and a zero intercept."""
    rng = check_random_state(random_state)
    W1 = rng.standard_normal((n_subnetworks, n_features_tilde, width))
    W1 /= np.maximum(np.linalg.norm(W1, axis=(1, 2)), 1e-300)[:, None, None]
    scale = 1.0 / np.sqrt(width)
    w2 = scale * rng.standard_normal((n_subnetworks, width))
    w3 = scale * rng.standard_normal(n_subnetworks)
    return NonConvexNetwork(W1, w2, w3, np.zeros(n_outputs), int(n_outputs))


def _output_matrix(net):
    """``(K, n_outputs)`` matrix with ``w3_k`` in column ``k % n_outputs``."""
    W3 = np.zeros((net.n_subnetworks, net.n_outputs))
    W3[np.arange(net.n_subnetworks), net.outputs_index()] = net.w3
    return W3


#: up to this many sub-networks the second layer is one product with the block-diagonal
#: ``(K m, K)`` matrix of ``w2`` (K times the multiply-adds of the per-block sums, but a
#: BLAS product: faster on the seed's mini-batches)
_BLOCK_DIAGONAL_MAX = 16


def _second_layer_matrix(w2):
    """The block-diagonal ``(K m, K)`` matrix with ``w2_k`` in rows ``k m .. k m + m - 1``
    of column ``k``, or None beyond ``_BLOCK_DIAGONAL_MAX`` sub-networks."""
    K, m = w2.shape
    if K > _BLOCK_DIAGONAL_MAX:
        return None
    B2 = np.zeros((K, m, K), dtype=w2.dtype)
    B2[np.arange(K), :, np.arange(K)] = w2
    return B2.reshape(K * m, K)


def _forward_cache(net, Xt):
    """``(Z, H, G, A, F, B2)``: first-layer pre-activations and activations ``(n, K m)``,
    second-layer ones ``(n, K)``, the outputs and :func:`_second_layer_matrix`."""
    n = Xt.shape[0]
    K, d, m = net.W1.shape
    Z = Xt @ net.W1.transpose(1, 0, 2).reshape(d, K * m)
    H = np.maximum(Z, 0.0)
    B2 = _second_layer_matrix(net.w2)
    if B2 is None:
        G = np.einsum("nkm,km->nk", H.reshape(n, K, m), net.w2)
    else:
        G = H @ B2
    A = np.maximum(G, 0.0)
    F = A @ _output_matrix(net) + net.b
    return Z, H, G, A, F, B2


def forward(net, Xt):
    """Outputs ``F`` of shape ``(n, n_outputs)`` of the network on ``Xt`` (n, d~)."""
    return _forward_cache(net, np.asarray(Xt, dtype=float))[4]


def _penalty(net, beta):
    w2 = net.w2.ravel()
    return 0.5 * beta * float(w2 @ w2 + net.w3 @ net.w3)


def objective(net, Xt, Y, w, loss, beta):
    """``loss.value(F, Y, w) + (beta/2) * sum_k(||w2_k||^2 + w3_k^2)``."""
    return loss.value(forward(net, Xt), Y, w) + _penalty(net, beta)


def objective_and_gradient(net, Xt, Y, w, loss, beta):
    """The objective and its gradient (a subgradient at kinks), by backpropagation.

    Returns
    -------
    value : float
    grad : NonConvexNetwork
        Gradients with respect to ``W1``, ``w2``, ``w3`` and ``b``.
    """
    Xt = np.asarray(Xt, dtype=float)
    Z, H, G, A, F, B2 = _forward_cache(net, Xt)
    value = loss.value(F, Y, w) + _penalty(net, beta)
    dF = loss.gradient(F, Y, w)
    n = Xt.shape[0]
    K, d, m = net.W1.shape
    dS = dF if net.n_outputs == 1 else dF[:, net.outputs_index()]  # d/d(A_k w3_k)
    dw3 = np.einsum("nk,nk->k", dS, A) + beta * net.w3
    dG = dS * net.w3
    dG *= G > 0
    if B2 is None:
        dw2 = np.einsum("nk,nkm->km", dG, H.reshape(n, K, m))
        dZ = (dG[:, :, None] * net.w2[None]).reshape(n, K * m)
    else:
        dw2 = (H.T @ dG).reshape(K, m, K)[np.arange(K), :, np.arange(K)]
        dZ = dG @ B2.T
    dZ *= Z > 0
    dW1 = (Xt.T @ dZ).reshape(d, K, m).transpose(1, 0, 2)
    grad = NonConvexNetwork(dW1, dw2 + beta * net.w2, dw3, dF.sum(axis=0), net.n_outputs)
    return value, grad


def _project(W1):
    """Project each ``W1_k`` onto the unit Frobenius ball, in place."""
    norms = (W1 * W1).sum((1, 2)) ** 0.5
    W1 /= norms.clip(min=1.0)[:, None, None]


class _NumpyEngine:
    """Objective, gradient and conversions for the numpy backend."""

    def __init__(self, Xt, Y, w, loss, beta, n_outputs):
        self.Xt, self.Y, self.w = Xt, Y, w
        self.loss, self.beta, self.n_outputs = loss, beta, n_outputs

    def to_params(self, net):
        return [np.array(getattr(net, p), dtype=float) for p in _PARAMS]

    def copy_params(self, params):
        return [p.copy() for p in params]

    def to_network(self, params):
        return NonConvexNetwork(*(np.array(p) for p in params), self.n_outputs)

    def full_objective(self, params):
        net = NonConvexNetwork(*params, self.n_outputs)
        return objective(net, self.Xt, self.Y, self.w, self.loss, self.beta)

    def batch(self, idx):
        """The data of a mini-batch, weights renormalized (all data if ``idx`` is None)."""
        if idx is None:
            return self.Xt, self.Y, self.w
        w = self.w[idx]
        total = float(w.sum())
        return self.Xt[idx], self.Y[idx], (w / total if total > 0 else w)

    def objective_and_gradient(self, params, idx):
        net = NonConvexNetwork(*params, self.n_outputs)
        Xt, Y, w = self.batch(idx)
        value, grad = objective_and_gradient(net, Xt, Y, w, self.loss, self.beta)
        return value, [getattr(grad, p) for p in _PARAMS]


class _TorchEngine(_NumpyEngine):
    """The same computations on torch tensors (autograd for the gradient)."""

    def __init__(self, Xt, Y, w, loss, beta, n_outputs, device):
        import torch

        self.torch = torch
        self.device = torch.device(device if device is not None else "cpu")
        super().__init__(
            self.tensor(Xt), self.tensor(Y), self.tensor(w), loss, beta, n_outputs
        )

    def tensor(self, a):
        return self.torch.as_tensor(np.asarray(a, dtype=float), device=self.device)

    def to_params(self, net):
        return [self.tensor(getattr(net, p)).clone() for p in _PARAMS]

    def copy_params(self, params):
        return [p.clone() for p in params]

    def to_network(self, params):
        return NonConvexNetwork(
            *(p.detach().cpu().numpy().copy() for p in params), self.n_outputs
        )

    def _value(self, params, Xt, Y, w):
        torch = self.torch
        W1, w2, w3, b = params
        K, d, m = W1.shape
        H = torch.relu(Xt @ W1.permute(1, 0, 2).reshape(d, K * m)).reshape(-1, K, m)
        A = torch.relu((H * w2).sum(-1))
        W3 = torch.zeros(K, self.n_outputs, dtype=w3.dtype, device=w3.device)
        idx = torch.arange(K, device=w3.device)
        W3 = W3.index_put((idx, idx % self.n_outputs), w3)
        F = A @ W3 + b
        return self.loss.torch(F, Y, w) + 0.5 * self.beta * ((w2 * w2).sum() + (w3 * w3).sum())

    def full_objective(self, params):
        with self.torch.no_grad():
            return float(self._value(params, self.Xt, self.Y, self.w))

    def objective_and_gradient(self, params, idx):
        if idx is not None:
            idx = self.torch.as_tensor(idx, device=self.device)
        Xt, Y, w = self.batch(idx)
        leaves = [p.detach().requires_grad_(True) for p in params]
        value = self._value(leaves, Xt, Y, w)
        grads = self.torch.autograd.grad(value, leaves)
        return float(value.detach()), list(grads)


def _make_engine(backend, Xt, Y, w, loss, beta, device):
    """The engine of ``backend`` ("numpy" or "torch") on the training data."""
    n_outputs = Y.shape[1]
    if backend == "numpy":
        return _NumpyEngine(Xt, Y, w, loss, beta, n_outputs)
    if backend == "torch":
        return _TorchEngine(Xt, Y, w, loss, beta, n_outputs, device)
    raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}.")


def _starting_network(init, n_subnetworks, n_features_tilde, width, n_outputs, rng):
    """A copy of ``init``, or a random network drawn from ``rng`` when it is None."""
    if init is None:
        return init_network(n_subnetworks, n_features_tilde, width, n_outputs, rng)
    return init.copy()


class _Batches:
    """Mini-batches of ``batch_size`` rows, reshuffled by ``rng`` at every epoch.

    ``full`` is True when every step uses all the data (``batch_size`` None or at least
    ``n``); then :meth:`next` is never called.
    """

    def __init__(self, n, batch_size, rng):
        self.full = batch_size is None or batch_size >= n
        self.n, self.size, self.rng = n, batch_size, rng
        self.order, self.pos = np.arange(n), n

    def next(self):
        """Row indices of the next mini-batch."""
        if self.pos + self.size > self.n:
            self.order, self.pos = self.rng.permutation(self.n), 0
        idx = self.order[self.pos : self.pos + self.size]
        self.pos += self.size
        return idx


class _Recorder:
    """The recorded full-data objectives and a copy of the best iterate so far."""

    def __init__(self, engine):
        self.engine = engine
        self.times, self.objectives, self.steps = [], [], []
        self.best_value, self.best = np.inf, None
        self.start = time.perf_counter()

    def elapsed(self):
        return time.perf_counter() - self.start

    def record(self, step, value, params):
        self.times.append(self.elapsed())
        self.objectives.append(value)
        self.steps.append(step)
        if self.best is None or value < self.best_value:  # a nan never replaces a number
            self.best_value, self.best = value, self.engine.copy_params(params)

    def history(self):
        return {
            "time": np.asarray(self.times),
            "objective": np.asarray(self.objectives),
            "step": np.asarray(self.steps, dtype=int),
        }


class _Adam:
    """Bias-corrected Adam on the trained parameters, then the projection of ``W1``."""

    def __init__(self, params, fit_intercept, learning_rate, betas, eps, decay_steps=None):
        self.trained = [0, 1, 2, 3] if fit_intercept else [0, 1, 2]
        self.m1 = [params[i] * 0 for i in range(4)]
        self.m2 = [params[i] * 0 for i in range(4)]
        self.learning_rate, self.betas, self.eps = learning_rate, betas, eps
        self.decay_steps = decay_steps

    def rate(self, step):
        """The step size of step ``step``: constant, or with ``decay_steps`` a cosine
        from ``learning_rate`` down to 1% of it at that step."""
        if not self.decay_steps:
            return self.learning_rate
        t = min(step / self.decay_steps, 1.0)
        return self.learning_rate * (0.01 + 0.99 * 0.5 * (1.0 + np.cos(np.pi * t)))

    def update(self, params, grads, step):
        """Step number ``step`` (from 1) on ``params``, in place."""
        b1, b2 = self.betas
        m1, m2 = self.m1, self.m2
        c1, c2 = 1.0 - b1**step, 1.0 - b2**step
        lr = self.rate(step)
        for i in self.trained:  # in place: the moments and parameters are this run's own
            g = grads[i]
            m1[i] *= b1
            m1[i] += (1.0 - b1) * g
            m2[i] *= b2
            m2[i] += (1.0 - b2) * (g * g)
            denom = (m2[i] * (1.0 / c2)) ** 0.5
            denom += self.eps
            params[i] -= (lr / c1) * m1[i] / denom
        _project(params[0])


def _gradient(engine, params, batches, recorder, step, record_every):
    """The gradient of step ``step``; records the full objective every ``record_every``
    steps (a full-batch step's own objective, else one extra evaluation)."""
    if batches.full:
        value, grads = engine.objective_and_gradient(params, None)
        if step % record_every == 0:
            recorder.record(step, value, params)
        return grads
    if step % record_every == 0:
        recorder.record(step, engine.full_objective(params), params)
    _, grads = engine.objective_and_gradient(params, batches.next())
    return grads


def _run_adam(engine, params, adam, batches, n_steps, record_every, max_time, verbose):
    """Up to ``n_steps`` Adam steps on ``params``; the recorder of their objectives."""
    from tqdm.auto import tqdm

    recorder = _Recorder(engine)
    with tqdm(total=n_steps, disable=not verbose, desc="adam") as bar:
        step = 0
        while step < n_steps:
            grads = _gradient(engine, params, batches, recorder, step, record_every)
            step += 1
            adam.update(params, grads, step)
            if verbose and recorder.objectives:
                bar.set_postfix(objective=f"{recorder.objectives[-1]:.6g}", refresh=False)
            bar.update(1)
            if max_time is not None and recorder.elapsed() > max_time:
                break
        recorder.record(step, engine.full_objective(params), params)
    return recorder


def train_adam(
    Xt,
    Y,
    w,
    loss,
    beta,
    n_subnetworks=10,
    width=7,
    n_steps=1000,
    learning_rate=1e-2,
    batch_size=None,
    fit_intercept=True,
    random_state=None,
    max_time=None,
    init=None,
    record_every=1,
    verbose=0,
    backend="numpy",
    device=None,
    adam_betas=(0.9, 0.999),
    adam_eps=1e-8,
    decay=False,
):
    """Train the non-convex network by projected Adam and return its best iterate.

    After every Adam step (standard, bias-corrected) each ``W1_k`` is projected onto the
    unit Frobenius ball. The full-data objective is evaluated every ``record_every``
    steps and at the end; the iterate with the smallest recorded objective is returned.

    Parameters
    ----------
    Xt, Y, w : ndarrays of shape (n, d~), (n, n_outputs) or (n,), and (n,)
        The data (with a column of ones when a first-layer bias is used), the encoded
        targets and the sample weights (summing to one).
    loss : Loss
        A loss from :mod:`skconvexrelu._losses`.
    beta : float
        Weight-decay strength on ``w2`` and ``w3``.
    n_subnetworks, width : int
        ``K`` and ``m``; ignored when ``init`` is given.
    n_steps : int
        Number of Adam steps.
    learning_rate : float
    batch_size : int or None
        ``None`` for full-batch steps; else mini-batches drawn by shuffling each epoch,
        with the weights renormalized over the batch.
    fit_intercept : bool
        Whether the output intercept ``b`` is trained (else it is fixed at zero).
    random_state : int, RandomState instance or None
        Seeds the initialization and the mini-batches.
    max_time : float or None
        Stop after this many seconds.
    init : NonConvexNetwork or None
        Starting point (copied and projected onto the constraints).
    record_every : int
        Evaluate and record the full objective every ``record_every`` steps.
    verbose : int
        Show a progress bar with the current objective.
    backend : {"numpy", "torch"}
        ``"torch"`` runs the same algorithm on torch tensors (torch imported lazily) on
        ``device`` (e.g. ``"cuda"``; None: the CPU).
    device : str or None
    adam_betas : (float, float)
    adam_eps : float
    decay : bool
        Whether the step size falls along a cosine from ``learning_rate`` to 1% of it
        over the ``n_steps`` (mini-batch steps then settle instead of staying as noisy
        as at the start).

    Returns
    -------
    net : NonConvexNetwork
        The best recorded iterate; its objective is ``min(history["objective"])``.
    history : dict
        Arrays ``time`` (seconds since the start), ``objective`` and ``step``.
    """
    Xt, w = np.asarray(Xt, dtype=float), np.asarray(w, dtype=float)
    Y = np.asarray(Y, dtype=float)
    Y = Y[:, None] if Y.ndim == 1 else Y
    n, n_outputs = Y.shape
    rng = check_random_state(random_state)
    net = _starting_network(init, n_subnetworks, Xt.shape[1], width, n_outputs, rng)
    if not fit_intercept:
        net.b = np.zeros(n_outputs)
    engine = _make_engine(backend, Xt, Y, w, loss, beta, device)
    params = engine.to_params(net)
    _project(params[0])
    decay_steps = n_steps if decay else None
    adam = _Adam(params, fit_intercept, learning_rate, adam_betas, adam_eps, decay_steps)
    batches = _Batches(n, batch_size, rng)
    record_every = max(int(record_every), 1)
    recorder = _run_adam(
        engine, params, adam, batches, n_steps, record_every, max_time, verbose
    )
    return engine.to_network(recorder.best), recorder.history()


def to_mlp_layout(net, fit_intercept=True):
    """The network in scikit-learn's MLP layout (doc/math.rst, "Rebuilding the network").

    Parameters
    ----------
    net : NonConvexNetwork
    fit_intercept : bool
        Whether the last row of each ``W1_k`` is a first-layer bias.

    Returns
    -------
    coefs : list of ndarray
        ``[W1 (d, K*m), W2 (K*m, K) block-diagonal, W3 (K, n_outputs)]``; column
        ``k*m + j`` of ``W1`` is neuron ``j`` of sub-network ``k``.
    intercepts : list of ndarray
        ``[b1 (K*m), zeros(K), b (n_outputs)]``; ``b1`` is the bias row of ``W1``.
    """
    K, d_tilde, m = net.W1.shape
    d = d_tilde - 1 if fit_intercept else d_tilde
    W1 = net.W1[:, :d, :].transpose(1, 0, 2).reshape(d, K * m)
    b1 = net.W1[:, d, :].reshape(K * m) if fit_intercept else np.zeros(K * m)
    W2 = np.zeros((K * m, K))
    W2[np.arange(K * m), np.repeat(np.arange(K), m)] = net.w2.reshape(K * m)
    coefs = [W1.copy(), W2, _output_matrix(net)]
    intercepts = [np.array(b1, dtype=float), np.zeros(K), np.array(net.b, dtype=float)]
    return coefs, intercepts


def network_configurations(net, Xt):
    """The configurations ``(D1, s, D2)`` of the network's ``K`` sub-networks on ``Xt``.

    The network is a feasible point of the convex program built on these
    configurations (doc/math.rst, "Seeding from a trained network"), so that program's
    optimum is never worse than the network's objective. For sub-network ``k`` with
    configuration ``c`` put ``u_j = |w3_k| |w2_kj| W1_k[:, j]`` in block
    ``(c, sign(w3_k))`` of output ``k % n_outputs``. Since ``D1 = 1[Xt W1_k >= 0]`` and
    ``s = sign(w2_k)``, the first cone constraints hold,
    ``relu(Xt W1_k) w2_k = sum_j s_j D1_j Xt (|w2_kj| W1_k[:, j])``, so
    ``g = |w3_k| relu(Xt W1_k) w2_k`` and ``D2 = 1[g >= 0]`` makes the second ones
    hold; then ``sigma D2 g`` is exactly the sub-network's output. The penalty is no
    larger: ``beta sum_j ||u_j|| <= beta |w3_k| ||w2_k|| ||W1_k||_F
    <= (beta/2)(||w2_k||^2 + w3_k^2)`` (Cauchy-Schwarz, ``||W1_k||_F <= 1``, AM-GM).
    Sub-networks sharing a configuration add into the same block: the constraints are
    cones and the group norm is subadditive.

    Returns
    -------
    Configurations
        ``K`` configurations, not deduplicated, in the order of the sub-networks.
    """
    return configurations_from_networks(np.asarray(Xt, dtype=float), net.W1, net.w2)
