"""scikit-learn estimators over Keras models."""

from keraslearn.learners.base import KerasLearner
from keraslearn.learners.ff import FFClassifier, FFRegressor
from keraslearn.learners.ft_transformer import FTTransformerClassifier, FTTransformerRegressor
from keraslearn.learners.realmlp import RealMLPClassifier, RealMLPRegressor
from keraslearn.learners.registry import learner, list_learners
from keraslearn.learners.resnet import ResNetClassifier, ResNetRegressor
from keraslearn.learners.tabm import TabMClassifier, TabMRegressor

__all__ = [
    "KerasLearner",
    "FFClassifier",
    "FFRegressor",
    "ResNetClassifier",
    "ResNetRegressor",
    "FTTransformerClassifier",
    "FTTransformerRegressor",
    "RealMLPClassifier",
    "RealMLPRegressor",
    "TabMClassifier",
    "TabMRegressor",
    "learner",
    "list_learners",
]
