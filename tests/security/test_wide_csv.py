"""Wide CSV files ingest (issue 10, item 10); the fast integer pass keeps the exact semantics."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlake


def write_wide_csv(path: Path, columns: int, rows: int) -> None:
    """Two integer columns in three, the rest text."""
    with path.open("w") as f:
        f.write(",".join(f"c{i}" for i in range(columns)) + "\n")
        for r in range(rows):
            f.write(",".join(str(r * i) if i % 3 else f"v{r}" for i in range(columns)) + "\n")


@pytest.mark.slow
def test_two_thousand_columns_ingest(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    write_wide_csv(path, 2_000, 20)
    lake = mlake.connect(tmp_path / "lake")
    report = lake.ingest(str(path), into="raw.wide")
    assert report.rows_written == 20
    assert len(lake.table("raw.wide").columns) == 2_000
    assert lake.sql("SELECT sum(c1999)::BIGINT AS s, max(c1998) AS m FROM raw.wide").to_pylist() == [
        {"s": sum(r * 1999 for r in range(20)), "m": "v9"}  # text: "v9" > "v19"
    ]
    lake.close()


def test_fractions_in_integer_columns_still_take_the_exact_pass(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_text("a,b\n1,x\n8.0,y\n1e3,z\n8.5,w\n\n  ,v\n")
    lake = mlake.connect(tmp_path / "lake")
    lake.create_table("raw.m", {"a": [1], "b": ["x"]})
    lake.ingest(str(path), into="raw.m")
    got = {(r["a"], r["b"]) for r in lake.sql("SELECT a, b FROM raw.m").to_pylist()}
    assert {(8, "y"), (1000, "z"), (None, "v")} <= got  # exact values convert, blank is NULL
    assert all(b != "w" for _, b in got)  # 8.5 is not an integer: quarantined, not rounded
    quarantined = lake.sql("SELECT count(*) FROM raw.m__quarantine").scalar()
    assert quarantined == 1
    lake.close()
