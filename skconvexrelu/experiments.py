"""Reusable experiments: baselines on the bundled UCI data, the paper's Table 1 and Figure 4.

Every function returns plain Python structures (lists of dicts, dicts of lists and
floats) so that results can be printed, tested and stored without pandas. Plots use
matplotlib, imported only when a plot is asked for.

Conventions shared by all experiments (the paper's *regression framing*):

- the class number of a UCI data set is used as a real-valued target and the loss is
  the squared loss, so the convex program, Adam on the non-convex network and the
  rebuilt network all minimize the same objective;
- ``beta_paper`` is the weight decay of the paper's unnormalized objective; the package
  normalizes per sample, so every fit uses ``beta = beta_paper / n_train``;
- ``objective`` is that normalized training objective, ``train_loss`` its data term
  ``(1/n) sum 0.5 (f - y)^2`` and ``test_error`` the mean squared error on the test rows.
"""

import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from ._base import add_bias_column
from ._losses import SquaredLoss
from ._nonconvex import forward, init_network, objective, objective_and_gradient, train_adam
from ._reconstruction import network_objective
from ._regressor import ConvexThreeLayerRegressor
from .datasets import UCI_DATASETS, load_uci

__all__ = [
    "COMPARE_DATASETS",
    "PAPER_TABLE1",
    "beta_path",
    "compare",
    "convex_regressor",
    "figure4",
    "format_table",
    "plot_beta_path",
    "plot_comparison",
    "plot_figure4",
    "synthetic_teacher",
    "table1",
    "uci_split",
]

#: Data sets of the default comparison: the three smallest bundled ones.
COMPARE_DATASETS = ("acute-inflammation", "balloons", "fertility")

#: Table 1 of Ergen & Pilanci (2021): (SGD objective, convex objective, SGD test error,
#: convex test error), as printed in the paper.
PAPER_TABLE1 = {
    "acute-inflammation": (0.0029, 0.0013, 0.0224, 0.0217),
    "acute-nephritis": (0.0039, 0.0021, 0.0198, 0.0192),
    "balloons": (0.7901, 0.6695, 0.2693, 0.1496),
    "breast-tissue": (0.5219, 0.3979, 1.4082, 1.0377),
    "fertility": (0.125, 0.1224, 0.3551, 0.5050),
    "pittsburg-bridges-SPAN": (0.1723, 0.1668, 1.4373, 1.3112),
}

_LOSS = SquaredLoss()


# --------------------------------------------------------------------------- helpers
def _progress(total, desc, enabled):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, leave=False)


def convex_regressor(**params):
    """A :class:`~skconvexrelu.ConvexThreeLayerRegressor` built from ``params``.

    Parameters whose value is None are left at their default, so optional settings
    (``arrangements``, ``column_generation``, ``arrangements_per_round``, ``max_time``)
    can be passed through from a command line unconditionally.

    Parameters
    ----------
    **params
        Constructor parameters of the estimator.

    Returns
    -------
    estimator : ConvexThreeLayerRegressor

    Raises
    ------
    ValueError
        If a parameter set to something other than None does not exist in this
        version of the estimator.
    """
    supported = ConvexThreeLayerRegressor().get_params()
    given = {k: v for k, v in params.items() if v is not None}
    unknown = sorted(set(given) - set(supported))
    if unknown:
        raise ValueError(
            f"ConvexThreeLayerRegressor in this installation has no parameter(s) "
            f"{', '.join(unknown)}; available: {', '.join(sorted(supported))}."
        )
    return ConvexThreeLayerRegressor(**given)


def uci_split(name, fold=0):
    """Train and test arrays of a bundled UCI data set in the regression framing.

    Parameters
    ----------
    name : str
        One of :data:`skconvexrelu.datasets.UCI_DATASETS`.
    fold : int, default=0
        Which of the four predefined ``folds`` to use.

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
        Features and class numbers as float targets.
    """
    ds = load_uci(name)
    train, test = ds.folds[fold]
    y = ds.target.astype(float)
    return ds.data[train], y[train], ds.data[test], y[test]


def _mse(pred, y):
    return float(np.mean((np.ravel(pred) - np.ravel(y)) ** 2))


def _active_subnetworks(net, Xt):
    """Sub-networks of a :class:`NonConvexNetwork` whose output is not identically zero."""
    Z = np.einsum("nd,kdm->nkm", Xt, net.W1)
    G = np.maximum(np.einsum("nkm,km->nk", np.maximum(Z, 0.0), net.w2), 0.0)
    out = np.abs(G * net.w3).max(axis=0)
    top = out.max(initial=0.0)
    return int(np.sum(out > 1e-8 * max(top, 1e-300)))


def _row(dataset, method, **values):
    row = {
        "dataset": dataset,
        "method": method,
        "objective": None,
        "train_loss": None,
        "test_error": None,
        "fit_time": None,
        "n_subnetworks": None,
        "certificate_gap": None,
        "note": "",
    }
    row.update(values)
    return row


# ------------------------------------------------------------------- single methods
def _fit_convex(X, y, X_test, y_test, beta, random_state, params):
    est = convex_regressor(beta=beta, random_state=random_state, **params)
    start = time.perf_counter()
    est.fit(X, y)
    elapsed = time.perf_counter() - start
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
    return _row(
        None,
        "convex",
        objective=float(est.objective_),
        train_loss=0.5 * _mse(est.predict(X), y),
        test_error=_mse(est.predict(X_test), y_test),
        fit_time=elapsed,
        n_subnetworks=int(est.n_subnetworks_),
        note=", ".join(notes),
        **extra,
    )


def _fit_adam(
    X,
    y,
    X_test,
    y_test,
    beta,
    width,
    n_subnetworks,
    n_steps,
    learning_rate,
    batch_size,
    n_restarts,
    random_state,
):
    Xt, Xt_test = add_bias_column(X, True), add_bias_column(X_test, True)
    Y = y[:, None]
    w = np.full(len(y), 1.0 / len(y))
    rng = check_random_state(random_state)
    best, best_value, start = None, np.inf, time.perf_counter()
    for _ in range(n_restarts):
        net, history = train_adam(
            Xt,
            Y,
            w,
            _LOSS,
            beta,
            n_subnetworks=n_subnetworks,
            width=width,
            n_steps=n_steps,
            learning_rate=learning_rate,
            batch_size=batch_size,
            random_state=rng.randint(2**31 - 1),
            record_every=10,
        )
        value = objective(net, Xt, Y, w, _LOSS, beta)
        if value < best_value:
            best, best_value = net, value
    elapsed = time.perf_counter() - start
    return _row(
        None,
        "adam",
        objective=float(best_value),
        train_loss=0.5 * _mse(forward(best, Xt), y),
        test_error=_mse(forward(best, Xt_test), y_test),
        fit_time=elapsed,
        n_subnetworks=_active_subnetworks(best, Xt),
        note=f"best of {n_restarts}, K={n_subnetworks}, {n_steps} steps",
    )


def _fit_mlp(X, y, X_test, y_test, beta_paper, width, n_subnetworks, max_iter, random_state):
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
    return _row(
        None,
        "MLPRegressor",
        objective=None,
        train_loss=0.5 * _mse(mlp.predict(X), y),
        test_error=_mse(mlp.predict(X_test), y_test),
        fit_time=elapsed,
        note=(
            f"dense ({width * n_subnetworks}, {n_subnetworks}); own loss "
            f"{mlp.loss_:.4g} (other penalty, not comparable)"
        ),
    )


# --------------------------------------------------------------------------- compare
def compare(
    datasets=COMPARE_DATASETS,
    beta_paper=0.1,
    width=7,
    n_subnetworks=10,
    n_arrangements=20,
    adam_steps=2000,
    adam_restarts=3,
    learning_rate=1e-2,
    mlp_max_iter=1000,
    fold=0,
    random_state=0,
    arrangements="auto",
    column_generation="auto",
    convex_params=None,
    progress=True,
):
    """Convex fit vs Adam on the same network vs scikit-learn's ``MLPRegressor``.

    For each data set (fold ``fold`` as train/test, regression framing), fit

    - ``"convex"``: :class:`~skconvexrelu.ConvexThreeLayerRegressor` with ``width``
      and ``n_arrangements`` (plus ``convex_params``);
    - ``"adam"``: projected Adam on the non-convex network of the same architecture
      (``n_subnetworks`` sub-networks of width ``width``), same objective, best of
      ``adam_restarts`` initializations;
    - ``"MLPRegressor"``: a dense two-hidden-layer network of sizes
      ``(width * n_subnetworks, n_subnetworks)`` with ``alpha = beta_paper``. Its
      training objective is not the design's (it penalizes every layer and has no norm
      constraint), so ``objective`` is None and its own loss is given in ``note``.

    Parameters
    ----------
    datasets : sequence of str, default=COMPARE_DATASETS
        Names of bundled UCI data sets.
    beta_paper : float, default=0.1
        Unnormalized weight decay; each fit uses ``beta_paper / n_train``.
    width : int, default=7
        First-layer width ``m`` of every sub-network.
    n_subnetworks : int, default=10
        ``K`` of the Adam baseline (the convex fit chooses its own).
    n_arrangements : int, default=20
        Sampled configurations of the convex program.
    adam_steps : int, default=2000
        Full-batch Adam steps per initialization.
    adam_restarts : int, default=3
        Adam initializations; the one with the lowest objective is kept.
    learning_rate : float, default=1e-2
        Adam step size.
    mlp_max_iter : int, default=1000
        ``max_iter`` of ``MLPRegressor``.
    fold : int, default=0
        Predefined fold used as train/test split.
    random_state : int, default=0
        Seed of every method.
    arrangements : {"auto", "random", "nonconvex"}, default="auto"
        Configurations of the convex program; ``"auto"`` means ``"nonconvex"``: seeded
        with an Adam-trained network.
    column_generation : int or "auto", default="auto"
        Rounds of column generation; ``"auto"`` runs one round, which also gives
        a certificate (``certificate_gap``).
    convex_params : dict or None, default=None
        Further estimator parameters (e.g. ``solver``, ``max_time``); None values are
        ignored. They override the two above.
    progress : bool, default=True
        Show a progress bar.

    Returns
    -------
    rows : list of dict
        One dict per (data set, method) with keys ``dataset``, ``method``,
        ``objective`` (float or None), ``train_loss``, ``test_error``, ``fit_time``
        (seconds), ``n_subnetworks`` (int or None: sub-networks with a non-zero output),
        ``certificate_gap`` (None unless column generation ran: the objective minus
        a lower bound on the optimum) and ``note``, plus ``n``, ``d`` (training size
        and number of features) and ``fold``.

    Examples
    --------
    >>> from skconvexrelu.experiments import compare
    >>> rows = compare(datasets=["balloons"], n_arrangements=3, adam_steps=20,
    ...                adam_restarts=1, mlp_max_iter=20, progress=False)
    >>> [r["method"] for r in rows]
    ['convex', 'adam', 'MLPRegressor']
    """
    params = {"width": width, "n_arrangements": n_arrangements}
    if arrangements == "auto":
        arrangements = "nonconvex"
    if column_generation == "auto":
        column_generation = 1
    params.update(arrangements=arrangements, column_generation=column_generation)
    params.update(convex_params or {})
    rows = []
    with _progress(3 * len(datasets), "compare", progress) as bar:
        for name in datasets:
            X, y, X_test, y_test = uci_split(name, fold)
            n, d = X.shape
            beta = beta_paper / n
            data = (X, y, X_test, y_test)
            fits = [
                (_fit_convex, (*data, beta, random_state, params)),
                (
                    _fit_adam,
                    (
                        *data,
                        beta,
                        width,
                        n_subnetworks,
                        adam_steps,
                        learning_rate,
                        None,
                        adam_restarts,
                        random_state,
                    ),
                ),
                (
                    _fit_mlp,
                    (*data, beta_paper, width, n_subnetworks, mlp_max_iter, random_state),
                ),
            ]
            for fit, fit_args in fits:
                row = fit(*fit_args)
                row.update(dataset=name, n=n, d=d, fold=fold)
                rows.append(row)
                bar.set_postfix_str(f"{name}: {row['method']}", refresh=False)
                bar.update(1)
    return rows


# ---------------------------------------------------------------------------- Table 1
def table1(
    datasets=UCI_DATASETS,
    beta_paper=0.1,
    width=7,
    n_subnetworks=10,
    n_restarts=5,
    adam_steps=3000,
    learning_rate=1e-2,
    n_arrangements=20,
    column_generation=5,
    arrangements_per_round=10,
    quick=False,
    fold=0,
    random_state=0,
    convex_params=None,
    progress=True,
):
    """The paper's Table 1: best of several Adam runs against the convex program.

    For every data set, Adam trains the non-convex network (``n_subnetworks`` of width
    ``width``, mini-batches of ``floor(n/8)`` as in the paper) from ``n_restarts``
    initializations and the best objective is kept. The convex fit is seeded with the
    configurations of an Adam-trained network and grown by column generation when the
    estimator supports it (``arrangements="nonconvex"``, ``column_generation``); with
    an older estimator it samples ``n_arrangements`` random configurations, which is
    said in the ``arrangements`` entry of each row.

    Parameters
    ----------
    datasets : sequence of str, default=UCI_DATASETS
    beta_paper : float, default=0.1
        Unnormalized weight decay (the paper's); fits use ``beta_paper / n_train``.
    width, n_subnetworks : int, default=7, 10
        ``m`` and the ``K`` of the Adam baseline.
    n_restarts : int, default=5
        Adam initializations per data set.
    adam_steps : int, default=3000
        Adam steps per initialization.
    learning_rate : float, default=1e-2
    n_arrangements : int, default=20
        Random configurations of the convex program.
    column_generation : int, default=5
        Rounds of column generation (when supported).
    arrangements_per_round : int, default=10
        Configurations added per round (when supported).
    quick : bool, default=False
        A fast version: 2 Adam runs of 500 steps, 10 random configurations (plus the
        seeding ones), no column generation.
    fold : int, default=0
    random_state : int, default=0
    convex_params : dict or None, default=None
        Further estimator parameters; they override the ones above.
    progress : bool, default=True

    Returns
    -------
    rows : list of dict
        One dict per data set: ``dataset``, ``n``, ``d``, ``adam_objective``,
        ``convex_objective``, ``adam_test_error``, ``convex_test_error``,
        ``adam_time``, ``convex_time``, ``convex_n_subnetworks``, ``arrangements``,
        ``certificate_gap`` (None when not computed), ``paper`` (the paper's four
        numbers, :data:`PAPER_TABLE1`).
    """
    if quick:
        n_restarts, adam_steps = min(n_restarts, 2), min(adam_steps, 500)
        n_arrangements, column_generation = min(n_arrangements, 10), 0
    params = {
        "width": width,
        "n_arrangements": n_arrangements,
        "arrangements": "nonconvex",
        "column_generation": column_generation,
        "arrangements_per_round": arrangements_per_round,
    }
    params.update(convex_params or {})
    rows = []
    with _progress(2 * len(datasets), "table1", progress) as bar:
        for name in datasets:
            X, y, X_test, y_test = uci_split(name, fold)
            n, d = X.shape
            beta = beta_paper / n
            adam = _fit_adam(
                X,
                y,
                X_test,
                y_test,
                beta,
                width,
                n_subnetworks,
                adam_steps,
                learning_rate,
                max(n // 8, 1),
                n_restarts,
                random_state,
            )
            bar.update(1)
            convex = _fit_convex(X, y, X_test, y_test, beta, random_state, params)
            bar.update(1)
            rows.append(
                {
                    "dataset": name,
                    "n": n,
                    "d": d,
                    "adam_objective": adam["objective"],
                    "convex_objective": convex["objective"],
                    "adam_test_error": adam["test_error"],
                    "convex_test_error": convex["test_error"],
                    "adam_time": adam["fit_time"],
                    "convex_time": convex["fit_time"],
                    "convex_n_subnetworks": convex["n_subnetworks"],
                    "arrangements": params.get("arrangements", "random"),
                    "certificate_gap": convex.get("certificate_gap"),
                    "paper": PAPER_TABLE1.get(name),
                }
            )
    return rows


# --------------------------------------------------------------------------- Figure 4
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
        value, grad = objective_and_gradient(net, Xt, Y, w, _LOSS, beta)
        times.append(time.perf_counter() - start)
        values.append(value)
        for p in ("W1", "w2", "w3", "b"):
            setattr(net, p, getattr(net, p) - learning_rate * getattr(grad, p))
        norms = np.sqrt((net.W1 * net.W1).sum(axis=(1, 2)))
        net.W1 /= np.maximum(norms, 1.0)[:, None, None]
    times.append(time.perf_counter() - start)
    values.append(objective(net, Xt, Y, w, _LOSS, beta))
    return np.asarray(times), np.asarray(values)


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
    batch size 5 is the whole data set) or projected Adam; the convex program is solved
    once with ``n_arrangements`` sampled configurations and its network rebuilt.

    Parameters
    ----------
    n, d, width : int, default=5, 2, 3
    beta_paper : float, default=0.002
        Unnormalized weight decay; the objective uses ``beta_paper / n``.
    n_subnetworks : sequence of int, default=(1, 2, 5, 10)
        The values of ``K`` (one panel each).
    n_inits : int, default=5
        Initializations per ``K``.
    optimizer : {"adam", "sgd"}, default="adam"
    n_steps : int, default=2000
        Steps per run.
    learning_rate : float or None, default=None
        None uses 0.5 for "sgd" and 0.01 for "adam".
    n_arrangements : int, default=300
        Sampled configurations of the convex program.
    convex_params : dict or None, default=None
        Further estimator parameters (e.g. ``column_generation``).
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
    runs = []
    with _progress(len(n_subnetworks) * n_inits + 1, "figure4", progress) as bar:
        for K in n_subnetworks:
            for init in range(n_inits):
                seed = rng.randint(2**31 - 1)
                if optimizer == "sgd":
                    t, v = _train_gd(Xt, Y, w, beta, K, width, n_steps, learning_rate, seed)
                else:
                    _, hist = train_adam(
                        Xt,
                        Y,
                        w,
                        _LOSS,
                        beta,
                        n_subnetworks=K,
                        width=width,
                        n_steps=n_steps,
                        learning_rate=learning_rate,
                        random_state=seed,
                    )
                    t, v = hist["time"], hist["objective"]
                runs.append(
                    {
                        "K": int(K),
                        "init": init,
                        "time": t.tolist(),
                        "objective": v.tolist(),
                        "final": float(np.min(v)),
                    }
                )
                bar.update(1)
        params = {"width": width, "n_arrangements": n_arrangements, **(convex_params or {})}
        est = convex_regressor(beta=beta, random_state=random_state, **params)
        start = time.perf_counter()
        est.fit(X, y)
        elapsed = time.perf_counter() - start
        bar.update(1)
    rebuilt = network_objective(est.coefs_, est.intercepts_, X, Y, w, _LOSS, beta)
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


# --------------------------------------------------------------------------- beta path
def beta_path(X, y, betas, width=5, n_arrangements=20, random_state=0, **params):
    """Fit the convex regressor along a sequence of ``beta`` values.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    betas : sequence of float
        Values of the (per-sample) ``beta``.
    width, n_arrangements : int, default=5, 20
    random_state : int, default=0
        The same seed for every fit, so every fit sees the same configurations.
    **params
        Further estimator parameters.

    Returns
    -------
    rows : list of dict
        One dict per ``beta``: ``beta``, ``objective``, ``n_subnetworks``,
        ``train_r2`` and ``fit_time``.
    """
    rows = []
    for beta in betas:
        est = convex_regressor(
            beta=float(beta),
            width=width,
            n_arrangements=n_arrangements,
            random_state=random_state,
            **params,
        )
        start = time.perf_counter()
        est.fit(X, y)
        rows.append(
            {
                "beta": float(beta),
                "objective": float(est.objective_),
                "n_subnetworks": int(est.n_subnetworks_),
                "train_r2": float(est.score(X, y)),
                "fit_time": time.perf_counter() - start,
            }
        )
    return rows


# ---------------------------------------------------------------------------- output
def _cell(value, digits):
    if value is None:
        return "n/a"
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{value:.{digits}g}"
    return str(value)


def format_table(rows, columns, headers=None, style="text", digits=4):
    """Render rows of dicts as a fixed-width text or reStructuredText table.

    Parameters
    ----------
    rows : list of dict
    columns : sequence of str
        Keys to show, in order. Missing keys and None show as ``n/a``.
    headers : sequence of str or None, default=None
        Column titles (default: the keys).
    style : {"text", "rst"}, default="text"
        ``"rst"`` writes a reStructuredText simple table.
    digits : int, default=4
        Significant digits of floats.

    Returns
    -------
    table : str

    Examples
    --------
    >>> print(format_table([{"a": 1, "b": 0.5}], ["a", "b"]))
    a  b
    -  ---
    1  0.5
    """
    if style not in ("text", "rst"):
        raise ValueError(f"style must be 'text' or 'rst', got {style!r}.")
    headers = list(columns if headers is None else headers)
    body = [[_cell(r.get(c), digits) for c in columns] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.ljust(wd) for c, wd in zip(cells, widths, strict=True)).rstrip()

    if style == "text":
        rule = "  ".join("-" * wd for wd in widths)
        return "\n".join([line(headers), rule, *(line(b) for b in body)])
    rule = "  ".join("=" * wd for wd in widths)
    return "\n".join([rule, line(headers), rule, *(line(b) for b in body), rule])


# ----------------------------------------------------------------------------- plots
def _save(fig, path):
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def plot_comparison(rows, path=None):
    """Bar charts of :func:`compare`'s rows: objective, test error and fit time.

    Parameters
    ----------
    rows : list of dict
        The output of :func:`compare`.
    path : str or path-like or None, default=None
        Where to save the figure (PNG by extension).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    lookup = {(r["dataset"], r["method"]): r for r in rows}
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), layout="constrained")
    panels = [
        ("objective", "training objective (MLPRegressor: n/a)", True),
        ("test_error", "test mean squared error", True),
        ("fit_time", "fit time (s)", True),
    ]
    x = np.arange(len(datasets))
    bar_w = 0.8 / max(len(methods), 1)
    for ax, (key, title, log) in zip(axes, panels, strict=True):
        for j, method in enumerate(methods):
            vals = [lookup.get((ds, method), {}).get(key) for ds in datasets]
            heights = [np.nan if v is None else v for v in vals]
            ax.bar(x + (j - (len(methods) - 1) / 2) * bar_w, heights, bar_w, label=method)
        ax.set_xticks(x, datasets, rotation=15)
        ax.set_title(title)
        if log:
            ax.set_yscale("log")
    axes[-1].legend(title="method", fontsize="small")
    folds = sorted({r.get("fold", 0) for r in rows})
    fig.suptitle(
        "Convex program vs Adam vs MLPRegressor (regression framing, fold "
        f"{', '.join(map(str, folds))})"
    )
    return _save(fig, path)


def plot_figure4(result, path=None):
    """Plot :func:`figure4`'s result: one panel per ``K``, objective against time.

    Parameters
    ----------
    result : dict
        The output of :func:`figure4`.
    path : str or path-like or None, default=None
        Where to save the figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    Ks = list(dict.fromkeys(r["K"] for r in result["runs"]))
    fig, axes = plt.subplots(
        1,
        len(Ks),
        figsize=(3.6 * len(Ks), 3.6),
        sharey=True,
        layout="constrained",
        squeeze=False,
    )
    convex = result["convex"]
    n = len(result["y"])
    n_inits = len({r["init"] for r in result["runs"]})
    label = "SGD" if result["optimizer"] == "sgd" else "Adam"
    for ax, K in zip(axes[0], Ks, strict=True):
        for r in (r for r in result["runs"] if r["K"] == K):
            ax.plot(
                r["time"],
                r["objective"],
                lw=1,
                alpha=0.8,
                label=f"{label} init {r['init'] + 1}",
            )
        ax.axhline(convex["objective"], color="green", ls="--", lw=1)
        ax.plot(
            [convex["time"]], [convex["objective"]], "o", color="green", label="convex program"
        )
        ax.plot(
            [convex["time"]],
            [convex["reconstructed_objective"]],
            "x",
            color="red",
            ms=9,
            label="rebuilt network",
        )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"K = {K}")
        ax.set_xlabel("time (s)")
    axes[0][0].set_ylabel("training objective (per sample)")
    axes[0][-1].legend(fontsize="x-small")
    fig.suptitle(
        f"Figure 4: {label} ({n_inits} initializations) vs the convex program, "
        f"n={n}, d={len(result['X'][0])}, m={result.get('width', '?')}, "
        f"beta={result['beta'] * n:g} (unnormalized)"
    )
    return _save(fig, path)


def plot_beta_path(rows, path=None):
    """Number of sub-networks and training objective along ``beta`` (:func:`beta_path`).

    Parameters
    ----------
    rows : list of dict
        The output of :func:`beta_path`.
    path : str or path-like or None, default=None

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    betas = [r["beta"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    ax.semilogx(betas, [r["n_subnetworks"] for r in rows], "o-", color="C0")
    ax.set_xlabel("beta (per sample)")
    ax.set_ylabel("sub-networks K*", color="C0")
    ax2 = ax.twinx()
    ax2.semilogx(betas, [r["objective"] for r in rows], "s--", color="C1")
    ax2.set_ylabel("training objective", color="C1")
    ax.set_title("Sparsity chooses the architecture")
    return _save(fig, path)
