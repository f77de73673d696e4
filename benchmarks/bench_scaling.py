"""How a native fit's time and memory grow with n, and the large wide fit.

Each size runs in a fresh subprocess, through the estimator as a user would call it
(``ConvexThreeLayerRegressor(solver="native", ...).fit(X, y)``: sampling, solve, rebuild),
so that its peak resident memory (``ru_maxrss``) is its own.

- Teacher data as in ``bench_native_vs_cvxpy.py`` (``d = 10``, ``width = 10``,
  ``n_arrangements = 20``, ``beta = 0.01 / n``), n doubling from 1,000 to 64,000:
  ``solver="native"`` picks the interior-point method there. ``--loss hinge`` or
  ``--loss cross_entropy``: ``ConvexThreeLayerClassifier`` with that loss on the same
  data, labels split at the median (as in ``bench_native_vs_cvxpy.py``).
- ``--fashion``: synthetic data of the Fashion-MNIST shape (``n = 60,000``, ``d = 784``,
  ``width = 5``, ``n_arrangements = 20``, targets from a random teacher network of the
  same input size, ``beta = 1e-3``, the estimators' default): ``solver="native"`` picks
  the first-order method (its interior-point blocks would be 3,925 wide).

Examples
--------
    python benchmarks/bench_scaling.py                     # 1k ... 64k
    python benchmarks/bench_scaling.py --n 1000 4000 16000
    python benchmarks/bench_scaling.py --loss cross_entropy    # the classifier's default
    python benchmarks/bench_scaling.py --fashion
    python benchmarks/bench_scaling.py --fashion --float32
"""

import argparse
import json
import subprocess
import sys


def _data(n, d, seed=0):
    import numpy as np

    teacher = np.random.default_rng(seed)
    W1 = teacher.standard_normal((d, 10)) / np.sqrt(d / 10)  # = bench_native_vs_cvxpy at d=10
    w2 = teacher.standard_normal(10)
    X = np.random.default_rng([seed, n]).standard_normal((n, d))
    y = np.maximum(np.maximum(X @ W1, 0.0) @ w2, 0.0)
    return X, y


def _one(n, d, width, P, beta, tol, max_time, float32, loss="squared"):
    import resource
    import time
    import warnings

    import numpy as np

    from skconvexrelu import ConvexThreeLayerClassifier, ConvexThreeLayerRegressor

    X, y = _data(n, d)
    if float32:
        X = X.astype(np.float32)
    if loss == "squared":
        est, extra = ConvexThreeLayerRegressor, {}
    else:
        est, extra = ConvexThreeLayerClassifier, {"loss": loss}
        y = (y > np.median(y)).astype(int)
    est = est(
        **extra,
        beta=beta,
        width=width,
        n_arrangements=P,
        arrangements="random",
        solver="native",
        tol=tol,
        max_time=max_time,
        random_state=0,
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y)
    out = dict(
        estimator=type(est).__name__,
        seconds=time.perf_counter() - t0,
        solver=est.solver_,
        status=est.solver_status_,
        iters=est.n_iter_,
        objective=est.objective_,
        criterion=est.stop_criterion_,
        subnetworks=est.n_subnetworks_,
        warnings=len(caught),
    )
    out["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    out["n"], out["d"] = n, d
    print(json.dumps(out))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--n", type=int, nargs="+", default=[1000, 2000, 4000, 8000, 16000, 32000, 64000]
    )
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--max-time", type=float, default=None)
    parser.add_argument(
        "--fashion",
        action="store_true",
        help="n=60000, d=784, width=5, P=20, beta=1e-3 (synthetic Fashion-MNIST shape)",
    )
    parser.add_argument("--float32", action="store_true", help="float32 input")
    parser.add_argument(
        "--loss",
        choices=["squared", "hinge", "cross_entropy"],
        default="squared",
        help="squared: the regressor; hinge, cross_entropy: the classifier",
    )
    parser.add_argument("--_one", nargs=9, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._one:
        n, d, width, P = (int(v) for v in args._one[:4])
        beta, tol = float(args._one[4]), float(args._one[5])
        max_time = None if args._one[6] == "None" else float(args._one[6])
        _one(n, d, width, P, beta, tol, max_time, args._one[7] == "True", args._one[8])
        return
    if args.fashion:
        runs = [(60000, 784, 5, 20, 1e-3)]
    else:
        runs = [(n, 10, 10, 20, 0.01 / n) for n in args.n]
    print(
        f"{'n':>7} {'d':>4} {'seconds':>9} {'s / 1k rows':>11} {'iters':>6} {'peak GiB':>8} "
        f"{'solver':>24} {'status':>9} {'criterion':>9} objective"
    )
    for n, d, width, P, beta in runs:
        cmd = [sys.executable, __file__, "--_one", str(n), str(d), str(width), str(P)]
        cmd += [str(beta), str(args.tol), str(args.max_time), str(args.float32), args.loss]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            print(f"{n:>7} {d:>4} failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(lines[-1])
        print(
            f"{n:>7} {d:>4} {r['seconds']:>9.1f} {1000 * r['seconds'] / n:>11.3f} "
            f"{r['iters']:>6} {r['peak_gib']:>8.2f} {r['solver']:>24} {r['status']:>9} "
            f"{r['criterion']:>9.1e} {r['objective']:.8g}",
            flush=True,
        )


if __name__ == "__main__":
    main()
