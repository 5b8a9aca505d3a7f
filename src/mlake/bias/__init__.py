"""Bias reports before and after training: SageMaker Clarify's metrics with bootstrap confidence intervals.

The computational core works on Arrow tables (or anything convertible) and knows nothing of the lake:

    from mlake.bias import Facet, Outcome, bias_report
    report = bias_report(table, Facet.of("sex", values=["Female"]), Outcome.of("income", positive_values=[">50K"]),
                         predicted_label=Outcome.of("score", threshold=0.5))

See docs/bias.md for every metric's formula.
"""

from mlake.bias.metrics import METRICS, POST_TRAINING, PRE_TRAINING
from mlake.bias.report import (
    BiasReport,
    BiasWarning,
    ConfidenceInterval,
    GroupSize,
    MetricResult,
    NotComputed,
    bias_report,
    bias_reports_for_facets,
)
from mlake.bias.spec import Condition, Facet, Outcome, facets_for_each_value

__all__ = [
    "METRICS",
    "POST_TRAINING",
    "PRE_TRAINING",
    "BiasReport",
    "BiasWarning",
    "Condition",
    "ConfidenceInterval",
    "Facet",
    "GroupSize",
    "MetricResult",
    "NotComputed",
    "Outcome",
    "bias_report",
    "bias_reports_for_facets",
    "facets_for_each_value",
]
