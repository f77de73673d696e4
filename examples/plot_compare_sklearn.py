"""
======================================================
Side by side with scikit-learn's MLP and linear models
======================================================

The convex estimators next to :class:`~sklearn.neural_network.MLPClassifier` /
:class:`~sklearn.neural_network.MLPRegressor` (trained by Adam from a random start) and
a linear model, on two data sets shipped with scikit-learn: iris (classification) and a
subset of diabetes (regression). Every model sits in the same pipeline with a
:class:`~sklearn.preprocessing.StandardScaler`.

Test scores and fit times are from one split; on data this small they vary from split
to split, so read them as an illustration, not a benchmark.
"""

# %%
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import LogLocator, NullFormatter
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skconvexrelu import ConvexThreeLayerClassifier, ConvexThreeLayerRegressor

classifiers = {
    "convex 3-layer": ConvexThreeLayerClassifier(random_state=0),
    "MLPClassifier": MLPClassifier(hidden_layer_sizes=(20, 10), max_iter=2000, random_state=0),
    "LogisticRegression": LogisticRegression(),
}
regressors = {
    "convex 3-layer": ConvexThreeLayerRegressor(random_state=0),
    "MLPRegressor": MLPRegressor(
        hidden_layer_sizes=(20, 10), alpha=1.0, max_iter=2000, random_state=0
    ),
    "Ridge": Ridge(alpha=1.0),
}


def evaluate(models, X, y):
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    results = {}
    for name, model in models.items():
        pipe = make_pipeline(StandardScaler(), model)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipe.fit(X_train, y_train)
        results[name] = (pipe.score(X_test, y_test), time.perf_counter() - start)
        print(f"  {name:20s} test score {results[name][0]:.3f}  fit {results[name][1]:.2f} s")
    return results


print("iris (accuracy)")
clf_results = evaluate(classifiers, *load_iris(return_X_y=True))
X, y = load_diabetes(return_X_y=True)
print("diabetes, 200 samples (R^2)")
reg_results = evaluate(regressors, X[:200], y[:200] / y[:200].std())

# %%
# Scores and fit times
# --------------------
# The fit times span several orders of magnitude, so their axis is logarithmic, with a
# label at every power of ten only (the minor ticks stay unlabelled so that the labels
# cannot overlap) and each bar's time written next to it.
fig, axes = plt.subplots(2, 2, figsize=(11, 6), layout="constrained")
for row, (title, results) in enumerate(
    [("iris: test accuracy", clf_results), ("diabetes: test R^2", reg_results)]
):
    names = list(results)
    colors = [f"C{i}" for i in range(len(names))]
    axes[row, 0].barh(names, [results[n][0] for n in names], color=colors)
    axes[row, 0].set_title(title)
    times = np.array([results[n][1] for n in names])
    ax = axes[row, 1]
    bars = ax.barh(names, times, color=colors)
    ax.bar_label(bars, labels=[f"{t:.2g} s" for t in times], padding=3)
    ax.set_xscale("log")
    # whole decades, with room on the right for the bar labels
    low, high = np.floor(np.log10(times.min())), np.ceil(np.log10(5 * times.max()))
    ax.set_xlim(10**low, 10**high)
    ax.xaxis.set_major_locator(LogLocator(base=10, numticks=6))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_title("fit time (s, log scale)")
plt.show()
