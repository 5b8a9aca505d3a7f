"""Encoding categories: one-hot (top-k with "other"), ordinal, frequency, rare-category grouping,
out-of-fold target encoding, and hashing."""

from __future__ import annotations

from typing import ClassVar

from mlake.processing.base import Frame, Params, Transform, as_float, lit, q, row_hash, with_columns


def _categories(frame: Frame, column: str, top_k: int | None = None, min_count: int = 1) -> list[str]:
    """Non-null values of ``column`` (as text), most frequent first, ties by value; top ``top_k``."""
    limit = f" LIMIT {int(top_k)}" if top_k else ""
    rows = frame.rows(
        f"SELECT CAST({q(column)} AS VARCHAR) AS v FROM {frame.name} WHERE {q(column)} IS NOT NULL "
        f"GROUP BY 1 HAVING count(*) >= {int(min_count)} ORDER BY count(*) DESC, v{limit}"
    )
    return [str(r[0]) for r in rows]


def _as_text(column: str) -> str:
    return f"CAST({q(column)} AS VARCHAR)"


class OneHot(Transform):
    """One 0/1 column per category seen in the fit data (``top_k`` most frequent; the rest, and unseen
    values, go to ``<column>_other`` when ``other`` is set); the original column is dropped."""

    op: ClassVar[str] = "one_hot"
    group: ClassVar[str] = "encoding"
    fitted: ClassVar[bool] = True
    column: str
    top_k: int | None = None
    other: bool = False
    keep: bool = False

    def fit(self, frame: Frame) -> Params | None:
        cats = _categories(frame, self.column, self.top_k)
        return {"categories": sorted(cats)}

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        cats: list[str] = (params or {}).get("categories", [])
        v = _as_text(self.column)
        exprs = {f"{self.column}_{c}": f"CAST(coalesce({v} = {lit(c)}, FALSE) AS INTEGER)" for c in cats}
        if self.other:
            listed = ", ".join(lit(c) for c in cats) or "NULL"
            exprs[f"{self.column}_other"] = f"CAST({v} IS NOT NULL AND {v} NOT IN ({listed}) AS INTEGER)"
        schema = frame.schema if self.keep else {k: t for k, t in frame.schema.items() if k != self.column}
        return with_columns(frame.name, schema, exprs)


class OrdinalEncode(Transform):
    """Replace each category by its index in the sorted categories of the fit data (unseen: -1)."""

    op: ClassVar[str] = "ordinal_encode"
    group: ClassVar[str] = "encoding"
    fitted: ClassVar[bool] = True
    columns: list[str]

    def fit(self, frame: Frame) -> Params | None:
        return {c: sorted(_categories(frame, c)) for c in self.columns}

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        exprs = {}
        for c in self.columns:
            cats = (params or {}).get(c, [])
            whens = " ".join(f"WHEN {lit(v)} THEN {i}" for i, v in enumerate(cats))
            exprs[c] = (
                f"CASE WHEN {q(c)} IS NULL THEN NULL ELSE (CASE {_as_text(c)} {whens} ELSE -1 END) END"
                if cats
                else "-1"
            )
        return with_columns(frame.name, frame.schema, exprs)


class FrequencyEncode(Transform):
    """Replace each category by its share of the rows of the fit data (unseen: 0)."""

    op: ClassVar[str] = "frequency_encode"
    group: ClassVar[str] = "encoding"
    fitted: ClassVar[bool] = True
    columns: list[str]
    suffix: str = ""

    def fit(self, frame: Frame) -> Params | None:
        out: Params = {}
        for c in self.columns:
            rows = frame.rows(
                f"SELECT {_as_text(c)}, count(*) / sum(count(*)) OVER () FROM {frame.name} GROUP BY 1 ORDER BY 1"
            )
            out[c] = [[r[0], float(r[1])] for r in rows]
        return out

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        exprs = {}
        for c in self.columns:
            pairs = (params or {}).get(c, [])
            null = next((f for v, f in pairs if v is None), 0.0)
            whens = " ".join(f"WHEN {lit(v)} THEN {lit(f)}" for v, f in pairs if v is not None)
            case = f"CASE {_as_text(c)} {whens} ELSE 0.0 END" if whens else "0.0"
            exprs[c + self.suffix] = f"CASE WHEN {q(c)} IS NULL THEN {lit(null)} ELSE {case} END"
        return with_columns(frame.name, frame.schema, exprs)


class RareCategory(Transform):
    """Replace categories seen fewer than ``min_count`` times in the fit data (and unseen ones) by ``other``."""

    op: ClassVar[str] = "rare_category"
    group: ClassVar[str] = "encoding"
    fitted: ClassVar[bool] = True
    columns: list[str]
    min_count: int = 10
    other: str = "other"

    def fit(self, frame: Frame) -> Params | None:
        return {c: sorted(_categories(frame, c, min_count=self.min_count)) for c in self.columns}

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        exprs = {}
        for c in self.columns:
            keep = ", ".join(lit(v) for v in (params or {}).get(c, [])) or "NULL"
            exprs[c] = (
                f"CASE WHEN {q(c)} IS NULL THEN NULL WHEN {_as_text(c)} IN ({keep}) THEN {_as_text(c)} "
                f"ELSE {lit(self.other)} END"
            )
        return with_columns(frame.name, frame.schema, exprs)


class TargetEncode(Transform):
    """Replace a category by the smoothed mean of the target for it.

    Fitted out-of-fold: each row of the fit data is encoded with statistics from the *other* folds
    (fold = row hash mod ``folds``), so a row's own target never leaks into its feature. Applied to
    other data, the statistics of all the fit data are used; unseen categories get the global mean."""

    op: ClassVar[str] = "target_encode"
    group: ClassVar[str] = "encoding"
    fitted: ClassVar[bool] = True
    column: str
    target: str
    folds: int = 5
    smoothing: float = 1.0
    name: str | None = None
    seed: int = 0

    def _fold(self, frame: Frame) -> str:
        return f"CAST({row_hash(frame.schema, self.seed)} % {int(self.folds)} AS INTEGER)"

    def fit(self, frame: Frame) -> Params | None:
        mean = frame.rows(f"SELECT avg(CAST({q(self.target)} AS DOUBLE)) FROM {frame.name}")[0][0]
        rows = frame.rows(
            f"SELECT {_as_text(self.column)}, {self._fold(frame)}, sum(CAST({q(self.target)} AS DOUBLE)), "
            f"count({q(self.target)}) FROM {frame.name} WHERE {q(self.target)} IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
        )
        return {"mean": as_float(mean), "stats": [[r[0], int(r[1]), float(r[2]), int(r[3])] for r in rows]}

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        p = params or {}
        mean = lit(p.get("mean"))
        a = lit(float(self.smoothing))
        out = self.name or self.column
        stats = p.get("stats") or []
        if not stats:
            return with_columns(frame.name, frame.schema, {out: f"CAST({mean} AS DOUBLE)"})
        values = ", ".join(f"({lit(c)}, {f}, {lit(s)}, {n})" for c, f, s, n in stats)
        table = f"(VALUES {values}) AS __te(__cat, __fold, __s, __n)"
        if fitting:
            stat = (
                f"(SELECT (sum(__s) + {a} * {mean}) / (sum(__n) + {a}) FROM {table} "
                f"WHERE __cat IS NOT DISTINCT FROM {_as_text(self.column)} AND __fold <> {self._fold(frame)})"
            )
        else:
            stat = (
                f"(SELECT (sum(__s) + {a} * {mean}) / (sum(__n) + {a}) FROM {table} "
                f"WHERE __cat IS NOT DISTINCT FROM {_as_text(self.column)})"
            )
        return with_columns(frame.name, frame.schema, {out: f"coalesce({stat}, {mean})"})


class HashEncode(Transform):
    """Map a category to one of ``buckets`` integers by hashing (no fitting; unseen values are fine)."""

    op: ClassVar[str] = "hash_encode"
    group: ClassVar[str] = "encoding"
    columns: list[str]
    buckets: int = 1024
    suffix: str = ""

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        exprs = {
            c + self.suffix: f"CASE WHEN {q(c)} IS NULL THEN NULL "
            f"ELSE CAST(hash({_as_text(c)}) % {int(self.buckets)} AS BIGINT) END"
            for c in self.columns
        }
        return with_columns(frame.name, frame.schema, exprs)


class BoolToInt(Transform):
    """Booleans (or 'true'/'yes'/'1' text) to 1/0."""

    op: ClassVar[str] = "bool_to_int"
    group: ClassVar[str] = "encoding"
    columns: list[str]

    def sql(self, frame: Frame, params: Params | None, *, fitting: bool = False) -> str:
        exprs = {
            c: f"CASE WHEN {q(c)} IS NULL THEN NULL "
            f"WHEN lower(CAST({q(c)} AS VARCHAR)) IN ('true', 't', 'yes', 'y', '1') THEN 1 ELSE 0 END"
            for c in self.columns
        }
        return with_columns(frame.name, frame.schema, exprs)
