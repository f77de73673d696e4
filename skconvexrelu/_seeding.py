"""Seeding the convex program with the configurations of a trained non-convex network.

A network trained by Adam is a feasible point of the convex program built on its own
configurations: sub-network ``k`` with weights ``(W1_k, w2_k, w3_k)`` is the block
``(o_k, sign(w3_k), c_k)`` with columns ``u_j = |w3_k| |w2_kj| W1_k[:, j]``, which satisfies
the cone constraints because ``c_k`` *is* its activation pattern, computes the same output,
and has a group-lasso penalty ``beta |w3_k| sum_j |w2_kj| ||W1_k[:, j]||``, at most the
network's weight decay ``(beta/2)(||w2_k||^2 + w3_k^2)`` when ``||W1_k||_F <= 1``. So the
convex optimum over configurations that include these is never above the network's
objective.
"""

from dataclasses import dataclass, replace

import numpy as np

from ._arrangements import configurations_from_networks, drop_useless, sample_configurations
from ._nonconvex import network_configurations, objective, train_adam
from ._program import ConvexProgram
from ._validation import scaling_problems


def train_seed_network(
    Xt,
    Y,
    w,
    loss,
    beta,
    width,
    fit_intercept,
    random_state,
    n_subnetworks=10,
    n_steps=1000,
    learning_rate=1e-2,
    **adam,
):
    """Train the non-convex network briefly; return it, its objective and configurations.

    The run is short on purpose: the seed has to supply good configurations, and the
    convex program then finds the best network on them. ``adam`` holds further options
    of :func:`~skconvexrelu._nonconvex.train_adam`.
    """
    net, _ = train_adam(
        Xt,
        Y,
        w,
        loss,
        beta,
        width=width,
        fit_intercept=fit_intercept,
        random_state=random_state,
        n_subnetworks=n_subnetworks,
        n_steps=n_steps,
        learning_rate=learning_rate,
        **adam,
    )
    return net, objective(net, Xt, Y, w, loss, beta), network_configurations(net, Xt)


def blocks_from_network(net, program):
    """The feasible point ``(U, b)`` of ``program`` that computes the network ``net``.

    Every configuration of ``net`` must be among ``program.conf``.
    """
    index = {key: p for p, key in enumerate(program.conf.keys())}
    own = network_configurations(net, program.Xt)
    U = program.zeros()
    outputs = net.outputs_index()
    for k, key in enumerate(own.keys()):
        if key not in index:  # its second ReLU is never active: it outputs zero
            continue
        c = index[key]
        s = 0 if net.w3[k] >= 0 else 1
        # columns with w2_kj = 0 contribute nothing and may carry any pattern
        U[outputs[k], s, c] += abs(net.w3[k]) * np.abs(net.w2[k])[None, :] * net.W1[k]
    return U, np.asarray(net.b, dtype=program.dtype).copy()


@dataclass(frozen=True)
class SeedPlan:
    """How the seed network of a fit is trained (see :func:`seed_plan`)."""

    n_subnetworks: int
    n_steps: int
    batch_size: int | None  # None: full batches
    batches: int  # mini-batches per pass over the data
    decay: bool

    def rows_per_step(self, n_samples):
        return n_samples if self.batch_size is None else self.batch_size


def seed_plan(n_samples, n_arrangements, n_outputs, settings):
    """The :class:`SeedPlan` for ``n_samples`` rows and ``settings`` (a
    :class:`~skconvexrelu.solvers.settings.SeedSettings`): ``n_arrangements`` sub-networks
    (at least one per output); ``n_epochs`` passes of mini-batches (full batches up to
    ``batch_size`` rows), at least ``n_steps`` and at most ``max_steps`` steps; the step
    size decays where the passes, not the least number of steps, set the run's length
    (large tables), while short runs keep it constant."""
    batches = -(-n_samples // settings.batch_size)
    n_steps = max(settings.n_steps, min(settings.n_epochs * batches, settings.max_steps))
    return SeedPlan(
        n_subnetworks=max(n_arrangements, n_outputs),
        n_steps=n_steps,
        batch_size=settings.batch_size if batches > 1 else None,
        batches=batches,
        decay=bool(
            settings.decay and batches > 1 and settings.n_epochs * batches > settings.n_steps
        ),
    )


def trained_configurations(
    Xt, Y, w, loss, beta, width, fit_intercept, rng, n_arrangements, settings, max_time=None
):
    """The seed network of ``arrangements="trained"`` and the configurations to solve on.

    The network has ``n_arrangements`` sub-networks (at least one per output), trained by
    :func:`train_seed_network` (mini-batch Adam on large data, the full objective
    recorded once a pass) with ``settings`` (a
    :class:`~skconvexrelu.solvers.settings.SeedSettings`). Its distinct configurations are
    kept, at most ``settings.max_output_blocks // n_outputs`` of them (those of the
    sub-networks with the largest output weights), and random ones fill up to that count
    when it has fewer. ``max_time`` (seconds) stops the seed's training early, keeping
    its best recorded iterate.

    Returns
    -------
    net, objective, conf
    """
    n_outputs = Y.shape[1]
    n_conf = max(1, min(n_arrangements, settings.max_output_blocks // n_outputs))
    plan = seed_plan(len(Xt), n_arrangements, n_outputs, settings)
    Xs, mapping = _standardized(Xt, fit_intercept)
    net, obj, conf = train_seed_network(
        Xs,
        Y,
        w,
        loss,
        beta,
        width,
        fit_intercept,
        rng,
        n_subnetworks=plan.n_subnetworks,
        n_steps=plan.n_steps,
        learning_rate=settings.learning_rate,
        batch_size=plan.batch_size,
        decay=plan.decay,
        record_every=plan.batches,
        max_time=max_time,
    )
    if mapping is not None:  # the same network on the given features
        net = _on_original_features(net, *mapping)
        obj = objective(net, Xt, Y, w, loss, beta)
        conf = replace(conf, networks=(net.W1, net.w2))  # same patterns, given features
    order = np.argsort(-np.abs(net.w3) * np.linalg.norm(net.w2, axis=1), kind="stable")
    conf = drop_useless(conf.subset(order))
    conf = conf.subset(np.arange(min(n_conf, conf.n_configurations)))
    if conf.n_configurations < n_conf:
        extra = sample_configurations(Xt, width, n_conf - conf.n_configurations, rng)
        conf = conf.concat(extra)
    return net, obj, conf


def _standardized(Xt, fit_intercept):
    """``(Xs, mapping)``: for badly scaled features (those that warn, see
    :func:`~skconvexrelu._validation.check_feature_scale`), ``Xt`` with standardized
    feature columns for the seed's Adam, which cannot train on them, and
    ``(mean, std, fit_intercept)`` to map its network back; else ``(Xt, None)``."""
    X = Xt[:, :-1] if fit_intercept else Xt
    if not scaling_problems(X):
        return Xt, None
    mean = X.mean(axis=0) if fit_intercept else np.zeros(X.shape[1])
    std = X.std(axis=0) if fit_intercept else np.sqrt(np.mean(X**2, axis=0))
    std = np.where(std > 0, std, 1.0)
    Xs = (X - mean) / std
    if fit_intercept:
        Xs = np.hstack([Xs, Xt[:, -1:]])
    return Xs.astype(Xt.dtype, copy=False), (mean, std, fit_intercept)


def _on_original_features(net, mean, std, fit_intercept):
    """The network trained on standardized features as a network on the original ones:
    the same first-layer pre-activations (so the same configurations), each ``W1_k``
    brought back to unit norm by moving its norm into ``w2_k`` (ReLU is positively
    homogeneous, so the outputs are unchanged)."""
    net = net.copy()
    W1 = net.W1  # (K, d~, m)
    d = len(mean)
    W1[:, :d, :] /= std[None, :, None]
    if fit_intercept:
        W1[:, d, :] -= np.einsum("d,kdm->km", mean, W1[:, :d, :])
    norms = np.linalg.norm(W1, axis=(1, 2))
    norms = np.where(norms > 0, norms, 1.0)
    net.W1 = W1 / norms[:, None, None]
    net.w2 = net.w2 * norms[:, None]
    return net


def own_configurations(program, U):
    """``(program', U')``: the point ``U`` of ``program`` on the configurations of its own
    network, where it satisfies every cone constraint.

    Block ``(o, sigma, c)`` of ``U`` rebuilds into a sub-network whose activation
    patterns are ``D1 = 1[X~ u_j >= 0]`` and ``D2 = 1[sum_j s_cj relu(X~ u_j) >= 0]``.
    Those need not be configuration ``c`` when ``U`` violates its cones (an early stop);
    on them the same columns are feasible and compute exactly the rebuilt sub-network,
    with the same group-lasso penalty, so ``program'.objective(U')`` is the rebuilt
    network's objective. Zero blocks and blocks whose second ReLU is never active (they
    output zero) are left out.
    """
    o, _, P, d, m = program.shape
    norms = np.linalg.norm(U, axis=3).sum(axis=3)  # (o, 2, P)
    blocks = np.argwhere(norms > 0)
    W1 = np.stack([U[i, s, c] for i, s, c in blocks]) if len(blocks) else np.zeros((0, d, m))
    w2 = program.conf.signs[blocks[:, 2]].astype(float) if len(blocks) else np.zeros((0, m))
    conf = configurations_from_networks(program.Xt.astype(float), W1, w2)
    live = np.flatnonzero(conf.D2.any(axis=0))
    conf, blocks, W1 = conf.subset(live), blocks[live], W1[live]
    new = ConvexProgram(program.Xt, conf, o, dtype=program.dtype)
    V = new.zeros()
    for k, (i, s, _) in enumerate(blocks):
        V[i, s, k] = W1[k]
    return new, V
