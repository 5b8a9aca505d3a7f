"""``remote.bias``: bias reports of :mod:`mlake.bias` computed on an mlake server.

``report`` takes the arguments of :meth:`mlake.bias.api.Bias.report` and returns the same
:class:`~mlake.bias.report.BiasReport`, computed on the server from the rows the caller may read (row
filters and masks apply). A :class:`~mlake.bias.spec.Facet` travels as its list of conditions (so an
intersectional facet works remotely too); an :class:`~mlake.bias.spec.Outcome` as its column and values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlake.bias.report import DEFAULT_RESAMPLES, BiasReport
from mlake.bias.spec import Facet, Outcome, Scalar
from mlake.errors import ValidationError

if TYPE_CHECKING:
    from mlake.client.remote import RemoteLake


def _facet(facet: str | Facet, values: Sequence[Scalar] | None, threshold: float | None) -> dict[str, Any]:
    if isinstance(facet, str):
        return {
            "facet": facet,
            "facet_values": _list(values),
            "facet_threshold": threshold,
        }
    return {"facets": facet.to_dicts(), "facet_values": _list(values), "facet_threshold": threshold}


def _list(values: Sequence[Scalar] | None) -> list[Scalar] | None:
    return list(values) if values is not None else None


class RemoteBias:
    """Bias reports of the server's tables and queries, as the caller may read them."""

    def __init__(self, lake: RemoteLake) -> None:
        self._lake = lake

    def report(
        self,
        source: str,
        *,
        facet: str | Facet,
        label: str | Outcome,
        facet_values: Sequence[Scalar] | None = None,
        facet_threshold: float | None = None,
        positive_values: Sequence[Scalar] | None = None,
        label_threshold: float | None = None,
        predicted: str | Outcome | None = None,
        predicted_threshold: float | None = None,
        metrics: Sequence[str] | None = None,
        resamples: int = DEFAULT_RESAMPLES,
        confidence: float = 0.95,
        snapshot_id: int | None = None,
        seed: int | None = 0,
    ) -> BiasReport:
        """Clarify's metrics with bootstrap confidence intervals for ``source`` (a table name or SQL)."""
        body: dict[str, Any] = {"source": source, **_facet(facet, facet_values, facet_threshold)}
        if isinstance(label, Outcome):
            positive_values, label_threshold = label.positive_values, label.threshold
            label = label.column
        if isinstance(predicted, Outcome):
            if predicted.threshold is not None:
                predicted_threshold = predicted.threshold
            elif predicted.positive_values != (tuple(positive_values) if positive_values is not None else None):
                raise ValidationError(
                    "over HTTP the predicted label's positive values are the label's",
                    hint="give the predicted label the label's positive_values, or a threshold",
                )
            predicted = predicted.column
        body |= {
            "label": label,
            "positive_values": _list(positive_values),
            "label_threshold": label_threshold,
            "predicted": predicted,
            "predicted_threshold": predicted_threshold,
            "metrics": list(metrics) if metrics is not None else None,
            "resamples": resamples,
            "confidence": confidence,
            "snapshot_id": snapshot_id,
            "seed": seed,
        }
        return BiasReport.from_dict(self._lake._json("POST", "/bias/report", json=body))
