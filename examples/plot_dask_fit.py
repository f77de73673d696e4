"""
=========================================
Fitting a Dask array on a local cluster
=========================================

``fit`` accepts a :class:`dask.array.Array` whose rows are split into chunks. The rows
then stay on the workers: only a random sample of at most
``DaskSettings.sample_rows`` rows (100,000 by default) is brought to the client, to
train the seed network that supplies the configurations, and every pass of the
first-order method over the data is one task per chunk. With fewer rows than that, as
here, the fit on the Dask array is the in-memory fit of the same data, step for step.

The cluster is a :class:`distributed.LocalCluster` with two single-threaded workers
running as threads in this process (``processes=False``). On a real cluster, connect
the :class:`distributed.Client` to its scheduler instead; nothing else changes.
Install the extra with ``pip install "skconvexrelu[dask]"``.
"""

# %%
import time

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster

from skconvexrelu import ConvexThreeLayerRegressor
from skconvexrelu.experiments import synthetic_teacher

# %%
# Data from a random teacher network
# ----------------------------------
# 2,500 rows of 5 Gaussian features, labelled by a randomly initialized three-layer ReLU
# network plus a little noise. The first 2,000 rows are for training, held as a Dask
# array in four chunks of 500 rows; the rest are held out.
X, y = synthetic_teacher(n=2500, d=5, width=4, n_subnetworks=5, random_state=0)
y = y + 0.05 * y.std() * np.random.default_rng(0).normal(size=len(y))
X_train, y_train, X_test, y_test = X[:2000], y[:2000], X[2000:], y[2000:]
X_train_dask = da.from_array(X_train, chunks=(500, -1))
X_test_dask = da.from_array(X_test, chunks=(250, -1))
print(X_train_dask)

# %%
# The same fit, on the cluster and in memory
# ------------------------------------------
# The Dask array goes to ``fit`` like any array; the targets are an ordinary NumPy
# array, which stays on the client.
cluster = LocalCluster(
    n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
)
client = Client(cluster)

start = time.perf_counter()
on_dask = ConvexThreeLayerRegressor(random_state=0).fit(X_train_dask, y_train)
t_dask = time.perf_counter() - start

start = time.perf_counter()
in_memory = ConvexThreeLayerRegressor(random_state=0).fit(X_train, y_train)
t_memory = time.perf_counter() - start

relative = abs(on_dask.objective_ - in_memory.objective_) / in_memory.objective_
print(f"solver on the Dask array: {on_dask.solver_}")
print(f"objective on the Dask array: {on_dask.objective_:.10g}  ({t_dask:.1f} s)")
print(f"objective in memory:         {in_memory.objective_:.10g}  ({t_memory:.1f} s)")
print(f"relative difference: {relative:.1e}")

# %%
# Predictions, block by block
# ---------------------------
# On a Dask array ``predict`` returns a lazy Dask array, one task per chunk; nothing is
# computed until ``.compute()``.
lazy = on_dask.predict(X_test_dask)
print(lazy)
y_pred = lazy.compute()
print(
    f"largest difference from the in-memory predictions: "
    f"{np.abs(y_pred - in_memory.predict(X_test)).max():.1e}"
)
print(f"held-out R^2: {on_dask.score(X_test, y_test):.3f}")

client.close()
cluster.close()

# %%
# Both fits reach the same network. Each pass over the data is a round trip to the
# cluster, so on data this small the fit in memory is faster: the Dask path is for
# tables that do not fit in one process's memory.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
ax1.scatter(y_test, y_pred, s=6, alpha=0.6)
lims = [min(y_test.min(), y_pred.min()), max(y_test.max(), y_pred.max())]
ax1.plot(lims, lims, color="k", lw=1)
ax1.set_xlabel("true target (held-out rows)")
ax1.set_ylabel("predicted from the Dask array")
ax2.barh(["in memory", "Dask array"], [t_memory, t_dask], color=["C0", "C1"])
ax2.set_xlabel("fit time (s)")
plt.show()
