"""Reports: metrics, tables and PNG plots."""

from keraslearn.report.metrics import score_table
from keraslearn.report.plots import plot_learning_curve, plot_predictions

__all__ = ["score_table", "plot_learning_curve", "plot_predictions"]
