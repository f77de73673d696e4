"""
============================================
Sparsity along beta: the regularization path
============================================

The convex program is a group lasso: each sampled configuration contributes a group of
variables, and a group left at zero is a sub-network that does not exist. So the
number of sub-networks of the fitted network is not a hyper-parameter but a result,
and it shrinks as ``beta`` grows, down to zero (the constant predictor) once ``beta``
is large enough.

:func:`skconvexrelu.experiments.beta_path` fits the regressor along a grid of ``beta``
values with the same seed, so every fit sees the same configurations.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from skconvexrelu.experiments import beta_path, plot_beta_path

rng = np.random.default_rng(0)
X = rng.normal(size=(80, 3))
y = np.maximum(X[:, 0] + X[:, 1], 0) - np.maximum(X[:, 2], 0) + 0.1 * rng.normal(size=80)

betas = np.logspace(-4, 0.5, 10)
rows = beta_path(X, y, betas, width=3, n_arrangements=15, random_state=0)
for r in rows:
    print(
        f"beta {r['beta']:.2e}: {r['n_subnetworks']:3d} sub-networks, objective "
        f"{r['objective']:.4f}, training R^2 {r['train_r2']:.3f}"
    )

# %%
# Number of sub-networks and training objective
# ---------------------------------------------
# The objective grows with ``beta`` (a larger penalty can only cost more), while the
# number of sub-networks falls.
fig = plot_beta_path(rows)
plt.show()
