r"""Native interior-point solver against cvxpy + Clarabel on the paper's teacher data.

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

With ``--sweep`` the estimators are compared over a grid of ``beta``, ``width`` and
``n_arrangements`` (``arrangements="random"``, so both solvers get the same sampled
configurations; ``tol`` for both, cvxpy with Clarabel and its own tolerances), at
``n = 400`` unless ``--n`` says otherwise. The teacher's targets are standardized for
the squared loss (so ``beta`` is also ``beta_``); for hinge and cross-entropy the labels
are the teacher's output split at its median (into ``--classes`` groups by rank for
more). The default grid is affordable: the five ``beta`` values 1e-5 ... 1e-1 at
``width = 10, n_arrangements = 10``, and ``beta = 1e-3`` at ``(width, n_arrangements)``
= (20, 10) and (10, 30). ``--full-grid`` (or any of ``--betas``, ``--widths``,
``--n-arrangements``) runs the product ``betas x widths x n_arrangements`` instead, each
list defaulting to its full one (1e-5 ... 1e-1; 10, 20; 10, 30). Per grid point the
native fit runs first, then the cvxpy fit in a forked child process, killed after
``--cvxpy-timeout`` seconds ("timeout" in the table). It prints a Markdown table and a
summary line.

Examples
--------
    python benchmarks/bench_native_vs_cvxpy.py                      # n = 100, 400
    python benchmarks/bench_native_vs_cvxpy.py --n 100 400 1600 --cvxpy-max-n 400
    python benchmarks/bench_native_vs_cvxpy.py --loss hinge cross_entropy --n 100
    python benchmarks/bench_native_vs_cvxpy.py --estimator --n 400
    python benchmarks/bench_native_vs_cvxpy.py --sweep
    python benchmarks/bench_native_vs_cvxpy.py --sweep --full-grid --cvxpy-timeout 600
    python benchmarks/bench_native_vs_cvxpy.py --sweep --n 100 --betas 1e-3 1e-1 \
        --widths 10 --n-arrangements 10
    python benchmarks/bench_native_vs_cvxpy.py --sweep --loss hinge --n 200

Run with ``OMP_NUM_THREADS=1`` (or a fixed number) for comparable timings.
"""

import argparse
import hashlib
import multiprocessing
import statistics
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


SWEEP_BETAS = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
SWEEP_WIDTHS = (10, 20)
SWEEP_N_ARRANGEMENTS = (10, 30)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--n", type=int, nargs="+", default=None, help="default 100 400; 400 with --sweep"
    )
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
    sweep = parser.add_argument_group("sweep over beta, width and n_arrangements")
    sweep.add_argument("--sweep", action="store_true", help="estimator-level grid sweep")
    sweep.add_argument("--betas", type=float, nargs="+", default=None)
    sweep.add_argument("--widths", type=int, nargs="+", default=None)
    sweep.add_argument("--n-arrangements", type=int, nargs="+", default=None)
    sweep.add_argument(
        "--full-grid", action="store_true", help="the product of the lists (20 points)"
    )
    sweep.add_argument(
        "--cvxpy-timeout", type=float, default=300.0, help="seconds per cvxpy fit"
    )
    args = parser.parse_args(argv)
    if args.n is None:
        args.n = [400] if args.sweep else [100, 400]
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.sweep:
        run_sweep(args)
        return

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
        beta=0.01 / n,
        width=10,
        n_arrangements=20,
        arrangements="random",  # both solvers on the same sampled configurations
        tol=args.tol,
        random_state=args.seed,
    )
    if loss_name == "squared":
        # beta is relative to the target's spread: standardized, it is the program's
        make, target = ConvexThreeLayerRegressor, (y - y.mean()) / y.std()
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


# ----------------------------------------------------------------------------- sweep
def sweep_grid(args):
    """``[(beta, width, n_arrangements), ...]``: the affordable default grid, or the
    product of the lists when ``--full-grid`` or any list is given."""
    if not (args.full_grid or args.betas or args.widths or args.n_arrangements):
        grid = [(beta, 10, 10) for beta in SWEEP_BETAS]
        return grid + [(1e-3, 20, 10), (1e-3, 10, 30)]
    return [
        (beta, width, n_arr)
        for beta in args.betas or SWEEP_BETAS
        for width in args.widths or SWEEP_WIDTHS
        for n_arr in args.n_arrangements or SWEEP_N_ARRANGEMENTS
    ]


def sweep_data(n, loss_name, args):
    """``(estimator class, extra params, X, target)`` for the teacher data: standardized
    targets for the squared loss, the teacher's output split at its median (or into
    ``--classes`` groups) for the classification losses."""
    from skconvexrelu import ConvexThreeLayerClassifier, ConvexThreeLayerRegressor

    X, y = teacher_data(n, seed=args.seed)
    if loss_name == "squared":
        return ConvexThreeLayerRegressor, {}, X, (y - y.mean()) / y.std()
    labels = class_labels(y, args.classes)
    return ConvexThreeLayerClassifier, {"loss": loss_name}, X, labels


def _configuration_digest(est):
    """A short hash of the fitted configurations (to check both fits used the same)."""
    warm = getattr(est, "_warm", None)
    if warm is None:
        return None
    return hashlib.sha1(b"".join(b"".join(key) for key in warm[0].keys())).hexdigest()[:12]


def _timed_fit(make, params, X, target):
    """Fit ``make(**params)``; a dict of time, objective, iterations, status, ``beta_``,
    number of configurations and their digest."""
    est = make(**params)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, target)
    out = _row(time.perf_counter() - t0, est.objective_, est.n_iter_, est.solver_status_)
    out.update(beta_=est.beta_, n_conf=est.n_arrangements_, digest=_configuration_digest(est))
    return out


def _cvxpy_child(conn, make, params, X, target):
    """Body of the forked child: the fit's row, or the error, sent through ``conn``."""
    try:
        conn.send(_timed_fit(make, params, X, target))
    except Exception as exc:  # reported in the table, the sweep goes on
        conn.send(dict(status=f"error: {type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def cvxpy_fit_with_timeout(make, params, X, target, timeout):
    """The cvxpy fit in a forked child process, killed after ``timeout`` seconds; its
    row, or ``{"status": "timeout"}``. The fit's own time is measured in the child."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_cvxpy_child, args=(child, make, params, X, target))
    proc.start()
    child.close()
    try:
        out = parent.recv() if parent.poll(timeout) else dict(status="timeout")
    except EOFError:  # the child died without an answer
        out = None
    if out is not None and out["status"] == "timeout":
        proc.kill()
    proc.join()
    parent.close()
    if out is None:
        out = dict(status=f"died (exit code {proc.exitcode})")
    return out


def sweep_point(n, loss_name, beta, width, n_arr, args):
    """Native (``solver="ipm"``, this process) then cvxpy (Clarabel, forked child) on
    the same sampled configurations: ``(native row, cvxpy row)``."""
    make, extra, X, target = sweep_data(n, loss_name, args)
    params = dict(
        extra,
        beta=beta,
        width=width,
        n_arrangements=n_arr,
        arrangements="random",
        tol=args.tol,
        random_state=args.seed,
    )
    native = _timed_fit(make, dict(params, solver="ipm"), X, target)
    params.update(solver="cvxpy", cvxpy_solver="CLARABEL")
    ref = cvxpy_fit_with_timeout(make, params, X, target, args.cvxpy_timeout)
    return native, ref


SWEEP_HEAD = (
    "| beta | width | n_arr | loss | n | native s | iters | native obj | cvxpy s "
    "| cvxpy obj | rel diff | speed-up |"
)


def sweep_line(point, native, ref, timeout):
    """One Markdown row; the relative difference is ``(native - cvxpy) / |cvxpy|``."""
    beta, width, n_arr, loss_name, n = point
    cells = [f"{beta:.0e}", f"{width}", f"{n_arr}", loss_name, f"{n}"]
    cells += [f"{native['time']:.2f}", f"{native['n_iter']}", f"{native['objective']:.10g}"]
    notes = [] if native["status"] == "optimal" else [f"native: {native['status']}"]
    if "objective" in ref:
        rel = (native["objective"] - ref["objective"]) / abs(ref["objective"])
        speed = ref["time"] / native["time"]
        cells += [f"{ref['time']:.2f}", f"{ref['objective']:.10g}", f"{rel:.1e}"]
        cells.append(f"{speed:.1f}x")
        if ref["status"] != "optimal":
            notes.append(f"cvxpy: {ref['status']}")
        if ref["digest"] != native["digest"] or ref["n_conf"] != native["n_conf"]:
            notes.append("different configurations")
    else:
        rel = speed = None
        label = "timeout" if ref["status"] == "timeout" else "failed"
        cells += [f">{timeout:g}" if label == "timeout" else "-", label, "-"]
        cells.append(f">{timeout / native['time']:.1f}x" if label == "timeout" else "-")
        if label != "timeout":
            notes.append(f"cvxpy: {ref['status']}")
    line = "| " + " | ".join(cells) + " |"
    return line + ("  " + "; ".join(notes) if notes else ""), rel, speed


def sweep_summary(rels, speeds, n_points):
    """One line: median, min and max speed-up and the largest |relative difference|
    over the points where both fits finished."""
    if not speeds:
        return f"Summary: cvxpy finished at none of the {n_points} points."
    worst = max(abs(r) for r in rels)
    return (
        f"Summary: both finished at {len(speeds)} of {n_points} points; speed-up "
        f"median {statistics.median(speeds):.1f}x (min {min(speeds):.1f}x, max "
        f"{max(speeds):.1f}x); max |relative difference| {worst:.1e}"
        + ("  [above 1e-4]" if worst > 1e-4 else "")
    )


def run_sweep(args):
    """The grid of ``--sweep``: one Markdown row per point as it finishes, then the
    summary."""
    import cvxpy  # noqa: F401  imported here once, so that no fit times the import

    grid = sweep_grid(args)
    points = [(*g, loss_name, n) for loss_name in args.loss for n in args.n for g in grid]
    print(
        f"tol = {args.tol:g}, random_state = {args.seed}, arrangements = 'random', "
        f"cvxpy: Clarabel, timeout {args.cvxpy_timeout:g} s; {len(points)} points"
    )
    print()
    print(SWEEP_HEAD)
    print("|" + "---|" * (SWEEP_HEAD.count(" | ") + 1))
    rels, speeds = [], []
    for point in points:
        beta, width, n_arr, loss_name, n = point
        native, ref = sweep_point(n, loss_name, beta, width, n_arr, args)
        line, rel, speed = sweep_line(point, native, ref, args.cvxpy_timeout)
        print(line, flush=True)
        if rel is not None:
            rels.append(rel)
            speeds.append(speed)
    print()
    print(sweep_summary(rels, speeds, len(points)))


if __name__ == "__main__":
    main()
