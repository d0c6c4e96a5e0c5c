"""Reports: metrics, tables and PNG plots."""

from keraslearn.report.metrics import score_table
from keraslearn.report.plots import plot_learning_curve

__all__ = ["score_table", "plot_learning_curve"]
