"""scikit-learn estimators over Keras models."""

from keraslearn.learners.base import KerasLearner
from keraslearn.learners.cnn import CNNClassifier
from keraslearn.learners.ff import FFClassifier, FFRegressor
from keraslearn.learners.registry import learner, list_learners
from keraslearn.learners.tabnet import TabNetClassifier, TabNetRegressor

__all__ = [
    "KerasLearner",
    "FFClassifier",
    "FFRegressor",
    "TabNetClassifier",
    "TabNetRegressor",
    "CNNClassifier",
    "learner",
    "list_learners",
]
