"""What an ingest did, for people (CLI, notebooks, Studio) and programs (JSON)."""

from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class IngestReport:
    table: str
    write_id: str
    snapshot_id: int | None = None
    rows_written: int = 0
    rows_quarantined: int = 0
    files_ingested: list[str] = field(default_factory=list)
    files_skipped: list[str] = field(default_factory=list)  # already ingested (same content)
    reasons: Counter[str] = field(default_factory=Counter)  # quarantine reason kind -> rows
    quarantine_table: str | None = None
    seconds: float = 0.0
    created_table: bool = False
    gate: str | None = None  # why a gate refused the data, if it did
    watermark: Any = None  # the new watermark, for incremental database ingests
    notes: list[str] = field(default_factory=list)  # advice, e.g. a format option that would read a column

    @property
    def rows_per_second(self) -> float:
        return self.rows_written / self.seconds if self.seconds > 0 else 0.0

    @property
    def skipped(self) -> bool:
        return not self.files_ingested and bool(self.files_skipped)

    def summary(self) -> str:
        if self.skipped:
            return (
                f"{self.table}: nothing new — {len(self.files_skipped)} file(s) already ingested "
                "(same content); use force to ingest again, or mode overwrite to replace the table's rows"
            )
        parts = [f"{self.table}: {self.rows_written:,} row(s) written"]
        if self.rows_quarantined:
            kinds = ", ".join(f"{n:,} {k}" for k, n in self.reasons.most_common())
            parts.append(f"{self.rows_quarantined:,} quarantined in {self.quarantine_table} ({kinds})")
        if self.gate:
            parts.append(f"gate refused the data: {self.gate}")
        if self.files_skipped:
            parts.append(f"{len(self.files_skipped)} file(s) skipped (already ingested)")
        parts += self.notes
        parts.append(f"{self.seconds:.2f}s")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "write_id": self.write_id,
            "snapshot_id": self.snapshot_id,
            "rows_written": self.rows_written,
            "rows_quarantined": self.rows_quarantined,
            "files_ingested": self.files_ingested,
            "files_skipped": self.files_skipped,
            "reasons": dict(self.reasons),
            "quarantine_table": self.quarantine_table,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "created_table": self.created_table,
            "gate": self.gate,
            "watermark": None if self.watermark is None else str(self.watermark),
            "notes": self.notes,
        }

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
            for k, v in self.to_dict().items()
            if v not in (None, [], {}, 0, False)
        )
        return f"<b>{html.escape(self.summary())}</b><table>{rows}</table>"
