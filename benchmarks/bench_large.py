"""The default estimators on large data: growth with n for every loss, a million rows,
and wide inputs.

Every fit runs in a fresh subprocess with one thread, so that its peak resident memory
(``ru_maxrss``) is its own; the estimators have their defaults (``arrangements="trained"``,
``beta="auto"``, ``solver="auto"``) and ``random_state=0``. Data come from a random
teacher network (a sum of ten ReLU units of ``d`` inputs, as in ``bench_scaling.py``);
classification labels split the teacher's output at its median (``binary``) or at its
terciles (``3-class``). Scores are on 20,000 held-out rows of the same teacher.

- ``scaling``: ``width=10``, ``n_arrangements=20``, ``d=10``, n from 4,000 to 256,000
  (``--n``), for ``squared`` (the regressor), ``hinge``, ``cross_entropy`` and
  ``cross_entropy`` with three classes (the classifier). The table gives the fit time,
  its parts (seed network and convex solve, from ``verbose=1``), the solver's steps and
  the seconds per step, so that one sees whether the cost per step or the number of
  steps moved, and the time relative to the smallest n.
- ``million``: 1,000,000 x 50 float32 rows, the squared loss and binary cross-entropy,
  default ``width`` and ``n_arrangements``; ``--baselines`` adds ``SGDRegressor`` /
  ``SGDClassifier`` and ``MLPRegressor`` / ``MLPClassifier(early_stopping=True)`` on the
  same rows.
- ``wide``: 60,000 x 784 float32 rows (the Fashion-MNIST shape), binary labels, the
  default classifier against ``MLPClassifier(max_iter=1000)`` (and SGD).

Examples
--------
    python benchmarks/bench_large.py scaling --json scaling.json --plot scaling.png
    python benchmarks/bench_large.py scaling --n 4000 16000 --losses squared hinge
    python benchmarks/bench_large.py plot scaling.json scaling.png
    python benchmarks/bench_large.py million --baselines
    python benchmarks/bench_large.py wide
"""

import argparse
import json
import re
import subprocess
import sys

LOSSES = ("squared", "hinge", "cross_entropy", "cross_entropy-3")
N_TEST = 20_000


def teacher_data(n, d, labels, seed=0, dtype="float64"):
    """``(X, y)``: ``n`` rows of a teacher network with ``d`` inputs; ``labels`` is
    "real" (the output), "binary" (above its median) or "3-class" (its terciles). The
    teacher is fixed by ``seed``; the rows depend on ``n`` too."""
    import numpy as np

    teacher = np.random.default_rng(seed)
    W1 = teacher.standard_normal((d, 10)) / np.sqrt(d / 10)
    w2 = teacher.standard_normal(10)
    rows = np.random.default_rng([seed, n])
    X = rows.standard_normal((n, d), dtype=np.float32 if dtype == "float32" else np.float64)
    y = np.maximum(np.maximum(X @ W1, 0.0) @ w2, 0.0)
    if labels == "binary":
        y = (y > np.median(y)).astype(int)
    elif labels == "3-class":
        y = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    return X, y


def make_model(kind, loss, params):
    """The unfitted model ``kind`` ("convex", "sgd", "mlp_es", "mlp") for ``loss``."""
    from sklearn.linear_model import SGDClassifier, SGDRegressor
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    from skconvexrelu import ConvexThreeLayerClassifier, ConvexThreeLayerRegressor

    reg = loss == "squared"
    if kind == "convex":
        if reg:
            return ConvexThreeLayerRegressor(random_state=0, verbose=1, **params)
        name = loss.split("-")[0]
        return ConvexThreeLayerClassifier(loss=name, random_state=0, verbose=1, **params)
    if kind == "sgd":
        return (SGDRegressor if reg else SGDClassifier)(random_state=0)
    mlp = MLPRegressor if reg else MLPClassifier
    return mlp(max_iter=1000, random_state=0, early_stopping=kind == "mlp_es")


def _phase_seconds(text):
    """``{phase: seconds since the start}`` from the estimator's ``verbose=1`` lines."""
    out = {}
    for line in text.splitlines():
        m = re.match(r"\[skconvexrelu\] (\w[\w ]*?): .*\(([\d.]+) s\)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def one_fit(kind, loss, n, d, dtype, params):
    """Fit one model on teacher data, score it on held-out rows; print one JSON line."""
    import contextlib
    import io
    import resource
    import time
    import warnings

    from threadpoolctl import threadpool_limits

    labels = "real" if loss == "squared" else ("3-class" if loss.endswith("-3") else "binary")
    X, y = teacher_data(n + N_TEST, d, labels, dtype=dtype)
    model = make_model(kind, loss, params)
    log = io.StringIO()
    with threadpool_limits(1), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        with contextlib.redirect_stdout(log):
            model.fit(X[:n], y[:n])
        seconds = time.perf_counter() - start
        score = model.score(X[n:], y[n:])
    phases = _phase_seconds(log.getvalue())
    out = dict(kind=kind, loss=loss, n=n, d=d, seconds=seconds, score=float(score))
    out["seed_s"] = phases.get("seed")
    out["solve_s"] = None if "solve" not in phases else phases["solve"] - phases.get("seed", 0)
    out["steps"] = int(getattr(model, "n_iter_", 0) or 0)
    out["gap"] = getattr(model, "stop_criterion_", None)
    out["warnings"] = sorted({str(w.message)[:120] for w in caught})
    out["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps(out))


def run_child(kind, loss, n, d, dtype, params, timeout):
    """:func:`one_fit` in a fresh interpreter; its JSON line as a dict (or the failure)."""
    cmd = [sys.executable, __file__, "_one", kind, loss, str(n), str(d), dtype]
    cmd.append(json.dumps(params))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(kind=kind, loss=loss, n=n, d=d, failed=f"over {timeout:g} s")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = proc.stderr.strip().splitlines()[-1:]
        return dict(kind=kind, loss=loss, n=n, d=d, failed=" ".join(tail) or "no output")
    return json.loads(lines[-1])


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def scaling_table(rows):
    """Markdown lines of the ``scaling`` runs, with each time relative to the smallest n
    of its loss and the linear reference ``n / n_min``."""
    lines = [
        "| loss | n | fit s | x smallest n | n / smallest n | seed s | solve s | steps "
        "| ms / step | held-out score | gap | peak GiB |",
        "|---" * 12 + "|",
    ]
    first = {}
    for r in rows:
        if "failed" in r:
            lines.append(f"| {r['loss']} | {r['n']} | {r['failed']} |" + " |" * 9)
            continue
        base = first.setdefault(r["loss"], r)
        per_step = None
        if r["solve_s"] is not None and r["steps"]:
            per_step = 1000 * r["solve_s"] / r["steps"]
        lines.append(
            f"| {r['loss']} | {r['n']:,} | {r['seconds']:.1f} "
            f"| {r['seconds'] / base['seconds']:.1f} | {r['n'] / base['n']:.0f} "
            f"| {_fmt(r['seed_s'], '.1f')} | {_fmt(r['solve_s'], '.1f')} | {r['steps']} "
            f"| {_fmt(per_step, '.0f')} | {r['score']:.4f} | {_fmt(r['gap'], '.2g')} "
            f"| {r['peak_gib']:.2f} |"
        )
    return lines


def fits_table(rows):
    """Markdown lines of the ``million`` and ``wide`` runs."""
    lines = [
        "| data | loss | model | fit s | held-out score | peak GiB | warnings |",
        "|---" * 7 + "|",
    ]
    for r in rows:
        data = f"{r['n']:,} x {r['d']}"
        if "failed" in r:
            lines.append(f"| {data} | {r['loss']} | {r['kind']} | {r['failed']} | | | |")
            continue
        lines.append(
            f"| {data} | {r['loss']} | {r['kind']} | {r['seconds']:.1f} | {r['score']:.4f} "
            f"| {r['peak_gib']:.2f} | {len(r['warnings'])} |"
        )
    return lines


def plot_scaling(rows, path):
    """Fit time against n, log-log, one line per loss, with the linear reference from
    each loss's smallest n; saved to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for loss in dict.fromkeys(r["loss"] for r in rows):
        mine = [r for r in rows if r["loss"] == loss and "failed" not in r]
        if not mine:
            continue
        n = [r["n"] for r in mine]
        ax.loglog(n, [r["seconds"] for r in mine], "o-", label=loss)
    ok = [r for r in rows if "failed" not in r]
    if ok:
        first = min(ok, key=lambda r: r["n"])
        n_max = max(r["n"] for r in ok)
        base = min(r["seconds"] for r in ok if r["n"] == first["n"])
        ref = [first["n"], n_max]
        ax.loglog(ref, [base, base * n_max / first["n"]], "k--", label="linear in n")
    ax.set_xlabel("training rows n")
    ax.set_ylabel("fit time (s)")
    ax.set_title("Default fit: d = 10, width=10, n_arrangements=20, one thread", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("scaling", help="time against n for every loss")
    s.add_argument("--n", type=int, nargs="+", default=[4000, 16000, 64000, 256000])
    s.add_argument("--losses", nargs="+", choices=LOSSES, default=list(LOSSES))
    s.add_argument("--json", help="write the rows to this file")
    s.add_argument("--plot", help="save the log-log plot of time against n here")
    pl = sub.add_parser("plot", help="the plot of a --json file of the scaling runs")
    pl.add_argument("json")
    pl.add_argument("png")
    for name in ("million", "wide"):
        m = sub.add_parser(name, help=f"the {name} fits")
        m.add_argument("--baselines", action="store_true", help="also SGD and MLP")
    for q in (sub.choices[k] for k in ("scaling", "million", "wide")):
        q.add_argument("--timeout", type=float, default=3600.0, help="seconds per fit")
    one = sub.add_parser("_one")
    for name in ("kind", "loss", "n", "d", "dtype", "params"):
        one.add_argument(name)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.mode == "_one":
        params = json.loads(args.params)
        return one_fit(args.kind, args.loss, int(args.n), int(args.d), args.dtype, params)
    if args.mode == "plot":
        with open(args.json) as f:
            rows = json.load(f)
        print("\n".join(scaling_table(rows)))
        return plot_scaling(rows, args.png)
    if args.mode == "scaling":
        runs = [("convex", loss, n, 10, "float64") for loss in args.losses for n in args.n]
        params = dict(width=10, n_arrangements=20)
        table = scaling_table
    else:
        n, d = (1_000_000, 50) if args.mode == "million" else (60_000, 784)
        losses = ("squared", "cross_entropy") if args.mode == "million" else ("cross_entropy",)
        kinds = ["convex"]
        if args.baselines:
            kinds += ["sgd", "mlp_es"] if args.mode == "million" else ["sgd"]
        if args.mode == "wide":
            kinds.append("mlp")
        runs = [(k, loss, n, d, "float32") for loss in losses for k in kinds]
        params, table = {}, fits_table
    rows = []
    for kind, loss, n, d, dtype in runs:
        p = params if kind == "convex" else {}
        rows.append(run_child(kind, loss, n, d, dtype, p, args.timeout))
        print(json.dumps(rows[-1]), flush=True)
    print("\n".join(table(rows)))
    if args.mode == "scaling" and args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if args.mode == "scaling" and args.plot:
        plot_scaling(rows, args.plot)
    return rows


if __name__ == "__main__":
    main()
