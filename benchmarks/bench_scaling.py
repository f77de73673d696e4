"""How the native solver's fit time and memory grow with n (squared loss).

Teacher data as in ``bench_native_vs_cvxpy.py`` (d = 10, width = 10, P = 20,
beta = 0.01 / n), n doubling from 1,000 to 64,000. Each size runs in a fresh subprocess
so that its peak resident memory (``ru_maxrss``) is its own. ``--fashion`` runs the
synthetic Fashion-MNIST shape instead (n = 60,000, d = 784, width = 5, P = 20).

Examples
--------
    python benchmarks/bench_scaling.py                     # 1k ... 64k
    python benchmarks/bench_scaling.py --n 1000 4000 16000
    python benchmarks/bench_scaling.py --fashion
"""

import argparse
import json
import subprocess
import sys


def _one(n, d, width, P, tol, max_time):
    import resource
    import time
    import warnings

    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from bench_native_vs_cvxpy import teacher_problem

    from skconvexrelu.solvers._native import solve_native

    program, loss, Y, w, beta = teacher_problem(n, d=d, width=width, n_arrangements=P)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = solve_native(program, loss, Y, w, beta, tol=tol, max_time=max_time)
        out = dict(
            status=res.status,
            iters=res.n_iter,
            objective=res.objective,
            criterion=res.stop_criterion,
        )
    except MemoryError as exc:
        out = dict(status="MemoryError", error=str(exc))
    out["seconds"] = time.perf_counter() - t0
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
        help="n=60000, d=784, width=5, P=20 (synthetic Fashion-MNIST shape)",
    )
    parser.add_argument("--_one", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._one:
        n, d, width, P = (int(v) for v in args._one[:4])
        tol = float(args._one[4])
        max_time = None if args._one[5] == "None" else float(args._one[5])
        _one(n, d, width, P, tol, max_time)
        return
    runs = [(60000, 784, 5, 20)] if args.fashion else [(n, 10, 10, 20) for n in args.n]
    print(
        f"{'n':>7} {'d':>4} {'seconds':>9} {'s / 1k rows':>11} {'iters':>5} {'peak GiB':>8} "
        f"{'status':>12} objective"
    )
    for n, d, width, P in runs:
        cmd = [
            sys.executable,
            __file__,
            "--_one",
            str(n),
            str(d),
            str(width),
            str(P),
            str(args.tol),
            str(args.max_time),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            print(f"{n:>7} {d:>4} failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(lines[-1])
        print(
            f"{n:>7} {d:>4} {r['seconds']:>9.1f} {1000 * r['seconds'] / n:>11.3f} "
            f"{r.get('iters', '-'):>5} {r['peak_gib']:>8.2f} {r['status']:>12} "
            f"{r.get('objective', r.get('error', ''))}",
            flush=True,
        )


if __name__ == "__main__":
    main()
