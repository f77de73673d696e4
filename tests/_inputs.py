"""Estimators, solvers and data shared by the tests of bad input and hard data
(``test_validation.py``, ``test_base.py``, ``test_fit.py``).

The fixtures ``kind`` (regressor or classifier) and ``solver`` (every solver of
``skconvexrelu.solvers.SOLVERS`` but the choices "auto" and "native"; one that says it is
"not available" is skipped) are imported by those modules as ``kind_fixture`` and
``solver_fixture``. Settings are tiny (width=2,
n_arrangements=3) so that the tests stay fast.
"""

import numpy as np
import pytest

from skconvexrelu import ConvexThreeLayerClassifier, ConvexThreeLayerRegressor
from skconvexrelu._reconstruction import network_objective
from skconvexrelu.solvers import SOLVERS, get_solver

TINY = dict(width=2, n_arrangements=3, random_state=0)
SOLVER_NAMES = [s for s in SOLVERS if s not in ("auto", "native")]  # native = ipm or al-fista
ESTIMATORS = {"regressor": ConvexThreeLayerRegressor, "classifier": ConvexThreeLayerClassifier}


def _available(name):
    try:
        get_solver(name)
    except ValueError as exc:
        if "not available" in str(exc):
            return False
        raise
    return True


@pytest.fixture(params=SOLVER_NAMES, name="solver")
def solver_fixture(request):
    if not _available(request.param):
        pytest.skip(f"solver {request.param!r} is not available")
    return request.param


@pytest.fixture(params=list(ESTIMATORS), name="kind")
def kind_fixture(request):
    return request.param


def _est(kind, solver, **params):
    return ESTIMATORS[kind](**{**TINY, "solver": solver, **params})


def _data(kind, n=20, d=3, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if kind == "regressor":
        y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(n)
    else:
        y = (X[:, 0] + 0.3 * rng.standard_normal(n) > 0).astype(int)
        y[:2] = [0, 1]  # both classes, whatever the seed
    return X * scale, y


def _outputs(est, X):
    """predict for the regressor, decision_function for the classifier."""
    if isinstance(est, ConvexThreeLayerClassifier):
        return est.decision_function(X)
    return est.predict(X)


def _encoded(est, y):
    """The encoded targets ``Y`` the fitted estimator trained on."""
    if isinstance(est, ConvexThreeLayerClassifier):
        classes = est.classes_
        Y, _ = est._encode_targets(y)
        est.classes_ = classes
        return Y
    return np.asarray(y, dtype=np.float64).reshape(len(y), -1)


def _network_objective(est, X, y, sample_weight=None):
    X = np.asarray(X, dtype=est.coefs_[0].dtype)
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, float)
    keep = w > 0
    w = w[keep] / w[keep].sum()
    Y = _encoded(est, y)[keep]
    return network_objective(est.coefs_, est.intercepts_, X[keep], Y, w, est.loss_, est.beta_)


def _assert_consistent(est, X, y, sample_weight=None, rtol=1e-5):
    """Finite outputs and a network whose objective is ``objective_``."""
    out = _outputs(est, X)
    assert np.all(np.isfinite(out))
    assert np.isfinite(est.objective_)
    obj = _network_objective(est, X, y, sample_weight)
    assert obj == pytest.approx(est.objective_, rel=rtol, abs=1e-9)
