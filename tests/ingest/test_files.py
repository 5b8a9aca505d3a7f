"""File ingestion: formats, sources, quarantine of bad records, dedup, and clear errors."""

from __future__ import annotations

import gzip
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlake.errors import IngestError, ValidationError
from mlake.lake import Lake

DIRTY_CSV = (
    b"id,name,amount\n"
    b"1,alice,3.5\n"
    b"2,bob\n"  # missing a field
    b"3,carol,abc\n"  # not a number
    b"4,dave,1.0,extra\n"  # one field too many
    b"5,\xff\xfeeve,2.0\n"  # invalid UTF-8
    b'6,"multi\nline",7\n'  # a quoted newline is fine
    b"7,frank,1e400\n"  # beyond double range: IEEE parsing gives +inf, kept (as every CSV reader does)
    b"8,gina,99999999999999999999999\n"  # fine as a double
)


def quarantine(lake: Lake, table: str) -> list[dict[str, object]]:
    return lake.sql(f"select source, line, kind, reason, raw from {table}__quarantine order by line").to_pylist()


def test_dirty_csv_goes_to_quarantine_and_good_rows_go_in(lake: Lake, tmp_path: Path) -> None:
    path = tmp_path / "dirty.csv"
    path.write_bytes(DIRTY_CSV)
    report = lake.ingest(str(path), into="raw.people", types={"amount": "double"})
    assert report.rows_written == 4 and report.rows_quarantined == 4
    assert report.created_table and report.quarantine_table == "raw.people__quarantine"
    assert lake.sql("select id, name from raw.people order by id").fetchall() == [
        (1, "alice"),
        (6, "multi\nline"),
        (7, "frank"),
        (8, "gina"),
    ]
    assert lake.sql("select amount from raw.people where id = 7").scalar() == float("inf")
    q = quarantine(lake, "raw.people")
    assert [r["line"] for r in q] == [3, 4, 5, 6]
    kinds = {r["line"]: r["kind"] for r in q}
    assert kinds[3] == "MISSING COLUMNS" and kinds[4] == "CAST" and kinds[5] == "TOO MANY COLUMNS"
    assert kinds[6] == "INVALID ENCODING"
    raw = {r["line"]: r["raw"] for r in q}
    assert raw[4] == "3,carol,abc" and raw[6] == "5,\\xff\\xfeeve,2.0"  # original bytes, escaped
    assert all(r["source"] == str(path) for r in q)
    assert "amount" in next(r["reason"] for r in q if r["line"] == 4)
    assert report.reasons["CAST"] == 1
    ingest_ids = lake.sql("select distinct ingest_id from raw.people__quarantine").fetchall()
    assert ingest_ids == [(report.write_id,)]


def test_existing_table_types_are_imposed(lake: Lake, tmp_path: Path) -> None:
    lake.create_table("raw.t", pa.table({"id": [1], "qty": [5]}))
    (tmp_path / "a.csv").write_text("id,qty,new_col\n2,7,x\n3,seven,y\n")
    report = lake.ingest(str(tmp_path / "a.csv"), into="raw.t")
    assert report.rows_written == 1 and report.rows_quarantined == 1
    assert lake.sql("select id, qty, new_col from raw.t order by id").fetchall() == [(1, 5, None), (2, 7, "x")]
    assert lake.table("raw.t").describe().columns[1].type == "long"  # not widened to string


def test_same_content_is_not_ingested_twice_unless_forced(lake: Lake, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id\n1\n2\n")
    (tmp_path / "copy.csv").write_text("id\n1\n2\n")
    assert lake.ingest(str(tmp_path / "a.csv"), into="raw.t").rows_written == 2
    again = lake.ingest(str(tmp_path / "copy.csv"), into="raw.t")  # same bytes, other name
    assert again.skipped and again.rows_written == 0 and "nothing new" in again.summary()
    assert lake.table("raw.t").count() == 2
    assert lake.ingest(str(tmp_path / "a.csv"), into="raw.t", force=True).rows_written == 2
    assert lake.table("raw.t").count() == 4
    # into another table the same content is new
    assert lake.ingest(str(tmp_path / "a.csv"), into="raw.other").rows_written == 2


def test_folder_glob_and_formats(lake: Lake, tmp_path: Path) -> None:
    src = tmp_path / "exports"
    (src / "sub").mkdir(parents=True)
    (src / "a.csv").write_text("id,v\n1,a\n")
    (src / "b.tsv").write_text("id\tv\n2\tb\n")
    pq.write_table(pa.table({"id": [3], "v": ["c"]}), src / "c.parquet")
    (src / "sub" / "d.jsonl").write_text('{"id": 4, "v": "d"}\n')
    (src / "e.json").write_text(json.dumps([{"id": 5, "v": "e"}, {"id": 6, "v": "f"}]))
    with gzip.open(src / "f.csv.gz", "wt") as f:
        f.write("id,v\n7,g\n")
    (src / "README.md").write_text("not data")  # ignored: unknown extension
    report = lake.ingest(str(src), into="raw.mixed")
    assert report.rows_written == 7 and len(report.files_ingested) == 6
    assert lake.sql("select id, v from raw.mixed order by id").fetchall() == [
        (i, c) for i, c in zip(range(1, 8), "abcdefg", strict=True)
    ]
    assert lake.table("raw.mixed").history()[-1].operation == "ingest"  # one snapshot for all files
    assert len(lake.table("raw.mixed").history()) == 1
    lake.ingest(str(tmp_path / "exports" / "*.csv"), into="raw.globbed")
    assert lake.table("raw.globbed").count() == 1
    lake.ingest(str(tmp_path / "exports" / "**" / "*.jsonl"), into="raw.globbed2")
    assert lake.table("raw.globbed2").count() == 1


def test_jsonl_bad_lines_are_quarantined(lake: Lake, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(
        b'{"id": 1, "v": 2.5, "ts": "2024-01-01T00:00:00Z"}\n'
        b"not json\n"
        b"[1, 2]\n"
        b'{"id": 2, "v": "high", "ts": "2024-01-02T00:00:00Z"}\n'
        b"\xff\xfe\n"
        b"\n"
        b'{"id": 3, "v": 1, "ts": "2024-01-03T00:00:00Z"}\n'
        b'{"id": 4, "v": 0.5, "ts": "2024-01-04T00:00:00Z"}\n'
        + b"".join(b'{"id": %d, "v": %d, "ts": "2024-02-01T00:00:00Z"}\n' % (i, i) for i in range(100, 120))
    )
    report = lake.ingest(str(path), into="raw.e")
    # v is numeric in 23 of 24 records: the column is typed double, and "high" is quarantined
    assert lake.sql("select id, v from raw.e where id < 100 order by id").fetchall() == [(1, 2.5), (3, 1.0), (4, 0.5)]
    q = {r["line"]: r for r in quarantine(lake, "raw.e")}
    assert set(q) == {2, 3, 4, 5}
    assert q[2]["kind"] == "INVALID JSON" and q[3]["kind"] == "NOT AN OBJECT" and q[5]["kind"] == "INVALID ENCODING"
    assert q[4]["kind"] == "TYPE" and "v: cannot convert high to double" in str(q[4]["reason"])
    assert json.loads(str(q[4]["raw"]))["v"] == "high"
    assert report.rows_quarantined == 4
    types = {c.name: c.type for c in lake.table("raw.e").describe().columns}
    assert types == {"id": "long", "v": "double", "ts": "timestamptz"}  # ISO text is typed
    # a fraction never silently rounds into an integer column
    (tmp_path / "f.jsonl").write_text('{"id": 5.5, "v": 1}\n{"id": 6, "v": 2}\n')
    lake.ingest(str(tmp_path / "f.jsonl"), into="raw.e")
    assert lake.sql("select id from raw.e where id > 4 and id < 100 order by id").fetchall() == [(6,)]
    assert "id: cannot convert 5.5" in lake.sql("select reason from raw.e__quarantine where line = 1").scalar()


def test_csv_fractions_never_round_into_integer_columns(lake: Lake, tmp_path: Path) -> None:
    """DuckDB's CSV parser rounds 8.5 into a BIGINT column: mlake reads integers as text and converts
    them exactly, quarantining fractions and out-of-range numbers, whether the type was sniffed (a
    fraction far past the sniffer's sample), declared or imposed by the table."""
    late = tmp_path / "late.csv"
    late.write_text("id,n\n" + "".join(f"{i},{i}\n" for i in range(60_000)) + "60000,8.5\n60001,1e3\n60002,8.0\n")
    report = lake.ingest(str(late), into="raw.ints")
    assert {c.name: c.type for c in lake.table("raw.ints").describe().columns} == {"id": "long", "n": "long"}
    assert report.rows_written == 60_002 and report.rows_quarantined == 1
    assert lake.sql("select n from raw.ints where id >= 60001 order by id").fetchall() == [(1000,), (8,)]
    (bad,) = quarantine(lake, "raw.ints")
    assert bad["kind"] == "CAST" and bad["raw"] == "60000,8.5" and "n: 8.5 is not a whole number" in bad["reason"]
    assert bad["line"] == 60_002  # found by scanning the file for the record's text

    more = tmp_path / "more.tsv"
    more.write_text("id\tn\n1\t99999999999999999999\n2\t-3\n3\t\n4\t4.25\n5\t x\n")
    report = lake.ingest(str(more), into="raw.ints")  # the table's long type is imposed
    assert report.rows_written == 2 and report.rows_quarantined == 3
    assert lake.sql("select id, n from raw.ints where n is null or n < 0 order by id").fetchall() == [
        (2, -3),
        (3, None),
    ]
    semi = tmp_path / "semi.csv"  # a delimiter the sniffer found: the raw text is joined with it
    semi.write_text("id;n\n7;1\n8;2.5\n")
    assert lake.ingest(str(semi), into="raw.ints").rows_quarantined == 1
    assert ("8;2.5", 3) in {(r["raw"], r["line"]) for r in quarantine(lake, "raw.ints")}
    found = sorted((r["raw"], r["line"]) for r in quarantine(lake, "raw.ints") if r["source"] != str(semi))
    assert found == [("1\t99999999999999999999", 2), ("4\t4.25", 5), ("5\t x", 6), ("60000,8.5", 60_002)]


def test_parquet_with_wrong_types_quarantines_rows(lake: Lake, tmp_path: Path) -> None:
    lake.create_table("raw.p", pa.table({"id": [0], "amount": [0.5]}))
    pq.write_table(pa.table({"id": [1, 2, 3], "amount": ["1.5", "oops", None]}), tmp_path / "p.parquet")
    report = lake.ingest(str(tmp_path / "p.parquet"), into="raw.p")
    assert report.rows_written == 2 and report.rows_quarantined == 1
    (bad,) = quarantine(lake, "raw.p")
    assert bad["line"] == 2 and json.loads(str(bad["raw"])) == {"id": 2, "amount": "oops"}


def test_type_overrides_and_csv_options(lake: Lake, tmp_path: Path) -> None:
    (tmp_path / "z.csv").write_text("zip;city;day\n01234;Berlin;01/02/2024\nNA;Paris;03/04/2024\n")
    lake.ingest(
        str(tmp_path / "z.csv"),
        into="raw.z",
        types={"zip": "string"},
        delimiter=";",
        null_values=["NA"],
        date_format="%d/%m/%Y",
    )
    assert lake.sql("select zip, city, day from raw.z order by city").fetchall()[0][0] == "01234"
    assert lake.sql("select count(*) from raw.z where zip is null").scalar() == 1
    assert str(lake.sql("select day from raw.z where city = 'Berlin'").scalar()) == "2024-02-01"
    with pytest.raises(ValidationError, match="Unknown CSV option"):
        lake.ingest(str(tmp_path / "z.csv"), into="raw.z2", delimeter=";")
    with pytest.raises(ValidationError, match="Unknown type"):
        lake.ingest(str(tmp_path / "z.csv"), into="raw.z2", types={"zip": "stringg"})


def test_overwrite_mode_and_partitioned_target(lake: Lake, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,day\n1,2024-01-01\n2,2024-01-02\n")
    (tmp_path / "b.csv").write_text("id,day\n3,2024-01-03\n")
    lake.ingest(str(tmp_path / "a.csv"), into="raw.d", partition_by=["day(day)"])
    assert (
        lake.table("raw.d").describe().partitioning == ["1000: day_day: day(1)"]
        or lake.table("raw.d").describe().partitioning
    )
    assert lake.table("raw.d").describe().files == 2
    lake.ingest(str(tmp_path / "b.csv"), into="raw.d", mode="overwrite")
    assert lake.sql("select id from raw.d").fetchall() == [(3,)]
    with pytest.raises(ValidationError, match="Unknown ingest mode"):
        lake.ingest(str(tmp_path / "b.csv"), into="raw.d", mode="merge")


def test_unreadable_sources_raise_clear_errors(lake: Lake, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"Cannot read .*missing.csv: no such file"):
        lake.ingest(str(tmp_path / "missing.csv"), into="raw.x")
    with pytest.raises(IngestError, match="No files match"):
        lake.ingest(str(tmp_path / "*.nothing"), into="raw.x")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not really parquet")
    with pytest.raises(IngestError, match=r"broken.parquet as Parquet"):
        lake.ingest(str(tmp_path / "broken.parquet"), into="raw.x")
    (tmp_path / "data.bin").write_bytes(b"\x00\x01")
    with pytest.raises(IngestError, match="Cannot tell the format"):
        lake.ingest(str(tmp_path / "data.bin"), into="raw.x")
    (tmp_path / "bad.json").write_text('[{"a": 1}, {"a": ')
    with pytest.raises(IngestError, match="bad.json as a JSON array"):
        lake.ingest(str(tmp_path / "bad.json"), into="raw.x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IngestError, match="holds no files"):
        lake.ingest(str(tmp_path / "empty"), into="raw.x")
    with pytest.raises(ValidationError, match="quarantine table"):
        lake.ingest(str(tmp_path / "bad.json"), into="raw.x__quarantine")
    assert not lake.table_exists("raw.x")


def test_huge_values(lake: Lake, tmp_path: Path) -> None:
    big = "x" * 3_000_000
    (tmp_path / "h.csv").write_text(f"id,text,n\n1,{big},1\n2,small,99999999999999999999999\n3,ok,3\n")
    report = lake.ingest(str(tmp_path / "h.csv"), into="raw.h", types={"n": "long"})
    assert report.rows_written + report.rows_quarantined == 3
    assert lake.sql("select n from raw.h where id = 3").scalar() == 3
    lengths = lake.sql("select id, length(text) from raw.h order by id").fetchall()
    assert (1, 3_000_000) in lengths or report.rows_quarantined >= 1


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    folder = tmp_path / "www"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _Handler(*a, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()


def test_http_url(lake: Lake, http_dir: tuple[str, Path]) -> None:
    base, folder = http_dir
    (folder / "remote.csv").write_text("id,name\n1,a\n2,b\n")
    report = lake.ingest(f"{base}/remote.csv", into="raw.remote")
    assert report.rows_written == 2
    graph = lake.lineage("raw.remote")
    (edge,) = graph.upstream
    assert edge.source.kind == "url" and edge.source.ref == f"{base}/remote.csv"
    assert edge.source.detail and edge.source.detail.startswith("xxh3:")
    assert lake.ingest(f"{base}/remote.csv", into="raw.remote").skipped  # same content
    with pytest.raises(IngestError, match="HTTP 404"):
        lake.ingest(f"{base}/nope.csv", into="raw.remote")
    assert not list((lake.settings.home / "tmp").glob("download-*"))  # downloads cleaned up


def test_empty_files_header_only_and_single_json_object(lake: Lake, tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(IngestError, match="empty.csv is empty"):
        lake.ingest(str(tmp_path / "empty.csv"), into="raw.e")
    lake.create_table("raw.e", pa.table({"a": [1]}))
    assert lake.ingest(str(tmp_path / "empty.csv"), into="raw.e").rows_written == 0  # nothing to add
    (tmp_path / "header.csv").write_text("a,b\n")
    assert lake.ingest(str(tmp_path / "header.csv"), into="raw.h").rows_written == 0
    assert lake.table("raw.h").columns == ["a", "b"]
    (tmp_path / "one.json").write_text('{\n  "id": 1,\n  "tags": ["a", "b"]\n}\n')
    lake.ingest(str(tmp_path / "one.json"), into="raw.one")
    assert lake.sql("select id, tags from raw.one").fetchall() == [(1, ["a", "b"])]


def test_all_rows_bad_still_commits_quarantine(lake: Lake, tmp_path: Path) -> None:
    lake.create_table("raw.ints", pa.table({"a": [1], "b": [2]}))
    (tmp_path / "bad.csv").write_text("a,b\nx,1\ny,2\n")
    report = lake.ingest(str(tmp_path / "bad.csv"), into="raw.ints")
    assert report.rows_written == 0 and report.rows_quarantined == 2
    assert lake.table("raw.ints").count() == 1
    assert lake.table("raw.ints__quarantine").count() == 2


PENGUINS = (
    "species,bill_length_mm,body_mass_g,sex,year\n"
    "Adelie,39.1,3750,male,2007\n"
    "Adelie,NA,NA,NA,2007\n"
    "Gentoo,46.1,4500,female,2008\n"
    "Gentoo,N/A,null,NaN,2009\n"
)


def test_na_null_nan_are_nulls_by_default_and_the_list_can_be_replaced(lake: Lake, tmp_path: Path) -> None:
    path = tmp_path / "penguins.csv"
    path.write_text(PENGUINS)
    lake.ingest(path, into="raw.penguins")
    types = {r["column_name"]: r["column_type"] for r in lake.sql("describe raw.penguins").to_pylist()}
    assert types["bill_length_mm"] == "DOUBLE" and types["body_mass_g"] == "BIGINT"
    assert lake.sql("select count(*) from raw.penguins where sex is null").scalar() == 2
    assert lake.sql("select sum(body_mass_g) from raw.penguins").scalar() == 8250
    # off: only empty fields are nulls, so "NA" is text (Namibia's country code, say)
    lake.ingest(path, into="raw.penguins_text", null_values=[""])
    text = {r["column_name"]: r["column_type"] for r in lake.sql("describe raw.penguins_text").to_pylist()}
    assert text["bill_length_mm"] == "VARCHAR"
    assert lake.sql("select count(*) from raw.penguins_text where sex = 'NA'").scalar() == 1


def test_a_wrongly_typed_table_can_be_fixed(lake: Lake, tmp_path: Path) -> None:
    path = tmp_path / "penguins.csv"
    path.write_text(PENGUINS)
    lake.ingest(path, into="raw.penguins", null_values=[""])  # the mistake: numbers become text
    # an overwrite reads the file again (it duplicates nothing), and refuses to keep text types silently
    with pytest.raises(IngestError, match=r"bill_length_mm \(string, now read as double\).*overwrite keeps") as err:
        lake.ingest(path, into="raw.penguins", mode="overwrite")
    assert "mlake tables drop raw.penguins" in (err.value.hint or "")
    assert lake.sql("select count(*) from raw.penguins").scalar() == 4  # unchanged
    # dropping the table forgets what was ingested into it: the same file makes the table again
    lake.drop_table("raw.penguins")
    report = lake.ingest(path, into="raw.penguins")
    assert report.rows_written == 4 and report.created_table and not report.files_skipped
    types = {r["column_name"]: r["column_type"] for r in lake.sql("describe raw.penguins").to_pylist()}
    assert types["bill_length_mm"] == "DOUBLE"
    again = lake.ingest(path, into="raw.penguins", mode="overwrite")  # same content, same types: replaced
    assert again.rows_written == 4 and lake.sql("select count(*) from raw.penguins").scalar() == 4
    assert lake.ingest(path, into="raw.penguins").skipped  # appending the same content still is not repeated


def test_month_name_dates_are_dates(lake: Lake, tmp_path: Path) -> None:
    stock = tmp_path / "stock.csv"
    stock.write_text("Date,Open\nJan 1 2000,1.5\nFeb 12 2000,2.5\nDec 31 2001,3\n")
    lake.ingest(stock, into="raw.stock")
    types = {r["column_name"]: r["column_type"] for r in lake.sql("describe raw.stock").to_pylist()}
    assert types["Date"] == "DATE"
    assert lake.sql("select max(Date)::VARCHAR from raw.stock").scalar() == "2001-12-31"
    # typed by hand: read with the same format rather than quarantining every row
    report = lake.ingest(stock, into="raw.stock_typed", types={"Date": "date"})
    assert report.rows_written == 3 and report.rows_quarantined == 0
    # a layout no rule knows: the rows are quarantined, and the report names the option that reads them
    odd = tmp_path / "odd.csv"
    odd.write_text("Date,Open\n20011231,1\n20011230,2\n")
    report = lake.ingest(odd, into="raw.odd", types={"Date": "date"})
    assert report.rows_quarantined == 2 and any("date_format" in n for n in report.notes)
    assert "date_format" in report.summary()
    fixed = lake.ingest(odd, into="raw.odd2", types={"Date": "date"}, date_format="%Y%m%d")
    assert fixed.rows_written == 2 and fixed.rows_quarantined == 0


def test_json_iso_dates_are_dates_and_times_are_timestamps(lake: Lake, tmp_path: Path) -> None:
    lines = tmp_path / "d.jsonl"
    lines.write_text('{"born": "1970-01-01", "seen": "2000-01-01T10:00:00Z"}\n{"born": "2000-02-03", "seen": null}\n')
    array = tmp_path / "d.json"
    array.write_text('[{"born": "1970-01-01", "n": 1}]')
    lake.ingest(lines, into="raw.dates")
    lake.ingest(array, into="raw.dates_array")
    types = {r["column_name"]: r["column_type"] for r in lake.sql("describe raw.dates").to_pylist()}
    assert types["born"] == "DATE" and types["seen"] == "TIMESTAMP WITH TIME ZONE"
    assert {r["column_name"]: r["column_type"] for r in lake.sql("describe raw.dates_array").to_pylist()}[
        "born"
    ] == "DATE"
