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

import numpy as np

from ._nonconvex import network_configurations, objective, train_adam


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
