"""ConvexThreeLayerClassifier."""

from functools import update_wrapper
from types import MethodType

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d

from ._base import BaseConvexThreeLayer, fit_context, rowwise
from ._regressor import _ATTRS_DOC, _PARAMS_DOC


def _has_proba(estimator):
    """predict_proba exists for the cross-entropy loss only."""
    return estimator.loss == "cross_entropy"


def _no_proba_message(estimator, name):
    """Why ``name`` (``predict_proba`` or ``predict_log_proba``) is missing, and what to
    use instead."""
    loss = estimator.loss
    return (
        f"{type(estimator).__name__}.{name} is not available with loss={loss!r}: that "
        "loss fits scores (margins), not a probabilistic model, so the network gives no "
        "class probabilities. Use loss='cross_entropy' (a logistic / softmax model) for "
        "probabilities, decision_function for the scores, or wrap the classifier in "
        "sklearn.calibration.CalibratedClassifierCV to calibrate its scores into "
        "probabilities."
    )


class _only_with_proba:
    """Decorator for a method that exists for the cross-entropy loss only.

    Like scikit-learn's ``available_if``: on an estimator whose loss has no
    probabilistic model, looking the method up raises ``AttributeError`` (so
    ``hasattr(clf, "predict_proba")`` is False and meta-estimators such as
    ``CalibratedClassifierCV`` or ``VotingClassifier(voting="soft")`` see that), but the
    message says why and what to use instead. On the class it is the plain function
    (for the documentation).
    """

    def __init__(self, fn):
        self.fn = fn
        update_wrapper(self, fn)

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.fn
        if not _has_proba(obj):
            raise AttributeError(_no_proba_message(obj, self.fn.__name__))
        return MethodType(self.fn, obj)


class ConvexThreeLayerClassifier(ClassifierMixin, BaseConvexThreeLayer):
    __doc__ = (
        """Three-layer ReLU network classifier trained through its convex reformulation
    (Ergen & Pilanci, 2021).

    Same model and training as :class:`ConvexThreeLayerRegressor`, with a classification
    loss. Two classes use one output (targets ``-1``/``+1``, or the logistic loss for
    cross-entropy); more classes use one output per class (one-vs-rest ``-1``/``+1``
    targets for the squared and hinge losses, the softmax loss for cross-entropy).

    Parameters
    ----------"""
        + _PARAMS_DOC.format(
            LOSSES='{"squared", "hinge", "cross_entropy"}', DEFAULT_LOSS="cross_entropy"
        )
        + """
    Attributes
    ----------"""
        + _ATTRS_DOC
        + """
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    See Also
    --------
    ConvexThreeLayerRegressor : the same model for regression.

    Examples
    --------
    >>> from sklearn.datasets import make_moons
    >>> from skconvexrelu import ConvexThreeLayerClassifier
    >>> X, y = make_moons(n_samples=60, noise=0.1, random_state=0)
    >>> clf = ConvexThreeLayerClassifier(beta=1e-3, width=3, n_arrangements=5,
    ...                                  random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """
    )

    def __init__(
        self,
        beta="auto",
        width=10,
        n_arrangements=10,
        loss="cross_entropy",
        solver="auto",
        cvxpy_solver=None,
        fit_intercept=True,
        max_iter=None,
        tol=1e-6,
        random_state=None,
        verbose=0,
        arrangements="trained",
        column_generation=0,
        arrangements_per_round=10,
        max_arrangements=None,
        max_time=None,
        warm_start=False,
        device=None,
        solver_options=None,
    ):
        super().__init__(
            beta=beta,
            width=width,
            n_arrangements=n_arrangements,
            loss=loss,
            solver=solver,
            cvxpy_solver=cvxpy_solver,
            fit_intercept=fit_intercept,
            max_iter=max_iter,
            tol=tol,
            random_state=random_state,
            verbose=verbose,
            arrangements=arrangements,
            column_generation=column_generation,
            arrangements_per_round=arrangements_per_round,
            max_arrangements=max_arrangements,
            max_time=max_time,
            warm_start=warm_start,
            device=device,
            solver_options=solver_options,
        )

    def _encode_targets(self, y):
        check_classification_targets(y)
        if np.ndim(y) > 1 and np.shape(y)[1] > 1:
            raise ValueError(
                "ConvexThreeLayerClassifier does not support multi-output targets; got y "
                f"of shape {np.shape(y)}."
            )
        y = column_or_1d(y, warn=True)
        encoder = LabelEncoder()
        codes = encoder.fit_transform(y)
        self.classes_ = encoder.classes_
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                "The classifier needs samples of at least 2 classes in the data, but the "
                f"data contain only one class: {self.classes_[0]!r}."
            )
        if n_classes == 2:
            return np.where(codes == 1, 1.0, -1.0)[:, None], self.loss
        onehot = np.eye(n_classes)[codes]
        if self.loss == "cross_entropy":
            return onehot, self.loss
        return 2.0 * onehot - 1.0, self.loss

    @fit_context
    def fit(self, X, y, sample_weight=None):
        """Fit the network by solving the convex program.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels (strings, integers or booleans).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; the loss is their weighted mean.

        Returns
        -------
        self : object
        """
        return self._fit(X, y, sample_weight)

    @rowwise
    def decision_function(self, X):
        """Network outputs: shape (n_samples,) for two classes, else (n_samples, n_classes).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A Dask array gives a Dask array, computed block by block (so do
            :meth:`predict` and :meth:`predict_proba`).

        Returns
        -------
        scores : ndarray
        """
        F = self._forward(X)
        return F.ravel() if F.shape[1] == 1 else F

    @rowwise
    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    @_only_with_proba
    @rowwise
    def predict_proba(self, X):
        """Class probabilities (cross-entropy loss only).

        With ``loss="squared"`` or ``"hinge"`` the network fits scores, not
        probabilities: the method does not exist (``hasattr(clf, "predict_proba")`` is
        False, and calling it raises an ``AttributeError`` that says so). Use
        :meth:`decision_function` for the scores, or
        :class:`sklearn.calibration.CalibratedClassifierCV` to calibrate them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = expit(scores)
            return np.column_stack([1.0 - p, p])
        return softmax(scores, axis=1)

    @_only_with_proba
    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba` (cross-entropy loss only).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))
