"""Labeling: the computational core — consolidation of annotators' answers, label-error finding, auto-labeling.

Everything here is a pure function over Arrow tables, pandas frames or numpy arrays, returning typed
results; nothing here reads or writes the lake. Labeling projects, stored answers, queues and the Studio
pages are built on top of these functions (see ``docs/labeling.md``).
"""

from __future__ import annotations

from mlake.labeling.answers import AnswerColumns, EncodedAnswers, encode_categorical
from mlake.labeling.autolabel import (
    AutoLabelRound,
    AutoLabelSettings,
    ModelRecord,
    ThresholdCurve,
    auto_label_round,
    rounds_to_arrow,
)
from mlake.labeling.boxes import BoxColumns, BoxConsolidation, consolidate_boxes, iou, validate_boxes
from mlake.labeling.categorical import CategoricalConsolidation, GoldAccuracy, dawid_skene, gold_accuracy, majority_vote
from mlake.labeling.continuous import NumericConsolidation, weighted_median
from mlake.labeling.label_errors import (
    LabelIssues,
    find_label_issues,
    find_label_issues_with_model,
    out_of_fold_probabilities,
)
from mlake.labeling.multilabel import MultiLabelConsolidation, consolidate_multi_label

__all__ = [
    "AnswerColumns",
    "AutoLabelRound",
    "AutoLabelSettings",
    "BoxColumns",
    "BoxConsolidation",
    "CategoricalConsolidation",
    "EncodedAnswers",
    "GoldAccuracy",
    "LabelIssues",
    "ModelRecord",
    "MultiLabelConsolidation",
    "NumericConsolidation",
    "ThresholdCurve",
    "auto_label_round",
    "consolidate_boxes",
    "consolidate_multi_label",
    "dawid_skene",
    "encode_categorical",
    "find_label_issues",
    "find_label_issues_with_model",
    "gold_accuracy",
    "iou",
    "majority_vote",
    "out_of_fold_probabilities",
    "rounds_to_arrow",
    "validate_boxes",
    "weighted_median",
]
