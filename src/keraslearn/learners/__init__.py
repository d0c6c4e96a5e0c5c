"""scikit-learn estimators over Keras models."""

from keraslearn.learners.base import KerasLearner
from keraslearn.learners.ff import FFClassifier, FFRegressor
from keraslearn.learners.registry import learner, list_learners

__all__ = ["KerasLearner", "FFClassifier", "FFRegressor", "learner", "list_learners"]
