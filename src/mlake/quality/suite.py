"""Suites of checks: written in YAML or Python, run on a source in as few scans as possible.

A suite file looks like this (each check is ``type`` plus its arguments, or the short form
``- not_null: customer_id``)::

    table: shop.orders
    checks:
      - type: not_null
        column: customer_id
      - type: unique
        column: order_id
      - type: in_set
        column: channel
        values: [web, app, store, partner]
        threshold: 0.97          # at least 97% of rows must pass
      - type: in_range
        column: amount
        min: 0
        severity: warn           # reported, but does not fail the suite
      - type: sql
        name: no_future_orders
        query: select * from {table} where ordered_at > now()

Running a suite makes **one** fused aggregate query for every row-level and table-level check — and, when
checks count distinct values (``unique``, ``distribution`` of ``distinct``), one more statement for those
counts, read apart so that DuckDB never copies the whole source into memory — then, for the checks with
failing rows only (failed, or within their threshold), one ``LIMIT``-ed query each for a sample of them.
Custom SQL checks run their own query.
"""

from __future__ import annotations

import html
import time
import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from mlake.errors import MlakeError, ValidationError
from mlake.quality.aggregate import AggregatePlan, count_distinct
from mlake.quality.checks import CHECK_TYPES, Check, CustomSql, References, SchemaContract, Unique, _share_ok
from mlake.quality.source import Source, q

SAMPLE_ROWS = 5


@dataclass
class Suite:
    """A named list of checks, optionally bound to a table."""

    checks: list[Check]
    name: str = "checks"
    table: str | None = None

    @classmethod
    def load(cls, spec: str | Path | dict[str, Any] | list[Any] | Suite) -> Suite:
        """A suite from a YAML file path, YAML text, a dict/list (parsed YAML) or a Suite."""
        if isinstance(spec, Suite):
            return spec
        origin = "suite"
        if isinstance(spec, Path) or (isinstance(spec, str) and "\n" not in spec and spec.endswith((".yaml", ".yml"))):
            path = Path(spec)
            if not path.exists():
                raise ValidationError(f"Suite file {path} does not exist")
            origin = str(path)
            spec = path.read_text()
        if isinstance(spec, str):
            return cls.from_yaml(spec, origin)
        return cls.from_dict(spec, origin)

    @classmethod
    def from_yaml(cls, text: str, origin: str = "suite", *, untrusted: bool = False) -> Suite:
        """A suite from YAML text, never read as a file path. ``untrusted`` text (from a request) may not
        use anchors and aliases, which can make a small document expand to a huge one."""
        loader: type[yaml.SafeLoader] = _NoAliasLoader if untrusted else yaml.SafeLoader
        try:
            data = yaml.load(text, Loader=loader)  # both loaders are safe loaders
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ValidationError(f"{origin} is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from exc
        return cls.from_dict(data, origin)

    @classmethod
    def from_dict(cls, data: Any, origin: str = "suite") -> Suite:
        if isinstance(data, list):
            data = {"checks": data}
        if not isinstance(data, dict) or not isinstance(data.get("checks"), list):
            raise ValidationError(f"{origin} must have a list of checks under 'checks'")
        unknown = set(data) - {"checks", "name", "table"}
        if unknown:
            raise ValidationError(
                f"{origin}: unknown key(s) {', '.join(sorted(unknown))}", hint="use checks, name, table"
            )
        checks = [parse_check(item, f"{origin}, check {n}") for n, item in enumerate(data["checks"], start=1)]
        return cls(checks, name=str(data.get("name") or "checks"), table=data.get("table"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.table:
            out["table"] = self.table
        out["checks"] = [c.to_dict() for c in self.checks]
        return out

    def to_yaml(self, comments: dict[int, str] | None = None) -> str:
        """YAML text; ``comments`` (check index -> text) are written above their checks."""
        head = {k: v for k, v in self.to_dict().items() if k != "checks"}
        lines = [yaml.safe_dump(head, sort_keys=False, allow_unicode=True).rstrip(), "checks:"]
        for n, check in enumerate(self.checks):
            if comments and n in comments:
                lines.extend(f"  # {line}" for line in comments[n].splitlines())
            item = yaml.safe_dump([check.to_dict()], sort_keys=False, allow_unicode=True, width=110)
            lines.extend("  " + line for line in item.rstrip().splitlines())
        return "\n".join(lines) + "\n"


class _NoAliasLoader(yaml.SafeLoader):  # type: ignore[misc]
    """A safe loader that refuses aliases (``*name``)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in suites sent to a server", event.start_mark
            )
        return super().compose_node(parent, index)


def parse_check(item: Any, where: str) -> Check:
    """One check from its suite form (``{type: not_null, column: x}`` or ``{not_null: x}``)."""
    if not isinstance(item, dict) or not item:
        raise ValidationError(f"{where}: a check must be a mapping, e.g. {{type: not_null, column: id}}")
    item = dict(item)
    if isinstance(item.get("type"), str):  # ``type: in_set`` names the check; ``type: {...}`` is the type check
        kind = item.pop("type")
        args = item
    else:
        kinds = [k for k in item if k in CHECK_TYPES]
        if len(kinds) != 1:
            raise ValidationError(
                f"{where}: cannot tell the check type of {item!r}", hint=f"check types: {', '.join(CHECK_TYPES)}"
            )
        kind = kinds[0]
        value = item.pop(kind)
        args = dict(item)
        if isinstance(value, dict):
            args.update(value)
        elif value is not None:
            args["column"] = value
    cls = CHECK_TYPES.get(str(kind))
    if cls is None:
        raise ValidationError(f"{where}: unknown check type {kind!r}", hint=f"check types: {', '.join(CHECK_TYPES)}")
    names = cls.yaml_fields()
    unknown = set(args) - set(names)
    if unknown:
        raise ValidationError(
            f"{where}: {kind} has no option(s) {', '.join(sorted(map(str, unknown)))}",
            hint=f"{kind} takes {', '.join(n for n in names if n != '_')}",
        )
    try:
        return cls(**{names[k]: v for k, v in args.items()})
    except TypeError as exc:
        raise ValidationError(f"{where}: {kind} is missing an argument ({exc})") from exc
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc.message}", hint=exc.hint) from exc


@dataclass
class CheckResult:
    """One check's outcome: passed or not, its metric, failing rows and a few of them."""

    check: str
    kind: str
    severity: str
    passed: bool
    metric: str
    value: Any
    rows_checked: int | None = None
    failing_rows: int | None = None
    threshold: float = 1.0
    message: str = ""
    samples: list[dict[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    @property
    def failing_share(self) -> float | None:
        if self.failing_rows is None or not self.rows_checked:
            return None
        return self.failing_rows / self.rows_checked

    @property
    def status(self) -> str:
        return "pass" if self.passed else ("fail" if self.severity == "error" else "warn")

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "type": self.kind,
            "columns": self.columns,
            "severity": self.severity,
            "status": self.status,
            "passed": self.passed,
            "metric": self.metric,
            "value": _plain(self.value),
            "rows_checked": self.rows_checked,
            "failing_rows": self.failing_rows,
            "failing_share": self.failing_share,
            "threshold": self.threshold,
            "message": self.message,
            "samples": [{k: _plain(v) for k, v in s.items()} for s in self.samples],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CheckResult:
        """The inverse of ``to_dict`` (for clients of the REST API); values keep their JSON form."""
        return cls(
            check=d["check"],
            kind=d["type"],
            severity=d["severity"],
            passed=d["passed"],
            metric=d["metric"],
            value=d.get("value"),
            rows_checked=d.get("rows_checked"),
            failing_rows=d.get("failing_rows"),
            threshold=d.get("threshold", 1.0),
            message=d.get("message", ""),
            samples=list(d.get("samples") or []),
            columns=list(d.get("columns") or []),
        )


@dataclass
class SuiteResult:
    """A suite run: ``passed`` is False when a check of severity ``error`` failed."""

    suite: str
    source: str
    table: str | None
    snapshot_id: int | None
    rows: int
    results: list[CheckResult]
    scans: int = 0
    seconds: float = 0.0
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def passed(self) -> bool:
        return all(r.passed or r.severity != "error" for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed and r.severity == "error"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed and r.severity != "error"]

    def __getitem__(self, check: str) -> CheckResult:
        for r in self.results:
            if r.check == check:
                return r
        raise KeyError(check)

    def summary(self) -> str:
        ok = sum(r.passed for r in self.results)
        parts = [f"{self.suite} on {self.source}: {ok}/{len(self.results)} check(s) passed"]
        if self.failures:
            parts.append("failed: " + "; ".join(f"{r.check} ({r.message})" for r in self.failures))
        if self.warnings:
            parts.append("warnings: " + "; ".join(f"{r.check} ({r.message})" for r in self.warnings))
        return " — ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "suite": self.suite,
            "source": self.source,
            "table": self.table,
            "snapshot_id": self.snapshot_id,
            "computed_at": self.computed_at.isoformat(),
            "rows": self.rows,
            "passed": self.passed,
            "results": [r.to_dict() for r in self.results],
            "scans": self.scans,
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SuiteResult:
        """The inverse of ``to_dict`` (for clients of the REST API)."""
        return cls(
            suite=d["suite"],
            source=d["source"],
            table=d.get("table"),
            snapshot_id=d.get("snapshot_id"),
            rows=d["rows"],
            results=[CheckResult.from_dict(r) for r in d.get("results") or []],
            scans=d.get("scans", 0),
            seconds=d.get("seconds", 0.0),
            computed_at=datetime.fromisoformat(d["computed_at"]),
            run_id=d["run_id"],
        )

    def _repr_html_(self) -> str:
        from mlake.quality.report import checks_html

        return f"<div><b>{html.escape(self.summary())}</b>{checks_html(self)}</div>"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def run_suite(source: Source, suite: Suite, sample_rows: int = SAMPLE_ROWS) -> SuiteResult:
    """Run every check of ``suite`` on ``source``; see the module docstring for the scans made."""
    started = time.perf_counter()
    lake = source.lake
    available = set(source.column_names())
    for n, check in enumerate(suite.checks, start=1):
        missing = [c for c in check.columns if c not in available]
        if missing:
            raise ValidationError(
                f"Check {n} ({check.label}) of {suite.name}: {source.table or source.label} has no column(s) "
                f"{', '.join(missing)}",
                hint=f"columns: {', '.join(sorted(available))}",
            )
    plan = AggregatePlan()
    plan.add("rows", "count(*)")
    distinct: dict[Hashable, tuple[str, str]] = {}
    violations: dict[int, str] = {}
    for n, check in enumerate(suite.checks):
        if check.row_level:
            v = _violation(source, check, n)
            assert v is not None
            violations[n] = v
            if check.where:
                plan.add((n, "checked"), f"count_if({check.where})")
                plan.add((n, "failing"), f"count_if(({check.where}) AND {v})")
            else:
                plan.add((n, "failing"), f"count_if({v})")
        for key, expr in check.aggregates(lake).items():
            plan.add((n, key), expr)
        for key, counted in check.distinct_counts(lake).items():
            distinct[(n, key)] = counted
    try:
        values = plan.run(source)
        values.update(count_distinct(source, distinct))
    except MlakeError as exc:
        raise type(exc)(f"Running suite {suite.name} on {source.label}: {exc.message}", hint=exc.hint) from exc
    scans = 1 + bool(distinct)
    rows = int(values["rows"] or 0)
    prefetched: dict[int, list[dict[str, Any]]] = {}
    if source.partitions is not None and sample_rows > 0:
        from mlake.quality.partitioned import failing_rows

        failing = {
            n: f"({suite.checks[n].where}) AND {v}" if suite.checks[n].where else v
            for n, v in violations.items()
            if int(values.get((n, "failing")) or 0)
        }
        prefetched = failing_rows(source, failing, sample_rows)
    results: list[CheckResult] = []
    for n, check in enumerate(suite.checks):
        mine = {k[1]: v for k, v in values.items() if isinstance(k, tuple) and k[0] == n}
        result, extra_scans = _evaluate(source, check, mine, rows, violations.get(n), sample_rows, prefetched.get(n))
        scans += extra_scans
        results.append(result)
    return SuiteResult(
        suite=suite.name,
        source=source.label,
        table=source.table,
        snapshot_id=source.snapshot_id,
        rows=rows,
        results=results,
        scans=scans,
        seconds=time.perf_counter() - started,
    )


def _violation(source: Source, check: Check, n: int) -> str | None:
    """A row-level check's violation predicate; on a partitioned engine a referenced table's keys are read
    through the lake's engine (the actor's secure view) and broadcast to every partition's task."""
    if source.partitions is None or not isinstance(check, References):
        return check.violation(source.lake)
    partitions = source.partitions

    def broadcast(sql: str) -> str:
        name = f"__references{n}"
        partitions.tables[name] = source.fetch_arrow(sql)
        partitions.broadcast_sql[name] = sql
        return name

    return check.violation(source.lake, broadcast)


def _evaluate(
    source: Source,
    check: Check,
    values: dict[str, Any],
    rows: int,
    violation: str | None,
    sample_rows: int,
    prefetched: list[dict[str, Any]] | None = None,
) -> tuple[CheckResult, int]:
    """One check's result; ``prefetched``: its sample of failing rows when already read (a partitioned
    engine reads those of every check in one pass)."""
    base: dict[str, Any] = {
        "check": check.label,
        "kind": check.kind,
        "severity": check.severity,
        "threshold": check.threshold,
    }
    base["columns"] = check.columns
    if isinstance(check, SchemaContract):
        ok, problems = check.evaluate(source)
        return CheckResult(
            passed=ok,
            metric="schema_problems",
            value=len(problems),
            message="; ".join(problems) or "schema as expected",
            **base,
        ), 0
    if isinstance(check, CustomSql):
        return _custom(source, check, rows, sample_rows, base)
    if violation is not None:
        checked = int(values["checked"] or 0) if "checked" in values else rows
        failing = int(values["failing"] or 0)
        ok = _share_ok(checked, failing, check.threshold)
        samples: list[dict[str, Any]] = []
        scans = 0
        if failing and sample_rows > 0:
            cond = f"({check.where}) AND {violation}" if check.where else violation
            samples = prefetched if prefetched is not None else _failing(source, cond, sample_rows)
            scans = 1
        share = failing / checked if checked else 0.0
        msg = f"{failing:,} of {checked:,} row(s) fail ({share:.2%})" if failing else f"all {checked:,} row(s) pass"
        if not ok and check.threshold < 1:
            msg += f"; at most {1 - check.threshold:.2%} may"
        return CheckResult(
            passed=ok,
            metric="failing_rows",
            value=failing,
            rows_checked=checked,
            failing_rows=failing,
            message=msg,
            samples=samples,
            **base,
        ), scans
    ok, failing_rows, msg = check.verdict(values, rows)
    metric, value = check.metric(values, rows)
    samples = []
    scans = 0
    if isinstance(check, Unique) and failing_rows and sample_rows > 0:
        samples = _duplicates(source, check, sample_rows)
        scans = 1
    keyed = int(values.get("keyed") or 0) if isinstance(check, Unique) else None
    return CheckResult(
        passed=ok,
        metric=metric,
        value=value,
        rows_checked=keyed,
        failing_rows=failing_rows,
        message=msg,
        samples=samples,
        **base,
    ), scans


def _custom(
    source: Source, check: CustomSql, rows: int, sample_rows: int, base: dict[str, Any]
) -> tuple[CheckResult, int]:
    query = check.bound_query(source)
    counted = source.fetch(f"SELECT count(*) FROM ({query}) AS __violations")
    failing = int(counted[0][0]) if counted else 0
    ok = _share_ok(rows, failing, check.threshold) if rows else failing == 0
    samples = _sample(source, f"SELECT * FROM ({query}) AS __v LIMIT {int(sample_rows)}") if failing else []
    msg = f"{failing:,} violating row(s)" if failing else "no violating rows"
    return CheckResult(
        passed=ok,
        metric="failing_rows",
        value=failing,
        rows_checked=rows,
        failing_rows=failing,
        message=msg,
        samples=samples,
        **base,
    ), 1 + bool(samples)


def _failing(source: Source, cond: str, sample_rows: int) -> list[dict[str, Any]]:
    """A few rows where ``cond`` holds (on a partitioned engine: a few from each partition, then a few)."""
    sql = f"SELECT * FROM {source.from_clause()} WHERE {cond} LIMIT {int(sample_rows)}"
    if source.partitions is None:
        return _sample(source, sql)
    from mlake.quality.partitioned import check_statement, some_rows

    check_statement(source, sql)
    found: list[dict[str, Any]] = some_rows(source, cond, sample_rows).to_pylist()
    return found


def _duplicates(source: Source, check: Unique, sample_rows: int) -> list[dict[str, Any]]:
    """A few rows whose key repeats (on a partitioned engine, by buckets of rows split by the key)."""
    if source.partitions is None:
        return _sample(source, check.sample_sql(source.from_clause(), sample_rows))
    from mlake.quality.partitioned import check_statement, keyed_rows

    check_statement(source, check.sample_sql(source.from_clause(), sample_rows))
    order = ", ".join(q(c) for c in check.columns)
    found: list[dict[str, Any]] = keyed_rows(
        source, check.columns, lambda frm: check.sample_sql(frm, sample_rows), order, sample_rows
    ).to_pylist()
    return found


def _sample(source: Source, sql: str) -> list[dict[str, Any]]:
    """At most a few failing rows, as plain dicts (never all failures)."""
    rows: list[dict[str, Any]] = source.fetch_arrow(sql).to_pylist()
    return rows
