"""
============================
Choosing beta by grid search
============================

``beta`` is the only regularization parameter: it weighs the group-lasso penalty of the
convex program, i.e. the weight decay of the network, and so decides how many
sub-networks the fit keeps. Because the estimator follows the scikit-learn API, it can
be tuned with :class:`~sklearn.model_selection.GridSearchCV` inside a
:class:`~sklearn.pipeline.Pipeline` that standardizes the features first.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skconvexrelu import ConvexThreeLayerRegressor

X, y = load_diabetes(return_X_y=True)
X, y = X[:200], y[:200] / y[:200].std()  # a subset keeps the example fast
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

pipe = Pipeline(
    [
        ("scale", StandardScaler()),
        ("net", ConvexThreeLayerRegressor(width=3, n_arrangements=8, random_state=0)),
    ]
)
betas = np.logspace(-3, 0, 5)
search = GridSearchCV(pipe, {"net__beta": betas}, cv=3, return_train_score=True)
search.fit(X_train, y_train)
best = search.best_estimator_["net"]
print(
    f"best beta {search.best_params_['net__beta']:.3g}: test R^2 "
    f"{search.score(X_test, y_test):.3f}, {best.n_subnetworks_} sub-networks"
)

# %%
# Cross-validated R^2 along beta
# ------------------------------
# Small ``beta`` fits the training folds closely; large ``beta`` shrinks the network
# towards the constant prediction (R^2 near 0).
res = search.cv_results_
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for kind, color in [("train", "C0"), ("test", "C1")]:
    mean, std = res[f"mean_{kind}_score"], res[f"std_{kind}_score"]
    ax.semilogx(betas, mean, "o-", color=color, label=f"{kind} folds")
    ax.fill_between(betas, mean - std, mean + std, color=color, alpha=0.2)
ax.axvline(search.best_params_["net__beta"], color="k", ls=":", label="best beta")
ax.set_xlabel("beta (per sample)")
ax.set_ylabel("R^2")
ax.legend()
ax.set_title("GridSearchCV over beta")
plt.show()
