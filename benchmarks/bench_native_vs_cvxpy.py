"""Native interior-point solver against cvxpy + Clarabel on the paper's teacher data.

Data (the paper's synthetic problem): ``X ~ N(0, I)`` with ``d = 10`` features,
targets from a random three-layer ReLU teacher of width 10, a first-layer bias column,
``width = 10``, ``P = 20`` sampled configurations, ``beta = 0.01 / n`` (the paper's
unnormalized 0.01).
Both solvers run in this one process on the same program; the table reports wall-clock
times, objectives, their relative difference and the speed-up.

With ``--estimator`` both run through the estimators as a user would call them
(``ConvexThreeLayerRegressor`` / ``ConvexThreeLayerClassifier`` with ``solver="ipm"``
and ``solver="cvxpy"``, the same ``random_state`` and so the same configurations, ``tol``
for both): sampling and the network's rebuild are then timed too.

Examples
--------
    python benchmarks/bench_native_vs_cvxpy.py                      # n = 100, 400
    python benchmarks/bench_native_vs_cvxpy.py --n 100 400 1600 --cvxpy-max-n 400
    python benchmarks/bench_native_vs_cvxpy.py --loss hinge cross_entropy --n 100
    python benchmarks/bench_native_vs_cvxpy.py --estimator --n 400
"""

import argparse
import time
import warnings

import numpy as np

from skconvexrelu._arrangements import sample_configurations
from skconvexrelu._losses import make_loss
from skconvexrelu._program import ConvexProgram
from skconvexrelu.solvers.ipm import solve_native


def teacher_data(n, d=10, width=10, seed=0):
    """``(X, y)``: Gaussian inputs and the output of a random three-layer ReLU teacher."""
    teacher = np.random.default_rng(seed)  # the same teacher whatever n
    W1 = teacher.standard_normal((d, width))
    w2 = teacher.standard_normal(width)
    X = np.random.default_rng([seed, n]).standard_normal((n, d))
    y = np.maximum(np.maximum(X @ W1, 0.0) @ w2, 0.0)  # relu(relu(X W1) w2) w3, w3 = 1
    return X, y


def class_labels(y, n_classes=2):
    """Class indices from the teacher's output: split at its median (2 classes) or into
    ``n_classes`` equal groups by rank (ties in sample order: the teacher's output has
    many exact zeros, which a split at its quantiles put all in one class, leaving
    class 0 empty)."""
    if n_classes == 2:
        return (y > np.median(y)).astype(int)
    ranks = np.empty(len(y), dtype=int)
    ranks[np.argsort(y, kind="stable")] = np.arange(len(y))
    return ranks * n_classes // len(y)


def teacher_problem(
    n, d=10, width=10, n_arrangements=20, loss="squared", n_classes=2, seed=0, dtype=np.float64
):
    """``(program, loss, Y, w, beta)`` for the paper's synthetic teacher data."""
    X, y = teacher_data(n, d, width, seed)
    Xt = np.hstack([X, np.ones((n, 1))])
    conf = sample_configurations(Xt, width, n_arrangements, random_state=seed)
    labels = class_labels(y, n_classes)
    if loss == "squared":
        Y = y[:, None]
    elif n_classes == 2:
        Y = np.where(labels == 1, 1.0, -1.0)[:, None]
    else:
        Y = np.eye(n_classes)[labels]
        if loss == "hinge":
            Y = 2.0 * Y - 1.0
    program = ConvexProgram(Xt, conf, n_outputs=Y.shape[1], dtype=dtype)
    w = np.full(n, 1.0 / n)
    return program, make_loss(loss, Y.shape[1]), Y, w, 0.01 / n


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[100, 400])
    parser.add_argument(
        "--loss", nargs="+", default=["squared"], choices=["squared", "hinge", "cross_entropy"]
    )
    parser.add_argument(
        "--classes", type=int, default=2, help="classes for hinge/cross-entropy"
    )
    parser.add_argument("--tol", type=float, default=1e-6, help="native solver tolerance")
    parser.add_argument(
        "--cvxpy-max-n",
        type=int,
        default=1600,
        help="skip cvxpy above this n (Clarabel takes ~10 min at n=1600)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--estimator",
        action="store_true",
        help="fit through the estimators (solver='ipm' vs 'cvxpy'); --tol applies to both",
    )
    args = parser.parse_args(argv)

    head = (
        f"{'loss':>13} {'n':>6} {'native s':>9} {'iters':>5} {'native obj':>14} "
        f"{'cvxpy s':>9} {'cvxpy obj':>14} {'rel diff':>9} {'speed-up':>8}"
    )
    print(head)
    print("-" * len(head))
    for loss_name in args.loss:
        for n in args.n:
            pair = estimator_pair if args.estimator else solver_pair
            native, ref = pair(n, loss_name, args, with_cvxpy=n <= args.cvxpy_max_n)
            line = (
                f"{loss_name:>13} {n:>6} {native['time']:>9.2f} {native['n_iter']:>5} "
                f"{native['objective']:>14.8g}"
            )
            if ref is not None:
                rel = (native["objective"] - ref["objective"]) / abs(ref["objective"])
                line += (
                    f" {ref['time']:>9.2f} {ref['objective']:>14.8g} {rel:>9.1e} "
                    f"{ref['time'] / native['time']:>7.1f}x"
                )
                if ref["status"] != "optimal":
                    line += f"  [cvxpy: {ref['status']}]"
            if native["status"] != "optimal":
                line += f"  [{native['status']}]"
            print(line, flush=True)


def _row(elapsed, objective, n_iter, status):
    return dict(time=elapsed, objective=objective, n_iter=n_iter, status=status)


def solver_pair(n, loss_name, args, with_cvxpy):
    """Both solvers on one program: (native, cvxpy or None) as dicts of time,
    objective, iterations and status."""
    program, loss, Y, w, beta = teacher_problem(
        n, loss=loss_name, n_classes=args.classes, seed=args.seed
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = solve_native(program, loss, Y, w, beta, tol=args.tol)
    native = _row(time.perf_counter() - t0, res.objective, res.n_iter, res.status)
    if not with_cvxpy:
        return native, None
    from skconvexrelu.solvers._cvxpy import solve_cvxpy

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = solve_cvxpy(program, loss, Y, w, beta)
    return native, _row(time.perf_counter() - t0, ref.objective, ref.n_iter, ref.status)


def estimator_pair(n, loss_name, args, with_cvxpy):
    """The same comparison through the estimators' ``fit`` (``solver="ipm"`` against
    ``solver="cvxpy"``, the same ``random_state``)."""
    from skconvexrelu import ConvexThreeLayerClassifier, ConvexThreeLayerRegressor

    X, y = teacher_data(n, seed=args.seed)
    params = dict(
        beta=0.01 / n, width=10, n_arrangements=20, tol=args.tol, random_state=args.seed
    )
    if loss_name == "squared":
        make, target = ConvexThreeLayerRegressor, y
    else:
        params["loss"] = loss_name
        make, target = ConvexThreeLayerClassifier, class_labels(y, args.classes)
    out = []
    for solver in ("ipm", "cvxpy") if with_cvxpy else ("ipm",):
        est = make(solver=solver, **params)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, target)
        elapsed = time.perf_counter() - t0
        out.append(_row(elapsed, est.objective_, est.n_iter_, est.solver_status_))
    return out[0], (out[1] if with_cvxpy else None)


if __name__ == "__main__":
    main()
