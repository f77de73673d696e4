"""The paper's Figure 4: training objective over time, gradient methods vs convex."""

import time

import numpy as np
from sklearn.utils import check_random_state

from .._base import add_bias_column
from .._nonconvex import forward, init_network, objective, objective_and_gradient, train_adam
from .._reconstruction import network_objective
from ._common import LOSS, convex_regressor, fit_in_target_units, progress_bar


def synthetic_teacher(n=5, d=2, width=3, n_subnetworks=5, random_state=0):
    """The synthetic data of the paper's Figure 4: Gaussian inputs, teacher-network labels.

    Parameters
    ----------
    n, d : int, default=5, 2
        Number of samples and of features; ``x_i ~ N(0, I_d)``.
    width, n_subnetworks : int, default=3, 5
        ``m`` and ``K`` of the randomly initialized teacher network (with biases).
    random_state : int, RandomState instance or None, default=0

    Returns
    -------
    X : ndarray of shape (n, d)
    y : ndarray of shape (n,)
    """
    rng = check_random_state(random_state)
    X = rng.standard_normal((n, d))
    teacher = init_network(n_subnetworks, d + 1, width, 1, rng)
    return X, forward(teacher, add_bias_column(X, True)).ravel()


def _train_gd(Xt, Y, w, beta, n_subnetworks, width, n_steps, learning_rate, seed):
    """Projected full-batch gradient descent (the paper's SGD with batch size n)."""
    net = init_network(n_subnetworks, Xt.shape[1], width, Y.shape[1], seed)
    times, values, start = [], [], time.perf_counter()
    for _ in range(n_steps):
        value, grad = objective_and_gradient(net, Xt, Y, w, LOSS, beta)
        times.append(time.perf_counter() - start)
        values.append(value)
        for p in ("W1", "w2", "w3", "b"):
            setattr(net, p, getattr(net, p) - learning_rate * getattr(grad, p))
        norms = np.sqrt((net.W1 * net.W1).sum(axis=(1, 2)))
        net.W1 /= np.maximum(norms, 1.0)[:, None, None]
    times.append(time.perf_counter() - start)
    values.append(objective(net, Xt, Y, w, LOSS, beta))
    return np.asarray(times), np.asarray(values)


def _gradient_run(optimizer, Xt, Y, w, beta, K, width, n_steps, learning_rate, seed):
    """One run of ``optimizer`` from the initialization ``seed``: times and objectives."""
    if optimizer == "sgd":
        return _train_gd(Xt, Y, w, beta, K, width, n_steps, learning_rate, seed)
    _, hist = train_adam(
        Xt,
        Y,
        w,
        LOSS,
        beta,
        n_subnetworks=K,
        width=width,
        n_steps=n_steps,
        learning_rate=learning_rate,
        random_state=seed,
    )
    return hist["time"], hist["objective"]


def _run_record(K, init, times, objectives):
    """One gradient run of :func:`figure4`'s result."""
    return {
        "K": int(K),
        "init": init,
        "time": times.tolist(),
        "objective": objectives.tolist(),
        "final": float(np.min(objectives)),
    }


def _timed_convex_fit(X, y, beta, random_state, params):
    """The convex estimator fitted on ``(X, y)`` and its fit time in seconds."""
    est = convex_regressor(beta=beta, random_state=random_state, **params)
    start = time.perf_counter()
    fit_in_target_units(est, X, y)
    return est, time.perf_counter() - start


def figure4(
    n=5,
    d=2,
    width=3,
    beta_paper=0.002,
    n_subnetworks=(1, 2, 5, 10),
    n_inits=5,
    optimizer="adam",
    n_steps=2000,
    learning_rate=None,
    n_arrangements=300,
    convex_params=None,
    random_state=0,
    progress=True,
):
    """The paper's Figure 4: training objective over time, gradient methods vs convex.

    The data are :func:`synthetic_teacher` ``(n, d)`` with a teacher of width ``width``
    and 5 sub-networks. For each ``K`` in ``n_subnetworks`` and each of ``n_inits``
    initializations, the non-convex network (``K`` sub-networks of width ``width``) is
    trained by projected full-batch gradient descent (``optimizer="sgd"``; the paper's
    batch size 5 is the whole data set) or projected Adam, ``n_steps`` steps of size
    ``learning_rate`` (None: 0.5 for "sgd", 0.01 for "adam"); the convex program is
    solved once with ``n_arrangements`` sampled configurations (plus ``convex_params``,
    e.g. ``column_generation``) and its network rebuilt.

    Parameters
    ----------
    n, d, width : int, default=5, 2, 3
    beta_paper : float, default=0.002
        Unnormalized weight decay; the objective uses ``beta_paper / n``.
    n_subnetworks : sequence of int, default=(1, 2, 5, 10)
        The values of ``K`` (one panel each).
    n_inits : int, default=5
    optimizer : {"adam", "sgd"}, default="adam"
    n_steps : int, default=2000
    learning_rate : float or None, default=None
    n_arrangements : int, default=300
    convex_params : dict or None, default=None
    random_state : int, default=0
    progress : bool, default=True

    Returns
    -------
    result : dict
        ``beta`` (normalized), ``X``, ``y`` (lists), ``width``, ``optimizer``,
        ``runs`` (list of dicts with ``K``, ``init``, ``time`` and ``objective`` lists,
        ``final``),
        ``convex`` (dict with ``objective``, ``reconstructed_objective``, ``time``,
        ``n_subnetworks``, ``solver``).
    """
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}.")
    if learning_rate is None:
        learning_rate = 0.5 if optimizer == "sgd" else 1e-2
    X, y = synthetic_teacher(n, d, width, 5, random_state)
    beta = beta_paper / n
    Xt, Y, w = add_bias_column(X, True), y[:, None], np.full(n, 1.0 / n)
    rng = check_random_state(random_state)
    with progress_bar(len(n_subnetworks) * n_inits + 1, "figure4", progress) as bar:
        runs = []
        for K in n_subnetworks:
            for init in range(n_inits):
                seed = rng.randint(2**31 - 1)
                t, v = _gradient_run(
                    optimizer, Xt, Y, w, beta, K, width, n_steps, learning_rate, seed
                )
                runs.append(_run_record(K, init, t, v))
                bar.update(1)
        params = {"width": width, "n_arrangements": n_arrangements, **(convex_params or {})}
        est, elapsed = _timed_convex_fit(X, y, beta, random_state, params)
        bar.update(1)
    rebuilt = network_objective(est.coefs_, est.intercepts_, X, Y, w, LOSS, beta)
    return {
        "beta": beta,
        "X": X.tolist(),
        "y": y.tolist(),
        "width": int(width),
        "optimizer": optimizer,
        "runs": runs,
        "convex": {
            "objective": float(est.objective_),
            "reconstructed_objective": float(rebuilt),
            "time": elapsed,
            "n_subnetworks": int(est.n_subnetworks_),
            "solver": est.solver_,
        },
    }
