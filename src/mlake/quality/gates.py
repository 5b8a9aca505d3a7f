"""Gates: a suite that staged data must pass before an ingest commits it.

``lake.ingest("new/*.csv", into="shop.orders", gate=lake.quality.gate("orders.yaml"))`` runs the suite
on the staged batch — the rows about to be committed, not the table — after they are written and
before the commit. When a check of severity ``error`` fails, the ingest commits nothing to the table:
the batch goes to ``shop.orders__quarantine`` with the gate's reason, and the ingest report's ``gate``
says which checks failed. Each gate run is kept in the metric history (kind ``gate``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlake.ingest.context import GateResult, StagedData
from mlake.quality.source import resolve
from mlake.quality.suite import Suite, SuiteResult, run_suite

if TYPE_CHECKING:
    from mlake.lake import Lake


class QualityGate:
    """A callable for ingestion's ``gate=``; ``last`` holds the latest run's result."""

    def __init__(self, lake: Lake, suite: Suite | str | Path | dict[str, Any], *, save: bool = True) -> None:
        self.lake = lake
        self.suite = Suite.load(suite)
        self.save = save
        self.last: SuiteResult | None = None

    def __call__(self, staged: StagedData) -> GateResult:
        source = resolve(self.lake, staged)
        result = run_suite(source, self.suite)
        self.last = result
        if self.save:
            from mlake.quality.access import actor, governed
            from mlake.quality.history import record_suite

            # A gate measures the batch being ingested, not a principal's view of the table: it is kept
            # by mlake on the ingesting principal's behalf (see mlake.quality.access).
            g = governed(self.lake)
            keeper = g._system() if g is not None else self.lake
            record_suite(keeper, result, staged.table, kind="gate", actor=actor(self.lake))
        if result.passed:
            return GateResult(True, details=result)
        failed = "; ".join(f"{r.check}: {r.message}" for r in result.failures)
        return GateResult(False, reason=f"quality gate {self.suite.name} failed — {failed}", details=result)

    def __repr__(self) -> str:
        return f"<QualityGate {self.suite.name}: {len(self.suite.checks)} check(s)>"
