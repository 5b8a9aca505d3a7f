"""Monitoring's computational core: drift against stored baselines and model-quality metrics per facet.

    from mlake.monitor import DriftBaseline, detect_drift
    baseline = DriftBaseline.from_table(training_table)      # once; store baseline.to_json()
    report = detect_drift(baseline, todays_batch)            # the training data is not read again

Monitors on lake tables: :mod:`mlake.monitor.monitors` (``lake.monitoring``); see docs/monitoring.md.
"""

from mlake.monitor.baseline import CategoricalBaseline, DriftBaseline, NumericBaseline
from mlake.monitor.drift import DriftOptions, DriftReport, FeatureDrift, detect_drift, detect_drift_between

__all__ = [
    "CategoricalBaseline",
    "DriftBaseline",
    "DriftOptions",
    "DriftReport",
    "FeatureDrift",
    "NumericBaseline",
    "detect_drift",
    "detect_drift_between",
]
