"""Datasets: Keras-compatible loaders (offline-first) and data shipped with the package."""

from keraslearn.datasets.bundled import boston_housing_frame

__all__ = ["boston_housing_frame"]
