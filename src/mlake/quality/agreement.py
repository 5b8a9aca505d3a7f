"""Annotator agreement for labelled data: how far can the labels be trusted?

Input is the long form labelling tools produce — one row per (item, annotator, label) — from a lake
table, a query, or any dataframe. Statistics:

- **Krippendorff's alpha** at the *nominal* level (labels are categories: any disagreement counts the
  same). Handles missing ratings and any number of annotators per item. ``1`` is perfect agreement,
  ``0`` is chance. (The ``krippendorff`` package defaults to the interval level, which treats label
  codes as numbers — wrong for categories; this implementation is tested against it at the nominal
  level.) Interval and ordinal levels are available for numeric ratings.
- **Fleiss' kappa**: agreement of a fixed number of raters per item, beyond chance. Items rated by a
  different number of raters than the most common are left out (and counted).
- **Cronbach's alpha**: internal consistency of numeric ratings, annotators as "items".
- **Majority vote**: the consensus label per item, the share of votes it got (per-item agreement), and
  whether it was a tie (ties are broken by the label's overall frequency, then its text).

An annotator rates an item once: when the data hold several ratings of one (item, annotator) pair — a
corrected label, a second pass — only the last one (in the data's order; a table's is the order its rows
were written) is kept, and the report's notes say how many were replaced. Counting each as another rater
would inflate agreement (two identical ratings by one person agree with themselves).
"""

from __future__ import annotations

import html
import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlake.errors import ValidationError

Rating = tuple[Hashable, Hashable, Any]  # (item, annotator, label)


def _units(ratings: Iterable[Rating]) -> dict[Hashable, list[Any]]:
    """Labels per item (missing labels dropped)."""
    units: dict[Hashable, list[Any]] = defaultdict(list)
    for item, _rater, label in ratings:
        if label is None or (isinstance(label, float) and math.isnan(label)):
            continue
        units[item].append(label)
    return units


def krippendorff_alpha(ratings: Iterable[Rating], level: str = "nominal") -> float:
    """Krippendorff's alpha from (item, annotator, label) triples.

    Uses the coincidence-matrix form: only items with at least two labels are pairable;
    ``alpha = 1 - (n - 1) * sum(o_ck * d_ck) / sum(n_c * n_k * d_ck)``.
    """
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise ValidationError(f"Unknown level {level!r}", hint="use nominal, ordinal, interval or ratio")
    units = {k: v for k, v in _units(ratings).items() if len(v) >= 2}
    if not units:
        raise ValidationError("Krippendorff's alpha needs items with at least two labels")
    values = sorted({v for labels in units.values() for v in labels}, key=_sort_key)
    index = {v: i for i, v in enumerate(values)}
    k = len(values)
    coincidence = [[0.0] * k for _ in range(k)]
    for labels in units.values():
        m = len(labels)
        counts = Counter(index[v] for v in labels)
        for c, nc in counts.items():
            for d, nd in counts.items():
                pairs = nc * (nd - 1) if c == d else nc * nd
                coincidence[c][d] += pairs / (m - 1)
    n_c = [sum(row) for row in coincidence]
    n = sum(n_c)
    if n <= 1:
        raise ValidationError("Krippendorff's alpha needs at least two pairable labels")
    delta = _distance(values, n_c, level)
    observed = sum(coincidence[c][d] * delta[c][d] for c in range(k) for d in range(k))
    expected = sum(n_c[c] * n_c[d] * delta[c][d] for c in range(k) for d in range(k))
    if expected == 0:
        return 1.0  # a single value used throughout: no disagreement is possible
    return 1.0 - (n - 1) * observed / expected


def _sort_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, int | float) else (1, str(v))


def _distance(values: list[Any], n_c: list[float], level: str) -> list[list[float]]:
    k = len(values)
    if level == "nominal":
        return [[0.0 if c == d else 1.0 for d in range(k)] for c in range(k)]
    try:
        nums = [float(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"The {level} level needs numeric labels", hint="use level='nominal' for categories"
        ) from exc
    if level == "interval":
        return [[(nums[c] - nums[d]) ** 2 for d in range(k)] for c in range(k)]
    if level == "ratio":
        return [
            [((nums[c] - nums[d]) / (nums[c] + nums[d])) ** 2 if nums[c] + nums[d] else 0.0 for d in range(k)]
            for c in range(k)
        ]
    out = [[0.0] * k for _ in range(k)]  # ordinal: ranks between, by frequency
    for c in range(k):
        for d in range(k):
            lo, hi = min(c, d), max(c, d)
            out[c][d] = (sum(n_c[lo : hi + 1]) - (n_c[c] + n_c[d]) / 2) ** 2
    return out


def fleiss_kappa(ratings: Iterable[Rating]) -> tuple[float, int, int]:
    """Fleiss' kappa over items with the most common number of raters; returns (kappa, items used, left out)."""
    units = _units(ratings)
    if not units:
        raise ValidationError("Fleiss' kappa needs ratings")
    sizes = Counter(len(v) for v in units.values())
    m = max(sizes, key=lambda s: (sizes[s], s))
    if m < 2:
        raise ValidationError("Fleiss' kappa needs at least two raters per item")
    used = [v for v in units.values() if len(v) == m]
    categories = sorted({x for labels in used for x in labels}, key=_sort_key)
    n_items = len(used)
    totals: Counter[Any] = Counter()
    p_items = []
    for labels in used:
        counts = Counter(labels)
        totals.update(counts)
        p_items.append((sum(c * c for c in counts.values()) - m) / (m * (m - 1)))
    p_bar = sum(p_items) / n_items
    p_j = [totals[c] / (n_items * m) for c in categories]
    p_e = sum(p * p for p in p_j)
    kappa = 1.0 if p_e == 1 else (p_bar - p_e) / (1 - p_e)
    return kappa, n_items, len(units) - n_items


def cronbach_alpha(matrix: Sequence[Sequence[float]]) -> float:
    """Cronbach's alpha of a (subjects × items) matrix of numbers (rows with a missing value dropped)."""
    rows = [list(map(float, r)) for r in matrix if all(v is not None and not math.isnan(float(v)) for v in r)]
    if len(rows) < 2 or len(rows[0]) < 2:
        raise ValidationError("Cronbach's alpha needs at least two complete rows and two items")
    k = len(rows[0])

    def var(xs: list[float]) -> float:
        mean = sum(xs) / len(xs)
        return sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)

    item_var = sum(var([r[j] for r in rows]) for j in range(k))
    total_var = var([sum(r) for r in rows])
    if total_var == 0:
        raise ValidationError("Cronbach's alpha is undefined when every total is the same")
    return k / (k - 1) * (1 - item_var / total_var)


@dataclass
class Consensus:
    item: Any
    label: Any
    votes: int
    raters: int
    agreement: float
    tie: bool


def majority_vote(ratings: Iterable[Rating]) -> list[Consensus]:
    """The majority label per item with its share of votes; ties go to the overall more frequent label."""
    ratings = list(ratings)
    overall = Counter(label for _, _, label in ratings if label is not None)
    out = []
    for item, labels in _units(ratings).items():
        counts = Counter(labels)
        top = max(counts.values())
        winners = [lab for lab, c in counts.items() if c == top]
        label = min(winners, key=lambda lab: (-overall[lab], str(lab)))
        out.append(Consensus(item, label, top, len(labels), top / len(labels), len(winners) > 1))
    out.sort(key=lambda c: _sort_key(c.item))
    return out


@dataclass
class AgreementReport:
    items: int
    annotators: int
    ratings: int
    labels: list[Any]
    krippendorff_alpha: float | None
    level: str
    fleiss_kappa: float | None
    fleiss_items: int
    fleiss_left_out: int
    cronbach_alpha: float | None
    consensus: list[Consensus] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def mean_item_agreement(self) -> float | None:
        return sum(c.agreement for c in self.consensus) / len(self.consensus) if self.consensus else None

    def low_agreement(self, below: float = 0.6) -> list[Consensus]:
        """Items whose majority label got less than ``below`` of the votes: candidates for review."""
        return [c for c in self.consensus if c.agreement < below]

    def to_dict(self, max_items: int = 1000) -> dict[str, Any]:
        return {
            "items": self.items,
            "annotators": self.annotators,
            "ratings": self.ratings,
            "labels": [str(v) for v in self.labels],
            "krippendorff_alpha": self.krippendorff_alpha,
            "level": self.level,
            "fleiss_kappa": self.fleiss_kappa,
            "fleiss_items": self.fleiss_items,
            "fleiss_left_out": self.fleiss_left_out,
            "cronbach_alpha": self.cronbach_alpha,
            "mean_item_agreement": self.mean_item_agreement,
            "consensus": [c.__dict__ for c in self.consensus[:max_items]],
            "notes": self.notes,
        }

    def _repr_html_(self) -> str:
        def f(v: float | None) -> str:
            return "—" if v is None else f"{v:.3f}"

        rows = [
            ("items / annotators / ratings", f"{self.items} / {self.annotators} / {self.ratings}"),
            (f"Krippendorff's alpha ({self.level})", f(self.krippendorff_alpha)),
            ("Fleiss' kappa", f(self.fleiss_kappa)),
            ("Cronbach's alpha", f(self.cronbach_alpha)),
            ("mean per-item agreement", f(self.mean_item_agreement)),
        ]
        body = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
        return f"<table>{body}</table>" + "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)


def agreement(ratings: Iterable[Rating], level: str = "nominal") -> AgreementReport:
    """All agreement statistics for (item, annotator, label) triples."""
    ratings = [r for r in ratings if r[2] is not None]
    if not ratings:
        raise ValidationError("No labels to measure agreement on")
    notes: list[str] = []
    latest = {(r[0], r[1]): r for r in ratings}  # a later rating of a pair replaces an earlier one
    if len(latest) < len(ratings):
        notes.append(
            f"{len(ratings) - len(latest):,} repeated (item, annotator) rating(s) replaced by the pair's last "
            "rating: an annotator counts once per item"
        )
        ratings = list(latest.values())
    items = {r[0] for r in ratings}
    raters = {r[1] for r in ratings}
    labels = sorted({r[2] for r in ratings}, key=_sort_key)
    alpha: float | None
    try:
        alpha = krippendorff_alpha(ratings, level)
    except ValidationError as exc:
        alpha = None
        notes.append(f"Krippendorff's alpha: {exc.message}")
    kappa: float | None
    try:
        kappa, used, left = fleiss_kappa(ratings)
        if left:
            notes.append(f"Fleiss' kappa uses the {used} items with the most common number of raters; {left} left out")
    except ValidationError as exc:
        kappa, used, left = None, 0, len(items)
        notes.append(f"Fleiss' kappa: {exc.message}")
    cronbach: float | None = None
    if all(isinstance(r[2], int | float) and not isinstance(r[2], bool) for r in ratings):
        by_item: dict[Hashable, dict[Hashable, float]] = defaultdict(dict)
        for item, rater, label in ratings:
            by_item[item][rater] = float(label)
        order = sorted(raters, key=_sort_key)
        matrix = [[row.get(r, math.nan) for r in order] for row in by_item.values()]
        try:
            cronbach = cronbach_alpha(matrix)
        except ValidationError as exc:
            notes.append(f"Cronbach's alpha: {exc.message}")
    else:
        notes.append("Cronbach's alpha applies to numeric ratings only")
    return AgreementReport(
        items=len(items),
        annotators=len(raters),
        ratings=len(ratings),
        labels=labels,
        krippendorff_alpha=alpha,
        level=level,
        fleiss_kappa=kappa,
        fleiss_items=used,
        fleiss_left_out=left,
        cronbach_alpha=cronbach,
        consensus=majority_vote(ratings),
        notes=notes,
    )
