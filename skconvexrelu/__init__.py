"""skconvexrelu: globally optimal three-layer ReLU networks through convex programs.

The estimators solve the convex reformulation of Ergen & Pilanci (ICML 2021) and
rebuild an ordinary ReLU network with the same training objective.
"""

from ._classifier import ConvexThreeLayerClassifier
from ._cv import ConvexThreeLayerClassifierCV, ConvexThreeLayerRegressorCV
from ._expected_cost import LongFitWarning
from ._regressor import ConvexThreeLayerRegressor

__version__ = "0.1.0.dev0"

__all__ = [
    "ConvexThreeLayerClassifier",
    "ConvexThreeLayerClassifierCV",
    "ConvexThreeLayerRegressor",
    "ConvexThreeLayerRegressorCV",
    "LongFitWarning",
    "__version__",
]
