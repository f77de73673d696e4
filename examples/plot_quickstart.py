"""
===========
Quick start
===========

Fit a three-layer ReLU network through its convex program, once for regression and once
for classification, and look at what was learned.

The estimators behave like any scikit-learn model; the fitted network is exposed in
:class:`~sklearn.neural_network.MLPRegressor`'s layout (``coefs_``, ``intercepts_``),
its training objective as ``objective_`` and its number of sub-networks, which the
convex program chooses, as ``n_subnetworks_``.
"""

# %%
# Regression on a one-dimensional toy problem
# -------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_moons
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skconvexrelu import ConvexThreeLayerClassifier, ConvexThreeLayerRegressor

rng = np.random.default_rng(0)
X = np.sort(rng.uniform(-3, 3, size=(60, 1)), axis=0)
y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=60)

reg = ConvexThreeLayerRegressor(random_state=0)
reg.fit(X, y)
print(
    f"objective {reg.objective_:.4f}, {reg.n_subnetworks_} sub-networks, "
    f"solved by {reg.solver_}"
)
print("layer shapes:", [W.shape for W in reg.coefs_])

# %%
# By default the configurations of the convex program come from a briefly trained seed
# network, and the first-order method improves on that network for a budget of steps
# (``solver_status_`` is ``"budget"``; ``stop_criterion_`` is the relative duality gap
# reached). The training objective of the rebuilt network *equals* the convex objective
# at the returned point: it is computed from the network's weights. To solve the
# sampled program to ``tol`` instead, choose the solver:

exact = ConvexThreeLayerRegressor(solver="ipm", random_state=0).fit(X, y)
print(
    f"default: objective {reg.objective_:.5f} ({reg.solver_status_}, gap "
    f"{reg.stop_criterion_:.2g}); solved to tol: {exact.objective_:.5f} "
    f"({exact.solver_status_}, gap {exact.stop_criterion_:.2g})"
)

# %%
# Classification of two interleaved half-moons
# --------------------------------------------
# ``beta`` sets the regularization: the default ``"auto"`` (``0.4 / sqrt(n)``, 0.04 for
# these 100 points) draws a smooth boundary; a smaller one follows the moons closely.
Xm, ym = make_moons(n_samples=100, noise=0.15, random_state=0)
clf = make_pipeline(
    StandardScaler(),
    ConvexThreeLayerClassifier(beta=1e-3, random_state=0),
)
clf.fit(Xm, ym)
print(f"training accuracy {clf.score(Xm, ym):.3f} with {clf[-1].n_subnetworks_} sub-networks")

# %%
# Plot both fits
# --------------
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
grid = np.linspace(-3.5, 3.5, 400)[:, None]
ax1.scatter(X[:, 0], y, s=12, color="k", label="data")
ax1.plot(grid[:, 0], reg.predict(grid), color="C0", label="convex three-layer fit")
ax1.plot(grid[:, 0], np.sin(grid[:, 0]), color="C1", ls="--", label="sin(x)")
ax1.set_title(f"regression: {reg.n_subnetworks_} sub-networks")
ax1.legend()

xx, yy = np.meshgrid(np.linspace(-1.7, 2.7, 200), np.linspace(-1.2, 1.7, 200))
proba = clf.predict_proba(np.c_[xx.ravel(), yy.ravel()])[:, 1].reshape(xx.shape)
ax2.contourf(xx, yy, proba, levels=20, cmap="RdBu_r", alpha=0.6)
ax2.contour(xx, yy, proba, levels=[0.5], colors="k")
ax2.scatter(Xm[:, 0], Xm[:, 1], c=ym, cmap="RdBu_r", edgecolor="k", s=20)
ax2.set_title("classification: P(class 1)")
plt.show()
