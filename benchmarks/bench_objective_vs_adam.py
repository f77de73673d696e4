"""The default fit's training objective against the best of three Adam runs.

For each data set, ``ConvexThreeLayerRegressor(random_state=0)`` is fitted with its
defaults; then full-batch projected Adam (:func:`skconvexrelu._nonconvex.train_adam`)
trains the same architecture (``n_arrangements = 10`` sub-networks of ``width = 10``)
on the same objective, the one ``objective_`` reports (the squared loss on the targets
as given, weight decay ``beta_``), from three initializations, for 1,000 and for 3,000
steps. The table reports the objectives and whether the convex fit is at most the best
Adam run. The six UCI sets of the paper's Table 1 are used in its regression framing
(class numbers as real targets, features as shipped); the real tables of
``bench_real_data.py`` with their pipeline's features and standardized targets.

Run::

    python benchmarks/bench_objective_vs_adam.py
    python benchmarks/bench_objective_vs_adam.py --uci fertility --real diabetes
"""

import argparse
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from skconvexrelu import ConvexThreeLayerRegressor
from skconvexrelu._losses import SquaredLoss
from skconvexrelu.datasets import UCI_DATASETS, load_uci

UCI = list(UCI_DATASETS)
REAL = ["diabetes", "CPS1985", "Hitters", "College"]


def uci_data(name):
    data = load_uci(name)
    return data.data, data.target.astype(float)


def real_data(name):
    """Training rows of a regression table of ``bench_real_data.py``, encoded, with the
    target standardized."""
    import _real_data as rd

    X_train, _, y_train, _ = rd.split(name)
    X = rd.make_preprocessor(X_train).fit_transform(X_train)
    y = np.asarray(y_train, dtype=float)
    return X, (y - y.mean()) / y.std()


def best_adam(X, y, beta, n_steps, seeds=3):
    """The lowest objective of ``seeds`` Adam runs of ``n_steps`` (10 sub-networks of
    width 10, the same objective as the convex fit's)."""
    from skconvexrelu._nonconvex import train_adam

    Xt = np.hstack([X, np.ones((len(X), 1))])
    w = np.full(len(y), 1.0 / len(y))
    runs = [
        train_adam(
            Xt, y[:, None], w, SquaredLoss(), beta, n_subnetworks=10, width=10,
            n_steps=n_steps, random_state=seed,
        )[1]["objective"].min()
        for seed in range(seeds)
    ]  # fmt: skip
    return float(min(runs))


def row(name, X, y):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        est = ConvexThreeLayerRegressor(random_state=0).fit(X, y)
        seconds = time.perf_counter() - start
    adam = [best_adam(X, y, est.beta_, steps) for steps in (1000, 3000)]
    verdict = "yes" if est.objective_ <= min(adam) else "no"
    return (
        f"| {name} | {len(y)} | {est.objective_:.5g} | {seconds:.2f} | {adam[0]:.5g} | "
        f"{adam[1]:.5g} | {verdict} | {len(caught)} |"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uci", nargs="*", default=UCI)
    parser.add_argument("--real", nargs="*", default=REAL)
    args = parser.parse_args(argv)
    print(
        "| data | n | convex objective | convex s | Adam best of 3, 1,000 steps | "
        "3,000 steps | convex <= Adam | warnings |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with threadpool_limits(1):
        for name in args.uci:
            print(row(name, *uci_data(name)), flush=True)
        for name in args.real:
            print(row(name, *real_data(name)), flush=True)


if __name__ == "__main__":
    main()
