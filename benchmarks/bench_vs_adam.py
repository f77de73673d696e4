"""Convex fit against Adam on the non-convex network, at equal wall time.

For each data size, the convex estimator is fitted first (its wall time is the budget);
Adam then trains the same architecture (``K`` sub-networks of the same width, the same
objective, full batch) for the same wall time from several initializations, and
scikit-learn's MLPRegressor trains a network of about the same size. The table reports
the training objective each reached and the ratios (Adam / convex: above 1 means the
convex fit is better).

Run::

    python benchmarks/bench_vs_adam.py                       # teacher data, n = 100, 400
    python benchmarks/bench_vs_adam.py --n 100 400 1600 --solver native
    python benchmarks/bench_vs_adam.py --uci fertility --column-generation 5
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.neural_network import MLPRegressor

from skconvexrelu import ConvexThreeLayerRegressor
from skconvexrelu._losses import SquaredLoss
from skconvexrelu._nonconvex import train_adam
from skconvexrelu.datasets import load_uci
from skconvexrelu.experiments._common import fit_in_target_units


def teacher_data(n, d=10, width=10, seed=0):
    """Gaussian inputs through a random three-layer teacher network (the paper's data)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    H = np.maximum(X @ rng.standard_normal((d, width)), 0)
    y = np.maximum(H @ rng.standard_normal((width, 5)), 0) @ rng.standard_normal(5)
    return X, y


def run(X, y, beta, width, n_arrangements, solver, arrangements, column_generation, seeds):
    n = len(y)
    t0 = time.perf_counter()
    reg = ConvexThreeLayerRegressor(
        beta=beta,
        width=width,
        n_arrangements=n_arrangements,
        solver=solver,
        arrangements=arrangements,
        column_generation=column_generation,
        random_state=0,
    )
    fit_in_target_units(reg, X, y)  # beta_ = beta: the objective Adam minimizes
    budget = time.perf_counter() - t0
    Xt = np.hstack([X, np.ones((n, 1))])
    w = np.full(n, 1.0 / n)
    adam = []
    for seed in range(seeds):
        _, hist = train_adam(
            Xt,
            y[:, None],
            w,
            SquaredLoss(),
            beta,
            n_subnetworks=10,
            width=width,
            n_steps=10**7,
            learning_rate=1e-2,
            random_state=seed,
            max_time=budget,
        )
        adam.append(float(np.min(hist["objective"])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t1 = time.perf_counter()
        mlp = MLPRegressor(
            hidden_layer_sizes=(10 * width, 10), alpha=beta, max_iter=2000, random_state=0
        )
        mlp.fit(X, y)
        mlp_time = time.perf_counter() - t1
    mlp_mse = float(np.mean((mlp.predict(X) - y) ** 2))
    return {
        "n": n,
        "convex_objective": reg.objective_,
        "convex_time": budget,
        "solver": reg.solver_,
        "subnetworks": reg.n_subnetworks_,
        "adam_best": min(adam),
        "adam_median": float(np.median(adam)),
        "adam_over_convex": min(adam) / reg.objective_,
        "mlp_half_mse": 0.5 * mlp_mse,
        "mlp_time": mlp_time,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--uci", default=None, help="a bundled UCI data set instead")
    parser.add_argument(
        "--beta-paper",
        type=float,
        default=0.01,
        help="the paper's (unnormalized) beta; divided by n here",
    )
    parser.add_argument("--width", type=int, default=10)
    parser.add_argument("--n-arrangements", type=int, default=20)
    parser.add_argument("--solver", default="auto")
    parser.add_argument("--arrangements", default="nonconvex")
    parser.add_argument("--column-generation", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args(argv)
    if args.uci:
        data = load_uci(args.uci)
        datasets = [(args.uci, data.data, data.target.astype(float))]
    else:
        datasets = [(f"teacher n={n}", *teacher_data(n)) for n in args.n]
    header = (
        f"{'data':<22}{'solver':<20}{'convex':>10}{'time s':>8}{'K':>4}"
        f"{'Adam best':>11}{'Adam med':>10}{'Adam/cvx':>9}{'MLP mse/2':>10}{'MLP s':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, X, y in datasets:
        r = run(
            X,
            y,
            args.beta_paper / len(y),
            args.width,
            args.n_arrangements,
            args.solver,
            args.arrangements,
            args.column_generation,
            args.seeds,
        )
        print(
            f"{name:<22}{r['solver']:<20}{r['convex_objective']:>10.5f}{r['convex_time']:>8.1f}"
            f"{r['subnetworks']:>4}{r['adam_best']:>11.5f}{r['adam_median']:>10.5f}"
            f"{r['adam_over_convex']:>9.3f}{r['mlp_half_mse']:>10.5f}{r['mlp_time']:>7.1f}"
        )


if __name__ == "__main__":
    main()
