"""Evaluation: classification metrics, confusion matrices, reports, and Stage-1 text scores."""

from .metrics import classification_metrics, plot_confusion, write_classification_report

__all__ = ["classification_metrics", "plot_confusion", "write_classification_report"]
