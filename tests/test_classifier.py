"""ConvexThreeLayerClassifier: ``predict_proba`` / ``predict_log_proba`` exist for the
cross-entropy loss only, and their absence says why and what to use instead."""

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_blobs

from skconvexrelu import ConvexThreeLayerClassifier, ConvexThreeLayerClassifierCV

SMALL = dict(beta=1e-2, width=2, n_arrangements=3, random_state=0, arrangements="random")


def _data():
    return make_blobs(n_samples=30, centers=2, n_features=2, random_state=0)


@pytest.mark.parametrize("loss", ["hinge", "squared"])
@pytest.mark.parametrize("method", ["predict_proba", "predict_log_proba"])
def test_no_proba_for_margin_losses_says_why(loss, method):
    X, y = _data()
    clf = ConvexThreeLayerClassifier(loss=loss, **SMALL).fit(X, y)
    # scikit-learn's available_if semantics: the attribute does not exist ...
    assert not hasattr(clf, method)
    # ... but the error explains itself and names the alternatives
    with pytest.raises(AttributeError) as info:
        getattr(clf, method)(X)
    msg = str(info.value)
    assert method in msg and repr(loss) in msg
    assert "no attribute" not in msg
    assert "probabilistic" in msg
    for alternative in ("loss='cross_entropy'", "decision_function",
                        "CalibratedClassifierCV"):  # fmt: skip
        assert alternative in msg
    # the suggested decision_function works
    assert clf.decision_function(X).shape == (30,)


def test_no_proba_before_fit_and_after_set_params():
    clf = ConvexThreeLayerClassifier(loss="hinge", **SMALL)
    assert not hasattr(clf, "predict_proba")  # decided by the loss, before fitting
    clf.set_params(loss="cross_entropy")
    assert hasattr(clf, "predict_proba") and hasattr(clf, "predict_log_proba")
    assert not hasattr(ConvexThreeLayerClassifierCV(loss="squared"), "predict_proba")


def test_cross_entropy_probabilities():
    X, y = _data()
    clf = ConvexThreeLayerClassifier(**SMALL).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))
    # the class attribute is the documented function
    assert ConvexThreeLayerClassifier.predict_proba.__doc__.startswith("Class probabilities")


def test_calibrated_classifier_gives_probabilities_for_hinge():
    X, y = _data()
    base = ConvexThreeLayerClassifier(loss="hinge", **SMALL)
    cal = CalibratedClassifierCV(base, cv=2).fit(X, y)
    np.testing.assert_allclose(cal.predict_proba(X).sum(axis=1), 1.0)
