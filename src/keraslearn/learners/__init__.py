"""scikit-learn estimators over Keras models."""

from keraslearn._keras_copies import keep_loss_arguments
from keraslearn.learners.base import KerasLearner
from keraslearn.learners.deep_wide import DeepWideClassifier, DeepWideRegressor
from keraslearn.learners.cnn import CNNClassifier
from keraslearn.learners.ff import FFClassifier, FFRegressor
from keraslearn.learners.generic import KerasClassifier, KerasRegressor
from keraslearn.learners.registry import learner, list_learners
from keraslearn.learners.smlp import SMLP2Classifier, SMLP2Regressor, SMLPClassifier, SMLPRegressor
from keraslearn.learners.tabnet import TabNetClassifier, TabNetRegressor
from keraslearn.learners.ft_transformer import FTTransformerClassifier, FTTransformerRegressor
from keraslearn.learners.realmlp import RealMLPClassifier, RealMLPRegressor
from keraslearn.learners.resnet import ResNetClassifier, ResNetRegressor
from keraslearn.learners.tabm import TabMClassifier, TabMRegressor

keep_loss_arguments()  # clone and pickle keep a Keras loss's arguments (Huber's delta)

__all__ = [
    "KerasLearner",
    "FFClassifier",
    "FFRegressor",
    "KerasClassifier",
    "KerasRegressor",
    "SMLPClassifier",
    "SMLPRegressor",
    "SMLP2Classifier",
    "SMLP2Regressor",
    "DeepWideClassifier",
    "DeepWideRegressor",
    "TabNetClassifier",
    "TabNetRegressor",
    "CNNClassifier",
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
