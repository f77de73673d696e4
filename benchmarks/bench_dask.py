"""One fit on a Dask array: agreement with the in-memory fit, and rows that do not fit
in a worker's memory.

Both modes start a ``distributed.LocalCluster`` of two worker processes with one thread
each (``--workers``, ``--memory-limit`` per worker) and fit the default estimators
(``random_state=0``) on teacher data (``bench_large.teacher_data``: a sum of ten ReLU
units, ``d`` inputs; classification splits its output at the median).

- ``agree``: n rows (``--n``, default 20,000) of ``d=20``, held as a Dask array in
  ``--chunks`` blocks (persisted on the workers), the regressor and the binary
  cross-entropy classifier, each fitted on the Dask array and on the same rows in
  memory in the same process. The table gives both objectives, their relative
  difference, both fit times and the held-out score of each.
- ``large``: 4,000,000 x 20 rows (``--n``), float64, generated block by block on the
  workers from a seed (``dask.array`` random numbers: the data exist only as a Dask
  array and are never persisted; ``--chunk`` rows per block, default 50,000), with a
  worker memory limit smaller than the data (``--memory-limit``, default 600 MB per
  worker against 640 MB of data). The teacher's
  targets are computed blockwise and brought to the client (n numbers). The regressor
  is fitted with its defaults; the table gives the fit time, its parts (from
  ``verbose=1``), the peak resident memory of each worker (sampled every 0.2 s) and of
  the client, and the R^2 on 20,000 held-out rows.

Examples
--------
    python benchmarks/bench_dask.py agree
    python benchmarks/bench_dask.py agree --n 5000 --chunks 4
    python benchmarks/bench_dask.py large
    python benchmarks/bench_dask.py large --n 1000000 --memory-limit 400MB
"""

import argparse
import contextlib
import io
import resource
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_large import _phase_seconds, teacher_data  # noqa: E402

D = 20
N_TEST = 20_000


def _cluster(workers, memory_limit):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=memory_limit,
        dashboard_address=None,
    )
    return cluster, Client(cluster)


def _model(kind):
    from skconvexrelu import ConvexThreeLayerClassifier, ConvexThreeLayerRegressor

    if kind == "squared":
        return ConvexThreeLayerRegressor(random_state=0)
    return ConvexThreeLayerClassifier(loss="cross_entropy", random_state=0)


def _timed_fit(est, X, y):
    buffer = io.StringIO()
    est.set_params(verbose=1)
    start = time.perf_counter()
    with contextlib.redirect_stdout(buffer):
        est.fit(X, y)
    return time.perf_counter() - start, _phase_seconds(buffer.getvalue())


def agree(n, chunks, workers, memory_limit):
    """Rows of the agreement table: one per loss."""
    import dask.array as da

    cluster, client = _cluster(workers, memory_limit)
    rows = []
    try:
        for kind in ("squared", "cross_entropy"):
            labels = "real" if kind == "squared" else "binary"
            X, y = teacher_data(n + N_TEST, D, labels)
            Xtr, ytr, Xte, yte = X[:n], y[:n], X[n:], y[n:]
            t_mem, _ = _timed_fit(memory := _model(kind), Xtr, ytr)
            Xd = da.from_array(Xtr, chunks=(-(-n // chunks), -1)).persist()
            t_dask, _ = _timed_fit(fitted := _model(kind), Xd, ytr)
            rel = abs(fitted.objective_ - memory.objective_) / abs(memory.objective_)
            rows.append(
                dict(
                    loss=kind,
                    n=n,
                    blocks=chunks,
                    objective_memory=memory.objective_,
                    objective_dask=fitted.objective_,
                    relative_difference=rel,
                    seconds_memory=t_mem,
                    seconds_dask=t_dask,
                    score_memory=memory.score(Xte, yte),
                    score_dask=fitted.score(Xte, yte),
                )
            )
    finally:
        client.close()
        cluster.close()
    return rows


def _lazy_teacher(n, chunk, seed=0):
    """``(X, y)`` as Dask arrays made block by block on the workers (``y`` the teacher
    network's output, as ``teacher_data``'s "real" labels)."""
    import dask.array as da

    teacher = np.random.default_rng(seed)
    W1 = teacher.standard_normal((D, 10)) / np.sqrt(D / 10)
    w2 = teacher.standard_normal(10)
    X = da.random.default_rng(seed + 1).standard_normal((n, D), chunks=(chunk, D))

    def outputs(block):
        return np.maximum(np.maximum(block @ W1, 0.0) @ w2, 0.0)

    y = X.map_blocks(outputs, drop_axis=1, dtype=np.float64)
    Xte = np.random.default_rng(seed + 2).standard_normal((N_TEST, D))
    return X, y, Xte, outputs(Xte)


class _PeakMemory:
    """Largest resident memory of every worker, sampled in a thread while it runs."""

    def __init__(self, client, every=0.2):
        self.client, self.every = client, every
        self.peak = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        import psutil

        def rss():
            return psutil.Process().memory_info().rss

        while not self._stop.is_set():
            with contextlib.suppress(Exception):
                for worker, value in self.client.run(rss).items():
                    self.peak[worker] = max(self.peak.get(worker, 0), value)
            self._stop.wait(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def large(n, chunk, workers, memory_limit):
    """The one row of the large table."""
    from sklearn.metrics import r2_score

    cluster, client = _cluster(workers, memory_limit)
    try:
        X, y, Xte, yte = _lazy_teacher(n, chunk)
        y = y.compute()
        est = _model("squared")
        with _PeakMemory(client) as peak:
            seconds, phases = _timed_fit(est, X, y)
        limit = next(iter(client.scheduler_info()["workers"].values()))["memory_limit"]
    finally:
        client.close()
        cluster.close()
    client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return dict(
        n=n,
        d=D,
        data_mb=n * D * 8 / 1e6,
        memory_limit_mb=limit / 1e6,
        seconds=seconds,
        seed_seconds=phases.get("seed"),
        solve_seconds=phases.get("solve", 0) - phases.get("seed", 0),
        steps=est.n_iter_,
        status=est.solver_status_,
        worker_peak_mb=[v / 1e6 for v in peak.peak.values()],
        client_peak_mb=client_peak / 1e6,
        r2=r2_score(yte, est.predict(Xte)),
    )


def agree_table(rows):
    head = (
        "| loss | n | blocks | objective (memory) | objective (Dask) | rel. difference "
        "| fit s (memory) | fit s (Dask) | score (memory) | score (Dask) |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        lines.append(
            f"| {r['loss']} | {r['n']:,} | {r['blocks']} | {r['objective_memory']:.8g} | "
            f"{r['objective_dask']:.8g} | {r['relative_difference']:.1e} | "
            f"{r['seconds_memory']:.1f} | {r['seconds_dask']:.1f} | "
            f"{r['score_memory']:.4f} | {r['score_dask']:.4f} |"
        )
    return "\n".join(lines)


def large_table(r):
    peaks = ", ".join(f"{v:.0f}" for v in sorted(r["worker_peak_mb"]))
    return "\n".join(
        [
            "| rows x features | data MB | worker limit MB | fit s | seed s | solve s "
            "| steps | status | worker peak MB | client peak MB | R^2 |",
            "|" + "---|" * 11,
            f"| {r['n']:,} x {r['d']} | {r['data_mb']:.0f} | {r['memory_limit_mb']:.0f} | "
            f"{r['seconds']:.1f} | {r['seed_seconds'] or 0:.1f} | {r['solve_seconds']:.1f} | "
            f"{r['steps']} | {r['status']} | {peaks} | {r['client_peak_mb']:.0f} | "
            f"{r['r2']:.4f} |",
        ]
    )


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    a = sub.add_parser("agree", help="Dask array against the same rows in memory")
    a.add_argument("--n", type=int, default=20_000)
    a.add_argument("--chunks", type=int, default=8, help="blocks of rows")
    a.add_argument("--memory-limit", default="4GB", help="per worker")
    g = sub.add_parser("large", help="rows that do not fit in a worker's memory")
    g.add_argument("--n", type=int, default=4_000_000)
    g.add_argument("--chunk", type=int, default=50_000, help="rows per block")
    g.add_argument("--memory-limit", default="600MB", help="per worker")
    for q in (a, g):
        q.add_argument("--workers", type=int, default=2)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.mode == "agree":
        rows = agree(args.n, args.chunks, args.workers, args.memory_limit)
        print(agree_table(rows))
        return rows
    row = large(args.n, args.chunk, args.workers, args.memory_limit)
    print(large_table(row))
    return row


if __name__ == "__main__":
    main()
