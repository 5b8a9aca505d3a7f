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


@pytest.mark.slow
def test_ten_thousand_columns_ingest_within_the_memory_limit(tmp_path: Path) -> None:
    """10,000 columns × 20 rows: ran out of memory at the 1 GB ingest limit in one big statement; now the
    integer columns are checked in column groups and the file is written without big expressions."""
    path = tmp_path / "wide.csv"
    write_wide_csv(path, 10_000, 20)
    lake = mlake.connect(tmp_path / "lake")
    assert lake.settings.ingest_memory_limit.upper().replace(" ", "") in ("1GB", "1GIB", "1000MB")
    report = lake.ingest(str(path), into="raw.wide")
    assert report.rows_written == 20 and report.rows_quarantined == 0
    table = lake.table("raw.wide")
    assert len(table.columns) == 10_000
    types = {f.name: str(f.field_type) for f in table.iceberg.schema().fields}
    assert types["c9998"] == "long" and types["c9999"] == "string"  # 9998 % 3 = 2, 9999 % 3 = 0
    got = lake.sql("SELECT sum(c9998)::BIGINT AS s, min(c1) AS lo, max(c9999) AS m, count(*) AS n FROM raw.wide")
    assert got.to_pylist() == [{"s": sum(r * 9998 for r in range(20)), "lo": 0, "m": "v9", "n": 20}]
    lake.close()


def _wide_csv(path: Path, columns: int, rows: int, special: dict[int, str]) -> None:
    """Integer columns (two in three) and text; row ``r`` of ``special`` has that text in the second last
    column, an integer one."""
    with path.open("w") as f:
        f.write(",".join(f"c{i}" for i in range(columns)) + "\n")
        for r in range(rows):
            values = [str(r * i) if i % 3 else f"v{r}" for i in range(columns)]
            if r in special:
                values[columns - 2] = special[r]
            f.write(",".join(values) + "\n")


@pytest.mark.parametrize("columns", [30, 1_200])
def test_a_wide_file_converts_and_quarantines_as_a_narrow_one(tmp_path: Path, columns: int) -> None:
    """The wide path (from 1,000 columns) gives the narrow path's rows, values and quarantine: into a
    table whose column is an integer, ``8.0`` converts and ``8.5`` is quarantined, never rounded."""
    from mlake.ingest.csv_wide import WIDE_COLUMNS

    assert (columns >= WIDE_COLUMNS) == (columns == 1_200)
    lake = mlake.connect(tmp_path / "lake")
    _wide_csv(tmp_path / "clean.csv", columns, 2, {})
    lake.ingest(str(tmp_path / "clean.csv"), into="raw.w")
    _wide_csv(tmp_path / "mixed.csv", columns, 8, {3: "8.0", 5: "8.5"})
    report = lake.ingest(str(tmp_path / "mixed.csv"), into="raw.w")
    assert report.rows_written == 7 and report.rows_quarantined == 1
    last, k = f"c{columns - 2}", columns - 2
    rows = lake.sql(f"SELECT {last} AS x FROM raw.w ORDER BY c1, x").to_pylist()
    assert [r["x"] for r in rows] == [0, 0, k, k, 2 * k, 8, 4 * k, 6 * k, 7 * k]
    bad = lake.sql("SELECT line, kind, reason, raw FROM raw.w__quarantine").to_pylist()
    assert len(bad) == 1 and bad[0]["kind"] == "CAST" and bad[0]["line"] == 7
    assert f"{last}: 8.5 is not a whole number" in bad[0]["reason"]
    assert bad[0]["raw"].split(",")[columns - 2] == "8.5"
    lake.close()
