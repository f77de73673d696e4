"""
=============================================================
The paper's Figure 4: gradient training vs the convex program
=============================================================

Ergen & Pilanci (2021, Figure 4) train the non-convex three-layer network on a tiny
synthetic problem, ``n = 5`` samples in ``d = 2`` dimensions with labels from a random
teacher network (width 3, 5 sub-networks), ``beta = 0.002`` in their unnormalized
objective (``0.002 / 5`` here), from 5 random initializations and for several numbers
of sub-networks ``K``. In the paper, runs with few sub-networks stall above the
optimum and, with more sub-networks, every run reaches it. The convex program reaches
its optimum in one solve, and the network rebuilt from its solution (Proposition 1) has
exactly the same objective. The numbers printed below say how the runs went here: the
gradient runs do not all end at the convex value, for small or large ``K``.

Here the runs use projected Adam; ``figure4(optimizer="sgd")`` runs projected gradient
descent instead (the paper's SGD with batch size 5 is full-batch). The convex program
samples 300 configurations: its value is the optimum of that sampled program, which is
an upper bound on the global optimum, tight when the sample is rich enough, as it is
for 5 points. The same figure is written by ``skconvexrelu figure4``.
"""

# %%
import matplotlib.pyplot as plt

from skconvexrelu.experiments import figure4, plot_figure4

result = figure4(
    n_subnetworks=(1, 2, 5, 10), n_inits=5, optimizer="adam", n_steps=2000, progress=False
)
convex = result["convex"]
print(
    f"convex program: {convex['objective']:.6g} in {convex['time']:.2f} s; "
    f"rebuilt network: {convex['reconstructed_objective']:.6g}"
)
for K in (1, 2, 5, 10):
    finals = [r["final"] for r in result["runs"] if r["K"] == K]
    print(f"K = {K:2d}: " + "  ".join(f"{v:.3g}" for v in finals))

# %%
# Training objective against time
# -------------------------------
# Each line is one initialization; the green dot marks the convex program's value
# and the time its solve took, the red cross the objective of the rebuilt network.
fig = plot_figure4(result)
plt.show()
