"""The convex estimators against an MLP, gradient boosting and linear models on real tables.

Each data set of ``_real_data.DATASETS`` is split once (a quarter held out, stratified
for classification, ``random_state=0``). Every model is a pipeline of the same
preprocessing (numeric columns median-imputed and standardized, other columns one-hot
encoded) and the estimator:

- ``convex``: ``ConvexThreeLayerRegressor()`` / ``ConvexThreeLayerClassifier()`` with
  their defaults, ``random_state=0`` and ``--params``;
- ``convex_cv``: ``ConvexThreeLayerRegressorCV()`` / ``ConvexThreeLayerClassifierCV()``
  likewise;
- ``mlp``: ``MLPRegressor`` / ``MLPClassifier`` (``max_iter=1000``, ``random_state=0``);
- ``mlp_es``: the same with ``early_stopping=True`` (the usual choice on large tables);
- ``sgd``: ``SGDRegressor`` / ``SGDClassifier`` (``random_state=0``);
- ``hgb``: ``HistGradientBoostingRegressor`` / ``...Classifier`` (``random_state=0``);
- ``linear``: ``RidgeCV()`` / ``LogisticRegression(max_iter=1000)``.

The regression targets of the R tables are standardized for every model
(``TransformedTargetRegressor`` with a ``StandardScaler``); scikit-learn's ``diabetes``
keeps its own units. Each fit runs in a forked child process, killed after
``--timeout`` seconds, under ``threadpool_limits(--threads)``. The table reports the
test R^2 or accuracy, the fit time, both relative to the MLP on the same data, and the
warnings raised during the fit (for the convex models also ``solver_`` and ``n_iter_``
next to the model name). A summary per model follows.

Examples
--------
    python benchmarks/bench_real_data.py
    python benchmarks/bench_real_data.py --large
    python benchmarks/bench_real_data.py --datasets flights_delay flights_late \
        --models convex,mlp_es,sgd,mlp --timeout 3600
    python benchmarks/bench_real_data.py --datasets diabetes breast_cancer --models convex,mlp
    python benchmarks/bench_real_data.py --models convex,mlp --params tol=1e-3 n_arrangements=5
    python benchmarks/bench_real_data.py --datasets wine --models convex --json out.json
"""

import argparse
import ast
import json
import multiprocessing
import resource
import statistics
import sys
import time
import traceback
import warnings
from collections import Counter

from _real_data import DATASETS, encoded_width, make_preprocessor, split

MODELS = ("convex", "convex_cv", "mlp", "hgb", "linear", "mlp_es", "sgd")
CONVEX = ("convex", "convex_cv")


def header(baseline):
    """The table's header, its ratios against the model ``baseline``."""
    return (
        "| data | n train | features after encoding | task | model | test score | fit s "
        f"| time / {baseline} | score - {baseline} | peak MB | warnings |\n"
        + "|---" * 11
        + "|"
    )


def make_estimator(kind, task, params):
    """The unfitted estimator ``kind`` for ``task``; ``params`` go to the convex ones."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, RidgeCV, SGDClassifier, SGDRegressor
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    import skconvexrelu as scr

    reg = task == "regression"
    if kind in CONVEX:
        cls = {
            ("convex", True): scr.ConvexThreeLayerRegressor,
            ("convex", False): scr.ConvexThreeLayerClassifier,
            ("convex_cv", True): scr.ConvexThreeLayerRegressorCV,
            ("convex_cv", False): scr.ConvexThreeLayerClassifierCV,
        }[kind, reg]
        est = cls(random_state=0)
        return est.set_params(**{k: v for k, v in params.items() if k in est.get_params()})
    if kind in ("mlp", "mlp_es"):
        cls = MLPRegressor if reg else MLPClassifier
        return cls(max_iter=1000, random_state=0, early_stopping=kind == "mlp_es")
    if kind == "sgd":
        return (SGDRegressor if reg else SGDClassifier)(random_state=0)
    if kind == "hgb":
        cls = HistGradientBoostingRegressor if reg else HistGradientBoostingClassifier
        return cls(random_state=0)
    return RidgeCV() if reg else LogisticRegression(max_iter=1000)


def make_model(name, kind, X_train, params):
    """The pipeline of preprocessing and estimator, with a standardized target where the
    data set asks for it."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    entry = DATASETS[name]
    est = make_estimator(kind, entry.task, params)
    if entry.task == "regression" and entry.scale_target:
        est = TransformedTargetRegressor(regressor=est, transformer=StandardScaler())
    return make_pipeline(make_preprocessor(X_train), est)


def _fit_and_score(name, kind, data, params, threads):
    """Fit and score one model; the returned dict is what the child sends back."""
    from threadpoolctl import threadpool_limits

    X_train, X_test, y_train, y_test = data
    model = make_model(name, kind, X_train, params)
    with threadpool_limits(limits=threads):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            model.fit(X_train, y_train)
            seconds = time.perf_counter() - start
        score = model.score(X_test, y_test)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counts = Counter(w.category.__name__ for w in caught)
    first = {}
    for w in caught:
        first.setdefault(w.category.__name__, str(w.message)[:300])
    est = model[-1]
    est = getattr(est, "regressor_", est) if kind in CONVEX else None
    return {
        "status": "ok",
        "score": float(score),
        "fit_s": seconds,
        "peak_mb": peak_mb,
        "warnings": dict(counts),
        "warning_messages": first,
        "solver": getattr(est, "solver_", None),
        "n_iter": _plain(getattr(est, "n_iter_", None)),
    }


def _plain(value):
    """A JSON-friendly copy of an attribute (numbers, strings, lists of them)."""
    if value is None or isinstance(value, (int, float, str)):
        return value
    try:
        return value.tolist()
    except AttributeError:
        return str(value)


def _child(conn, *args):
    try:
        out = _fit_and_score(*args)
    except BaseException as exc:  # reported as a row, not raised
        out = {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        }
    conn.send(out)
    conn.close()


def run_one(name, kind, data, params, threads, timeout):
    """Fit in a forked child process; ``status`` is "timeout" when it runs past
    ``timeout`` seconds (the child is killed) and "error" when it fails."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, name, kind, data, params, threads))
    start = time.perf_counter()
    proc.start()
    child.close()
    out = None
    if not parent.poll(timeout):
        out = {"status": "timeout"}
    else:
        try:
            out = parent.recv()
        except EOFError:  # the child died without sending (killed, out of memory)
            pass
    if proc.is_alive():
        proc.kill()
    proc.join()
    if out is None:
        out = {"status": "error", "error": f"child exited with code {proc.exitcode}"}
    out["wall_s"] = time.perf_counter() - start
    return out


def _fmt_warnings(counts):
    return ", ".join(f"{k} x{v}" for k, v in sorted(counts.items())) or "-"


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


def add_relative(row, mlp):
    """``time_ratio`` and ``score_diff`` against the baseline row (``mlp``) of the same
    data set."""
    ok = row["status"] == "ok" and mlp is not None and mlp["status"] == "ok"
    row["time_ratio"] = row["fit_s"] / mlp["fit_s"] if ok else None
    row["score_diff"] = row["score"] - mlp["score"] if ok else None


def format_row(row):
    model = row["model"]
    if row.get("solver") is not None or row.get("n_iter") is not None:
        model += f" [{row.get('solver')}, {row.get('n_iter')} it]"
    if row["status"] == "ok":
        score = f"{row['score']:.4f}"
    else:
        score = row["status"]
    return (
        f"| {row['data']} | {row['n_train']} | {row['n_features']} | {row['task']} "
        f"| {model} | {score} | {_fmt(row.get('fit_s'), '.2f')} "
        f"| {_fmt(row.get('time_ratio'), '.2f')} | {_fmt(row.get('score_diff'), '+.4f')} "
        f"| {_fmt(row.get('peak_mb'), '.0f')} | {_fmt_warnings(row.get('warnings', {}))} |"
    )


def summarize(rows, models, baseline="mlp"):
    """Markdown lines: per model (and per task where both occur) the mean score, the mean
    difference to the baseline, the sets within 0.01 of it or better, and the max and
    median time ratio to it."""
    b = baseline
    lines = [
        f"| model | tasks | sets ok / run | mean score | mean score - {b} "
        f"| sets >= {b} - 0.01 | max time / {b} | median time / {b} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    tasks = sorted({r["task"] for r in rows})
    groups = [("all", tasks)] + ([(t, [t]) for t in tasks] if len(tasks) > 1 else [])
    for model in models:
        for label, keep in groups:
            mine = [r for r in rows if r["model"] == model and r["task"] in keep]
            if not mine:
                continue
            ok = [r for r in mine if r["status"] == "ok"]
            rel = [r for r in ok if r["score_diff"] is not None]
            ratios = [r["time_ratio"] for r in rel]
            within = sum(r["score_diff"] >= -0.01 for r in rel)
            mean = statistics.fmean(r["score"] for r in ok) if ok else None
            diff = statistics.fmean(r["score_diff"] for r in rel) if rel else None
            top = max(ratios) if ratios else None
            mid = statistics.median(ratios) if ratios else None
            lines.append(
                f"| {model} | {label} | {len(ok)} / {len(mine)} | {_fmt(mean, '.4f')} "
                f"| {_fmt(diff, '+.4f')} | {within} / {len(rel)} | {_fmt(top, '.2f')} "
                f"| {_fmt(mid, '.2f')} |"
            )
    return lines


def run_dataset(name, models, args, params):
    """All the models on one data set, the baseline first so that the others can be
    compared as they finish; rows are printed as they complete and returned in ``models``
    order."""
    entry = DATASETS[name]
    data = split(name)
    base = {
        "data": name,
        "task": entry.task,
        "n_train": len(data[0]),
        "n_features": encoded_width(data[0]),
    }
    order = sorted(models, key=lambda m: m != args.baseline)
    rows, mlp = {}, None
    for kind in order:
        row = {**base, "model": kind}
        row.update(run_one(name, kind, data, params, args.threads, args.timeout))
        if kind == args.baseline:
            mlp = row
        add_relative(row, mlp)
        rows[kind] = row
        print(format_row(row), flush=True)
        if row["status"] == "error":
            print(f"    {row['error']}", file=sys.stderr, flush=True)
    return [rows[k] for k in models]


def parse_params(items):
    """``KEY=VALUE`` strings as a dict; values through ``ast.literal_eval`` when they
    parse, strings otherwise."""
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--params expects KEY=VALUE, got {item!r}")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def parse_args(argv=None):
    default = [n for n, d in DATASETS.items() if not d.large]
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--datasets",
        nargs="+",
        choices=list(DATASETS),
        default=None,
        help=f"data sets (default: {' '.join(default)})",
    )
    p.add_argument("--large", action="store_true", help="also the large data sets")
    p.add_argument(
        "--models",
        default=",".join(MODELS),
        help=f"comma-separated subset of {','.join(MODELS)}",
    )
    p.add_argument(
        "--baseline",
        default="mlp",
        choices=MODELS,
        help="the model the ratios and differences refer to (default: mlp)",
    )
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per fit")
    p.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads per fit")
    p.add_argument("--json", help="write the rows to this file")
    p.add_argument(
        "--params",
        nargs="*",
        default=[],
        help="KEY=VALUE keyword arguments for the convex estimators",
    )
    args = p.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(args.models) - set(MODELS))
    if unknown:
        p.error(f"unknown models {unknown}; choose from {list(MODELS)}")
    if args.baseline not in args.models:
        p.error(f"the baseline {args.baseline!r} must be among --models")
    names = list(args.datasets or default)
    if args.large and args.datasets is None:
        names += [n for n, d in DATASETS.items() if d.large]
    args.names = names
    return args


def _check_params(params, models):
    """Say on stderr which ``--params`` an estimator does not take (they are left out)."""
    for kind in (m for m in models if m in CONVEX):
        for task in ("regression", "classification"):
            taken = make_estimator(kind, task, {}).get_params()
            skipped = sorted(k for k in params if k not in taken)
            if skipped:
                print(
                    f"note: {kind} ({task}) does not take {skipped}; left out", file=sys.stderr
                )


def main(argv=None):
    args = parse_args(argv)
    params = parse_params(args.params)
    _check_params(params, args.models)
    print(
        f"models: {', '.join(args.models)}; threads {args.threads}; timeout "
        f"{args.timeout:g} s; convex params {params or 'defaults'}\n",
        flush=True,
    )
    print(header(args.baseline), flush=True)
    rows = []
    for name in args.names:
        rows += run_dataset(name, args.models, args, params)
    print("\n" + header(args.baseline))
    print("\n".join(format_row(r) for r in rows))
    print("\nScores are R^2 (regression) and accuracy (classification).\n")
    print("\n".join(summarize(rows, args.models, args.baseline)), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "params": params,
                    "threads": args.threads,
                    "timeout": args.timeout,
                    "rows": rows,
                },
                f,
                indent=1,
                default=str,
            )


if __name__ == "__main__":
    main()
