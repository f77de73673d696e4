"""
====================================================
Parallel hyper-parameter search, locally and on dask
====================================================

Each fit of the convex program is independent of the others, so a search over
``beta`` parallelizes over candidates and folds. With scikit-learn this takes
``n_jobs``; the same code runs on a `dask <https://www.dask.org>`_ cluster through
joblib's ``"dask"`` backend, which is how a search is spread over several machines.

Here the "cluster" is a :class:`distributed.LocalCluster` with two single-threaded
workers running as threads in this process (``processes=False``), which needs no
extra setup; on a real cluster, connect a :class:`distributed.Client` to its scheduler
instead. Install the extra with ``pip install "skconvexrelu[dask]"``.
"""

# %%
import time

import joblib
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skconvexrelu import ConvexThreeLayerRegressor

rng = np.random.default_rng(0)
X = rng.normal(size=(80, 4))
y = np.maximum(X[:, 0], 0) - np.abs(X[:, 1]) + 0.1 * rng.normal(size=80)
pipe = make_pipeline(
    StandardScaler(), ConvexThreeLayerRegressor(width=3, n_arrangements=8, random_state=0)
)
grid = {"convexthreelayerregressor__beta": np.logspace(-3, 0, 4)}


def timed_search(n_jobs):
    search = GridSearchCV(pipe, grid, cv=3, n_jobs=n_jobs)
    start = time.perf_counter()
    search.fit(X, y)
    return search, time.perf_counter() - start


# %%
# One process, then two local workers (joblib's default backend)
# ---------------------------------------------------------------
serial, t_serial = timed_search(n_jobs=1)
local, t_local = timed_search(n_jobs=2)

# %%
# The same search on a dask cluster
# ---------------------------------
with (
    LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster,
    Client(cluster) as client,
):
    with joblib.parallel_backend("dask"):
        on_dask, t_dask = timed_search(n_jobs=-1)

for name, search, seconds in [
    ("n_jobs=1", serial, t_serial),
    ("n_jobs=2", local, t_local),
    ("dask", on_dask, t_dask),
]:
    print(
        f"{name:9s} best beta {search.best_params_['convexthreelayerregressor__beta']:.3g}"
        f"  best CV R^2 {search.best_score_:.3f}  {seconds:.1f} s"
    )

# %%
# Every backend finds the same scores (the fits are deterministic); only the wall time
# differs, and on a problem this small the overhead of starting workers dominates.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
ax1.barh(
    ["n_jobs=1", "n_jobs=2", "dask"], [t_serial, t_local, t_dask], color=["C0", "C1", "C2"]
)
ax1.set_xlabel("wall time (s)")
betas = grid["convexthreelayerregressor__beta"]
for name, search, marker in [("n_jobs=1", serial, "o"), ("dask", on_dask, "x")]:
    ax2.semilogx(betas, search.cv_results_["mean_test_score"], marker, ls="-", label=name)
ax2.set_xlabel("beta")
ax2.set_ylabel("mean CV R^2")
ax2.legend()
plt.show()
