"""Size of the interior-point method's first working set: large or small start.

Times the estimators (``solver="native"``) on the paper's teacher data with the first
working set of ``first_rows * d~`` rows per column ("large") and of
``first_rows_small * d~`` rows ("small"), whatever ``small_n`` says (fields of
``skconvexrelu.solvers.settings.WorkingSetSettings``), one subprocess per fit (so that
no run warms the next one up), and prints the median time and the iterations over the
random states. The results are in ``benchmarks/README.md``.

Examples
--------
    python benchmarks/bench_first_working_set.py                   # n = 400, 600, 800
    python benchmarks/bench_first_working_set.py --n 400 --loss hinge cross_entropy
    python benchmarks/bench_first_working_set.py --n 1000 --seeds 0 1 2 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys


def _one(n, loss, start, seed, d):
    import time

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_native_vs_cvxpy import class_labels, teacher_data

    from skconvexrelu import ConvexThreeLayerClassifier, ConvexThreeLayerRegressor
    from skconvexrelu.solvers.settings import IPMSettings, WorkingSetSettings

    X, y = teacher_data(n, d)
    small_n = 10**12 if start == "small" else 0
    settings = IPMSettings(working_set=WorkingSetSettings(small_n=small_n))
    kw = dict(beta=0.01 / n, width=10, n_arrangements=20, solver="native", random_state=seed,
              arrangements="random", solver_options=settings)  # fmt: skip
    if loss == "squared":
        est = ConvexThreeLayerRegressor(**kw)
    else:
        est = ConvexThreeLayerClassifier(loss=loss, **kw)
        y = class_labels(y)
    t0 = time.perf_counter()
    est.fit(X, y)
    elapsed = time.perf_counter() - t0
    out = dict(time=elapsed, n_iter=int(est.n_iter_), status=est.solver_status_)
    out.update(solver=est.solver_, objective=float(est.objective_))
    print(json.dumps(out))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[400, 600, 800])
    parser.add_argument("--loss", nargs="+", default=["squared"])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(8)))
    parser.add_argument("--d", type=int, default=10)
    parser.add_argument("--_one", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._one:
        n, loss, start, seed, d = args._one
        _one(int(n), loss, start, int(seed), int(d))
        return
    print(f"{'loss':>13} {'n':>6} {'start':>6} {'median s':>9}  iterations (statuses)")
    for loss in args.loss:
        for n in args.n:
            for start in ("large", "small"):
                runs = []
                for seed in args.seeds:
                    cmd = [sys.executable, __file__, "--_one", str(n), loss, start]
                    cmd += [str(seed), str(args.d)]
                    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                    runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                med = statistics.median(r["time"] for r in runs)
                its = [r["n_iter"] for r in runs]
                statuses = sorted({r["status"] for r in runs})
                row = f"{loss:>13} {n:>6} {start:>6} {med:>9.2f}  {its} {statuses}"
                print(row, flush=True)


if __name__ == "__main__":
    main()
