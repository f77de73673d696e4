"""The paper's Table 1: the best of several Adam runs against the convex program."""

from dataclasses import replace

from ..datasets import UCI_DATASETS
from ._common import progress_bar, uci_split
from ._fits import AdamBaseline, fit_adam, fit_convex

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


def _table1_row(name, n, d, adam, convex, params):
    """The row of data set ``name`` from its Adam and convex rows."""
    return {
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
    initializations and the best objective is kept. The convex fit
    (``arrangements="nonconvex"``) starts from the configurations of an Adam-trained
    network plus ``n_arrangements`` random ones, and column generation adds
    ``arrangements_per_round`` configurations in each of ``column_generation`` rounds.

    Parameters
    ----------
    datasets : sequence of str, default=UCI_DATASETS
    beta_paper : float, default=0.1
        Unnormalized weight decay (the paper's); fits use ``beta_paper / n_train``.
    width, n_subnetworks : int, default=7, 10
        ``m`` and the ``K`` of the Adam baseline.
    n_restarts, adam_steps, learning_rate : default=5, 3000, 1e-2
        Adam initializations per data set, steps per initialization, step size.
    n_arrangements : int, default=20
        Random configurations of the convex program (besides the seeded ones).
    column_generation, arrangements_per_round : int, default=5, 10
        Rounds of column generation and configurations added per round.
    quick : bool, default=False
        A fast version: at most 2 Adam runs of at most 500 steps, at most 10 random
        configurations (plus the seeded ones), no column generation.
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
        **(convex_params or {}),
    }
    adam = AdamBaseline(width, n_subnetworks, adam_steps, learning_rate, n_restarts)
    rows = []
    with progress_bar(2 * len(datasets), "table1", progress) as bar:
        for name in datasets:
            X, y, X_test, y_test = uci_split(name, fold)
            n, d = X.shape
            beta = beta_paper / n
            batched = replace(adam, batch_size=max(n // 8, 1))
            adam_row = fit_adam(X, y, X_test, y_test, beta, batched, random_state)
            bar.update(1)
            convex_row = fit_convex(X, y, X_test, y_test, beta, random_state, params)
            bar.update(1)
            rows.append(_table1_row(name, n, d, adam_row, convex_row, params))
    return rows
