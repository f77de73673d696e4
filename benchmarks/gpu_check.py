"""The torch backend on a GPU: agreement with NumPy, the estimator, the Fashion shape.

One short script for a machine with a GPU (it also runs on CPU torch, ``--device cpu``,
with ``--quick`` sizes, which is how it is tried before a GPU is at hand). Three parts:

1. **Agreement**: the first-order solver (``native:al-fista``) on the teacher programs of
   ``bench_native_vs_cvxpy.py`` (``n = 200``, ``d = 10``, width 10, 20 configurations) for
   the squared, hinge and three-class cross-entropy losses, the same number of steps on
   NumPy and on the device: relative difference of the objectives and of the blocks; and
   the device in float32 against NumPy in float64.
2. **Estimator**: ``ConvexThreeLayerRegressor(solver="al-fista", device=...)`` against
   ``device=None`` on the same data and step cap: ``solver_`` and the largest prediction
   difference.
3. **Fashion-MNIST shape** (``n = 60,000``, ``d = 784``, width 5, 20 configurations,
   squared loss, ``beta = 1e-3``; ``bench_first_order.py``'s program): the default step
   cap in float64 (``max_iter=None``: 20,000 steps on a GPU, where the CPU's work cap
   does not apply), then a time budget in float32 and in float64: steps, objective,
   certified relative gap, cone violation, time and the device's peak memory.

Usage::

    python benchmarks/gpu_check.py --device cuda --budget 90 --json $OUT/gpu.json
    python benchmarks/gpu_check.py --device cpu --quick          # a dry run on CPU torch
"""

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))


def _sync(torch, device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _peak_reset(torch, device):
    if str(device).startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def _peak(torch, device):
    if str(device).startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**30
    return float("nan")


def agreement(device, torch, n, steps):
    from bench_native_vs_cvxpy import teacher_problem

    from skconvexrelu.solvers.first_order import solve_first_order

    rows = []
    for loss_name, n_classes in (("squared", 2), ("hinge", 2), ("cross_entropy", 3)):
        program, loss, Y, w, beta = teacher_problem(n, loss=loss_name, n_classes=n_classes)
        runs = {}
        for key, dev in (("numpy", None), ("device", device)):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                runs[key] = solve_first_order(
                    program, loss, Y, w, beta, max_iter=steps, device=dev
                )
            runs[key + "_s"] = time.perf_counter() - t0
        p32, loss32, Y32, w32, _ = teacher_problem(
            n, loss=loss_name, n_classes=n_classes, dtype=np.float32
        )
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r32 = solve_first_order(p32, loss32, Y32, w32, beta, max_iter=steps, device=device)
        t32 = time.perf_counter() - t0
        a, b = runs["numpy"], runs["device"]
        rows.append(
            dict(
                loss=loss_name,
                steps=steps,
                solver=b.solver,
                objective_numpy=a.objective,
                objective_device=b.objective,
                rel_diff_objective=abs(a.objective - b.objective) / abs(a.objective),
                rel_diff_blocks=float(np.abs(a.U - b.U).max() / np.abs(a.U).max()),
                numpy_s=runs["numpy_s"],
                device_s=runs["device_s"],
                float32_objective=r32.objective,
                float32_rel_diff=abs(r32.objective - a.objective) / abs(a.objective),
                float32_dtype=str(r32.U.dtype),
                float32_s=t32,
            )
        )
        print(
            f"agreement {loss_name:>13}: {steps} steps  numpy {a.objective:.10g} "
            f"({runs['numpy_s']:.1f} s)  device {b.objective:.10g} "
            f"({runs['device_s']:.1f} s)  "
            f"rel diff {rows[-1]['rel_diff_objective']:.1e} (blocks "
            f"{rows[-1]['rel_diff_blocks']:.1e})  float32 {r32.objective:.6g} "
            f"rel diff {rows[-1]['float32_rel_diff']:.1e} [{b.solver}]",
            flush=True,
        )
    return rows


def estimator(device, max_iter):
    from sklearn.datasets import make_friedman1

    from skconvexrelu import ConvexThreeLayerRegressor

    X, y = make_friedman1(n_samples=500, noise=0.1, random_state=0)
    out = {}
    for key, dev in (("numpy", None), ("device", device)):
        est = ConvexThreeLayerRegressor(
            width=5,
            n_arrangements=10,
            arrangements="random",
            solver="al-fista",
            max_iter=max_iter,
            device=dev,
            random_state=0,
        )
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        out[key] = (est, time.perf_counter() - t0)
    (a, ta), (b, tb) = out["numpy"], out["device"]
    row = dict(
        solver_numpy=a.solver_,
        solver_device=b.solver_,
        objective_numpy=a.objective_,
        objective_device=b.objective_,
        max_prediction_diff=float(np.abs(a.predict(X) - b.predict(X)).max()),
        numpy_s=ta,
        device_s=tb,
    )
    print(
        f"estimator: numpy {a.solver_} {a.objective_:.10g} ({ta:.1f} s)  device "
        f"{b.solver_} {b.objective_:.10g} ({tb:.1f} s)  max |prediction diff| "
        f"{row['max_prediction_diff']:.1e}",
        flush=True,
    )
    return row


def fashion(device, torch, n, d, budget, cap):
    from bench_native_vs_cvxpy import teacher_problem

    from skconvexrelu.solvers.first_order import solve_first_order

    rows = []
    for dtype, max_iter, max_time in (
        (np.float64, cap, None),  # the default step cap (None)
        (np.float32, 10**6, budget),
        (np.float64, 10**6, budget),
    ):
        t0 = time.perf_counter()
        program, loss, Y, w, _ = teacher_problem(
            n, d=d, width=5, n_arrangements=20, seed=1, dtype=dtype
        )
        t_build = time.perf_counter() - t0
        _peak_reset(torch, device)
        _sync(torch, device)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = solve_first_order(
                program, loss, Y, w, 1e-3, max_iter=max_iter, max_time=max_time, device=device
            )
        _sync(torch, device)
        t_solve = time.perf_counter() - t0
        Z = program.first_layer(res.U)
        viol = program.cone_violation(res.U) / max(float(np.abs(Z).max()), 1e-300)
        row = dict(
            n=n,
            d=d,
            dtype=np.dtype(dtype).name,
            max_iter=max_iter,
            max_time=max_time,
            build_s=t_build,
            solve_s=t_solve,
            steps=res.n_iter,
            status=res.status,
            objective=res.objective,
            gap=res.stop_criterion,
            violation=viol,
            device_peak_gib=_peak(torch, device),
            solver=res.solver,
        )
        rows.append(row)
        print(
            f"fashion {row['dtype']} cap={max_iter} budget={max_time}: {t_solve:.1f} s, "
            f"{res.n_iter} steps ({1e3 * t_solve / max(res.n_iter, 1):.1f} ms/step), "
            f"{res.status}, objective {res.objective:.6g}, gap {res.stop_criterion:.3f}, "
            f"violation {viol:.1e}, device peak {row['device_peak_gib']:.2f} GiB "
            f"[{res.solver}]",
            flush=True,
        )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--budget", type=float, default=90.0, help="seconds per timed fit")
    parser.add_argument("--quick", action="store_true", help="small sizes (a dry run)")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--skip", nargs="*", default=[], choices=["agree", "est", "fashion"])
    args = parser.parse_args(argv)

    import torch

    info = dict(
        torch=torch.__version__,
        numpy=np.__version__,
        device=args.device,
        gpu=torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        cpu_threads=torch.get_num_threads(),
    )
    print(json.dumps(info), flush=True)
    results = dict(info=info)
    if "agree" not in args.skip:
        results["agreement"] = agreement(args.device, torch, 200, 40 if args.quick else 150)
    if "est" not in args.skip:
        results["estimator"] = estimator(args.device, 100 if args.quick else 500)
    if "fashion" not in args.skip:
        n, d = (3000, 100) if args.quick else (60000, 784)
        cap = 200 if args.quick else None
        results["fashion"] = fashion(args.device, torch, n, d, args.budget, cap)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
