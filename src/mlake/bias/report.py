"""A bias report: every applicable Clarify metric with its bootstrap confidence interval and group sizes.

The report is computed from one contingency table (see :mod:`mlake.bias.cells`); its bootstrap draws
that table's cell counts from a multinomial, which is exactly a row bootstrap for these metrics and
costs the same for a thousand rows as for a hundred million.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from mlake.bias.cells import FACET_A, FACET_D, Cells, bootstrap_cells, count_cells
from mlake.bias.fliptest import feature_matrix, flip_kinds
from mlake.bias.metrics import METRICS, MetricDefinition
from mlake.bias.spec import Facet, Outcome, group_codes
from mlake.errors import ValidationError
from mlake.tables.frames import as_arrow

DEFAULT_RESAMPLES = 1000
DEFAULT_CONFIDENCE = 0.95
MIN_GROUP_ROWS = 30
MIN_CLASS_ROWS = 5


@dataclass(frozen=True)
class ConfidenceInterval:
    """A percentile bootstrap interval. ``undefined_share`` is the share of resamples where the metric had
    no finite value (a zero denominator); the interval is taken over the others."""

    low: float | None
    high: float | None
    level: float
    resamples: int
    undefined_share: float


@dataclass(frozen=True)
class MetricResult:
    code: str
    name: str
    stage: str
    formula: str
    value: float
    ideal: float
    ci: ConfidenceInterval | None
    note: str | None = None

    @property
    def defined(self) -> bool:
        """False when the formula divides by zero (the value is then ``nan`` or ``±inf``)."""
        return math.isfinite(self.value)


@dataclass(frozen=True)
class GroupSize:
    """Rows of one facet and how its outcomes split (prediction counts are None without a predicted label)."""

    facet: str  # "a" (favoured: the rest) or "d" (the facet)
    rows: int
    label_positive: int
    label_negative: int
    predicted_positive: int | None
    predicted_negative: int | None


@dataclass(frozen=True)
class BiasWarning:
    code: str  # "small_group", "few_outcomes", "small_strata", "rows_excluded", "unstable_metric"
    message: str


@dataclass(frozen=True)
class NotComputed:
    code: str
    reason: str


@dataclass(frozen=True)
class BiasReport:
    facet: str
    label: str
    predicted_label: str | None
    group: str | None
    rows: int
    rows_excluded: int
    groups: tuple[GroupSize, ...]
    metrics: tuple[MetricResult, ...]
    warnings: tuple[BiasWarning, ...] = ()
    not_computed: tuple[NotComputed, ...] = field(default=())

    def metric(self, code: str) -> MetricResult:
        for m in self.metrics:
            if m.code == code:
                return m
        raise ValidationError(
            f"the report has no metric {code!r}",
            hint=f"it has: {', '.join(m.code for m in self.metrics)}",
        )

    def values(self) -> dict[str, float]:
        return {m.code: m.value for m in self.metrics}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (non-finite numbers become the strings "inf", "-inf" and "nan")."""
        safe: dict[str, Any] = _json_safe(asdict(self))
        return safe

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BiasReport:
        """The report back from :meth:`to_dict` (a remote client rebuilds the server's answer)."""

        def metric(m: dict[str, Any]) -> MetricResult:
            ci = ConfidenceInterval(**_from_safe(m["ci"])) if m.get("ci") else None
            return MetricResult(**{**_from_safe(m), "ci": ci})

        return cls(
            facet=data["facet"],
            label=data["label"],
            predicted_label=data.get("predicted_label"),
            group=data.get("group"),
            rows=data["rows"],
            rows_excluded=data["rows_excluded"],
            groups=tuple(GroupSize(**g) for g in data["groups"]),
            metrics=tuple(metric(m) for m in data["metrics"]),
            warnings=tuple(BiasWarning(**w) for w in data.get("warnings", [])),
            not_computed=tuple(NotComputed(**n) for n in data.get("not_computed", [])),
        )


def _from_safe(values: dict[str, Any]) -> dict[str, Any]:
    """Undo :func:`_json_safe` on one level of numbers ("nan", "inf", "-inf" back to floats)."""
    return {k: float(v) if v in ("nan", "inf", "-inf") else v for k, v in values.items()}


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _selected_metrics(
    requested: Sequence[str] | None, available: set[str]
) -> tuple[list[MetricDefinition], list[NotComputed]]:
    """The metric definitions to compute, and those left out with the missing input named."""
    reasons = {
        "prediction": "needs predicted_label",
        "group": "needs group (the strata variable of conditional demographic disparity)",
        "fliptest": "needs fliptest_features (numeric columns for the neighbour search)",
    }
    if requested is not None:
        unknown = [c for c in requested if c not in METRICS]
        if unknown:
            raise ValidationError(
                f"unknown bias metric(s): {', '.join(unknown)}", hint=f"known metrics: {', '.join(METRICS)}"
            )
    chosen: list[MetricDefinition] = []
    skipped: list[NotComputed] = []
    for code in requested if requested is not None else list(METRICS):
        definition = METRICS[code]
        missing = sorted(definition.needs - available)
        if missing:
            if requested is not None:
                raise ValidationError(f"the metric {code} {reasons[missing[0]]}")
            skipped.append(NotComputed(code, reasons[missing[0]]))
        else:
            chosen.append(definition)
    return chosen, skipped


def _interval(values: NDArray[np.float64], level: float) -> ConfidenceInterval:
    finite = values[np.isfinite(values)]
    undefined = 1.0 - len(finite) / len(values) if len(values) else 1.0
    if len(finite) < 2:
        return ConfidenceInterval(None, None, level, len(values), undefined)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return ConfidenceInterval(float(low), float(high), level, len(values), undefined)


def bias_report(
    data: Any,
    facet: Facet,
    label: Outcome,
    *,
    predicted_label: Outcome | None = None,
    group: str | None = None,
    fliptest_features: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int | None = 0,
    min_group_rows: int = MIN_GROUP_ROWS,
    min_class_rows: int = MIN_CLASS_ROWS,
    standardize_fliptest: bool = True,
) -> BiasReport:
    """Clarify's pre-training metrics (and post-training ones when ``predicted_label`` is given) for one facet.

    ``metrics`` picks codes (``["CI", "DPL", "DPPL"]``); by default every metric whose inputs are given is
    computed and the others are listed in ``not_computed``. ``resamples=0`` skips the bootstrap.
    """
    if not 0.0 < confidence < 1.0:
        raise ValidationError(f"confidence must be between 0 and 1 (got {confidence})", hint="e.g. 0.95")
    if resamples < 0:
        raise ValidationError(f"resamples must be 0 or more (got {resamples})")
    table = as_arrow(data)
    available = set()
    if predicted_label is not None:
        available.add("prediction")
    if group is not None:
        available.add("group")
    if fliptest_features:
        available.add("fliptest")
    chosen, skipped = _selected_metrics(metrics, available)

    facet_d, usable = facet.resolve(table)
    y, y_present = label.resolve(table, role="label")
    usable &= y_present
    yhat: NDArray[np.bool_] | None = None
    if predicted_label is not None:
        yhat, p_present = predicted_label.resolve(table, role="predicted label")
        usable &= p_present
    codes: NDArray[np.int64] | None = None
    group_names: list[str] = []
    if group is not None:
        codes, group_names, g_present = group_codes(table, group)
        usable &= g_present
    features = None
    if "fliptest" in available and any(m.code == "FT" for m in chosen):
        features, f_present = feature_matrix(table, list(fliptest_features or ()))
        usable &= f_present

    excluded = int(table.num_rows - usable.sum())
    facet_d = facet_d[usable]
    y = y[usable]
    yhat = yhat[usable] if yhat is not None else None
    codes = codes[usable] if codes is not None else None
    flips = None
    if features is not None:
        assert yhat is not None
        flips = flip_kinds(features[usable], facet_d, yhat, standardize=standardize_fliptest)

    nd = int(facet_d.sum())
    na = int(len(facet_d) - nd)
    if nd == 0 or na == 0:
        empty = "d (the facet)" if nd == 0 else "a (every row outside the facet)"
        raise ValidationError(
            f"facet {empty} has no usable rows for {facet.label!r} ({excluded} rows left out for nulls)",
            hint="check the facet values or threshold; a bias metric compares two non-empty groups",
        )

    cells = count_cells(facet_d, y, yhat, codes, len(group_names), flips)
    batch = cells[None].astype(np.float64)
    if resamples > 0:
        rng = np.random.default_rng(seed)
        batch = np.concatenate([batch, bootstrap_cells(cells, resamples, rng)])
    view = Cells(batch)

    results = []
    unstable = []
    for definition in chosen:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf − inf is an undefined value
            values = definition.compute(view)
        point = float(values[0])
        ci = _interval(values[1:], confidence) if resamples > 0 else None
        note = None
        if not math.isfinite(point):
            note = "undefined: a denominator of the formula is zero in this data"
        elif ci is not None and ci.undefined_share > 0.05:
            note = f"undefined in {ci.undefined_share:.0%} of resamples (a denominator is often zero)"
            unstable.append(definition.code)
        results.append(
            MetricResult(
                code=definition.code,
                name=definition.name,
                stage=definition.stage,
                formula=definition.formula,
                value=point,
                ideal=definition.ideal,
                ci=ci,
                note=note,
            )
        )

    point_view = Cells(cells[None].astype(np.float64))
    sizes = tuple(_group_size(point_view, f, yhat is not None) for f in (FACET_A, FACET_D))
    warnings = _warnings(sizes, excluded, cells, group_names, unstable, min_group_rows, min_class_rows)
    return BiasReport(
        facet=facet.label,
        label=label.column,
        predicted_label=predicted_label.column if predicted_label is not None else None,
        group=group,
        rows=len(facet_d),
        rows_excluded=excluded,
        groups=sizes,
        metrics=tuple(results),
        warnings=tuple(warnings),
        not_computed=tuple(skipped),
    )


def _group_size(view: Cells, facet: int, with_predictions: bool) -> GroupSize:
    return GroupSize(
        facet="a" if facet == FACET_A else "d",
        rows=int(view.n(facet)[0]),
        label_positive=int(view.label(facet, 1)[0]),
        label_negative=int(view.label(facet, 0)[0]),
        predicted_positive=int(view.predicted(facet, 1)[0]) if with_predictions else None,
        predicted_negative=int(view.predicted(facet, 0)[0]) if with_predictions else None,
    )


def _warnings(
    sizes: tuple[GroupSize, ...],
    excluded: int,
    cells: NDArray[np.int64],
    group_names: list[str],
    unstable: list[str],
    min_group_rows: int,
    min_class_rows: int,
) -> list[BiasWarning]:
    out: list[BiasWarning] = []
    for s in sizes:
        side = "facet d (the facet)" if s.facet == "d" else "facet a (the rest)"
        if s.rows < min_group_rows:
            out.append(
                BiasWarning(
                    "small_group",
                    f"{side} has only {s.rows} rows (fewer than {min_group_rows}): its metrics are too noisy to "
                    "say anything; read the confidence intervals, not the values",
                )
            )
        counts = {"positive labels": s.label_positive, "negative labels": s.label_negative}
        if s.predicted_positive is not None and s.predicted_negative is not None:
            counts |= {"positive predictions": s.predicted_positive, "negative predictions": s.predicted_negative}
        few = [f"{v} {k}" for k, v in counts.items() if v < min_class_rows]
        if few and s.rows >= min_group_rows:
            out.append(
                BiasWarning(
                    "few_outcomes",
                    f"{side} has {', '.join(few)} (fewer than {min_class_rows}): rates built on them are unreliable",
                )
            )
    if group_names:
        per_group = cells.sum(axis=(0, 1, 2, 4))
        small = [name for name, n in zip(group_names, per_group, strict=False) if n < min_group_rows]
        if small:
            shown = ", ".join(small[:5]) + (" ..." if len(small) > 5 else "")
            out.append(
                BiasWarning(
                    "small_strata",
                    f"{len(small)} of {len(group_names)} strata of the group variable have fewer than "
                    f"{min_group_rows} rows ({shown}); their disparities weigh little but are noisy",
                )
            )
    if excluded:
        out.append(BiasWarning("rows_excluded", f"{excluded} rows were left out because a column they need is null"))
    if unstable:
        out.append(
            BiasWarning(
                "unstable_metric",
                f"{', '.join(unstable)} had a zero denominator in more than 5% of bootstrap resamples",
            )
        )
    return out


def bias_reports_for_facets(data: Any, facets: Sequence[Facet], label: Outcome, **options: Any) -> list[BiasReport]:
    """One report per facet (e.g. from :func:`mlake.bias.spec.facets_for_each_value`), the data read once."""
    table = as_arrow(data)
    return [bias_report(table, f, label, **options) for f in facets]
