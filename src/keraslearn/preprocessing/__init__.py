"""Tabular preprocessing: TabularEncoder, DataSpec and the embedding-size rule."""

from keraslearn._user_warnings import ColumnWarning
from keraslearn.preprocessing.encoder import TabularEncoder
from keraslearn.preprocessing.spec import CategoricalSpec, DataSpec, embedding_size

__all__ = ["TabularEncoder", "DataSpec", "CategoricalSpec", "embedding_size", "ColumnWarning"]
