"""Evaluation: classification metrics, confusion matrices, reports, and Stage-1 text scores. Running a model over
windows (and ``sensorllm evaluate`` itself) is :mod:`sensorllm.infer`."""

from .metrics import classification_metrics, plot_confusion, write_classification_report

__all__ = ["classification_metrics", "plot_confusion", "write_classification_report"]
