"""``lake.bias``: bias reports on lake tables and SQL, read through the caller's grants.

    lake.bias.report("hr.applicants", facet="sex", facet_values=["Female"], label="hired", positive_values=[1])
    lake.bias.report("SELECT * FROM hr.scored WHERE year = 2026", facet="age", facet_threshold=40,
                     label="hired", positive_values=[1], predicted="score", predicted_threshold=0.5)

A thin face over :func:`mlake.bias.bias_report`: it reads the table (``lake.table(...).query``) or runs
the SQL (``lake.sql``) as the caller — a principal without a grant is refused, one with a row filter or
mask gets the report of what it may see — and builds the facet and outcomes from plain arguments so the
CLI and REST need nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from mlake.bias.explain import Explanation, explain, partial_dependence
from mlake.bias.report import DEFAULT_RESAMPLES, BiasReport, bias_report
from mlake.bias.spec import Facet, Outcome, Scalar
from mlake.errors import ValidationError

if TYPE_CHECKING:
    from mlake.lake import Lake

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")


class Bias:
    """Bias reports of a lake's tables and queries, as the lake's principal may read them."""

    def __init__(self, lake: Lake) -> None:
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
        """Clarify's metrics with bootstrap confidence intervals for ``source`` (a table name or SQL).

        ``facet`` is a column (with ``facet_values`` or ``facet_threshold``) or a :class:`Facet`, possibly
        intersectional (``Facet.all_of(...)``, ``Facet.parse(["sex=Female", "age>40"])``). The predicted
        label is positive for the label's ``positive_values``, or above ``predicted_threshold`` (a score);
        without ``predicted`` only pre-training metrics are computed."""
        if isinstance(facet, Facet) and (facet_values is not None or facet_threshold is not None):
            raise ValidationError(
                "facet_values= and facet_threshold= go with a facet column, not a Facet",
                hint="put the values or the threshold in the Facet's conditions",
            )
        data = self._read(source, snapshot_id)
        facet_ = facet if isinstance(facet, Facet) else _facet(facet, facet_values, facet_threshold)
        label_ = label if isinstance(label, Outcome) else _outcome(label, positive_values, label_threshold, "label")
        predicted_: Outcome | None = None
        if isinstance(predicted, Outcome):
            predicted_ = predicted
        elif predicted is not None:
            if predicted_threshold is not None:
                predicted_ = Outcome.of(predicted, threshold=predicted_threshold)
            else:
                predicted_ = _outcome(predicted, positive_values, label_threshold, "predicted label")
        return bias_report(
            data,
            facet_,
            label_,
            predicted_label=predicted_,
            metrics=metrics,
            resamples=resamples,
            confidence=confidence,
            seed=seed,
        )

    def explain(
        self,
        model: Any,
        source: str,
        *,
        features: Sequence[str],
        into: str | None = None,
        facet: Facet | None = None,
        snapshot_id: int | None = None,
        **options: Any,
    ) -> Explanation:
        """SHAP attributions of ``model`` on ``source`` (a table or SQL, read as the caller); see
        :func:`mlake.bias.explain.explain` for ``options`` (method, background, rows, nsamples, seed).

        With ``into``, the per-row attributions are written to that table (replacing it) with the
        source's ``facet`` columns beside them, and the global ranking to ``<into>_global`` — as the caller,
        who needs the grants to create or overwrite them."""
        data = self._read(source, snapshot_id)
        result = explain(model, data, features=features, **options)
        if into is not None:
            rows = result.per_row
            for column in facet.columns if facet is not None else ():
                rows = rows.append_column(column, data.column(column).take(rows["row"]))
            self._store(into, rows)
            self._store(f"{into}_global", result.global_)
        return result

    def partial_dependence(
        self,
        model: Any,
        source: str,
        *,
        features: Sequence[str],
        into: str | None = None,
        snapshot_id: int | None = None,
        **options: Any,
    ) -> pa.Table:
        """Partial dependence of ``model`` on ``source`` (a table or SQL, read as the caller); see
        :func:`mlake.bias.explain.partial_dependence` for ``options`` (vary, grid_resolution,
        percentiles, rows, individual, seed). With ``into``, the curves are written to that table."""
        data = self._read(source, snapshot_id)
        result = partial_dependence(model, data, features=features, **options)
        if into is not None:
            self._store(into, result, "Partial dependence curves", "partial_dependence")
        return result

    def _store(self, name: str, data: pa.Table, what: str = "Feature attributions (SHAP)", by: str = "explain") -> None:
        if self._lake.table_exists(name):
            self._lake.table(name).overwrite(data, command=f"bias.{by}")
        else:
            self._lake.create_table(name, data, description=f"{what} written by lake.bias.{by}")

    def _read(self, source: str, snapshot_id: int | None) -> pa.Table:
        text = source.strip()
        if _TABLE.match(text):
            return self._lake.table(text).query(snapshot_id=snapshot_id).to_arrow()
        if snapshot_id is not None:
            raise ValidationError(
                "snapshot_id= applies to a table, not to SQL", hint="time-travel inside the SQL instead"
            )
        return self._lake.sql(text).to_arrow()


def facet_from_options(specs: Sequence[str], values: Sequence[Scalar] | None, threshold: float | None) -> Facet:
    """The facet of the CLI's options: one bare ``--facet COLUMN`` with ``--facet-value`` or
    ``--facet-threshold``, or one or more conditions ``--facet sex=Female --facet age>40`` (all must hold:
    an intersectional facet)."""
    specs = [s for s in specs if s.strip()]
    if not specs:
        raise ValidationError("a bias report needs a facet", hint="e.g. --facet sex=Female or --facet age>40")
    if len(specs) == 1 and "=" not in specs[0] and ">" not in specs[0]:
        return _facet(specs[0].strip(), values, threshold)
    if values is not None or threshold is not None:
        raise ValidationError(
            "--facet-value and --facet-threshold go with one bare --facet COLUMN",
            hint="write each condition whole instead: --facet sex=Female --facet age>40",
        )
    return Facet.parse(specs)


def _facet(column: str, values: Sequence[Scalar] | None, threshold: float | None) -> Facet:
    if values is None and threshold is None:
        raise ValidationError(
            f"the facet {column!r} needs facet_values= or facet_threshold=",
            hint="e.g. facet_values=['Female'], or facet_threshold=40 for ages above 40",
        )
    return Facet.of(column, values=list(values) if values is not None else None, threshold=threshold)


def _outcome(column: str, values: Sequence[Scalar] | None, threshold: float | None, role: str) -> Outcome:
    if values is None and threshold is None:
        raise ValidationError(
            f"the {role} {column!r} needs positive_values= or label_threshold=",
            hint="say which outcome is positive, e.g. positive_values=[1]",
        )
    return Outcome.of(column, positive_values=list(values) if values is not None else None, threshold=threshold)
