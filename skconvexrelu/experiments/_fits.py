"""The single fits the experiments compare: the convex program, Adam and MLPRegressor.

Each takes the train and test arrays of one data set and returns one row of results
(:func:`~skconvexrelu.experiments._common.result_row`).
"""

import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from .._base import add_bias_column
from .._nonconvex import forward, objective, train_adam
from ._common import LOSS, convex_regressor, fit_in_target_units, mse, result_row


@dataclass(frozen=True)
class AdamBaseline:
    """Projected Adam on the non-convex network, the best of ``n_restarts`` runs.

    Attributes
    ----------
    width, n_subnetworks : int
        ``m`` and ``K`` of the network.
    n_steps : int
        Adam steps per initialization.
    learning_rate : float
    n_restarts : int
        Initializations; the one with the lowest training objective is kept.
    batch_size : int or None, default=None
        Mini-batch size; None for full-batch steps.
    """

    width: int
    n_subnetworks: int
    n_steps: int
    learning_rate: float
    n_restarts: int
    batch_size: int | None = None


def active_subnetworks(net, Xt):
    """Sub-networks of a :class:`NonConvexNetwork` whose output is not identically zero."""
    Z = np.einsum("nd,kdm->nkm", Xt, net.W1)
    G = np.maximum(np.einsum("nkm,km->nk", np.maximum(Z, 0.0), net.w2), 0.0)
    out = np.abs(G * net.w3).max(axis=0)
    top = out.max(initial=0.0)
    return int(np.sum(out > 1e-8 * max(top, 1e-300)))


def _convex_notes(est):
    """The note of a convex fit, its certified gap (or None) and the extra row entries."""
    notes = [f"solver {est.solver_}", f"{est.n_arrangements_} configurations"]
    seed = getattr(est, "nonconvex_objective_", None)
    if seed is not None:
        notes.append(f"seeded by an Adam network of objective {seed:.4g}")
    cert = getattr(est, "certificate_", None)
    gap = None
    if isinstance(cert, dict) and cert.get("gap") is not None:
        gap = float(cert["gap"])
        notes.append(f"certified gap {gap:.3g}")
    extra = {"certificate_gap": gap}
    if seed is not None:
        extra["seed_objective"] = float(seed)
    return ", ".join(notes), extra


def fit_convex(X, y, X_test, y_test, beta, random_state, params):
    """The convex estimator with ``params`` (row ``"convex"``)."""
    est = convex_regressor(beta=beta, random_state=random_state, **params)
    start = time.perf_counter()
    fit_in_target_units(est, X, y)
    elapsed = time.perf_counter() - start
    note, extra = _convex_notes(est)
    return result_row(
        None,
        "convex",
        objective=float(est.objective_),
        train_loss=0.5 * mse(est.predict(X), y),
        test_error=mse(est.predict(X_test), y_test),
        fit_time=elapsed,
        n_subnetworks=int(est.n_subnetworks_),
        note=note,
        **extra,
    )


def _best_adam_network(Xt, Y, w, beta, adam, random_state):
    """The network of lowest objective over ``adam.n_restarts`` runs, and that objective."""
    rng = check_random_state(random_state)
    best, best_value = None, np.inf
    for _ in range(adam.n_restarts):
        net, history = train_adam(
            Xt,
            Y,
            w,
            LOSS,
            beta,
            n_subnetworks=adam.n_subnetworks,
            width=adam.width,
            n_steps=adam.n_steps,
            learning_rate=adam.learning_rate,
            batch_size=adam.batch_size,
            random_state=rng.randint(2**31 - 1),
            record_every=10,
        )
        value = objective(net, Xt, Y, w, LOSS, beta)
        if value < best_value:
            best, best_value = net, value
    return best, best_value


def fit_adam(X, y, X_test, y_test, beta, adam, random_state):
    """Projected Adam as described by ``adam`` (an :class:`AdamBaseline`; row ``"adam"``)."""
    Xt, Xt_test = add_bias_column(X, True), add_bias_column(X_test, True)
    Y = y[:, None]
    w = np.full(len(y), 1.0 / len(y))
    start = time.perf_counter()
    best, best_value = _best_adam_network(Xt, Y, w, beta, adam, random_state)
    elapsed = time.perf_counter() - start
    return result_row(
        None,
        "adam",
        objective=float(best_value),
        train_loss=0.5 * mse(forward(best, Xt), y),
        test_error=mse(forward(best, Xt_test), y_test),
        fit_time=elapsed,
        n_subnetworks=active_subnetworks(best, Xt),
        note=f"best of {adam.n_restarts}, K={adam.n_subnetworks}, {adam.n_steps} steps",
    )


def fit_mlp(X, y, X_test, y_test, beta_paper, width, n_subnetworks, max_iter, random_state):
    """scikit-learn's ``MLPRegressor`` of the same size (row ``"MLPRegressor"``)."""
    from sklearn.neural_network import MLPRegressor

    # alpha / (2 n) ||W||^2 is scikit-learn's penalty: alpha = beta_paper matches the
    # weight decay of the design, but on every layer and without the norm constraint.
    mlp = MLPRegressor(
        hidden_layer_sizes=(width * n_subnetworks, n_subnetworks),
        alpha=beta_paper,
        learning_rate_init=1e-2,
        max_iter=max_iter,
        random_state=random_state,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
    elapsed = time.perf_counter() - start
    return result_row(
        None,
        "MLPRegressor",
        objective=None,
        train_loss=0.5 * mse(mlp.predict(X), y),
        test_error=mse(mlp.predict(X_test), y_test),
        fit_time=elapsed,
        note=(
            f"dense ({width * n_subnetworks}, {n_subnetworks}); own loss "
            f"{mlp.loss_:.4g} (other penalty, not comparable)"
        ),
    )
