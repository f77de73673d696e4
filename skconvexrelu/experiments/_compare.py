"""The default comparison: convex fit vs Adam vs scikit-learn's ``MLPRegressor``."""

from ._common import progress_bar, uci_split
from ._fits import AdamBaseline, fit_adam, fit_convex, fit_mlp

#: Data sets of the default comparison: the three smallest bundled ones.
COMPARE_DATASETS = ("acute-inflammation", "balloons", "fertility")


def _compare_on(name, fold, beta_paper, convex_params, adam, mlp_max_iter, random_state):
    """The three fits on data set ``name``, yielded as rows one by one as they finish."""
    X, y, X_test, y_test = uci_split(name, fold)
    n, d = X.shape
    beta = beta_paper / n
    data = (X, y, X_test, y_test)
    tags = {"dataset": name, "n": n, "d": d, "fold": fold}
    row = fit_convex(*data, beta, random_state, convex_params)
    yield {**row, **tags}
    row = fit_adam(*data, beta, adam, random_state)
    yield {**row, **tags}
    row = fit_mlp(
        *data, beta_paper, adam.width, adam.n_subnetworks, mlp_max_iter, random_state
    )
    yield {**row, **tags}


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
      ``adam_restarts`` initializations of ``adam_steps`` full-batch steps of size
      ``learning_rate``;
    - ``"MLPRegressor"``: a dense two-hidden-layer network of sizes
      ``(width * n_subnetworks, n_subnetworks)`` with ``alpha = beta_paper`` and
      ``mlp_max_iter`` iterations. It penalizes every layer and has no norm constraint,
      so its ``objective`` is None and its own loss is given in ``note``.

    Parameters
    ----------
    datasets : sequence of str, default=COMPARE_DATASETS
        Names of bundled UCI data sets.
    beta_paper : float, default=0.1
        Unnormalized weight decay; each fit uses ``beta_paper / n_train``.
    width, n_subnetworks : int, default=7, 10
        First-layer width ``m`` of every sub-network, and ``K`` of the Adam baseline
        (the convex fit chooses its own).
    n_arrangements : int, default=20
        Sampled configurations of the convex program.
    adam_steps, adam_restarts, learning_rate, mlp_max_iter : default=2000, 3, 1e-2, 1000
    fold : int, default=0
        Predefined fold used as train/test split.
    random_state : int, default=0
        Seed of every method.
    arrangements : {"auto", "random", "nonconvex"}, default="auto"
        Configurations of the convex program; ``"auto"`` means ``"nonconvex"``: the
        sampled ones plus those of an Adam-trained network.
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
    """
    params = {
        "width": width,
        "n_arrangements": n_arrangements,
        "arrangements": "nonconvex" if arrangements == "auto" else arrangements,
        "column_generation": 1 if column_generation == "auto" else column_generation,
        **(convex_params or {}),
    }
    adam = AdamBaseline(width, n_subnetworks, adam_steps, learning_rate, adam_restarts)
    rows = []
    with progress_bar(3 * len(datasets), "compare", progress) as bar:
        for name in datasets:
            for row in _compare_on(
                name, fold, beta_paper, params, adam, mlp_max_iter, random_state
            ):
                rows.append(row)
                bar.set_postfix_str(f"{name}: {row['method']}", refresh=False)
                bar.update(1)
    return rows
