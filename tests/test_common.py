"""scikit-learn's common estimator checks, on small settings so they run fast; every
check passes (no expected failures)."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skconvexrelu import (
    ConvexThreeLayerClassifier,
    ConvexThreeLayerClassifierCV,
    ConvexThreeLayerRegressor,
    ConvexThreeLayerRegressorCV,
)

# Small programs keep each of the ~50 checks to a fraction of a second.
SMALL = dict(beta=1e-3, width=3, n_arrangements=4, random_state=0, arrangements="random")
SMALL_CV = {k: v for k, v in SMALL.items() if k != "beta"}

ESTIMATORS = [
    ConvexThreeLayerRegressor(**SMALL),
    ConvexThreeLayerClassifier(**SMALL),
    ConvexThreeLayerClassifier(loss="hinge", **SMALL),
    ConvexThreeLayerClassifier(loss="squared", **SMALL),
    ConvexThreeLayerRegressorCV(n_betas=2, cv=2, **SMALL_CV),
    # the cross-entropy path is checked above; squared keeps the CV checks fast
    ConvexThreeLayerClassifierCV(n_betas=2, cv=2, loss="squared", **SMALL_CV),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
