"""Which solver ``solver="auto"`` should run on small classification programs.

Fits ``ConvexThreeLayerClassifier`` (defaults: ``width=10``, ``n_arrangements=20``,
``random_state=0``) on the bundled UCI data sets and standardized iris with
``solver="ipm"`` and with ``solver="cvxpy"`` (Clarabel) for each loss and ``beta``, in
one process, and prints a Markdown table: wall-clock time, status (and whether a
ConvergenceWarning was raised) and the relative difference of the objectives (negative:
the native solver's is lower; both points are feasible, so the lower is the more
accurate). This is the measurement behind ``solver="auto"`` running the native solver
for the cross-entropy loss at every size (see
``skconvexrelu.solvers.settings.SolverChoiceSettings``).

Examples
--------
    python benchmarks/bench_auto_choice.py                          # cross-entropy
    python benchmarks/bench_auto_choice.py --loss hinge --beta 1e-3
    python benchmarks/bench_auto_choice.py --data balloons --beta 1e-3
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from skconvexrelu import ConvexThreeLayerClassifier
from skconvexrelu.datasets import load_uci

DATA = (
    "acute-inflammation",
    "acute-nephritis",
    "balloons",
    "fertility",
    "pittsburg-bridges-SPAN",
    "iris",
)


def load(name):
    """``(X, y)``; iris is standardized (the UCI sets come preprocessed)."""
    if name == "iris":
        X, y = load_iris(return_X_y=True)
        return StandardScaler().fit_transform(X), y
    return load_uci(name, return_X_y=True)


def fit(X, y, loss, beta, solver):
    """``(seconds, status, objective)`` of one fit; the status notes a warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        est = ConvexThreeLayerClassifier(
            loss=loss, beta=beta, solver=solver, arrangements="random", random_state=0
        )
        est.fit(X, y)
        seconds = time.perf_counter() - start
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return seconds, est.solver_status_ + (" (warns)" if warned else ""), est.objective_


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", default=list(DATA), choices=DATA)
    parser.add_argument("--loss", nargs="+", default=["cross_entropy"])
    parser.add_argument("--beta", type=float, nargs="+", default=[1e-4, 1e-3, 1e-2])
    args = parser.parse_args(argv)
    print(
        "| data set | n | classes | loss | beta | `ipm` | `ipm` status | `cvxpy` "
        "| `cvxpy` status | relative difference |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in args.data:
        X, y = load(name)
        for loss in args.loss:
            for beta in args.beta:
                t1, s1, o1 = fit(X, y, loss, beta, "ipm")
                t2, s2, o2 = fit(X, y, loss, beta, "cvxpy")
                print(
                    f"| {name} | {X.shape[0]} | {len(np.unique(y))} | {loss} | {beta:g} "
                    f"| {t1:.2f} s | {s1} | {t2:.2f} s | {s2} | {o1 / o2 - 1:.1e} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
