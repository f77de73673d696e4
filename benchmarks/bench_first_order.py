"""The matrix-free first-order solver on a Fashion-MNIST-shaped program, and on small ones.

Fashion shape (default): ``X ~ N(0, 1)`` of shape ``60000 x 784`` plus a bias column,
targets from the random teacher network of ``bench_native_vs_cvxpy.teacher_problem``
(``d = 784``, width 5), 20 sampled configurations, width 5, squared loss,
``beta = 1e-3`` (the estimators' default). Each run happens in a fresh subprocess so that
its peak resident memory (``ru_maxrss``) is its own; the line printed reports the wall
time, the inner iterations (forward + adjoint pairs), the objective, the stopping
criterion (certified relative gap / relative cone violation), the violation and the peak
RSS.

``--small`` instead compares with cvxpy + Clarabel on the teacher data of
``bench_native_vs_cvxpy.py`` (``d = 10``, width 10, 20 configurations, its beta).

By default ``max_iter`` is the solver's own (``max_iter=None``: a work cap, 199 steps at
the Fashion shape on a CPU); pass a large ``--max-iter`` to let ``--max-time`` alone
stop the run.

Examples
--------
    python benchmarks/bench_first_order.py                          # Fashion shape
    python benchmarks/bench_first_order.py --max-iter 1000000 --max-time 300 --dtype float32
    python benchmarks/bench_first_order.py --small --n 100 200 400
    python benchmarks/bench_first_order.py --device cuda            # torch backend
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))


def _worker(args):
    import resource

    import numpy as np

    sys.path.insert(0, HERE)
    from bench_native_vs_cvxpy import teacher_problem

    from skconvexrelu.solvers.first_order import solve_first_order

    dtype = np.float32 if args.dtype == "float32" else np.float64
    t0 = time.perf_counter()
    if args.small:
        program, loss, Y, w, beta = teacher_problem(args.n, seed=args.seed, dtype=dtype)
    else:
        program, loss, Y, w, _ = teacher_problem(
            args.n, d=args.d, width=5, n_arrangements=20, seed=args.seed, dtype=dtype
        )
        beta = args.beta
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = solve_first_order(
            program,
            loss,
            Y,
            w,
            beta,
            tol=args.tol,
            max_iter=args.max_iter,
            max_time=args.max_time,
            device=args.device,
            verbose=args.verbose,
        )
    t_solve = time.perf_counter() - t0
    Z = program.first_layer(res.U)
    viol = program.cone_violation(res.U) / max(float(np.abs(Z).max()), 1e-300)
    out = dict(
        n=args.n,
        build_s=t_build,
        solve_s=t_solve,
        n_iter=res.n_iter,
        status=res.status,
        objective=res.objective,
        criterion=res.stop_criterion,
        violation=viol,
        solver=res.solver,
        peak_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    )
    if args.small and args.n <= args.cvxpy_max_n:
        from skconvexrelu.solvers._cvxpy import solve_cvxpy

        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = solve_cvxpy(program, loss, Y, w, beta)
        out.update(cvxpy_s=time.perf_counter() - t0, cvxpy_objective=ref.objective)
    print("RESULT " + json.dumps(out), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=None)
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--beta", type=float, default=1e-3)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--max-iter", type=int, default=None)
    parser.add_argument("--max-time", type=float, default=300.0)
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--device", default=None)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--cvxpy-max-n", type=int, default=400)
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="default 1 (Fashion: seed 0 gives y = 0), 0 small",
    )
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.n is None:
        args.n = [100, 200, 400] if args.small else [60000]
    if args.seed is None:
        args.seed = 0 if args.small else 1
    if args.worker:
        args.n = args.n[0]
        return _worker(args)
    for n in args.n:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--n", str(n)]
        for key in ("d", "beta", "tol", "max_iter", "max_time", "dtype", "device"):
            val = getattr(args, key)
            if val is not None:
                cmd += [f"--{key.replace('_', '-')}", str(val)]
        cmd += ["--seed", str(args.seed), "--verbose", str(args.verbose)]
        cmd += ["--cvxpy-max-n", str(args.cvxpy_max_n)] + (["--small"] if args.small else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if args.verbose:
            sys.stderr.write(proc.stderr)
            sys.stdout.write(
                "\n".join(
                    ln for ln in proc.stdout.splitlines() if not ln.startswith("RESULT ")
                )
                + "\n"
            )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            print(f"n={n}: failed (exit {proc.returncode})\n{proc.stderr[-2000:]}")
            continue
        r = json.loads(lines[-1][7:])
        line = (
            f"n={r['n']:>6} solve {r['solve_s']:7.1f} s (build {r['build_s']:.1f} s)  "
            f"iters {r['n_iter']:>6}  {r['status']:>8}  objective {r['objective']:.8g}  "
            f"criterion {r['criterion']:.2e}  violation {r['violation']:.1e}  "
            f"peak RSS {r['peak_rss_gib']:.2f} GiB  [{r['solver']}]"
        )
        if "cvxpy_objective" in r:
            rel = (r["objective"] - r["cvxpy_objective"]) / abs(r["cvxpy_objective"])
            line += (
                f"  cvxpy {r['cvxpy_s']:.1f} s objective {r['cvxpy_objective']:.8g} "
                f"rel diff {rel:.1e}"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
